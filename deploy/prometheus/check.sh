#!/usr/bin/env bash
# Checks the alert rules (promtool check rules) and runs their unit tests (promtool test rules).
# Usage: deploy/prometheus/check.sh   (promtool comes with Debian's prometheus package)
set -euo pipefail
cd "$(dirname "$0")"
promtool check rules alerts.yml
promtool test rules alerts_test.yml
echo "PASS: alert rules valid and their unit tests pass"
