#!/usr/bin/env bash
# `flsailer demo` end to end with 3 institutions of granja2019_bmmc (donor BMMC_D6T1 split in two,
# plus BMMC_D5T1): coordinator and clients as processes over mutual TLS, for seeds 0-4. Checks
# the report of every run (sites, rounds, selected peaks, bytes per client and round within 1.1x
# the fp32 model each way), that the federated selection equals the central one (same peaks,
# leverage scores within 1e-4), and that the federated model's Leiden ARI, mean over the seeds, is
# within 0.03 of the same model trained centrally (the central model is averaged over its last
# half of steps, as `flsailer train` does). Five seeds, because one seed's gap varies by far more
# than that: -0.109 to +0.047 on one machine, whose mean over seeds 0-2 alone was -0.046 and over
# 0-4 -0.024.
# Usage: tests/integration/demo_three_institutions_test.sh FLSAILER_BINARY
set -euo pipefail
flsailer="$(realpath "$1")"
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT

# DEMO_SEEDS=1 (set for the sanitizer build, about twice as slow) runs seed 0 and checks all of
# the above but the ARI gap, which one seed cannot decide.
seeds="${DEMO_SEEDS:-5}"
for seed in $(seq 0 $((seeds - 1))); do
  "$flsailer" demo --input examples/data/granja2019_bmmc --batch-col sample_group \
    --label-col cell_type --institutions 3 --seed "$seed" --out "$work/seed$seed" \
    > "$work/seed$seed.txt" 2> "$work/seed$seed.log" \
    || { echo "FAIL: demo seed $seed"; tail -20 "$work/seed$seed.log"; exit 1; }
done

/usr/bin/python3 - "$work" "$seeds" <<'PY'
import json, sys
work, seeds = sys.argv[1], int(sys.argv[2])
fed, cen = [], []
for seed in range(seeds):
    r = json.load(open(f"{work}/seed{seed}/report.json"))
    ids = [s["id"] for s in r["sites"]]
    assert ids == ["BMMC_D5T1", "BMMC_D6T1-1", "BMMC_D6T1-2"], ids
    assert [s["cells"] for s in r["sites"]] == [108, 246, 246], r["sites"]
    assert r["rounds"] == 20 and len(r["per_round"]) == 20, r["rounds"]
    assert [p["round"] for p in r["per_round"]] == list(range(1, 21))
    assert r["selected_peaks"] == 1000, r["selected_peaks"]
    model = r["model_bytes_fp32"]
    for way in ("received", "sent"):
        ratio = r[f"bytes_{way}_per_client_round"] / model
        assert 1.0 <= ratio <= 1.1, (way, ratio)
    for key in ("ari", "nmi", "ilisi", "batch_asw", "graph_connectivity"):
        assert r[key] is not None and r["central"][key] is not None, key
    # The federated selection is the central one: same peaks, leverage scores within 1e-4.
    def selection(path):
        rows = [l.split("\t") for l in open(path) if not l.startswith("#")]
        return {(c, s, e): float(score) for c, s, e, _, _, _, score, _ in rows}
    federated = selection(f"{work}/seed{seed}/selected_peaks.bed")
    central = selection(f"{work}/seed{seed}/central/selected_peaks.bed")
    assert federated.keys() == central.keys(), "the federated selection differs from the central"
    worst = max(abs(federated[k] - central[k]) for k in federated)
    assert worst <= 1e-4, worst
    fed.append(r["ari"]); cen.append(r["central"]["ari"])
    print(f"seed {seed}: federated ARI {r['ari']:.3f}, central {r['central']['ari']:.3f}, "
          f"LSI {r['lsi']['ari']:.3f}; bytes/client/round {r['bytes_per_client_round']} "
          f"(model {model})")
if seeds < 5:
    print(f"PASS: 3 institutions, {seeds} seed(s): runs, reports and selection (gap not checked)")
    sys.exit(0)
gap = sum(fed) / seeds - sum(cen) / seeds
print(f"mean federated ARI {sum(fed)/seeds:.3f}, central {sum(cen)/seeds:.3f}, gap {gap:+.3f}")
if abs(gap) > 0.03:
    sys.exit("FAIL: the federated ARI is not within 0.03 of central training")
print(f"PASS: 3 institutions, {seeds} seeds: federated within 0.03 of central")
PY
