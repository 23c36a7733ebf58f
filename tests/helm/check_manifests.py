#!/usr/bin/env python3
"""Structural checks of a rendered FL-Sailer chart (tests/helm/chart_test.sh).

Usage: check_manifests.py RENDERED.yaml VALUES.yaml EXPECTED_KINDS
  EXPECTED_KINDS: comma-separated kinds that must be present.
Checks: every workload's selector matches its pod template labels; every Service selects the pods
of some workload; every Secret, ConfigMap and PersistentVolumeClaim a pod refers to is rendered or
named in the values file (keys existingSecret, existingClaim, imagePullSecrets, adminSecret: the
documented external objects); every container and pod runs as non-root with a read-only root
filesystem, no privilege escalation, all capabilities dropped and RuntimeDefault seccomp; every
long-running container has resources and probes; ServiceMonitor/PodMonitor scrape jobs carry the
names the alerts and dashboards use; the PrometheusRule equals deploy/prometheus/alerts.yml;
every Grafana dashboard ConfigMap has the sidecar label and valid JSON. Prints one line per
failure and exits 1 if there is any.
"""
import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
SCRAPE_JOBS = {"flsailer-coordinator", "flsailer-aggregator", "flsailer-client"}
errors = []


def fail(message):
    errors.append(message)


def external_names(values):
    """Names the values file declares as existing (external) objects, by kind."""
    names = {"Secret": set(), "PersistentVolumeClaim": set(), "ConfigMap": set()}

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("existingSecret", "adminSecret") and value:
                    names["Secret"].add(value)
                elif key == "existingClaim" and value:
                    names["PersistentVolumeClaim"].add(value)
                elif key == "imagePullSecrets":
                    names["Secret"].update(value or [])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(values)
    return names


def pod_spec(doc):
    kind = doc["kind"]
    if kind == "Pod":
        return doc["spec"]
    if kind in WORKLOADS:
        return doc["spec"]["template"]["spec"]
    return None


