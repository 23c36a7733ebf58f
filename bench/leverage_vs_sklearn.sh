#!/usr/bin/env bash
# Leverage-score benchmark (issue 4): FL-Sailer's leverage scores (TF-IDF, randomized subspace
# iteration with Rayleigh-Ritz, k = 30) against scikit-learn's randomized_svd (Debian
# python3-sklearn) on the same TF-IDF matrix, a synthetic CELLS x PEAKS matrix at DENSITY.
#   1. leverage_bench, 1 and 2 threads (fresh process each): wall and CPU seconds, peak RSS
#      against the CSR size. The 1-thread run also writes the TF-IDF matrix (.h5ad) and a
#      SUB_CELLS x SUB_PEAKS block of it with FL-Sailer's scores of that block.
#   2. On the block: exact leverage scores (float64 eigendecomposition of the Gram matrix) and
#      the agreement (Spearman, top-20% overlap) of FL-Sailer and scikit-learn with them.
#   3. scikit-learn on the whole matrix: its defaults (l = k + 10, 7 power iterations with LU)
#      and FL-Sailer's settings (l = 2k, q = 6): seconds and peak RSS.
# Times are medians over REPEATS runs (the block: over 3). Other jobs on the machine inflate wall
# times; CPU seconds are printed beside them.
# Usage: bash bench/leverage_vs_sklearn.sh [CELLS=100000] [PEAKS=200000] [DENSITY=0.03]
# Environment: LEVERAGE_BENCH=path to a built leverage_bench (default: build it in build/release),
#              REPEATS (default 1), SUB_CELLS (5000), SUB_PEAKS (20000).
set -euo pipefail
cd "$(dirname "$0")/.."
cells="${1:-100000}"
peaks="${2:-200000}"
density="${3:-0.03}"
repeats="${REPEATS:-1}"
sub_cells="${SUB_CELLS:-5000}"
sub_peaks="${SUB_PEAKS:-20000}"
rank=30

bench="${LEVERAGE_BENCH:-}"
if [ -z "$bench" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target leverage_bench >/dev/null
  bench=build/release/bench/leverage_bench
fi
dir=build/bench/leverage
mkdir -p "$dir"
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1==k {print $2}'; }
calc() { awk "BEGIN {print $1}"; }
common=(--cells "$cells" --peaks "$peaks" --density "$density" --rank "$rank" --repeats "$repeats")

echo "== FL-Sailer, 1 thread (also writes the TF-IDF matrix and the block)"
out1=$("$bench" "${common[@]}" --threads 1 --tfidf-h5ad "$dir/tfidf.h5ad" \
  --subsample "$sub_cells" "$sub_peaks" "$dir/block")
echo "$out1"
echo "== FL-Sailer, 2 threads"
out2=$("$bench" "${common[@]}" --threads 2)
echo "$out2"

echo "== exact scores and agreement on the ${sub_cells} x ${sub_peaks} block"
agree=$(/usr/bin/python3 bench/leverage_vs_sklearn.py agree "$dir/block/tfidf.h5ad" \
  "$dir/block/flsailer_scores.txt" "$rank" 3)
echo "$agree"

echo "== scikit-learn on the whole matrix"
sk=$(/usr/bin/python3 bench/leverage_vs_sklearn.py time "$dir/tfidf.h5ad" "$rank" "$repeats")
echo "$sk"

method_line() { echo "$1" | grep "method=$2 $3"; }
line1=$(echo "$out1" | head -1)
# scikit-learn is handed the TF-IDF matrix, so it is compared with the iteration alone.
iteration() { calc "$(field "$1" "leverage_$2") - $(field "$1" "tfidf_$2")"; }
ours_s=$(iteration "$line1" s)
ours_cpu=$(iteration "$line1" cpu_s)
echo
echo "== Summary (${cells} x ${peaks}, density ${density}, k = ${rank})"
for line in "$line1" "$out2"; do
  printf 'FL-Sailer %s thread(s): TF-IDF + iteration %s s (CPU %s s), iteration %s s (CPU %s s)\n' \
    "$(field "$line" threads)" "$(field "$line" leverage_s)" "$(field "$line" leverage_cpu_s)" \
    "$(iteration "$line" s)" "$(iteration "$line" cpu_s)"
  printf '    peak RSS %s MB = %sx the TF-IDF CSR (%s MB), %sx the binary CSR\n' \
    "$(field "$line" peak_rss_mb)" "$(field "$line" peak_over_t_csr)" \
    "$(field "$line" t_csr_mb)" "$(field "$line" peak_over_x_csr)"
done
for setting in sklearn_default sklearn_l2k_q6; do
  l=$(method_line "$sk" "$setting" median_s)
  a=$(method_line "$agree" "$setting" spearman)
  printf '%s: %s s (CPU %s s), peak RSS %s MB\n' "$setting" "$(field "$l" median_s)" \
    "$(field "$l" cpu_s)" "$(field "$l" peak_rss_mb)"
  printf '    %.2fx the time of FL-Sailer'"'"'s iteration with 1 thread (CPU: %.2fx)\n' \
    "$(calc "$(field "$l" median_s) / $ours_s")" "$(calc "$(field "$l" cpu_s) / $ours_cpu")"
  printf '    block: Spearman %s, top-20%% %s\n' "$(field "$a" spearman)" \
    "$(field "$a" top20_overlap)"
done
a=$(method_line "$agree" flsailer spearman)
printf 'FL-Sailer on the block: Spearman %s, top-20%% %s\n' "$(field "$a" spearman)" \
  "$(field "$a" top20_overlap)"
echo "targets: >= 2x faster than scikit-learn at equal or better agreement; peak RSS <= 2x the CSR"
