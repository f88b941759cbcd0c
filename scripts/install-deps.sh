#!/usr/bin/env bash
# Installs the Debian packages semid needs to build and test, when missing
# (numpy and pytest for the Python binding's tests, for /usr/bin/python3).
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the Python peers
# the benchmarks compare against: PyTorch, FAISS)
set -euo pipefail

packages=(build-essential cmake pkg-config libopenblas-dev libopenblas-openmp-dev liblapacke-dev libcjson-dev libcmocka-dev libmicrohttpd-dev python3-numpy python3-pytest)
# OpenMPI: semid train across ranks (src/dist/, docs/distributed.md) and its test
# (tests/test_cli_mpi.c); semid builds and runs as one process without it.
packages+=(libopenmpi-dev openmpi-bin)
# Headless Chromium: tests/test_serve_page.c renders the page of semid serve in it.
packages+=(chromium)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch python3-faiss clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
