#!/usr/bin/env bash
# The main job: installs what is needed, builds FL-Sailer and runs `flsailer demo` on the bundled
# real dataset (Granja et al. 2019 bone marrow, examples/data/granja2019_bmmc): its two donors
# become two institutions, a federation CA and certificates are generated on the fly, a
# coordinator and one client process per institution run the whole FL-Sailer schedule over
# mutual TLS on loopback, and the report sets the federated result beside the same model trained
# centrally and the LSI baseline. Results in build/demo (report.json, embeddings and pictures).
# Usage (as root on Debian 12, from the repository root): bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target flsailer
flsailer=build/release/services/cli/flsailer

echo "== The bundled dataset"
"$flsailer" inspect examples/data/granja2019_bmmc

echo
echo "== A federated FL-Sailer run: one institution per donor, mutual TLS everywhere"
"$flsailer" demo --input examples/data/granja2019_bmmc --batch-col sample_group \
  --label-col cell_type --out build/demo
echo "pictures: build/demo/{federated,central,lsi}/embedding.svg"
