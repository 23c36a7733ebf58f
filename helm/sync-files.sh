#!/usr/bin/env bash
# Copies the alert rules and Grafana dashboards of deploy/ (their one source of truth) into the
# chart (helm/flsailer/files/), which Helm can only read from inside the chart directory.
# tests/helm/chart_test.sh fails when the copies differ; run this after editing deploy/.
#
# Usage: helm/sync-files.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
files="$root/helm/flsailer/files"
mkdir -p "$files/prometheus" "$files/grafana"
cp "$root/deploy/prometheus/alerts.yml" "$files/prometheus/alerts.yml"
rm -f "$files/grafana/"*.json
cp "$root/deploy/grafana/"*.json "$files/grafana/"
echo "synced deploy/prometheus/alerts.yml and deploy/grafana/*.json into $files"
