#!/usr/bin/env bash
# Installs every Debian 12 package FL-Sailer needs to build, test and run.
# Idempotent: packages already present are left alone; safe to run repeatedly.
# Usage: scripts/install-deps.sh [--build]   (as root, or with sudo available)
#   --build: only what building the binaries needs (the container image's build stage)
set -euo pipefail

# What building the `flsailer` binaries needs (also the container image's build stage).
BUILD_PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # core libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libtorch-dev libopenblas0-pthread libeigen3-dev libssl-dev libsqlite3-dev prometheus-cpp-dev libabsl-dev
  libhdf5-dev zlib1g-dev libhnswlib-dev libcpp-httplib-dev
  # igraph and the libraries its CMake config links (Debian does not pull them in)
  libigraph-dev libarpack2-dev libglpk-dev libplfit-dev
  # the test targets are configured (not built) with the binaries
  libgtest-dev libgmock-dev
)
# Everything else the tests, benchmarks, scripts and container builds use.
DEV_PACKAGES=(
  ccache git clang libclang-rt-14-dev
  libbenchmark-dev time
  openssl  # the command-line tool, only for scripts/fuzz.sh's seed certificate
  curl  # scripts/federated-run.sh calls the REST API with it
  prometheus  # promtool and the server: alert rules' tests, monitoring_test, deploy/local
  python3-yaml  # tests/helm: structural checks of the rendered chart
  podman runc catatonit mmdebstrap  # docker/build-images.sh, container tests (DESIGN.md §6)
  python3 python3-numpy python3-scipy python3-anndata python3-h5py python3-sklearn
)

PACKAGES=("${BUILD_PACKAGES[@]}")
if [ "${1:-}" != "--build" ]; then
  PACKAGES+=("${DEV_PACKAGES[@]}")
  # scripts/install-helm.sh fetches Helm and kubectl from the npm registry (DESIGN.md §6). Any npm
  # will do: Debian's package conflicts with a nodejs that bundles its own (e.g. NodeSource's).
  if ! command -v npm >/dev/null; then PACKAGES+=(npm); fi
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
