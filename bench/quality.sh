#!/usr/bin/env bash
# Embedding quality table: LSI vs the invariant VAE (same defaults everywhere), several seeds, on
# the real datasets in ../shared/data and on synthetic data with strong institution effects.
# Leiden is tuned to the label count; kNN graphs use cosine distance. Prints one row per
# (dataset, method, seed) and the means.
# Usage: bash bench/quality.sh [SEEDS="0 1 2"] [DATASETS="buenrostro2015_gm12878_h1 granja2019_bmmc ..."]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-0 1 2}"
datasets="${2:-buenrostro2015_gm12878_h1 granja2019_bmmc snareseq2019_mouse_cortex synthetic}"

source bench/common.sh
out=build/quality
prepare_quality_run "$out" "$datasets"

# Columns: dataset's batch column.
batch_col() {
  case "$1" in
    granja2019_bmmc) echo sample_group ;;
    buenrostro2015_gm12878_h1) echo "" ;;  # two cell lines, no batches
    *) echo batch ;;
  esac
}

printf '%-28s %-22s %4s %7s %7s %9s %9s %7s %7s %7s %6s\n' dataset method seed ari nmi label_asw \
  batch_asw ilisi kbet gconn secs
rows="$out/rows.tsv"
: > "$rows"
for ds in $datasets; do
  input=$(dataset_input "$out" "$ds") || continue
  for seed in $seeds; do
    for method in lsi vae vae_lambda0; do
      dir="$out/$ds/$method/seed$seed"
      case "$method" in
        lsi) "$flsailer" lsi --input "$input" --batch-col "$(batch_col "$ds")" --seed "$seed" \
               --out "$dir" >/dev/null ;;
        vae) "$flsailer" train --input "$input" --batch-col "$(batch_col "$ds")" --seed "$seed" \
               --out "$dir" >/dev/null 2>&1 ;;
        vae_lambda0) [ "$ds" = synthetic ] || continue
             "$flsailer" train --input "$input" --batch-col "$(batch_col "$ds")" --seed "$seed" \
               --lambda 0 --out "$dir" >/dev/null 2>&1 ;;
      esac
      m="$dir/metrics.json"
      row=$(printf '%-28s %-22s %4s %7.3f %7.3f %9.3f %9.3f %7.3f %7.3f %7.3f %6.1f' "$ds" "$method" \
        "$seed" "$(json_field "$m" ari)" "$(json_field "$m" nmi)" "$(json_field "$m" label_asw)" \
        "$(json_field "$m" batch_asw)" "$(json_field "$m" ilisi)" "$(json_field "$m" kbet)" \
        "$(json_field "$m" graph_connectivity)" "$(json_field "$m" seconds)")
      echo "$row"
      echo "$row" >> "$rows"
    done
  done
done
echo
echo "means over seeds:"
awk '{k=$1" "$2; n[k]++; for(i=4;i<=11;i++) s[k,i]+=$i}
     END {for (k in n) {printf "%-51s", k; for(i=4;i<=11;i++) printf " %7.3f", s[k,i]/n[k]; printf "\n"}}' \
  "$rows" | sort
