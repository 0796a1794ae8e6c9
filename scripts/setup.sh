#!/usr/bin/env bash
# Installs the Debian 12 packages SparseXbar needs to build and test (as root).
# The CUDA toolkit (nvcc, cuBLAS, cuSPARSE) is not a Debian 12 package: when
# /usr/local/cuda/bin/nvcc exists the CUDA backend is built as well.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  build-essential cmake git pkg-config \
  libopenblas-openmp-dev nlohmann-json3-dev libcli11-dev libfmt-dev libstb-dev \
  libssl-dev zlib1g-dev libjpeg62-turbo-dev libgtest-dev libgmock-dev libbenchmark-dev libeigen3-dev ngspice \
  clang libclang-rt-14-dev libomp-dev \
  libxml2-dev \
  munge slurmctld slurmd slurm-client openmpi-bin chromium \
  python3-dev python3-venv pybind11-dev python3-numpy python3-scipy python3-pytest \
  python3-torch python3-torchvision >/dev/null
# clang: scripts/fuzz.sh (libFuzzer, its OpenMP); libxml2: the HTML report tests; munge, Slurm and
# Open MPI: the `cluster` test (tests/cluster/slurm_mpi.sh starts its own daemons, none is enabled);
# chromium: the `browser` test (headless layout checks of the reports); python3-dev, pybind11-dev:
# the Python module (apps/python), NumPy and pytest its tests, venv scripts/python_venv_check.sh;
# SciPy: the SuperLU anchor of scripts/bench-cpu.sh (scripts/superlu_anchor.py);
# torch and torchvision (CPU, about 180 MB installed) the torch tests and the ResNet example.
echo "setup: Debian packages installed"
