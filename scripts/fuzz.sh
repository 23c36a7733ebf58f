#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, 'fuzz' preset) and runs each for a bounded time.
# Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET=30]
# A crash leaves its input as build/fuzz/crash-* and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
targets=(matrix_market_fuzz bed_fuzz cell_table_fuzz fragments_fuzz)

cmake --preset fuzz
cmake --build --preset fuzz --target "${targets[@]}"

# Seed corpora: small real inputs of each kind.
demo=examples/data/granja2019_bmmc
corpus=build/fuzz/corpus
rm -rf "$corpus"
mkdir -p "$corpus"/{matrix_market_fuzz,bed_fuzz,cell_table_fuzz,fragments_fuzz}
gzip -dc "$demo/matrix.mtx.gz" | sed -n 1,40p > "$corpus/matrix_market_fuzz/demo.mtx"
printf '%%%%MatrixMarket matrix coordinate pattern general\n5 3 2\n2 1\n5 3\n' \
  > "$corpus/matrix_market_fuzz/pattern.mtx"
head -n 20 "$demo/peaks.bed" > "$corpus/bed_fuzz/demo.bed"
printf 'chr1:100-600\n' > "$corpus/bed_fuzz/name.txt"
head -n 20 "$demo/cell_metadata.tsv" > "$corpus/cell_table_fuzz/metadata.tsv"
printf 'barcode\tcell_type\nA\tT\nB\tB\n' > "$corpus/cell_table_fuzz/small.tsv"
printf '# comment\nchr1\t100\t300\tA\t1\nchr1\t550\t900\tB\t2\nchr2\t10\t20\tA\t1\n' \
  > "$corpus/fragments_fuzz/fragments.tsv"

status=0
for t in "${targets[@]}"; do
  echo "== $t (${seconds}s)"
  if ! (cd build/fuzz && "libs/data/$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
          -max_len=4096 -print_final_stats=1 "corpus/$t" 2>&1 | tail -n 12); then
    echo "FUZZ FAILURE: $t" >&2
    status=1
  fi
done
exit $status
