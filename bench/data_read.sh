#!/usr/bin/env bash
# Data-layer read benchmark (issue: foundation). Simulates a 10x matrix.mtx.gz of ~5x10^7
# non-zeros, converts it to .h5ad, and measures side by side in one run:
#   gzip -dc FILE > /dev/null         the decompression limit
#   read_bench FILE                   FL-Sailer's MatrixMarket and .h5ad readers (peak RSS too)
#   scipy.io.mmread                   Debian python3-scipy, the usual Python route
# Prints medians and the ratios the targets are stated in.
# Usage: bash bench/data_read.sh [CELLS=50000] [PEAKS=50000] [DENSITY=0.02]
set -euo pipefail
cd "$(dirname "$0")/.."
cells="${1:-50000}"
peaks="${2:-50000}"
density="${3:-0.02}"

cmake --preset release >/dev/null
cmake --build --preset release --target flsailer read_bench >/dev/null
flsailer=build/release/services/cli/flsailer
read_bench=build/release/bench/read_bench
dir=build/bench/data_read
mtx="$dir/sim/matrix.mtx.gz"
h5ad="$dir/sim.h5ad"

if [ ! -f "$mtx" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  "$flsailer" simulate --out "$dir/sim" --cells "$cells" --peaks "$peaks" --density "$density" \
    --institutions 2 --seed 1
fi
[ -f "$h5ad" ] || "$flsailer" convert "$dir/sim" --out "$h5ad"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
calc() { awk "BEGIN {print $1}"; }

echo "== gzip -dc (3 runs)"
gz_s=$(for i in 1 2 3; do s=$(now); gzip -dc "$mtx" > /dev/null; e=$(now); calc "$e - $s"; done | median)
raw_mb=$(gzip -dc "$mtx" | wc -c | awk '{printf "%.1f", $1/1e6}')
echo "gzip_dc_median_s=$gz_s uncompressed_mb=$raw_mb"

echo "== FL-Sailer readers (3 runs each, fresh process per format)"
mtx_line=$("$read_bench" "$mtx" 3)
h5ad_line=$("$read_bench" "$h5ad" 3)
echo "$mtx_line"
echo "$h5ad_line"
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1==k {print $2}'; }
mtx_s=$(field "$mtx_line" median_s)

echo "== scipy.io.mmread (1 run)"
scipy_out=$(/usr/bin/time -f "scipy_peak_rss_kib=%M" /usr/bin/python3 -c "
import time, scipy, scipy.io
t = time.perf_counter(); m = scipy.io.mmread('$mtx'); t = time.perf_counter() - t
print(f'scipy_version={scipy.__version__} scipy_s={t:.3f} nnz={m.nnz}')" 2>&1)
echo "$scipy_out"
scipy_s=$(echo "$scipy_out" | tr ' ' '\n' | awk -F= '$1=="scipy_s" {print $2}')

echo
echo "== Summary"
printf 'MatrixMarket .gz read:  %.2f s, %.0f MB/s of uncompressed text, peak RSS %.2fx the CSR\n' \
  "$mtx_s" "$(calc "$raw_mb / $mtx_s")" "$(field "$mtx_line" peak_over_csr)"
printf '.h5ad read:             %.2f s, peak RSS %.2fx the CSR\n' \
  "$(field "$h5ad_line" median_s)" "$(field "$h5ad_line" peak_over_csr)"
printf 'vs gzip -dc:            %.2fx the decompression time (target <= 1.5x)\n' \
  "$(calc "$mtx_s / $gz_s")"
printf 'vs scipy.io.mmread:     %.1fx faster (target >= 10x)\n' "$(calc "$scipy_s / $mtx_s")"
