#!/usr/bin/env bash
# The chart really runs: helm/flsailer rendered with ci/local-values.yaml (host network, loopback
# addresses, certificates from Secrets, clients as Deployments) plus this run's ports, folders and
# image, started with `podman kube play` and torn down with `podman kube down`. Checked: the
# liveness probes of servers and clients (`flsailer health` exec; podman runs liveness probes
# only, here by `podman healthcheck run`) pass; the chart's `helm test` pod lists the
# coordinator's jobs over mutual TLS; a small federated job on the bundled dataset (two
# institutions, one client Deployment each) finishes and each client writes its results to its
# hostPath; nothing is left running afterwards.
#
# What podman cannot take as rendered is adapted here, not in the chart: Services are dropped and
# container ports removed (podman has no Services, and turns ports into port mappings, which host
# networking refuses); the Secrets are made outside the chart (as the chart expects), with podman
# 4.3's bug of writing a Secret's `data` undecoded into the volume worked around
# (containers/podman#16625, fixed in 4.4).
#
# Usage: tests/helm/kube_play_test.sh [IMAGE]  (default: docker/build-images.sh --prebuilt kube)
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/container/lib.sh
start_container_test kube "${1:-}"
bin="$(bash scripts/install-helm.sh)"
release="fl$$"  # names of this run only: the Secrets, pods and certificates' Service names
port=$((20000 + RANDOM % 20000))
institutions=(hospital-a hospital-b)
secrets=()
played=()
cleanup() {
  local file
  for file in "${played[@]}"; do podman kube down "$file" >/dev/null 2>&1 || true; done
  for name in "${secrets[@]}"; do podman secret rm "$name" >/dev/null 2>&1 || true; done
  podman ps -aq --filter "label=$label" | xargs -r podman rm -f >/dev/null 2>&1 || true
  podman pod ps -q --filter "name=^$release-" | xargs -r podman pod rm -f >/dev/null 2>&1 || true
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {  # to stderr: it may run inside $(...)
  {
    echo "FAIL: $*"
    podman ps -a --format '{{.Names}}' | grep "^$release-flsailer-" | while read -r c; do
      echo "--- $c"; podman logs --tail 5 "$c" 2>&1
    done
  } >&2
  exit 1
}

prepare_work pki sites results "${institutions[@]/#/results/}"
split_demo_sites "${institutions[@]}"
# The probes dial 127.0.0.1 and verify the Service name, which the server certificates carry.
SERVER_DNS_coordinator="$release-flsailer-coordinator" \
  SERVER_DNS_aggregator="$release-flsailer-aggregator" make_pki "${institutions[@]}"

# One Secret per identity (ca.crt, tls.crt, tls.key), named RELEASE-ID-tls (set in values.yaml).
podman_version="$(podman version --format '{{.Client.Version}}')"
for id in coordinator aggregator operator "${institutions[@]}"; do
  name="$release-$id-tls"
  python3 - "$work/tls/$id" "$name" "$podman_version" > "$work/secret-$id.yaml" <<'PY'
import base64, sys, yaml
folder, name, version = sys.argv[1:]
old_podman = tuple(int(x) for x in version.split(".")[:2]) < (4, 4)
data = {}
for key in ("ca.crt", "tls.crt", "tls.key"):
    text = open(f"{folder}/{key}").read()
    data[key] = text if old_podman else base64.b64encode(text.encode()).decode()
yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name}, "data": data}, sys.stdout)
PY
  secrets+=("$name")
  if [[ "$podman_version" < 4.4 ]]; then
    # `kube play` would validate, and 4.3 would then mount, the base64 text: store it directly.
    podman secret create "$name" "$work/secret-$id.yaml" >/dev/null
  else
    podman kube play "$work/secret-$id.yaml" >/dev/null
  fi
done

repository="${image%:*}"
cat > "$work/values.yaml" <<YAML
image: {repository: "$repository", tag: "${image##*:}"}
coordinator:
  ports: {grpc: $port, rest: $((port + 1)), metrics: $((port + 10))}
  aggregatorAddress: "127.0.0.1:$((port + 2))"
  tls: {existingSecret: $release-coordinator-tls}
aggregator:
  ports: {grpc: $((port + 2)), metrics: $((port + 11))}
  tls: {existingSecret: $release-aggregator-tls}
helmTest: {adminSecret: $release-operator-tls}
client:
  coordinatorAddress: "127.0.0.1:$port"
  jobId: job-1
  metricsPort: $((port + 20))
