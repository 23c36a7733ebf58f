#!/usr/bin/env bash
# Container smoke test: the coordinator, the aggregator and two institution clients, each in its
# own container of the flsailer image, complete a small federated job on the bundled dataset over
# mutual TLS (host network, loopback), with certificates made by the image itself. Every service
# container runs as in production: read-only root filesystem, all capabilities dropped, no new
# privileges, certificates mounted read-only in the Kubernetes Secret layout. Also checked: the
# image's user is not root, each service's HEALTHCHECK passes, and the servers stop cleanly on
# SIGTERM (exit 0, "stopped" logged).
# Usage: tests/container/smoke_test.sh [IMAGE]  (default: docker/build-images.sh --prebuilt smoke,
#   which packages build/release's binaries). Needs podman (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/container/lib.sh
start_container_test smoke "${1:-}"
port=$((20000 + RANDOM % 20000))
aggregator_port=$((port + 2))
cleanup() {
  podman ps -aq --filter "label=$label" | xargs -r podman rm -f -t 5 >/dev/null 2>&1 || true
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$work"/*.log; do echo "--- $log"; tail -5 "$log"; done
  exit 1
}

[ "$(podman run --rm --no-healthcheck --entrypoint id "$image" -u)" = 10001 ] \
  || fail "the image's user is not 10001"
prepare_work pki sites state results out
institutions=(hospital-a hospital-b)
split_demo_sites "${institutions[@]}"
make_pki "${institutions[@]}"
tls=(--ca /etc/flsailer/tls/ca.crt --cert /etc/flsailer/tls/tls.crt --key /etc/flsailer/tls/tls.key)

# service NAME IDENTITY [podman options] -- ARGS...: a detached service container.
service() {
  local name=$1 identity=$2 options=()
  shift 2
  while [ "$1" != -- ]; do options+=("$1"); shift; done
  shift
  # podman logs that it cannot schedule health checks without systemd; they are run by hand below.
  podman run -d --name "$label-$name" --label "$label" --network host --read-only \
    --cap-drop ALL --security-opt no-new-privileges \
    -v "$work/tls/$identity:/etc/flsailer/tls:ro" "${options[@]}" "$image" "$@" "${tls[@]}" \
    > /dev/null 2>> "$work/podman.log"
}
# healthy NAME: the container's HEALTHCHECK passes within 60 s.
healthy() {
  for _ in $(seq 60); do
    podman healthcheck run "$label-$1" >/dev/null 2>&1 && return 0
    sleep 1
  done
  fail "$1's HEALTHCHECK did not pass"
}

service aggregator aggregator -e "FLSAILER_HEALTH_ADDRESS=127.0.0.1:$aggregator_port" -- \
  aggregator --listen "127.0.0.1:$aggregator_port"
service coordinator coordinator -e "FLSAILER_HEALTH_ADDRESS=127.0.0.1:$port" \
  -v "$work/state:/var/lib/flsailer" -- \
  coordinator --listen "127.0.0.1:$port" --state-dir /var/lib/flsailer \
  --aggregator "127.0.0.1:$aggregator_port"
healthy aggregator
healthy coordinator
[ "$(podman exec "$label-coordinator" id -u)" = 10001 ] || fail "the coordinator runs as root"

set_admin "$port"
job="$(submit_job "${ROUNDS:-3}" "${institutions[@]}")" || fail "job submit"
metrics=$((port + 20))
for id in "${institutions[@]}"; do
  install -d -o 10001 -g 10001 "$work/results/$id"
  service "client-$id" "$id" -e "FLSAILER_HEALTH_URL=http://127.0.0.1:$metrics/metrics" \
    -v "$work/sites:/data:ro" -v "$work/results/$id:/results" -- \
    client --coordinator "127.0.0.1:$port" --job "$job" --input "/data/$id.h5ad" \
    --out /results --batch-col "" --metrics-listen "127.0.0.1:$metrics"
  healthy "client-$id"
  metrics=$((metrics + 1))
done

tool job wait "${admin[@]}" --id "$job" > "$work/wait.log" 2>&1 \
  || fail "job $job did not finish"
for id in "${institutions[@]}"; do
  code="$(podman wait "$label-client-$id")"
  podman logs "$label-client-$id" > "$work/client-$id.log" 2>&1
  [ "$code" = 0 ] || fail "client $id exited with $code"
  [ -s "$work/results/$id/federated_clusters.json" ] || fail "client $id wrote no results"
done
tool job download "${admin[@]}" --id "$job" --artifact model --out /work/out/model.f32 \
  > /dev/null
[ -s "$work/out/model.f32" ] || fail "no model downloaded"

for server in coordinator aggregator; do
  podman stop -t 30 "$label-$server" >/dev/null 2>> "$work/podman.log"
  podman logs "$label-$server" > "$work/$server.log" 2>&1
  code="$(podman inspect "$label-$server" --format '{{.State.ExitCode}}')"
  [ "$code" = 0 ] && grep -q "event=stopped" "$work/$server.log" \
    || fail "$server did not stop cleanly on SIGTERM (exit $code)"
done
echo "PASS: job $job finished in containers (${#institutions[@]} institutions, model" \
  "$(stat -c %s "$work/out/model.f32") bytes); health checks passed; non-root, read-only root" \
  "filesystem, no capabilities; coordinator and aggregator stopped cleanly on SIGTERM"
