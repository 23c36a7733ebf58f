#!/usr/bin/env bash
# FL-Sailer on one machine without Kubernetes: a secure aggregator, a coordinator (gRPC, REST and
# /metrics) and Prometheus scraping them with the alert rules of deploy/prometheus, every hop over
# mutual TLS with certificates made on the fly. With --demo it also runs a federated job on the
# bundled dataset: one client process per donor, each with its own /metrics.
#
# Usage: deploy/local/up.sh [--demo] [DIR=build/local]     stop with deploy/local/down.sh DIR
# Environment: FLSAILER (binary; default build/release/services/cli/flsailer), BASE_PORT (17500):
#   coordinator gRPC BASE, REST BASE+1, aggregator BASE+2, Prometheus BASE+90, /metrics of the
#   coordinator BASE+10, aggregator BASE+11, clients BASE+20...; SCRAPE_INTERVAL (5s);
#   ROUNDS (20) and LOCAL_EPOCHS (10) for --demo.
# Grafana is not packaged by Debian: import deploy/grafana/*.json into your Grafana with this
# Prometheus as data source, or query http://127.0.0.1:BASE+90 directly.
set -euo pipefail
cd "$(dirname "$0")/../.."
demo=false
if [ "${1:-}" = "--demo" ]; then demo=true; shift; fi
dir="$(realpath -m "${1:-build/local}")"
flsailer="$(realpath "${FLSAILER:-build/release/services/cli/flsailer}")"
base="${BASE_PORT:-17500}"
coordinator_port=$base rest_port=$((base + 1)) aggregator_port=$((base + 2))
coordinator_metrics=$((base + 10)) aggregator_metrics=$((base + 11)) prometheus_port=$((base + 90))
[ -x "$flsailer" ] || { echo "no flsailer binary at $flsailer (build it or set FLSAILER)"; exit 1; }
[ ! -s "$dir/pids" ] || { echo "$dir is running already: deploy/local/down.sh $dir"; exit 1; }
mkdir -p "$dir/logs"
: > "$dir/pids"

# start NAME ARGS...: runs ARGS in the background, logging to DIR/logs/NAME.log.
start() {
  local name=$1; shift
  "$@" > "$dir/logs/$name.log" 2>&1 &
  echo "$! $name" >> "$dir/pids"
}
source scripts/wait_lib.sh

pki="$dir/pki"
if [ ! -f "$pki/ca.pem" ]; then
  "$flsailer" pki init --dir "$pki" >/dev/null
  for server in coordinator aggregator; do
    "$flsailer" pki issue --dir "$pki" --kind server --id "$server" --dns localhost \
      --ip 127.0.0.1 >/dev/null
  done
  "$flsailer" pki issue --dir "$pki" --kind admin --id operator >/dev/null
fi
tls() { echo --ca "$pki/ca.pem" --cert "$pki/$1.pem" --key "$pki/$1.key"; }

start aggregator "$flsailer" aggregator --listen "127.0.0.1:$aggregator_port" \
  --metrics-listen "127.0.0.1:$aggregator_metrics" $(tls aggregator)
await_log "$dir/logs/aggregator.log" "event=listening"
start coordinator "$flsailer" coordinator --listen "127.0.0.1:$coordinator_port" \
  --rest-listen "127.0.0.1:$rest_port" --metrics-listen "127.0.0.1:$coordinator_metrics" \
  --state-dir "$dir/coordinator" --aggregator "127.0.0.1:$aggregator_port" $(tls coordinator)
await_log "$dir/logs/coordinator.log" "event=listening"

# Clients come and go: Prometheus finds them in clients.json (file-based discovery).
[ -f "$dir/clients.json" ] || echo "[]" > "$dir/clients.json"
cat > "$dir/prometheus.yml" <<YAML
global:
  scrape_interval: ${SCRAPE_INTERVAL:-5s}
  evaluation_interval: ${SCRAPE_INTERVAL:-5s}
rule_files:
  - $PWD/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: flsailer-coordinator
    static_configs: [{targets: ["127.0.0.1:$coordinator_metrics"]}]
  - job_name: flsailer-aggregator
    static_configs: [{targets: ["127.0.0.1:$aggregator_metrics"]}]
  - job_name: flsailer-client
    file_sd_configs: [{files: ["$dir/clients.json"], refresh_interval: 5s}]
YAML
start prometheus prometheus --config.file "$dir/prometheus.yml" \
  --storage.tsdb.path "$dir/prometheus" --web.listen-address "127.0.0.1:$prometheus_port"
await_log "$dir/logs/prometheus.log" "Server is ready to receive web requests"

# Addresses, not "localhost": no DNS lookup (c-ares), which LeakSanitizer flags in ASan builds.
admin=(--coordinator "127.0.0.1:$coordinator_port" $(tls operator))
echo "FL-Sailer is up in $dir:"
echo "  coordinator  gRPC 127.0.0.1:$coordinator_port, REST https://localhost:$rest_port"
echo "  aggregator   127.0.0.1:$aggregator_port"
echo "  Prometheus   http://127.0.0.1:$prometheus_port (alerts: /alerts)"
echo "  admin        $flsailer job list ${admin[*]}"
echo "  stop         deploy/local/down.sh $dir"
$demo || exit 0

echo "== demo: granja2019_bmmc, one institution per donor"
"$flsailer" split --input examples/data/granja2019_bmmc --by sample_group --out "$dir/sites" \
  >/dev/null
sites=()
for h5ad in "$dir"/sites/*.h5ad; do
  sites+=("$(basename "$h5ad" .h5ad)")
  [ -f "$pki/${sites[-1]}.pem" ] || \
    "$flsailer" pki issue --dir "$pki" --kind institution --id "${sites[-1]}" >/dev/null
done
"$flsailer" job submit "${admin[@]}" --reference examples/data/granja2019_bmmc/peaks.bed \
  --institutions "$(IFS=,; echo "${sites[*]}")" --rounds "${ROUNDS:-20}" \
  --local-epochs "${LOCAL_EPOCHS:-10}" --clusters 6 --min-clients "${#sites[@]}" \
  > "$dir/job.json"
job="$(sed -n 's/.*"value": "\(job-[0-9]*\)".*/\1/p' "$dir/job.json" | head -1)"
targets=()
for i in "${!sites[@]}"; do
  id="${sites[$i]}"
  port=$((base + 20 + i))
  start "client-$id" "$flsailer" client --coordinator "127.0.0.1:$coordinator_port" --job "$job" \
    --input "$dir/sites/$id.h5ad" --out "$dir/results/$id" --batch-col "" \
    --metrics-listen "127.0.0.1:$port" $(tls "$id")
  targets+=("\"127.0.0.1:$port\"")
done
echo "[{\"targets\": [$(IFS=,; echo "${targets[*]}")], \"labels\": {\"job_id\": \"$job\"}}]" \
  > "$dir/clients.json"
echo "job $job: ${#sites[@]} clients started; follow it with"
echo "  $flsailer job wait ${admin[*]} --id $job"
