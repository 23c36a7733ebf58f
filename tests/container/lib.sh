# Sourced by the container tests (smoke_test.sh, tests/helm/kube_play_test.sh) from the
# repository's root.
export CONTAINERS_CONF="$PWD/docker/containers.conf"

# start_container_test NAME [IMAGE]: sets `image` (IMAGE, or else build/release's binaries packaged
# now as the prebuilt image tagged NAME), `work` (a fresh folder) and `label` (put on every
# container, for cleanup).
start_container_test() {
  image="${2:-$(docker/build-images.sh --prebuilt "$1")}"
  work="$(mktemp -d)"
  label="flsailer-$1-$$"
}

# prepare_work DIR...: the work folder, and folders in it that the image's user (10001) writes.
prepare_work() {
  chmod 0755 "$work"
  local dir
  for dir in "$@"; do install -d -o 10001 -g 10001 "$work/$dir"; done
}

# tool ARGS...: a one-off `flsailer` command in the image, as a service container runs (read-only
# root filesystem, no capabilities), with the work folder at /work and the dataset at /data.
tool() {
  podman run --rm --label "$label" --no-healthcheck --network host --read-only --cap-drop ALL \
    --security-opt no-new-privileges -v "$work:/work" -v "$PWD/examples/data:/data:ro" \
    "$image" "$@"
}

# make_pki INSTITUTION... : a federation CA made by the image (in WORK/pki); server certificates
# for coordinator and aggregator (127.0.0.1 plus the DNS names in SERVER_DNS_coordinator and
# SERVER_DNS_aggregator, if set), an admin "operator" and the institutions. Each identity's files
# are also laid out as a Kubernetes TLS Secret mounts them: WORK/tls/ID/{ca.crt,tls.crt,tls.key}.
make_pki() {
  tool pki init --dir /work/pki >/dev/null
  local id dns name
  for id in coordinator aggregator; do
    dns=()
    name="SERVER_DNS_$id"
    [ -z "${!name:-}" ] || dns=(--dns "${!name}")
    tool pki issue --dir /work/pki --kind server --id "$id" --ip 127.0.0.1 "${dns[@]}" >/dev/null
  done
  tool pki issue --dir /work/pki --kind admin --id operator >/dev/null
  for id in "$@"; do tool pki issue --dir /work/pki --kind institution --id "$id" >/dev/null; done
  for id in coordinator aggregator operator "$@"; do
    install -d "$work/tls/$id"
    install -o 10001 -g 10001 -m 0400 "$work/pki/ca.pem" "$work/tls/$id/ca.crt"
    install -o 10001 -g 10001 -m 0400 "$work/pki/$id.pem" "$work/tls/$id/tls.crt"
    install -o 10001 -g 10001 -m 0400 "$work/pki/$id.key" "$work/tls/$id/tls.key"
  done
}

# split_demo_sites ID_A ID_B: the bundled dataset split by donor into WORK/sites/ID_A.h5ad and
# WORK/sites/ID_B.h5ad (institution ids must be DNS labels for Kubernetes names).
split_demo_sites() {
  tool split --input /data/granja2019_bmmc --by sample_group --out /work/sites >/dev/null
  local files=("$work"/sites/*.h5ad)
  [ ${#files[@]} -eq 2 ] || { echo "FAIL: expected 2 donors, got ${files[*]}"; exit 1; }
  mv "${files[0]}" "$work/sites/$1.h5ad"
  mv "${files[1]}" "$work/sites/$2.h5ad"
}

# set_admin COORDINATOR_PORT: `admin`, the flags of `flsailer job` as the operator.
set_admin() {
  admin=(--coordinator "127.0.0.1:$1" --ca /work/tls/operator/ca.crt
         --cert /work/tls/operator/tls.crt --key /work/tls/operator/tls.key)
}

# submit_job ROUNDS INSTITUTION...: submits a small job as the operator (set_admin first) that
# needs every institution; prints its id, or fails.
submit_job() {
  local rounds=$1 csv
  shift
  csv="$(IFS=,; echo "$*")"
  tool job submit "${admin[@]}" --reference /data/granja2019_bmmc/peaks.bed --institutions "$csv" \
    --rounds "$rounds" --local-epochs 2 --clusters 6 --min-clients $# > "$work/job.json" \
    || return 1
  local id
  id="$(sed -n 's/.*"value": "\(job-[0-9]*\)".*/\1/p' "$work/job.json" | head -1)"
  [ -n "$id" ] && echo "$id"
}
