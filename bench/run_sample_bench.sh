#!/usr/bin/env bash
# run_sample_bench.sh — sampling throughput, sara and PyTorch in one run: DDIM 50 steps, 64
# class-conditional images of the reference configuration, batch 64, median of 5 repeats.
#   bench/run_sample_bench.sh [threads=2] [repeats=5]      BUILD (build) from the environment
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-2}
r=${2:-5}
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" bench >/dev/null
s=$("$BUILD"/bench_sample --threads "$t" --images 64 --batch 64 --steps 50 --repeats "$r" | grep '^RESULT')
p=$(/usr/bin/python3 bench/torch_sample.py --threads "$t" --images 64 --batch 64 --steps 50 --repeats "$r" | grep '^RESULT')
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
echo "| threads | sara images/s (s per 64: median, min–max) | PyTorch images/s (s per 64) | ratio | sara peak RSS | PyTorch peak RSS |"
echo "|---|---|---|---|---|---|"
printf '| %s | %s (%s, %s–%s) | %s (%s, %s–%s) | %.2f× | %s MB | %s MB |\n' "$t" \
  "$(field images_per_s "$s")" "$(field median_s "$s")" "$(field min_s "$s")" "$(field max_s "$s")" \
  "$(field images_per_s "$p")" "$(field median_s "$p")" "$(field min_s "$p")" "$(field max_s "$p")" \
  "$(awk "BEGIN{print $(field images_per_s "$s") / $(field images_per_s "$p")}")" \
  "$(field peak_rss_mb "$s")" "$(field peak_rss_mb "$p")"
