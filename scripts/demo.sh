#!/usr/bin/env bash
# The main job: installs what is needed, builds FL-Sailer and runs a federated job on the bundled
# real dataset (Granja et al. 2019 bone marrow, examples/data/granja2019_bmmc) split into its two
# donors as two institutions: a federation CA and certificates generated on the fly, a
# coordinator, one client per institution, every hop gRPC over mutual TLS, driven through the
# coordinator's admin API (gRPC and REST). Then the centralised LSI baseline for comparison.
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
echo "== A federated FL-Sailer run (two institutions, mutual TLS everywhere)"
bash scripts/federated-run.sh "$flsailer" build/demo/federated

echo
echo "== The centralised LSI baseline on the same cells, for comparison"
"$flsailer" lsi --input examples/data/granja2019_bmmc --batch-col sample_group --out build/demo/lsi
