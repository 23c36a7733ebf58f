#!/usr/bin/env bash
# Builds FL-Sailer's image with podman, as this machine needs it (DESIGN.md §6): runc, no default
# ulimits (docker/containers.conf), chroot isolation, Docker image format (for HEALTHCHECK), and a
# Debian bookworm base image made locally with mmdebstrap when no registry is reachable.
#
# Usage: docker/build-images.sh [--prebuilt] [TAG=local]
#   (default)   target `runtime`: everything built from source inside the build stage (about
#               5 min on 2 cores with a nearby Debian mirror)
#   --prebuilt  target `prebuilt`: packages the host's build/release binaries (stripped copies)
# Environment: BASE_IMAGE (default localhost/debian:bookworm, made here when absent),
#   IMAGE (default localhost/flsailer), FLSAILER_BUILD (host build tree, default build/release).
# Prints the image's name on stdout (and everything else on stderr). Needs: podman runc
# mmdebstrap (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
target=runtime
if [ "${1:-}" = "--prebuilt" ]; then target=prebuilt; shift; fi
image="${IMAGE:-localhost/flsailer}:${1:-local}"
base="${BASE_IMAGE:-localhost/debian:bookworm}"
export CONTAINERS_CONF="$PWD/docker/containers.conf"

if ! podman image exists "$base"; then
  [ "$base" = localhost/debian:bookworm ] || { echo "base image $base not found" >&2; exit 1; }
  echo "build-images: making $base with mmdebstrap" >&2
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  mmdebstrap --quiet --variant=minbase bookworm "$rootfs/base.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" >&2
  podman import --quiet "$rootfs/base.tar" "$base" >/dev/null
fi

if [ "$target" = prebuilt ]; then
  build="${FLSAILER_BUILD:-build/release}"
  rm -rf build/image/bin && mkdir -p build/image/bin
  for binary in services/cli/flsailer libs/data/flsailer-read-dataset; do
    [ -x "$build/$binary" ] || { echo "no $build/$binary: build it first" >&2; exit 1; }
    install -s -m 0755 "$build/$binary" build/image/bin/
  done
  docker/runtime-packages.sh docker/runtime-packages.txt build/image/bin/* >&2
fi

revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
podman build --quiet --isolation chroot --format docker --network host --target "$target" \
  --build-arg BASE_IMAGE="$base" --build-arg REVISION="$revision" \
  -f docker/Dockerfile -t "$image" . >&2
echo "$image"
