#!/usr/bin/env bash
# A federated FL-Sailer run on one machine, every hop over mutual TLS: a federation CA and
# certificates generated on the fly, a secure aggregator, a coordinator, and one client per
# institution (the bundled dataset split by donor), driven through the coordinator's admin API
# (gRPC, and at the end its HTTPS/JSON form with curl).
# Usage: scripts/federated-run.sh [FLSAILER_BINARY] [OUT_DIR]
# Environment: ROUNDS (20), LOCAL_EPOCHS (10), PORT (17443; the REST API listens on PORT+1, the
# aggregator on PORT+2).
set -euo pipefail
cd "$(dirname "$0")/.."
flsailer="${1:-build/release/services/cli/flsailer}"
out="${2:-build/federated-run}"
rounds="${ROUNDS:-20}"
epochs="${LOCAL_EPOCHS:-10}"
port="${PORT:-17443}"
rest_port=$((port + 1))
aggregator_port=$((port + 2))
demo=examples/data/granja2019_bmmc

rm -rf "$out"
mkdir -p "$out"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "== 1. federation CA and certificates"
pki="$out/pki"
"$flsailer" pki init --dir "$pki" >/dev/null
"$flsailer" pki issue --dir "$pki" --kind server --id coordinator --dns localhost --ip 127.0.0.1 \
  >/dev/null
"$flsailer" pki issue --dir "$pki" --kind server --id aggregator --dns localhost --ip 127.0.0.1 \
  >/dev/null
"$flsailer" pki issue --dir "$pki" --kind admin --id operator >/dev/null

echo "== 2. the demo dataset as two institutions (one per donor)"
"$flsailer" split --input "$demo" --by sample_group --out "$out/sites"
institutions=()
for h5ad in "$out"/sites/*.h5ad; do
  id="$(basename "$h5ad" .h5ad)"
  institutions+=("$id")
  "$flsailer" pki issue --dir "$pki" --kind institution --id "$id" >/dev/null
done

source scripts/wait_lib.sh

echo "== 3. secure aggregator on 127.0.0.1:$aggregator_port," \
  "coordinator on 127.0.0.1:$port (REST on 127.0.0.1:$rest_port)"
"$flsailer" aggregator --listen "127.0.0.1:$aggregator_port" \
  --ca "$pki/ca.pem" --cert "$pki/aggregator.pem" --key "$pki/aggregator.key" \
  2> "$out/aggregator.log" &
aggregator_pid=$!
pids+=("$aggregator_pid")
await_log "$out/aggregator.log" "event=listening"
"$flsailer" coordinator --listen "127.0.0.1:$port" --rest-listen "127.0.0.1:$rest_port" \
  --state-dir "$out/coordinator" --aggregator "127.0.0.1:$aggregator_port" \
  --ca "$pki/ca.pem" --cert "$pki/coordinator.pem" --key "$pki/coordinator.key" \
  2> "$out/coordinator.log" &
coordinator_pid=$!
pids+=("$coordinator_pid")
admin=(--coordinator "localhost:$port" --ca "$pki/ca.pem" --cert "$pki/operator.pem"
       --key "$pki/operator.key")
await_log "$out/coordinator.log" "event=listening"

echo "== 4. submit the job"
ids="$(IFS=,; echo "${institutions[*]}")"
"$flsailer" job submit "${admin[@]}" --reference "$demo/peaks.bed" --institutions "$ids" \
  --rounds "$rounds" --local-epochs "$epochs" --clusters 6 --min-clients "${#institutions[@]}" \
  > "$out/job.json"
job="$(sed -n 's/.*"value": "\(job-[0-9]*\)".*/\1/p' "$out/job.json" | head -1)"
echo "job $job"

echo "== 5. one client per institution"
for id in "${institutions[@]}"; do
  "$flsailer" client --coordinator "localhost:$port" --job "$job" \
    --input "$out/sites/$id.h5ad" --out "$out/results/$id" --batch-col "" \
    --ca "$pki/ca.pem" --cert "$pki/$id.pem" --key "$pki/$id.key" 2> "$out/client-$id.log" &
  pids+=("$!")
done
"$flsailer" job wait "${admin[@]}" --id "$job"
for pid in "${pids[@]:2}"; do wait "$pid"; done  # the clients

echo "== 6. results"
"$flsailer" job rounds "${admin[@]}" --id "$job" > "$out/rounds.json"
"$flsailer" job download "${admin[@]}" --id "$job" --artifact selected_peaks.bed \
  --out "$out/selected_peaks.bed"
"$flsailer" job download "${admin[@]}" --id "$job" --artifact model --out "$out/model.f32"
echo "selected peaks: $(grep -vc '^#' "$out/selected_peaks.bed"), model: $(stat -c %s "$out/model.f32") bytes"
for id in "${institutions[@]}"; do
  echo "$id: federated clusters vs cell types" \
    "$(sed -n 's/.*"ari": *\([0-9.e-]*\).*/ARI \1/p' "$out/results/$id/federated_clusters.json")" \
    "-> $out/results/$id/{results.h5ad,clusters.tsv,embedding.svg,metrics.json}"
done

echo "== 7. the same results over REST (HTTPS/JSON, the same admin certificate)"
rest=(curl -sS --fail-with-body --cacert "$pki/ca.pem" --cert "$pki/operator.pem"
      --key "$pki/operator.key")
"${rest[@]}" "https://localhost:$rest_port/v1/jobs/$job/rounds" > "$out/rounds-rest.json"
"${rest[@]}" "https://localhost:$rest_port/v1/jobs/$job/selected_peaks.bed" \
  > "$out/selected_peaks-rest.bed"
"${rest[@]}" "https://localhost:$rest_port/v1/jobs/$job/model" > "$out/model-rest.f32"
cmp "$out/rounds.json" "$out/rounds-rest.json"
cmp "$out/selected_peaks.bed" "$out/selected_peaks-rest.bed"
cmp "$out/model.f32" "$out/model-rest.f32"
echo "GET /v1/jobs/$job/{rounds,selected_peaks.bed,model}: identical to the gRPC answers"
kill -TERM "$coordinator_pid" "$aggregator_pid"
wait "$coordinator_pid"
wait "$aggregator_pid"
echo "coordinator and aggregator stopped cleanly (SIGTERM)"
