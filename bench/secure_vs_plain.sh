#!/usr/bin/env bash
# The federated model's quality with secure versus plain aggregation (issue #6): `flsailer demo`
# on granja2019_bmmc (one institution per donor, 20 rounds x 10 local epochs) for SEEDS seeds in
# both modes. Prints each seed's Leiden ARI and the means; target: the means within 0.01.
# One seed's ARI moves by a few hundredths under any perturbation (the fixed-point rounding of
# secure sums is one), so only the mean over seeds says whether secure aggregation costs quality.
# Usage: bash bench/secure_vs_plain.sh [SEEDS=6]
# Environment: FLSAILER_BIN (default: build in build/release), OUT (default
# build/secure_vs_plain)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-6}"
out="${OUT:-build/secure_vs_plain}"
source bench/common.sh
flsailer=$(flsailer_binary)
mkdir -p "$out"
for seed in $(seq 0 $((seeds - 1))); do
  for mode in secure plain; do
    flags=()
    [ "$mode" = plain ] && flags=(--insecure-plain-aggregation)
    "$flsailer" demo --input examples/data/granja2019_bmmc --batch-col sample_group \
      --label-col cell_type --seed "$seed" --no-baselines "${flags[@]}" \
      --out "$out/$mode-$seed" > "$out/$mode-$seed.txt" 2> "$out/$mode-$seed.log"
  done
done
/usr/bin/python3 - "$out" "$seeds" <<'PY'
import json, statistics, sys
out, seeds = sys.argv[1], int(sys.argv[2])
ari = {m: [json.load(open(f"{out}/{m}-{s}/report.json"))["ari"] for s in range(seeds)]
       for m in ("secure", "plain")}
print(f"{'seed':>4} {'secure':>7} {'plain':>7} {'diff':>7}")
for s in range(seeds):
    print(f"{s:>4} {ari['secure'][s]:>7.3f} {ari['plain'][s]:>7.3f} "
          f"{ari['secure'][s] - ari['plain'][s]:>+7.3f}")
mean = {m: statistics.mean(v) for m, v in ari.items()}
print(f"mean {mean['secure']:>7.3f} {mean['plain']:>7.3f} {mean['secure'] - mean['plain']:>+7.3f}"
      f"  (target: |diff| <= 0.01)")
PY
