#!/usr/bin/env bash
# `flsailer embed` on a batch the model never saw: the invariant VAE is trained (`flsailer train`)
# on donor BMMC_D6T1 of granja2019_bmmc only, then embeds donor BMMC_D5T1 through the CLI (its
# cells mapped onto the model's peaks). The held-out cells must land next to their cell type:
# the majority label of each one's 15 nearest training cells (cosine) is its own for at least
# 45% of them, for seeds 0 and 1 (6 types: chance is ~17%; measured 0.64 and 0.62).
# Usage: tests/embed_held_out_test.sh FLSAILER_BINARY
set -euo pipefail
flsailer="$(realpath "$1")"
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$flsailer" split --input examples/data/granja2019_bmmc --by sample_group --out "$work/sites" \
  >/dev/null
for seed in 0 1; do
  "$flsailer" train --input "$work/sites/BMMC_D6T1.h5ad" --label-col cell_type --seed "$seed" \
    --out "$work/model$seed" > "$work/train$seed.log" 2>&1
  "$flsailer" embed --model "$work/model$seed" --input "$work/sites/BMMC_D5T1.h5ad" \
    --label-col cell_type --out "$work/held_out$seed" > "$work/embed$seed.log" 2>&1
  /usr/bin/python3 - "$work/model$seed/embedding.tsv" "$work/held_out$seed/embedding.tsv" \
    examples/data/granja2019_bmmc/cell_metadata.tsv "$seed" <<'PY'
import sys
import numpy as np
from sklearn.neighbors import KNeighborsClassifier

def load(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path)][1:]
    x = np.array([[float(v) for v in r[1:]] for r in rows])
    return [r[0] for r in rows], x / np.linalg.norm(x, axis=1, keepdims=True)

cell_type = {l.split("\t")[0]: l.split("\t")[1] for l in open(sys.argv[3])}
train_barcodes, train = load(sys.argv[1])
held_barcodes, held = load(sys.argv[2])
assert len(held_barcodes) == 108 and not set(held_barcodes) & set(train_barcodes)
knn = KNeighborsClassifier(15).fit(train, [cell_type[b] for b in train_barcodes])
accuracy = (knn.predict(held) == np.array([cell_type[b] for b in held_barcodes])).mean()
print(f"seed {sys.argv[4]}: held-out donor, kNN label accuracy {accuracy:.3f}")
if accuracy < 0.45:
    sys.exit("FAIL: held-out cells do not land next to their cell type")
PY
done
echo "PASS: cells of a held-out donor land next to their cell type"
