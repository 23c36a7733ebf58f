# Shared by the bench/*.sh scripts (sourced, from the repository root).

# Path of the flsailer binary: $FLSAILER_BIN if set, else built in build/release.
flsailer_binary() {
  if [ -n "${FLSAILER_BIN:-}" ]; then
    echo "$FLSAILER_BIN"
    return
  fi
  cmake --preset release >/dev/null
  cmake --build --preset release --target flsailer >/dev/null
  echo build/release/services/cli/flsailer
}

# The synthetic quality dataset: 4 institutions with strong depth, accessibility and cell-mix
# effects. Usage: simulate_synthetic FLSAILER DIR (skipped when DIR exists).
simulate_synthetic() {
  [ -d "$2" ] && return
  "$1" simulate --out "$2" --cells 4000 --peaks 5000 --cell-types 6 \
    --institutions 4 --depth-shift-sd 0.5 --distortion-sd 0.7 --noise-peak-fraction 0.03 \
    --mix-concentration 1 --seed 11 2>/dev/null >/dev/null
}

# Sets $flsailer (flsailer_binary) and $shared (FLSAILER_SHARED_DATA, default ../shared/data),
# creates OUT and, when DATASETS names "synthetic", OUT/synthetic.
# Usage: prepare_quality_run OUT "DATASETS"
prepare_quality_run() {
  flsailer=$(flsailer_binary)
  shared="${FLSAILER_SHARED_DATA:-../shared/data}"
  mkdir -p "$1"
  if [[ " $2 " == *" synthetic "* ]]; then simulate_synthetic "$flsailer" "$1/synthetic"; fi
}

# The input of dataset DS of a quality run in OUT (after prepare_quality_run); fails, saying so,
# when it is missing. Usage: input=$(dataset_input OUT DS) || continue
dataset_input() {
  local input="$shared/$2"
  [ "$2" = synthetic ] && input="$1/synthetic"
  if [ ! -e "$input" ]; then echo "skip $2: $input not found" >&2; return 1; fi
  echo "$input"
}

# A number from a one-line JSON file ("nan" for null). Usage: json_field FILE KEY
json_field() { sed -n "s/.*\"$2\": *\([^,}]*\).*/\1/p" "$1" | sed 's/null/nan/'; }
