#!/usr/bin/env bash
# run_train_bench.sh — the engine benchmark: sara and PyTorch on the same training step (reference
# configuration, batch 32, full fine-tuning + AdamW by default), 1 and 2 threads, in one run so the
# ratios are measured under the same machine load. Prints a Markdown table for docs/BENCHMARKS.md.
#   bench/run_train_bench.sh [steps=5] [batch=32]
# Environment: METHOD, the method options both sides get (default "--method full"; issue 5's SaRA
# target: METHOD="--method sara --threshold 2e-3", PyTorch then runs the official recipe: dense
# gradients, masked AdamW); BUILD (build).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-5}
batch=${2:-32}
METHOD=${METHOD:---method full}
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" bench >/dev/null
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

echo "Method: $METHOD"
echo
echo "| threads | sara s/step (min–max) | PyTorch s/step (min–max) | speed-up | sara GFLOP/s | % of sgemm peak | sara peak RSS | PyTorch peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
for t in 1 2; do
  # shellcheck disable=SC2086 # METHOD is a word list on purpose
  s=$("$BUILD"/bench_train --threads "$t" --batch "$batch" --steps "$steps" --warmup 1 $METHOD | grep '^RESULT')
  # shellcheck disable=SC2086
  p=$(/usr/bin/python3 bench/torch_train.py --threads "$t" --batch "$batch" --steps "$steps" --warmup 1 $METHOD |
    grep '^RESULT')
  sm=$(field median_s "$s"); pm=$(field median_s "$p")
  printf '| %s | %s (%s–%s) | %s (%s–%s) | %.2f× | %s | %.0f %% | %s MB | %s MB |\n' "$t" \
    "$sm" "$(field min_s "$s")" "$(field max_s "$s")" "$pm" "$(field min_s "$p")" "$(field max_s "$p")" \
    "$(awk "BEGIN{print $pm / $sm}")" "$(field gflops "$s")" "$(awk "BEGIN{print 100 * $(field peak_fraction "$s")}")" \
    "$(field peak_rss_mb "$s")" "$(field peak_rss_mb "$p")"
done
echo
echo "FLOPs per step (analytic, 3 × forward): $(field gflop_per_step "$s") GFLOP; sgemm peak at 2 threads: $(field sgemm_peak_gflops "$s") GFLOP/s; $(sed 's/.*blas=//' <<<"$s")"
