#!/usr/bin/env bash
# End-to-end check of `flsailer pki`: init + issue in a fresh directory, the files and their
# modes, an independent check of the certificates with the openssl tool, and the refusals.
# Usage: pki_cli_test.sh FLSAILER_BINARY WORK_DIR
set -euo pipefail
flsailer="$1"
dir="$2/pki"
rm -rf "$dir"

fail() { echo "FAIL: $*" >&2; exit 1; }
# Runs flsailer expecting failure and an error matching $1.
expect_error() {
  local pattern="$1"; shift
  local out
  if out="$("$flsailer" "$@" 2>&1)"; then fail "succeeded: flsailer $*"; fi
  grep -qE -- "$pattern" <<<"$out" || fail "flsailer $*: expected /$pattern/, got: $out"
}

"$flsailer" pki init --dir "$dir" --days 400 | grep -q "created the federation CA $dir/ca.pem"
"$flsailer" pki issue --dir "$dir" --kind server --id coordinator --dns localhost \
  --ip 127.0.0.1 --ip ::1 --days 7
"$flsailer" pki issue --dir "$dir" --kind institution --id hospital-a
"$flsailer" pki issue --dir "$dir" --kind admin --id ops.team_1
"$flsailer" pki issue --dir "$dir" --kind institution --id hospital-a | grep -q "^replaced "

for f in ca coordinator hospital-a ops.team_1; do
  [ -s "$dir/$f.pem" ] || fail "$dir/$f.pem missing"
  [ "$(stat -c %a "$dir/$f.key")" = 600 ] || fail "$dir/$f.key is not mode 0600"
done
openssl verify -CAfile "$dir/ca.pem" "$dir/coordinator.pem" "$dir/hospital-a.pem" \
  "$dir/ops.team_1.pem" >/dev/null || fail "openssl does not verify the issued certificates"
san="$(openssl x509 -in "$dir/coordinator.pem" -noout -ext subjectAltName)"
for name in "URI:flsailer://server/coordinator" "DNS:localhost" "IP Address:127.0.0.1" \
            "IP Address:0:0:0:0:0:0:0:1"; do
  grep -qF "$name" <<<"$san" || fail "coordinator SAN lacks $name: $san"
done
openssl x509 -in "$dir/hospital-a.pem" -noout -ext extendedKeyUsage | grep -q "TLS Web Client" \
  || fail "institution certificate is not for TLS clients"
if openssl x509 -in "$dir/hospital-a.pem" -noout -ext extendedKeyUsage | grep -q "TLS Web Server"; then
  fail "institution certificate could serve"
fi
openssl pkey -in "$dir/hospital-a.key" -noout -text | grep -q "NIST CURVE: P-256" \
  || fail "institution key is not P-256"

expect_error "ca.pem exists: refusing to replace the federation CA" pki init --dir "$dir"
expect_error "the id 'ca' is reserved" pki issue --dir "$dir" --kind admin --id ca
expect_error "invalid identity id 'a/b'" pki issue --dir "$dir" --kind admin --id a/b
expect_error "unknown identity kind 'root'" pki issue --dir "$dir" --kind root --id x
expect_error "needs at least one --dns or --ip" pki issue --dir "$dir" --kind server --id s
expect_error "for server certificates, not institution ones" \
  pki issue --dir "$dir" --kind institution --id h --dns localhost
expect_error "would outlive its CA" pki issue --dir "$dir" --kind admin --id x --days 500
expect_error "unknown flag --kind" pki init --dir "$dir/other" --kind server
expect_error "$dir/missing/ca.key" pki issue --dir "$dir/missing" --kind admin --id x
echo "pki CLI: all checks passed"
