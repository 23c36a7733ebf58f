#!/usr/bin/env bash
# Secure aggregation changes nothing but the fixed-point rounding: `flsailer demo` on
# granja2019_bmmc (2 institutions, same seed) run with the secure aggregator and with insecure
# plain sums must select the same peaks, agree on the round-1 loss to 1e-6 and on later rounds'
# losses to 1e-3 (training amplifies the rounding a little each round), and move at most 1.05x
# the bytes per client and round. The Leiden ARI of each is printed: a single seed's ARI varies by
# a few hundredths under any perturbation, so the ARI comparison is made over many seeds by
# bench/secure_vs_plain.sh, not here.
# Usage: tests/integration/secure_vs_plain_test.sh FLSAILER_BINARY
set -euo pipefail
flsailer="$(realpath "$1")"
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT

for mode in secure plain; do
  flags=()
  [ "$mode" = plain ] && flags=(--insecure-plain-aggregation)
  "$flsailer" demo --input examples/data/granja2019_bmmc --batch-col sample_group \
    --label-col cell_type --rounds 4 --local-epochs 5 --no-baselines "${flags[@]}" \
    --out "$work/$mode" > "$work/$mode.txt" 2> "$work/$mode.log" \
    || { echo "FAIL: demo ($mode)"; tail -20 "$work/$mode.log"; exit 1; }
done
grep -q "event=secagg_round_completed" "$work/secure/logs/aggregator.log" \
  || { echo "FAIL: the secure run completed no aggregator round"; exit 1; }

/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
runs = {m: json.load(open(f"{work}/{m}/report.json")) for m in ("secure", "plain")}
assert runs["secure"]["aggregation"] == "secure", runs["secure"]["aggregation"]
assert runs["plain"]["aggregation"] == "insecure-plain", runs["plain"]["aggregation"]

def peaks(mode):
    with open(f"{work}/{mode}/selected_peaks.bed") as f:
        return sorted(tuple(line.split("\t")[:3]) for line in f if not line.startswith("#"))
if peaks("secure") != peaks("plain"):
    sys.exit("FAIL: secure and plain aggregation selected different peaks")

losses = {m: [p["loss"] for p in r["per_round"]] for m, r in runs.items()}
for i, (s, p) in enumerate(zip(losses["secure"], losses["plain"])):
    tolerance = 1e-6 if i == 0 else 1e-3
    if abs(s - p) > tolerance * abs(p):
        sys.exit(f"FAIL: round {i + 1} loss {s} (secure) vs {p} (plain)")
ratio = ((runs["secure"]["bytes_sent_per_client_round"] +
          runs["secure"]["bytes_received_per_client_round"]) /
         (runs["plain"]["bytes_sent_per_client_round"] +
          runs["plain"]["bytes_received_per_client_round"]))
if ratio > 1.05:
    sys.exit(f"FAIL: secure aggregation moves {ratio:.4f}x the bytes of plain (limit 1.05)")
print(f"losses secure {losses['secure']}\n       plain  {losses['plain']}")
print(f"bytes per client and round secure/plain {ratio:.4f}x; "
      f"ARI secure {runs['secure']['ari']:.3f}, plain {runs['plain']['ari']:.3f}")
print("PASS: secure and plain aggregation agree up to the fixed-point rounding")
PY
