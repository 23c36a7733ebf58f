#!/usr/bin/env bash
# Federated round benchmark (issue 5): 8 institutions x 5,000 synthetic cells x 50,000 peaks, a
# coordinator and 8 client processes over mutual TLS on loopback (`flsailer demo`). Prints, per
# training round, the round's wall time split into local training (mean over clients), transfer
# (fetching the payloads and sending the update, mean over clients) and the coordinator's own work
# (adding contributions, the server update), and the bytes each client moved each way against
# the fp32 size of the model on the selected peaks. Targets: coordinator work <= 5% of round
# time; bytes per client per round <= 1.1x the model, each way.
# Usage: bash bench/federation_bench.sh [ROUNDS=5] [LOCAL_EPOCHS=1]
# Environment: FLSAILER_BIN (default: build in build/release), OUT (default build/federation_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
epochs="${2:-1}"
out="${OUT:-build/federation_bench}"
source bench/common.sh
flsailer=$(flsailer_binary)
mkdir -p "$out"
if [ ! -d "$out/data" ]; then
  echo "simulating 40,000 cells x 50,000 peaks in 8 institutions..."
  "$flsailer" simulate --out "$out/data" --cells 40000 --peaks 50000 --institutions 8 \
    --cell-types 8 --seed 5 >/dev/null 2>&1
fi
/usr/bin/time -v -o "$out/time.txt" "$flsailer" demo --input "$out/data" --batch-col batch \
  --label-col cell_type --rounds "$rounds" --local-epochs "$epochs" --no-baselines \
  --out "$out/run" > "$out/demo.txt" 2> "$out/demo.log"
/usr/bin/python3 - "$out/run/report.json" "$out/time.txt" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
model = r["model_bytes_fp32"]
print(f"{r['institutions']} institutions, {sum(s['cells'] for s in r['sites'])} cells, "
      f"{r['selected_peaks']} selected peaks, model {model/1e6:.2f} MB (fp32)")
print(f"{'round':>5} {'seconds':>8} {'train':>7} {'transfer':>9} {'coord':>7} {'coord %':>8} "
      f"{'MB in':>7} {'MB out':>7}")
share = []
for p in r["per_round"]:
    pct = 100 * p["coordinator_seconds"] / p["seconds"]
    share.append(pct)
    print(f"{p['round']:>5} {p['seconds']:>8.2f} {p['train_seconds']:>7.2f} "
          f"{p['transfer_seconds']:>9.3f} {p['coordinator_seconds']:>7.3f} {pct:>7.2f}% "
          f"{p['bytes_received']/1e6:>7.2f} {p['bytes_sent']/1e6:>7.2f}")
rin = r["bytes_received_per_client_round"] / model
rout = r["bytes_sent_per_client_round"] / model
med = statistics.median(share)
print(f"median coordinator share of round time {med:.2f}% (target <= 5%)")
print(f"bytes per client per round / fp32 model: received {rin:.4f}x, sent {rout:.4f}x "
      f"(target <= 1.1x each way)")
print(f"whole federated run {r['seconds']:.1f} s; ARI of the federated embedding {r['ari']:.3f}")
for line in open(sys.argv[2]):
    if "Maximum resident" in line or "Elapsed (wall" in line:
        print("demo process (coordinator and clients are separate processes):", line.strip())
PY
