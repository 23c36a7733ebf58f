# Sourced by the scripts that start FL-Sailer services in the background.

# await_log FILE PATTERN [COUNT=1]: waits (up to 30 s) until FILE holds COUNT lines matching
# PATTERN, e.g. a service's "event=listening"; otherwise prints the end of FILE and exits 1.
await_log() {
  for _ in $(seq 150); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -ge "${3:-1}" ] && return 0
    sleep 0.2
  done
  echo "FAIL: no '$2' in $1 within 30 s:"; tail -5 "$1"; exit 1
}
