#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 packages sara needs, only those missing; idempotent.
#   scripts/install-deps.sh           build + run + test dependencies
#   scripts/install-deps.sh --oracle  also python3-torch, to regenerate the PyTorch fixtures
#                                     and run the PyTorch side of the benchmarks
set -euo pipefail

packages=(
  build-essential      # gcc, make
  libopenblas-dev      # sgemm (CPU matrix multiply)
  liblapacke-dev       # SVD for SaRA's nuclear-norm term
  libcjson-dev         # config.json, metadata.jsonl, safetensors headers
  libpng-dev           # PNG read/write (datasets, sample grids)
  libjpeg-dev          # JPEG read (image-folder datasets)
  zlib1g-dev           # gzip'd idx files (Fashion-MNIST)
  dataset-fashion-mnist # the embedded default's training data
  # robustness checks (docs/ROBUSTNESS.md): `make fuzz` builds libFuzzer targets with clang, whose
  # fuzzer and sanitizer runtimes Debian ships apart; clang's OpenMP (omp.h) for the same build;
  # `make valgrind` runs a short train + sample + merge under memcheck
  clang                # make fuzz: the compiler
  libclang-rt-14-dev   # make fuzz: libFuzzer, ASan and UBSan runtimes for clang 14 (Debian 12's clang)
  libomp-dev           # make fuzz: omp.h and libomp for clang -fopenmp
  valgrind             # make valgrind
)
if [ "${1:-}" = "--oracle" ]; then
  packages+=(python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
