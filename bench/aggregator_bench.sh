#!/usr/bin/env bash
# Secure aggregation, server side (issue #6): unmasking time against dropouts, and the
# aggregator's peak memory (target: <= 3x one vector). See bench/aggregator_bench.cc.
# Usage: bash bench/aggregator_bench.sh [aggregator_bench flags, e.g. --modulus-bits 32]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target aggregator_bench >/dev/null
build/release/bench/aggregator_bench "$@"
