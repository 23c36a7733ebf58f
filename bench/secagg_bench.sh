#!/usr/bin/env bash
# Secure-aggregation masking speed (issue #6): bench/secagg_bench against `openssl speed -evp
# aes-128-ctr` on this machine (target: masking >= 50% of the AES-CTR limit, per core).
# Usage: bash bench/secagg_bench.sh [WORDS=10000000]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target secagg_bench >/dev/null
echo "== openssl speed -evp aes-128-ctr (1 thread, 3 s per block size)"
openssl speed -seconds 3 -evp aes-128-ctr 2>/dev/null | tail -2
echo "== secagg_bench"
build/release/bench/secagg_bench "${1:-10000000}"
