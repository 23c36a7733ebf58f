#!/usr/bin/env bash
# `flsailer train`, `lsi` and `select-features` on fewer cells than their default rank (30): 20
# cells of the demo dataset, two of them without any counts. Each must finish with its rank
# lowered to what the data has; train and lsi write an embedding of every cell and its metrics.
# Usage: tests/few_cells_test.sh FLSAILER_BINARY
set -euo pipefail
flsailer="$(realpath "$1")"
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 - examples/data/granja2019_bmmc "$work/few" <<'PY'
import gzip, os, shutil, sys
import numpy as np
import scipy.io
import scipy.sparse as sp

src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
with gzip.open(f"{src}/matrix.mtx.gz", "rb") as f:
    m = scipy.io.mmread(f).tocsc()  # peaks x cells
keep = np.arange(0, 600, 30)  # 20 cells
few = m[:, keep].tolil()
few[:, 3] = 0
few[:, 11] = 0
scipy.io.mmwrite(f"{dst}/matrix.mtx", sp.coo_matrix(few).astype(np.int64), field="integer")
barcodes = [l for l in open(f"{src}/barcodes.tsv").read().split("\n") if l]
with open(f"{dst}/barcodes.tsv", "w") as f:
    f.write("\n".join(barcodes[i] for i in keep) + "\n")
shutil.copy(f"{src}/peaks.bed", f"{dst}/peaks.bed")
shutil.copy(f"{src}/cell_metadata.tsv", f"{dst}/cell_metadata.tsv")
PY

for command in train lsi; do
  "$flsailer" "$command" --input "$work/few" --batch-col sample_group --out "$work/$command" \
    > "$work/$command.log" 2>&1 || { cat "$work/$command.log"; echo "FAIL: $command"; exit 1; }
  grep -E "selection rank 18 |19 components" "$work/$command.log" \
    || { cat "$work/$command.log"; echo "FAIL: $command did not lower its rank"; exit 1; }
  rows=$(($(wc -l < "$work/$command/embedding.tsv") - 1))
  [[ "$rows" == 20 ]] || { echo "FAIL: $command embedded $rows cells, not 20"; exit 1; }
  grep -q '"ari": [0-9]' "$work/$command/metrics.json" \
    || { echo "FAIL: $command wrote no ARI"; exit 1; }
done
"$flsailer" select-features --input "$work/few" --out "$work/select" > "$work/select.log" 2>&1 \
  || { cat "$work/select.log"; echo "FAIL: select-features"; exit 1; }
grep -q '"rank": 18' "$work/select/summary.json" \
  || { cat "$work/select/summary.json"; echo "FAIL: select-features did not lower its rank"; exit 1; }
echo "PASS: train, lsi and select-features on 20 cells"
