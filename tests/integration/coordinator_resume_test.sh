#!/usr/bin/env bash
# A coordinator killed with SIGKILL in the middle of a job and started again on the same state
# directory finishes the job: every round 1..N completed exactly once, the clients carry on.
# Usage: tests/integration/coordinator_resume_test.sh FLSAILER_BINARY
set -euo pipefail
flsailer="$(realpath "$1")"
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
source tests/integration/federation_lib.sh
rounds=12
clients=()

make_federation 2
start_coordinator 1
"$flsailer" job submit "${admin[@]}" --reference examples/data/granja2019_bmmc/peaks.bed \
  --institutions "$(IFS=,; echo "${sites[*]}")" --rounds "$rounds" --local-epochs 3 \
  --min-clients 2 > "$work/job.json"
for id in "${sites[@]}"; do
  start_client "$id" job-1
  clients+=("$client_pid")
done

# Kill the coordinator once a few rounds are done, mid-job.
wait_rounds job-1 4
kill -9 "$coordinator"
wait "$coordinator" 2>/dev/null || true
echo "killed the coordinator after $(grep -c 'event=round_finished' "$work/coordinator.log") rounds"
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
  [ -s "$work/out/job-1/$id/results.h5ad" ] || { echo "FAIL: no results for $id"; exit 1; }
done
echo "PASS: rounds 1..$rounds each completed once across a SIGKILL; both clients finished"
