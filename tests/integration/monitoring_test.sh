#!/usr/bin/env bash
# Monitoring end to end: deploy/local/up.sh --demo (aggregator, coordinator, two clients and a
# real Prometheus scraping them every second, with deploy/prometheus/alerts.yml loaded). While the
# job trains, every query of every panel of deploy/grafana/*.json is evaluated through
# Prometheus's HTTP API and must return data ($__rate_interval as 1m, $job_id as all jobs); every
# scrape target must be up, every alert rule evaluated without error, and every metric an alert
# expression names must exist. A panel or alert pointing at a metric no service exports fails.
# `flsailer health`, as container HEALTHCHECKs and Kubernetes probes run it, must find each service
# serving, and must fail for a wrong certificate name or a port nobody serves.
# Usage: tests/integration/monitoring_test.sh FLSAILER_BINARY
set -euo pipefail
flsailer="$(realpath "$1")"
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
base=$((20000 + RANDOM % 20000))
trap 'deploy/local/down.sh "$work" >/dev/null; rm -rf "$work"' EXIT
[ -n "${KEEP_WORK:-}" ] && trap 'deploy/local/down.sh "$work" >/dev/null' EXIT

FLSAILER="$flsailer" BASE_PORT=$base SCRAPE_INTERVAL=1s ROUNDS=30 LOCAL_EPOCHS=10 \
  deploy/local/up.sh --demo "$work" > "$work/up.txt" \
  || { echo "FAIL: deploy/local/up.sh"; cat "$work/up.txt"; tail -5 "$work"/logs/*.log; exit 1; }

/usr/bin/python3 - "http://127.0.0.1:$((base + 90))" deploy/grafana deploy/prometheus/alerts.yml <<'PY'
import glob, json, re, sys, time, urllib.parse, urllib.request
prometheus, dashboards, rules_file = sys.argv[1:]

def api(path, **params):
    url = f"{prometheus}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body["status"] != "success":
        raise RuntimeError(f"{path} {params}: {body}")
    return body["data"]

def query(expr):
    return api("query", query=expr)["result"]

# A few rounds in, with the clients still training (and scraped for a while).
deadline = time.time() + 300
while True:
    rounds = query("sum(flsailer_rounds_total)")
    if rounds and float(rounds[0]["value"][1]) >= 8:
        break
    if time.time() > deadline:
        sys.exit("FAIL: the job did not reach round 8 within 300 s")
    time.sleep(1)
time.sleep(3)

failures = []
targets = api("targets")["activeTargets"]
jobs = sorted({t["labels"]["job"] for t in targets})
if jobs != ["flsailer-aggregator", "flsailer-client", "flsailer-coordinator"]:
    failures.append(f"scrape jobs {jobs}")
for t in targets:
    if t["health"] != "up":
        failures.append(f"target {t['scrapeUrl']} is {t['health']}: {t['lastError']}")

panels = 0
for path in sorted(glob.glob(f"{dashboards}/*.json")):
    for panel in json.load(open(path))["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "1m").replace("$job_id", ".*")
            panels += 1
            if not query(expr):
                failures.append(f"{path}: panel '{panel['title']}': no data for {expr}")

rules = [r for g in api("rules")["groups"] for r in g["rules"]]
names = set()
for r in rules:
    if r["health"] != "ok":
        failures.append(f"alert {r['name']}: {r['health']} {r.get('lastError', '')}")
    names.update(re.findall(r"\b(?:flsailer_[a-z0-9_]+|up)\b(?=\s*[{\[)\s-]|$)", r["query"]))
for name in sorted(names):
    selector = 'up{job=~"flsailer-.*"}' if name == "up" else name
    if not query(selector):
        failures.append(f"alert expressions name {name}, which no service exports")
if len(rules) < 6:
    failures.append(f"only {len(rules)} alert rules loaded")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print(f"{len(targets)} targets up; {panels} panel queries returned data; {len(rules)} alert rules "
      f"evaluated; metrics named by alerts all exported: {', '.join(sorted(names))}")
PY
pki="$work/pki"
health() {
  "$flsailer" health --timeout-ms 3000 --ca "$pki/ca.pem" --cert "$pki/$1.pem" --key "$pki/$1.key" \
    "${@:2}" 2>&1
}
for check in "coordinator --address 127.0.0.1:$base" \
             "aggregator --address 127.0.0.1:$((base + 2)) --server-name localhost" \
             "operator --url http://127.0.0.1:$((base + 20))/metrics"; do
  # shellcheck disable=SC2086  # each check is a list of words
  health $check | grep -q ": serving$" || { echo "FAIL: health $check"; health $check; exit 1; }
done
wrong_name=(--address "127.0.0.1:$((base + 2))" --server-name not-the-aggregator)
{ health aggregator "${wrong_name[@]}" || true; } | grep -q "Hostname Verification" || { echo "FAIL: a wrong server name was accepted"; exit 1; }
if health aggregator --address "127.0.0.1:$((base + 3))" >/dev/null; then
  echo "FAIL: health passed for a port nobody serves"; exit 1
fi
echo "health: coordinator, aggregator and a client serving; a wrong name and a dead port fail"
job="$(sed -n 's/.*"value": "\(job-[0-9]*\)".*/\1/p' "$work/job.json" | head -1)"
"$flsailer" job wait --coordinator "127.0.0.1:$base" --ca "$work/pki/ca.pem" \
  --cert "$work/pki/operator.pem" --key "$work/pki/operator.key" --id "$job" > /dev/null 2>&1 \
  || { echo "FAIL: the job did not finish"; tail -5 "$work"/logs/*.log; exit 1; }
echo "PASS: every dashboard panel and alert expression is backed by exported metrics"
