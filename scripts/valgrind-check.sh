#!/usr/bin/env bash
# valgrind-check.sh — `make valgrind`: a short train + resume + sample + merge under valgrind
# memcheck, each command required to be clean: no invalid access, no use of uninitialised
# values, no leak of any kind (definite, indirect or possible), exit 1 on the first report.
#   scripts/valgrind-check.sh [SARA_BINARY]      (default build-valgrind/sara)
# Model: tests/fixtures/robust/tiny32_config.json (the tiny test UNet at 32×32, 11 classes);
# data: Fashion-MNIST --limit 16; 2 steps each. Full, LoRA (with gradient checkpointing, so the
# re-run block heads and LoRA's re-formed inputs run too) and SaRA training, then a merge of the
# LoRA and SaRA adapters into the base. Two threads, so the OpenMP and OpenBLAS paths run as they
# do in use (valgrind serialises them); OMP_WAIT_POLICY set here stops the CLI re-executing
# itself, which valgrind would not follow. Suppressions: scripts/valgrind.supp (one entry, the
# thread pools' TLS blocks, "possibly lost"; the file says exactly what and why).
set -euo pipefail
cd "$(dirname "$0")/.."
sara=${1:-build-valgrind/sara}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMP_WAIT_POLICY=passive
vg=(valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=all
    --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes
    --suppressions=scripts/valgrind.supp)
common=(--threads 2 --limit 16 --batch 2 --log-every 1)

step() { echo "valgrind: sara $*" >&2; "${vg[@]}" "$sara" "$@" >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }; }

step train "${common[@]}" --model-config tests/fixtures/robust/tiny32_config.json --steps 2 --save-every 1 \
    --samples-per-class 1 --sample-steps 2 --out "$out/base"
step train "${common[@]}" --model-config tests/fixtures/robust/tiny32_config.json --steps 3 --save-every 1 \
    --samples-per-class 0 --resume --out "$out/base"
step train "${common[@]}" --init "$out/base/model" --method lora --lora-rank 2 --steps 2 --samples-per-class 0 \
    --gradient-checkpointing --out "$out/lora"
step train "${common[@]}" --init "$out/base/model" --method sara --steps 2 --samples-per-class 0 --out "$out/sara"
step sample --threads 2 --model "$out/lora/model" --per-class 1 --steps 2 --out "$out/samples.png"
step merge --threads 2 --base "$out/base/model" --adapter "$out/sara/adapter.safetensors" \
    --adapter "$out/lora/adapter.safetensors" -o "$out/merged"
step inspect "$out/merged"
echo "valgrind: clean (train, resume, LoRA with gradient checkpointing, SaRA, sample, merge, inspect)"
