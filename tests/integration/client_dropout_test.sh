#!/usr/bin/env bash
# A client process killed with SIGKILL in the middle of training, with 3 institutions:
#  job-1 (minimum 2 institutions): the round completes with the other two at the deadline, later
#        rounds go on without waiting for the dead client, and the job finishes;
#  job-2 (minimum 3): the round is retried at the deadline; the client is restarted and the job
#        finishes with every round 1..N once and all three institutions in every round.
# Usage: tests/integration/client_dropout_test.sh FLSAILER_BINARY
set -euo pipefail
flsailer="$(realpath "$1")"
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
source tests/integration/federation_lib.sh
rounds=8
# The first step's deadline runs from the submission, while the clients still load their data;
# a client that misses the statistics step is dropped by design, so this leaves room for slow
# (sanitizer) builds on two cores.
timeout=10

make_federation 3
start_coordinator 1
victim="${sites[2]}"

# run_job JOB MIN_CLIENTS: submits JOB and starts a client per institution (pids in `clients`).
run_job() {
  "$flsailer" job submit "${admin[@]}" --reference examples/data/granja2019_bmmc/peaks.bed \
    --institutions "$(IFS=,; echo "${sites[*]}")" --rounds "$rounds" --local-epochs 3 \
    --min-clients "$2" --timeout "$timeout" > "$work/$1.json"
  clients=()
  for id in "${sites[@]}"; do
    start_client "$id" "$1"
    clients+=("$client_pid")
  done
}

# check_rounds JOB MIN_CONTRIBUTORS_AFTER_ROUND_3
check_rounds() {
  "$flsailer" job rounds "${admin[@]}" --id "$1" > "$work/$1-rounds.json"
  /usr/bin/python3 - "$work/$1-rounds.json" "$rounds" "$2" "$1" <<'PY'
import json, sys
rounds = json.load(open(sys.argv[1]))["rounds"]
n, expected, job = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
numbers = [r["round"] for r in rounds]
if numbers != list(range(1, n + 1)):
    sys.exit(f"FAIL: {job} rounds {numbers}, expected 1..{n} once each")
counts = [len(r["contributors"]) for r in rounds]
print(f"{job}: contributors per round {counts}")
if any(c != expected for c in counts[3:]) or any(c < 2 for c in counts):
    sys.exit(f"FAIL: {job} expected {expected} contributors per round after round 3")
PY
}

echo "== job-1: minimum 2; $victim dies in round 3 and stays dead"
run_job job-1 2
wait_rounds job-1 2
kill -9 "${clients[2]}"
"$flsailer" job wait "${admin[@]}" --id job-1
wait "${clients[0]}"
wait "${clients[1]}"
check_rounds job-1 2
grep -q 'event=round_finished job=job-1 round=8' "$work/coordinator.log"

echo "== job-2: minimum 3; $victim dies in round 3, comes back after a deadline"
run_job job-2 3
wait_rounds job-2 2
kill -9 "${clients[2]}"
sleep $((timeout + 1))  # past the first deadline: the round is retried, not failed
start_client "$victim" job-2
clients[2]=$client_pid
"$flsailer" job wait "${admin[@]}" --id job-2
for pid in "${clients[@]}"; do wait "$pid"; done
check_rounds job-2 3
for id in "${sites[@]}"; do
  [ -s "$work/out/job-2/$id/results.h5ad" ] || { echo "FAIL: no results for $id"; exit 1; }
done
echo "PASS: a dead client was done without above the minimum, and waited for below it"
