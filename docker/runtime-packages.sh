#!/usr/bin/env bash
# Checks that docker/runtime-packages.txt names the Debian package of every shared library the
# given binaries need directly (their NEEDED entries, resolved through ldconfig and dpkg).
# Runs where the binaries were built: the image's build stage, or the host for the prebuilt target.
# Usage: docker/runtime-packages.sh LIST BINARY...
set -euo pipefail
list="$1"; shift
listed="$(grep -v '^#' "$list" | sed '/^$/d' | sort -u)"
cache="$(ldconfig -p)"
needed="$(for binary in "$@"; do objdump -p "$binary" | awk '/NEEDED/ {print $2}'; done | sort -u)"
missing=()
for lib in $needed; do
  path="$(awk -v lib="$lib" '$1 == lib && /x86-64/ && !found {print $NF; found = 1}' <<< "$cache")"
  [ -n "$path" ] || { echo "runtime-packages: $lib is not installed"; exit 1; }
  # usrmerge: dpkg may know the file under /lib or under /usr/lib
  real="$(readlink -f "$path")"
  package="$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null)" \
    || { echo "runtime-packages: no package owns $real ($lib)"; exit 1; }
  package="${package%%:*}"
  case "$package" in libc6|libgcc-s1) continue ;; esac  # in every Debian base image
  grep -qx "$package" <<< "$listed" || missing+=("$package ($lib)")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "runtime-packages: add to $list: ${missing[*]}"
  exit 1
fi
echo "runtime-packages: $list covers the $(wc -w <<< "$needed") libraries the binaries need"
