#!/usr/bin/env bash
# Secure versus plain aggregation, a whole federated training round (issue #6): 10 institutions
# x 1,000 synthetic cells x 100,000 peaks (20% kept: a model of ~10^7 parameters), coordinator,
# aggregator and 10 client processes over mutual TLS on loopback (`flsailer demo`), run once with
# secure aggregation and once with --insecure-plain-aggregation on the same data and seed.
# Prints per mode the median round time and the bytes each client moved per round, then the
# ratios. Targets: wall time ratio <= 1.3, bytes ratio <= 1.05.
# Usage: bash bench/secure_round_bench.sh [ROUNDS=4] [LOCAL_EPOCHS=1]
# Environment: FLSAILER_BIN (default: build in build/release), OUT (default
# build/secure_round_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-4}"
epochs="${2:-1}"
out="${OUT:-build/secure_round_bench}"
source bench/common.sh
flsailer=$(flsailer_binary)
mkdir -p "$out"
if [ ! -d "$out/data" ]; then
  echo "simulating 10,000 cells x 100,000 peaks in 10 institutions..."
  "$flsailer" simulate --out "$out/data" --cells 10000 --peaks 100000 --institutions 10 \
    --cell-types 8 --seed 5 >/dev/null 2>&1
fi
for mode in secure plain; do
  flags=()
  [ "$mode" = plain ] && flags=(--insecure-plain-aggregation)
  echo "running $mode ($rounds rounds x $epochs local epoch)..."
  "$flsailer" demo --input "$out/data" --batch-col batch --label-col cell_type \
    --rounds "$rounds" --local-epochs "$epochs" --no-baselines "${flags[@]}" \
    --out "$out/$mode" > "$out/$mode.txt" 2> "$out/$mode.log"
done
/usr/bin/python3 - "$out/secure/report.json" "$out/plain/report.json" <<'PY'
import json, statistics, sys
runs = {name: json.load(open(path)) for name, path in zip(("secure", "plain"), sys.argv[1:])}
model = runs["secure"]["model_bytes_fp32"]
print(f"{runs['secure']['institutions']} institutions, {runs['secure']['selected_peaks']} "
      f"selected peaks, model {model / 4 / 1e6:.2f} M parameters ({model / 1e6:.1f} MB fp32)")
print(f"{'mode':>7} {'round s (median)':>17} {'train s':>8} {'transfer s':>11} "
      f"{'MB sent':>8} {'MB received':>12} {'ARI':>6}")
figures = {}
for name, r in runs.items():
    # Round 1 also carries the first model download; the median is the steady state.
    seconds = statistics.median(p["seconds"] for p in r["per_round"])
    train = statistics.median(p["train_seconds"] for p in r["per_round"])
    transfer = statistics.median(p["transfer_seconds"] for p in r["per_round"])
    sent, received = r["bytes_sent_per_client_round"], r["bytes_received_per_client_round"]
    figures[name] = (seconds, sent + received)
    print(f"{name:>7} {seconds:>17.2f} {train:>8.2f} {transfer:>11.3f} {sent / 1e6:>8.2f} "
          f"{received / 1e6:>12.2f} {r['ari']:>6.3f}")
time_ratio = figures["secure"][0] / figures["plain"][0]
bytes_ratio = figures["secure"][1] / figures["plain"][1]
print(f"secure / plain: round time {time_ratio:.3f}x (target <= 1.3), bytes per client and "
      f"round {bytes_ratio:.4f}x (target <= 1.05)")
PY
