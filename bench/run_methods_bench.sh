#!/usr/bin/env bash
# run_methods_bench.sh — the paper's Fig. 5 in our engine: seconds per step and peak RSS of every
# fine-tuning method on the reference configuration, sara (bench_train) and PyTorch
# (bench/torch_train.py) in the same run, for each batch size. Prints one Markdown table per batch
# size for docs/BENCHMARKS.md and draws docs/fig5.svg (build/bench_plot).
#
# Methods: full fine-tuning; LoRA r = 8 and r matched to SaRA's 5 % trainable count; SaRA and
# selective (dense gradients masked) at 5 % and 20 % density. Density is set by --budget (exactly
# that many smallest |p| of the model's random PyTorch-default init), so both implementations
# train the same number of entries; the θ it implies is printed. The progressive step is outside
# the timed window (bench_train's default); the low-rank term is on (λ = 5e-4, one tensor a step).
#
#   bench/run_methods_bench.sh [threads=2] [batch sizes="8 32 64"]
# Environment: BUILD (build), STEPS (5 timed steps after 1 warm-up), STEPS_LARGE (for batch ≥ 64, 5),
# WGRAD_REPS (3; 0 skips the weight-gradient timing), SVG (docs/fig5.svg), RAW (keep the RESULT lines),
# CHECKPOINTING (1: gradient checkpointing on both sides: bench_train's --gradient-checkpointing and
# torch.utils.checkpoint around every ResNet and attention block), WIDTH (channels times this on both
# sides, 1: the reference model; 2 holds about 4× the parameters).
# Runtime of the default grid at 2 threads on the 2-core machine: about 20–25 minutes (estimated from
# about 0.75 / 3 / 6 s per full fine-tuning step at batch 8 / 32 / 64: 42 runs of 1 + 5 steps plus
# start-up, and 3 × 2 extra forward+backward passes per sara run for the weight-gradient phase;
# WGRAD_REPS=0 saves about a third). One thread roughly doubles it.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
batches=${2:-"8 32 64"}
BUILD=${BUILD:-build}
STEPS=${STEPS:-5}
STEPS_LARGE=${STEPS_LARGE:-5}
WGRAD_REPS=${WGRAD_REPS:-3}
SVG=${SVG:-docs/fig5.svg}
PYTHON=${PYTHON:-/usr/bin/python3}
CHECKPOINTING=${CHECKPOINTING:-0}
WIDTH=${WIDTH:-1}
extra=(--width "$WIDTH")
[[ "$CHECKPOINTING" == 0 ]] || extra+=(--gradient-checkpointing)
make -s BUILD="$BUILD" bench >/dev/null

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
mb() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }

info=$("$BUILD"/bench_train --info --width "$WIDTH")
params=$(field params "$info")
per_rank=$(field lora_params_per_rank "$info")
b5=$(( (params * 5 + 50) / 100 ))
b20=$(( (params * 20 + 50) / 100 ))
r_match=$(( (b5 + per_rank / 2) / per_rank ))
(( r_match >= 1 )) || r_match=1
theta5=$(field theta "$("$BUILD"/bench_train --info --width "$WIDTH" --budget "$b5")")
theta20=$(field theta "$("$BUILD"/bench_train --info --width "$WIDTH" --budget "$b20")")

labels=("full" "LoRA r=8" "LoRA r=$r_match" "SaRA 5%" "SaRA 20%" "selective 5%" "selective 20%")
options=("--method full" "--method lora --lora-rank 8" "--method lora --lora-rank $r_match"
         "--method sara --budget $b5" "--method sara --budget $b20"
         "--method selective --budget $b5" "--method selective --budget $b20")

[[ "$WIDTH" == 1 ]] || echo "Width $WIDTH: every block's channels times $WIDTH."
echo "Reference model: $params parameters. 5 % = $b5 entries (θ = $theta5 on sara's init), 20 % = $b20"
echo "(θ = $theta20); LoRA: $per_rank parameters per unit of rank, so r = $r_match matches 5 %."
echo "Threads: $threads. Timed steps: $STEPS ($STEPS_LARGE at batch ≥ 64) after 1 warm-up; peak RSS of the whole"
echo "process (PyTorch's includes about 230 MB of library, its RSS at start is in brackets as +Δ)."
[[ "$CHECKPOINTING" == 0 ]] || echo "Gradient checkpointing on both sides (every ResNet and attention block)."
echo

data=$(mktemp)
raw=${RAW:-/dev/null}
trap 'rm -f "$data"' EXIT
for batch in $batches; do
  steps=$STEPS
  (( batch < 64 )) || steps=$STEPS_LARGE
  echo "### batch $batch"
  echo
  echo "| method | trainable | sara s/step (min–max) | PyTorch s/step (min–max) | PyTorch / sara | sara peak RSS | PyTorch peak RSS (+Δ) | sara grad+opt state | sara weight-grad phase (of backward) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for i in "${!labels[@]}"; do
    # shellcheck disable=SC2086 # options are word lists on purpose
    s=$("$BUILD"/bench_train --threads "$threads" --batch "$batch" --steps "$steps" --warmup 1 --sgemm-peak 0 \
        --wgrad-reps "$WGRAD_REPS" ${options[$i]} "${extra[@]}" | grep '^RESULT' || true)
    # shellcheck disable=SC2086
    p=$("$PYTHON" bench/torch_train.py --threads "$threads" --batch "$batch" --steps "$steps" --warmup 1 \
        ${options[$i]} "${extra[@]}" | grep '^RESULT' || true)
    printf '%s\n%s\n' "$s" "$p" >>"$raw"
    sm=$(field median_s "$s"); pm=$(field median_s "$p")
    ours="failed"; theirs="failed"; ratio="–"; srss="–"; prss="–"; state="–"; wgrad="–"
    if [[ -n "$s" ]]; then
      ours="$sm ($(field min_s "$s")–$(field max_s "$s"))"
      srss="$(mb "$(field peak_rss_mb "$s")") MB"
      state="$(field state_mb "$s") MB"
      [[ "$(field wgrad_s "$s")" == na ]] || wgrad="$(field wgrad_s "$s") s of $(field bwd_s "$s") s"
      printf '%s\t%s\tsara\t%s\t%s\t%s\t%s\n' "$batch" "${labels[$i]}" "$sm" "$(field min_s "$s")" \
        "$(field max_s "$s")" "$(field peak_rss_mb "$s")" >>"$data"
    fi
    if [[ -n "$p" ]]; then
      theirs="$pm ($(field min_s "$p")–$(field max_s "$p"))"
      prss=$(awk -v a="$(field peak_rss_mb "$p")" -v b="$(field base_rss_mb "$p")" 'BEGIN { printf "%.0f MB (+%.0f)", a, a - b }')
      printf '%s\t%s\tpytorch\t%s\t%s\t%s\t%s\n' "$batch" "${labels[$i]}" "$pm" "$(field min_s "$p")" \
        "$(field max_s "$p")" "$(field peak_rss_mb "$p")" >>"$data"
    fi
    [[ -z "$s" || -z "$p" ]] || ratio=$(awk -v a="$pm" -v b="$sm" 'BEGIN { printf "%.2f×", a / b }')
    trainable=$(field trainable "$s"); [[ -n "$trainable" ]] || trainable=$(field trainable "$p")
    echo "| ${labels[$i]} | $trainable | $ours | $theirs | $ratio | $srss | $prss | $state | $wgrad |"
  done
  echo
done
"$BUILD"/bench_plot "$data" "$SVG"
echo "Plot: $SVG. PyTorch $(field torch "$p"); sara's BLAS: ${s#*blas=}"
