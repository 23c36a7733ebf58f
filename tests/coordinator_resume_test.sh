#!/usr/bin/env bash
# A coordinator killed with SIGKILL in the middle of a job and started again on the same state
# directory finishes the job: every round 1..N completed exactly once, the clients carry on.
# Usage: tests/coordinator_resume_test.sh FLSAILER_BINARY
set -euo pipefail
flsailer="$(realpath "$1")"
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
pids=()
clients=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT
port=$((20000 + RANDOM % 20000))
rounds=12

"$flsailer" pki init --dir "$work/pki" >/dev/null
"$flsailer" pki issue --dir "$work/pki" --kind server --id coordinator --ip 127.0.0.1 >/dev/null
"$flsailer" pki issue --dir "$work/pki" --kind admin --id operator >/dev/null
"$flsailer" split --input examples/data/granja2019_bmmc --by sample_group --out "$work/sites" \
  >/dev/null
sites=(BMMC_D5T1 BMMC_D6T1)
for id in "${sites[@]}"; do
  "$flsailer" pki issue --dir "$work/pki" --kind institution --id "$id" >/dev/null
done
tls=(--ca "$work/pki/ca.pem")
admin=(--coordinator "127.0.0.1:$port" "${tls[@]}" --cert "$work/pki/operator.pem"
       --key "$work/pki/operator.key")

start_coordinator() {
  "$flsailer" coordinator --listen "127.0.0.1:$port" --state-dir "$work/state" "${tls[@]}" \
    --cert "$work/pki/coordinator.pem" --key "$work/pki/coordinator.key" \
    --allow-insecure-plain-aggregation 2>> "$work/coordinator.log" &
  coordinator=$!
  pids+=("$coordinator")
  for _ in $(seq 100); do
    [ "$(grep -c 'event=listening' "$work/coordinator.log")" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "coordinator did not start"; tail -5 "$work/coordinator.log"; exit 1
}

start_coordinator 1
"$flsailer" job submit "${admin[@]}" --reference examples/data/granja2019_bmmc/peaks.bed \
  --institutions BMMC_D5T1,BMMC_D6T1 --rounds "$rounds" --local-epochs 3 --min-clients 2 \
  --insecure-plain-aggregation > "$work/job.json"
for id in "${sites[@]}"; do
  "$flsailer" client --coordinator "127.0.0.1:$port" --job job-1 --input "$work/sites/$id.h5ad" \
    --out "$work/out/$id" --batch-col "" --label-col "" "${tls[@]}" \
    --cert "$work/pki/$id.pem" --key "$work/pki/$id.key" 2> "$work/client-$id.log" &
  pids+=("$!")
  clients+=("$!")
done

# Kill the coordinator once a few rounds are done, mid-job.
for _ in $(seq 600); do
  done_rounds="$(grep -c 'event=round_finished' "$work/coordinator.log" || true)"
  [ "$done_rounds" -ge 4 ] && break
  sleep 0.1
done
kill -9 "$coordinator"
wait "$coordinator" 2>/dev/null || true
echo "killed the coordinator after $done_rounds rounds"
sleep 1
start_coordinator 2
grep -q 'event=job_resumed job=job-1' "$work/coordinator.log"

"$flsailer" job wait "${admin[@]}" --id job-1
for pid in "${clients[@]}"; do wait "$pid"; done
"$flsailer" job rounds "${admin[@]}" --id job-1 > "$work/rounds.json"
listed="$(grep -o '"round": [0-9]*' "$work/rounds.json" | awk '{print $2}' | tr '\n' ' ')"
expected="$(seq -s ' ' 1 "$rounds") "
if [ "$listed" != "$expected" ]; then
  echo "FAIL: rounds after resume are '$listed', expected '$expected'"; exit 1
fi
for id in "${sites[@]}"; do
  [ -s "$work/out/$id/results.h5ad" ] || { echo "FAIL: no results for $id"; exit 1; }
done
echo "PASS: rounds 1..$rounds each completed once across a SIGKILL; both clients finished"
