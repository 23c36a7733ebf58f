#!/usr/bin/env bash
# The main job: installs what is needed, builds FL-Sailer and runs it on the bundled real dataset
# (Granja et al. 2019 bone marrow, examples/data/granja2019_bmmc) and on a small synthetic
# federation of institutions with batch effects.
# Usage (as root on Debian 12, from the repository root): bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target flsailer
flsailer=build/release/services/cli/flsailer
out=build/demo
rm -rf "$out"
mkdir -p "$out"

echo "== The bundled dataset"
"$flsailer" inspect examples/data/granja2019_bmmc

echo
echo "== Embeddings of the bundled dataset: LSI baseline and the invariant VAE (donor as batch)"
"$flsailer" lsi --input examples/data/granja2019_bmmc --batch-col sample_group --out "$out/lsi"
"$flsailer" train --input examples/data/granja2019_bmmc --batch-col sample_group --out "$out/vae"

echo
echo "== A synthetic federation: 3 institutions with depth, accessibility and cell-mix effects"
"$flsailer" simulate --out "$out/synthetic" --cells 3000 --peaks 5000 --cell-types 5 \
  --institutions 3 --per-institution --seed 7
for site in "$out"/synthetic/institution_*; do
  echo
  echo "-- $site"
  "$flsailer" inspect "$site"
done
