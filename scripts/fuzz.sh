#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, 'fuzz' preset) and runs each for a bounded time.
# Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET=30]
# A crash leaves its input as build/fuzz/crash-* and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
# Each fuzzer as its path in the build tree; the target is the file name.
fuzzers=(libs/data/matrix_market_fuzz libs/data/bed_fuzz libs/data/cell_table_fuzz
         libs/data/fragments_fuzz libs/pki/pki_identity_fuzz libs/rpc/tensor_chunk_fuzz
         services/aggregator/envelope_fuzz)
targets=()
for f in "${fuzzers[@]}"; do targets+=("$(basename "$f")"); done

cmake --preset fuzz
cmake --build --preset fuzz --target "${targets[@]}"

# Seed corpora: small real inputs of each kind.
demo=examples/data/granja2019_bmmc
corpus=build/fuzz/corpus
rm -rf "$corpus"
for t in "${targets[@]}"; do mkdir -p "$corpus/$t"; done
gzip -dc "$demo/matrix.mtx.gz" | sed -n 1,40p > "$corpus/matrix_market_fuzz/demo.mtx"
printf '%%%%MatrixMarket matrix coordinate pattern general\n5 3 2\n2 1\n5 3\n' \
  > "$corpus/matrix_market_fuzz/pattern.mtx"
head -n 20 "$demo/peaks.bed" > "$corpus/bed_fuzz/demo.bed"
printf 'chr1:100-600\n' > "$corpus/bed_fuzz/name.txt"
printf 'ENSG01\tG1\tGene Expression\tchr1\t1\t9\nchr1:100-600\tchr1:100-600\tPeaks\tchr1\t100\t600\n' \
  > "$corpus/bed_fuzz/features.tsv"
head -n 20 "$demo/cell_metadata.tsv" > "$corpus/cell_table_fuzz/metadata.tsv"
printf 'barcode\tcell_type\nA\tT\nB\tB\n' > "$corpus/cell_table_fuzz/small.tsv"
printf '"cell_type"\t"batch"\n"A"\t"T"\tNA\n"B"\t"B"\t"b1"\n' > "$corpus/cell_table_fuzz/r.tsv"
printf '# comment\nchr1\t100\t300\tA\t1\nchr1\t550\t900\tB\t2\nchr2\t10\t20\tA\t1\n' \
  > "$corpus/fragments_fuzz/fragments.tsv"
# A certificate shaped like the federation's (the openssl tool only makes the seed; libs/pki
# itself never runs it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
  -subj /CN=hospital-a -addext subjectAltName=URI:flsailer://institution/hospital-a,DNS:localhost \
  -days 1 -out "$corpus/pki_identity_fuzz/institution.pem" 2>/dev/null

# An envelope naming job-1, round 1, stage 1 (2-byte length first, as envelope_fuzz reads).
printf '\x0b\x00\x0a\x05job-1\x10\x01\x18\x01' > "$corpus/envelope_fuzz/header.bin"

status=0
for f in "${fuzzers[@]}"; do
  t="$(basename "$f")"
  echo "== $t (${seconds}s)"
  if ! (cd build/fuzz && "$f" -max_total_time="$seconds" -rss_limit_mb=2048 \
          -max_len=4096 -print_final_stats=1 "corpus/$t" 2>&1 | tail -n 12); then
    echo "FUZZ FAILURE: $t" >&2
    status=1
  fi
done
exit $status
