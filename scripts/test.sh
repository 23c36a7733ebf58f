#!/usr/bin/env bash
# Installs what is needed, builds FL-Sailer (release preset) and runs every test with ctest.
# Usage (as root on Debian 12, from the repository root): bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release
ctest --preset release
