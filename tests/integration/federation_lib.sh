# Shared by the process-level federation tests (sourced): a federation on loopback made of real
# `flsailer` processes. Set `flsailer` (binary) and `work` (scratch directory) before sourcing.
# Provides: make_federation N (certificates, granja2019_bmmc cut into N institutions, in `sites`),
# start_coordinator (with a secure aggregator, started once), start_client ID JOB, admin (flags
# for `flsailer job`), and cleanup of every process started.
pids=()
port=$((20000 + RANDOM % 20000))
aggregator_port=$((port + 1))
tls=(--ca "$work/pki/ca.pem")
admin=(--coordinator "127.0.0.1:$port" "${tls[@]}" --cert "$work/pki/operator.pem"
       --key "$work/pki/operator.key")
# On failure the processes' last log lines go to stderr (ctest shows them), since `work` goes.
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] && { echo "--- last lines of $log"; tail -n 15 "$log"; } >&2
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT

make_federation() {
  "$flsailer" pki init --dir "$work/pki" >/dev/null
  "$flsailer" pki issue --dir "$work/pki" --kind server --id coordinator --ip 127.0.0.1 >/dev/null
  "$flsailer" pki issue --dir "$work/pki" --kind server --id aggregator --ip 127.0.0.1 >/dev/null
  "$flsailer" pki issue --dir "$work/pki" --kind admin --id operator >/dev/null
  "$flsailer" split --input examples/data/granja2019_bmmc --by sample_group --institutions "$1" \
    --out "$work/sites" >/dev/null
  sites=()
  for h5ad in "$work"/sites/*.h5ad; do
    sites+=("$(basename "$h5ad" .h5ad)")
    "$flsailer" pki issue --dir "$work/pki" --kind institution --id "${sites[-1]}" >/dev/null
  done
}

source scripts/wait_lib.sh

# start_coordinator K: starts it (again) and waits for its K-th "listening" line in the log. The
# first call also starts the secure aggregator every job's sums go through.
start_coordinator() {
  if [ -z "${aggregator:-}" ]; then
    "$flsailer" aggregator --listen "127.0.0.1:$aggregator_port" "${tls[@]}" \
      --cert "$work/pki/aggregator.pem" --key "$work/pki/aggregator.key" \
      2>> "$work/aggregator.log" &
    aggregator=$!
    pids+=("$aggregator")
    await_log "$work/aggregator.log" "event=listening"
  fi
  "$flsailer" coordinator --listen "127.0.0.1:$port" --state-dir "$work/state" "${tls[@]}" \
    --cert "$work/pki/coordinator.pem" --key "$work/pki/coordinator.key" \
    --aggregator "127.0.0.1:$aggregator_port" 2>> "$work/coordinator.log" &
  coordinator=$!
  pids+=("$coordinator")
  await_log "$work/coordinator.log" "event=listening" "$1"
}

# start_client ID JOB: a client process for institution ID in JOB; its pid in `client_pid`.
start_client() {
  "$flsailer" client --coordinator "127.0.0.1:$port" --job "$2" --input "$work/sites/$1.h5ad" \
    --out "$work/out/$2/$1" --batch-col "" --label-col "" "${tls[@]}" \
    --cert "$work/pki/$1.pem" --key "$work/pki/$1.key" 2>> "$work/client-$2-$1.log" &
  client_pid=$!
  pids+=("$client_pid")
}

# wait_rounds JOB N: until the coordinator has logged N finished rounds of JOB.
wait_rounds() {
  for _ in $(seq 1200); do
    [ "$(grep -c "event=round_finished job=$1 " "$work/coordinator.log" || true)" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "FAIL: $1 did not reach round $2"; exit 1
}
