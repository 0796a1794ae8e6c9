#!/usr/bin/env bash
# The Python module as a user installs it (docs/python.md): a fresh clone of
# this checkout's committed tree, `pip install .` into a clean virtual
# environment (scikit-build-core drives the project's CMake), then the module
# imported and used from outside the source tree, and the example
# apps/python/examples/resnet_on_crossbars.py run when torch and torchvision
# are importable there. Needs PyPI for the build backend, pybind11 and NumPy:
# prints SKIPPED and exits 0 when PyPI cannot be reached; any other failure
# exits non-zero. .ci/run runs it. The CUDA backend is left out to keep the
# build short (--config-settings=cmake.define.SPARSEXBAR_CUDA=OFF).
# Usage: bash scripts/python_venv_check.sh [WORKDIR]   (default: a new folder under /tmp)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/sxb-venv.XXXXXX)}"
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
rm -rf "$work/src" "$work/venv"
mkdir -p "$work"
git clone -q "$repo" "$work/src"
"$python" -m venv "$work/venv"
pip="$work/venv/bin/pip"
if ! "$pip" install -q --disable-pip-version-check scikit-build-core pybind11 numpy; then
  echo "python_venv_check: SKIPPED: PyPI not reachable (scikit-build-core, pybind11, numpy)"
  exit 0
fi
t0=$(date +%s)
if command -v ccache >/dev/null; then export CMAKE_CXX_COMPILER_LAUNCHER=ccache; fi
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$pip" install -q --disable-pip-version-check "$work/src" \
  --config-settings=cmake.define.SPARSEXBAR_CUDA=OFF
echo "python_venv_check: pip install . took $(( $(date +%s) - t0 )) s"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import numpy as np
import sparsexbar

assert "/venv/" in sparsexbar.__file__, sparsexbar.__file__
g = 1.0 / np.random.default_rng(0).uniform(20e3, 200e3, size=(4, 16, 16))
T = sparsexbar.solve_tiles(g, sparsexbar.CrossbarConfig("wire-28"))
assert T.shape == (4, 16, 16) and np.all(T.sum(axis=2) < g.sum(axis=1))
w = {"fc.weight": np.random.default_rng(1).uniform(-1, 1, (10, 20)).astype(np.float32)}
weff, report = sparsexbar.effective_weights(w, sparsexbar.CrossbarConfig("ideal"), tile=16)
assert np.allclose(weff["fc.weight"], w["fc.weight"], rtol=1e-6, atol=1e-7) and report["crossbars"] == 4
print(f"python_venv_check: import sparsexbar OK ({sparsexbar.version()}, {sparsexbar.__file__})")
PY
example="$work/src/apps/python/examples/resnet_on_crossbars.py"
if "$work/venv/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  "$work/venv/bin/python" "$example" --tile 64
elif [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null; then
  # Debian's torch (python3-torch, python3-torchvision) with the module pip installed, alone on the path.
  site="$("$work/venv/bin/python" -c "import os, sparsexbar; print(os.path.dirname(sparsexbar.__file__))")"
  mkdir -p "$work/pkg" && ln -sfn "$site" "$work/pkg/sparsexbar"
  echo "python_venv_check: the example, with the installed module and Debian's torch"
  PYTHONPATH="$work/pkg" /usr/bin/python3 "$example" --tile 64
else
  echo "python_venv_check: example not run: torch and torchvision are not installed (pip or Debian's python3-torch)"
fi
echo "python_venv_check: passed"