institutions:
YAML
for id in "${institutions[@]}"; do
  cat >> "$work/values.yaml" <<YAML
  - id: $id
    input: $id.h5ad
    data: {hostPath: "$work/sites"}
    results: {hostPath: "$work/results/$id"}
    tls: {existingSecret: $release-$id-tls}
YAML
done

# render PART TEMPLATE...: the chart's TEMPLATEs as podman can play them, in WORK/PART.yaml.
render() {
  local part=$1 show=()
  shift
  for template in "$@"; do show+=(--show-only "templates/$template"); done
  "$bin/helm" template "$release" helm/flsailer -f helm/flsailer/ci/local-values.yaml \
    -f "$work/values.yaml" "${show[@]}" > "$work/$part-rendered.yaml"
  python3 - "$work/$part-rendered.yaml" > "$work/$part.yaml" <<'PY'
import sys, yaml
docs = []
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if not doc or doc["kind"] == "Service":
        continue
    spec = doc["spec"].get("template", {}).get("spec") or doc["spec"]
    for container in spec["containers"]:
        container.pop("ports", None)
    docs.append(doc)
yaml.safe_dump_all(docs, sys.stdout)
PY
}
play() {
  played+=("$work/$1.yaml")
  podman kube play "$work/$1.yaml" > "$work/play-$1.log" 2>&1 \
    || { cat "$work/play-$1.log"; fail "kube play $1"; }
}
# container PATTERN: the name of the one container whose name matches PATTERN.
container() {
  local names
  names="$(podman ps -a --format '{{.Names}}')"
  grep -m1 -- "$1" <<< "$names" || fail "no container $1"
}
# probe_passes NAME PATTERN WHAT: once NAME has logged PATTERN (it is serving), its liveness probe
# passes when podman runs it. Polled only after the log line, because failed runs count towards
# the probe's failure threshold.
probe_passes() {
  local logs
  for _ in $(seq 120); do
    logs="$(podman logs "$1" 2>&1 || true)"
    grep -q -- "$2" <<< "$logs" && break
    sleep 0.5
  done
  for _ in 1 2 3; do
    podman healthcheck run "$1" >/dev/null 2>&1 && return 0
    sleep 1
  done
  fail "$3's liveness probe (flsailer health) did not pass"
}

render central coordinator.yaml aggregator.yaml
render clients client.yaml
render helm-test tests/coordinator-health.yaml
play central
for server in coordinator aggregator; do
  probe_passes "$(container "^$release-flsailer-$server-pod.*-$server\$")" event=listening "$server"
done
echo "coordinator and aggregator up; their liveness probes (gRPC health over mutual TLS) pass"

set_admin "$port"
# Rounds enough for the clients' probes to be checked while they train (~1 s per round here).
job="$(submit_job "${ROUNDS:-10}" "${institutions[@]}")" || fail "job submit"
[ "$job" = job-1 ] || fail "expected job-1 (client.jobId), got $job"
play clients
for id in "${institutions[@]}"; do
  probe_passes "$(container "^$release-flsailer-client-$id-pod.*-client\$")" event=progress "$id"
done
echo "client liveness probes (flsailer health --url of /metrics) pass"
tool job wait "${admin[@]}" --id "$job" > "$work/wait.log" 2>&1 || fail "job $job did not finish"
# A client writes its results after the job's end reaches it (and Deployments never exit).
for id in "${institutions[@]}"; do
  for _ in $(seq 120); do
    [ -s "$work/results/$id/federated_clusters.json" ] && break
    sleep 0.5
  done
  [ -s "$work/results/$id/federated_clusters.json" ] || fail "$id wrote no results within 60 s"
done
echo "job $job finished; both client Deployments wrote their results"

play helm-test
check="$(container "^$release-flsailer-test-coordinator-check\$")"
[ "$(podman wait "$check")" = 0 ] && grep -q "\"$job\"" <<< "$(podman logs "$check" 2>&1)" \
  || fail "the helm test pod did not list $job"
echo "helm test pod: flsailer job list over mutual TLS lists $job"

for file in "${played[@]}"; do
  podman kube down "$file" >/dev/null 2>&1 || fail "kube down $file"
done
played=()
left="$(podman ps -a --format '{{.Names}}' | grep -c "^$release-flsailer-" || true)"
[ "$left" = 0 ] || fail "$left containers left after kube down"
echo "PASS: the chart ran under podman kube play: probes, helm test, a federated job; torn down"