def pod_labels(doc):
    if doc["kind"] == "Pod":
        return doc["metadata"].get("labels", {})
    return doc["spec"]["template"]["metadata"].get("labels", {})


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_security(name, pod, container):
    pod_sc = pod.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    where = f"{name}/{container['name']}"
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if non_root is not True:
        fail(f"{where}: runAsNonRoot is not true")
    if user is None or user == 0:
        fail(f"{where}: runAsUser is {user!r} (must be a non-zero uid)")
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(f"{where}: readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(f"{where}: allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        fail(f"{where}: privileged")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        fail(f"{where}: capabilities do not drop ALL")
    if (sc.get("capabilities") or {}).get("add"):
        fail(f"{where}: adds capabilities")
    seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
    if seccomp.get("type") != "RuntimeDefault":
        fail(f"{where}: seccompProfile is not RuntimeDefault")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    if "/tmp" not in mounts:
        fail(f"{where}: no writable /tmp (the root filesystem is read-only)")


def main():
    rendered, values_file, expected = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    with open(values_file) as f:
        values = yaml.safe_load(f) or {}
    external = external_names(values)
    for doc in docs:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in doc:
                fail(f"a document has no {key}: {str(doc)[:80]}")
    objects = {}
    for doc in docs:
        objects.setdefault(doc["kind"], set()).add(doc["metadata"]["name"])
        if doc["kind"] in ("Deployment", "Service", "Job") and len(doc["metadata"]["name"]) > 63:
            fail(f"{doc['kind']} {doc['metadata']['name']}: name longer than 63 characters")
    for kind in filter(None, expected.split(",")):
        if kind not in objects:
            fail(f"no {kind} rendered (kinds: {sorted(objects)})")

    # cert-manager writes the Secrets of the rendered Certificates.
    issued = {"Secret": {d["spec"]["secretName"] for d in docs if d["kind"] == "Certificate"}}
    pods = []  # (kind/name, labels, spec, document)
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        labels = pod_labels(doc)
        pods.append((name, labels, spec, doc))
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            selector = doc["spec"]["selector"].get("matchLabels", {})
            if not matches(selector, labels):
                fail(f"{name}: selector {selector} does not match its pod labels {labels}")
        if doc["kind"] == "Job" and doc["spec"].get("selector"):
            fail(f"{name}: a Job should let Kubernetes generate its selector")

        # Referenced Secrets, ConfigMaps and claims exist or are declared external.
        refs = []
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                refs.append(("Secret", volume["secret"]["secretName"]))
            if "configMap" in volume:
                refs.append(("ConfigMap", volume["configMap"]["name"]))
            if "persistentVolumeClaim" in volume:
                refs.append(("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]))
            kinds = set(volume) - {"name"}
            if not kinds or not kinds <= {"secret", "configMap", "persistentVolumeClaim", "emptyDir", "hostPath"}:
                fail(f"{name}: volume {volume['name']} of an unexpected type {sorted(kinds)}")
        for secret in spec.get("imagePullSecrets", []):
            refs.append(("Secret", secret["name"]))
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            for env in container.get("env", []):
                source = env.get("valueFrom", {})
                if "secretKeyRef" in source:
                    refs.append(("Secret", source["secretKeyRef"]["name"]))
                if "configMapKeyRef" in source:
                    refs.append(("ConfigMap", source["configMapKeyRef"]["name"]))
            for env_from in container.get("envFrom", []):
                if "secretRef" in env_from:
                    refs.append(("Secret", env_from["secretRef"]["name"]))
                if "configMapRef" in env_from:
                    refs.append(("ConfigMap", env_from["configMapRef"]["name"]))
        for kind, ref in refs:
            if ref not in objects.get(kind, set()) | issued.get(kind, set()) and ref not in external[kind]:
                fail(f"{name}: {kind} {ref} is neither rendered nor declared external in {values_file}")
        for vname in {v["name"] for v in spec.get("volumes", [])}:
            used = any(m["name"] == vname for c in spec.get("containers", []) for m in c.get("volumeMounts", []))
            if not used:
                fail(f"{name}: volume {vname} is not mounted")

        pod_sc = spec.get("securityContext") or {}
        if pod_sc.get("runAsUser") == 0 or pod_sc.get("runAsNonRoot") is False:
            fail(f"{name}: pod securityContext allows root")
        if spec.get("hostPID") or spec.get("hostIPC"):
            fail(f"{name}: hostPID/hostIPC")
        if spec.get("automountServiceAccountToken") is not False:
            fail(f"{name}: the service account token is mounted (the services need no API access)")
        is_test = (doc["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"
        for container in spec.get("containers", []):
            check_security(name, spec, container)
            if not container.get("resources"):
                fail(f"{name}/{container['name']}: no resources")
            if not is_test and "livenessProbe" not in container:
                fail(f"{name}/{container['name']}: no livenessProbe")
            if not is_test and labels.get("app.kubernetes.io/component") in ("coordinator", "aggregator"):
                if "readinessProbe" not in container:
                    fail(f"{name}/{container['name']}: no readinessProbe")
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            if spec.get("hostNetwork"):
                for p in container.get("ports", []):
                    if p.get("hostPort", p["containerPort"]) != p["containerPort"]:
                        fail(f"{name}: hostPort differs from containerPort with hostNetwork")
            args = " ".join(str(a) for a in container.get("args", []))
            for pname, number in ports.items():
                if f":{number}" not in args:
                    fail(f"{name}/{container['name']}: port {pname} ({number}) is not what the command listens on: {args}")

    for doc in docs:
        if doc["kind"] == "Service":
            selector = doc["spec"].get("selector") or {}
            targets = [p for p in pods if matches(selector, p[1]) and p[3]["kind"] != "Pod"]
            if not targets:
                fail(f"Service/{doc['metadata']['name']}: selector {selector} selects no workload's pods")
            for port in doc["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                for pname, _, spec, _ in targets:
                    names = {p.get("name") for c in spec["containers"] for p in c.get("ports", [])}
                    numbers = {p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
                    if target not in names and target not in numbers:
                        fail(f"Service/{doc['metadata']['name']}: targetPort {target} not a port of {pname}")
        if doc["kind"] in ("NetworkPolicy", "PodDisruptionBudget"):
            selector = doc["spec"]["podSelector" if doc["kind"] == "NetworkPolicy" else "selector"].get("matchLabels", {})
            if not any(matches(selector, p[1]) for p in pods):
                fail(f"{doc['kind']}/{doc['metadata']['name']}: selects no pods")
        if doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"].endswith("-client"):
            for rule in doc["spec"].get("ingress", []):
                ports = [p["port"] for p in rule.get("ports", [])]
                if not ports:
                    fail(f"NetworkPolicy/{doc['metadata']['name']}: an ingress rule open on every port")
            if "Egress" not in doc["spec"].get("policyTypes", []):
                fail(f"NetworkPolicy/{doc['metadata']['name']}: clients' egress is not restricted")
        if doc["kind"] in ("ServiceMonitor", "PodMonitor"):
            endpoints = doc["spec"].get("endpoints") or doc["spec"].get("podMetricsEndpoints") or []
            selector = doc["spec"]["selector"]["matchLabels"]
            for endpoint in endpoints:
                jobs = {r.get("replacement") for r in endpoint.get("relabelings", []) if r.get("targetLabel") == "job"}
                if not jobs or not jobs <= SCRAPE_JOBS:
                    fail(f"{doc['kind']}/{doc['metadata']['name']}: scrape job {jobs} not one of {sorted(SCRAPE_JOBS)}")
            if doc["kind"] == "ServiceMonitor":
                if not any(d["kind"] == "Service" and matches(selector, d["metadata"].get("labels", {})) for d in docs):
                    fail(f"ServiceMonitor/{doc['metadata']['name']}: selects no Service")
                job_label = doc["spec"].get("jobLabel")
                for d in docs:
                    if d["kind"] == "Service" and matches(selector, d["metadata"].get("labels", {})):
                        if d["metadata"]["labels"].get(job_label) not in SCRAPE_JOBS:
                            fail(f"Service/{d['metadata']['name']}: jobLabel {job_label} is not a scrape job name")
            elif not any(matches(selector, p[1]) for p in pods):
                fail(f"PodMonitor/{doc['metadata']['name']}: selects no pods")
        if doc["kind"] == "PrometheusRule":
            with open(os.path.join(ROOT, "deploy/prometheus/alerts.yml")) as f:
                source = yaml.safe_load(f)
            if doc["spec"]["groups"] != source["groups"]:
                fail("PrometheusRule: its groups differ from deploy/prometheus/alerts.yml")
        if doc["kind"] == "ConfigMap" and "-dashboard-" in doc["metadata"]["name"]:
            if doc["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
                fail(f"ConfigMap/{doc['metadata']['name']}: no grafana_dashboard=\"1\" label")
            for key, text in doc["data"].items():
                with open(os.path.join(ROOT, "deploy/grafana", key)) as f:
                    if json.loads(text) != json.load(f):
                        fail(f"ConfigMap/{doc['metadata']['name']}: {key} differs from deploy/grafana/{key}")
        if doc["kind"] == "Certificate":
            uris = doc["spec"].get("uris", [])
            if len(uris) != 1 or not uris[0].startswith("flsailer://"):
                fail(f"Certificate/{doc['metadata']['name']}: needs exactly one flsailer:// URI SAN, has {uris}")

    if errors:
        for e in errors:
            print(f"  FAIL {e}")
        return 1
    print(f"  ok: {len(docs)} objects ({', '.join(f'{k} {len(v)}' for k, v in sorted(objects.items()))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
