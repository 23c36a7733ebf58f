#!/usr/bin/env bash
# Feature-selection quality table (issue 4): all peaks against 20% of them chosen by leverage
# (FL-Sailer), at random, or by accessibility (the most often open), each fed to the invariant VAE
# (`flsailer train --reference selected_peaks.bed`, which maps the data onto the kept peaks) and
# to LSI, on granja2019_bmmc and on synthetic data with strong institution effects (4
# institutions, the same simulation as bench/quality.sh). Prints one row per (dataset, features,
# model, seed), the means over seeds, and the issue's check: leverage ARI >= all-peaks ARI - 0.02.
# Usage: bash bench/selection_quality.sh [SEEDS="0 1 2"] [DATASETS="granja2019_bmmc synthetic"]
# Environment: FLSAILER_BIN=path to a built flsailer (default: build it in build/release),
#              FLSAILER_SHARED_DATA (default ../shared/data), RATE (default 0.2).
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-0 1 2}"
datasets="${2:-granja2019_bmmc synthetic}"
rate="${RATE:-0.2}"

source bench/common.sh
out=build/selection_quality
prepare_quality_run "$out" "$datasets"

batch_col() { case "$1" in granja2019_bmmc) echo sample_group ;; *) echo batch ;; esac; }

printf '%-16s %-10s %-4s %4s %7s %7s %9s %9s %7s %7s %7s %7s %6s\n' dataset features model seed \
  ari nmi label_asw batch_asw ilisi kbet gconn counts secs
rows="$out/rows.tsv"
: > "$rows"
for ds in $datasets; do
  input=$(dataset_input "$out" "$ds") || continue
  batch="$(batch_col "$ds")"
  for seed in $seeds; do
    for features in all leverage random accessible; do
      base="$out/$ds/$features/seed$seed"
      reference=()
      counts=1
      if [ "$features" != all ]; then
        "$flsailer" select-features --input "$input" --method "$features" --rate "$rate" \
          --seed "$seed" --out "$base/selection" >/dev/null
        reference=(--reference "$base/selection/selected_peaks.bed")
        counts=$(json_field "$base/selection/summary.json" fraction_of_counts_kept)
      fi
      for model in vae lsi; do
        dir="$base/$model"
        case "$model" in
          vae) "$flsailer" train --input "$input" "${reference[@]}" --rate 1 --batch-col "$batch" \
                 --seed "$seed" --out "$dir" >/dev/null 2>&1 ;;
          lsi) "$flsailer" lsi --input "$input" "${reference[@]}" --batch-col "$batch" \
                 --seed "$seed" --out "$dir" >/dev/null ;;
        esac
        m="$dir/metrics.json"
        row=$(printf '%-16s %-10s %-4s %4s %7.3f %7.3f %9.3f %9.3f %7.3f %7.3f %7.3f %7.3f %6.1f' \
          "$ds" "$features" "$model" "$seed" "$(json_field "$m" ari)" "$(json_field "$m" nmi)" \
          "$(json_field "$m" label_asw)" "$(json_field "$m" batch_asw)" \
          "$(json_field "$m" ilisi)" "$(json_field "$m" kbet)" \
          "$(json_field "$m" graph_connectivity)" "$counts" "$(json_field "$m" seconds)")
        echo "$row"
        echo "$row" >> "$rows"
      done
    done
  done
done

echo
echo "means over seeds (rate $rate):"
means="$out/means.tsv"
awk '{k=$1" "$2" "$3; n[k]++; for(i=5;i<=13;i++) s[k,i]+=$i}
     END {for (k in n) {printf "%-31s", k;
                        for(i=5;i<=13;i++) printf (i==7 || i==8) ? " %9.3f" : " %7.3f", s[k,i]/n[k];
                        printf "\n"}}' "$rows" | sort > "$means"
printf '%-31s %7s %7s %9s %9s %7s %7s %7s %7s %6s\n' "dataset features model" ari nmi label_asw \
  batch_asw ilisi kbet gconn counts secs
cat "$means"

echo
echo "check (mean ARI): leverage >= all peaks - 0.02"
awk '{ari[$1" "$2" "$3]=$4; sets[$1" "$3]=1}
     END {for (k in sets) {split(k, p, " ");
          all=ari[p[1]" all "p[2]]; lev=ari[p[1]" leverage "p[2]];
          printf "%-16s %-4s all %.3f  leverage %.3f  %s\n", p[1], p[2], all, lev,
                 (lev >= all - 0.02) ? "PASS" : "FAIL"}}' "$means" | sort
