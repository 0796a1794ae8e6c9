"""Shared fixtures of the Python module's tests: the CLI of the same build
(SXB_CLI), a tiny trained VGG11, and an independent safetensors reader."""
import json
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import sparsexbar


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("SXB_CLI", "")
    if not path or not Path(path).is_file():
        pytest.skip("SXB_CLI does not name the sparsexbar executable (run through ctest)")

    def run(*args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([path, *args], capture_output=True, text=True)
        assert r.returncode == 0, f"sparsexbar {' '.join(args)} failed:\n{r.stderr}"
        return r

    return run


@pytest.fixture(scope="session")
def tiny_vgg(cli, tmp_path_factory) -> Path:
    """A VGG11 of width 1/16 trained one epoch on 16 synthetic images."""
    out = tmp_path_factory.mktemp("model") / "vgg.safetensors"
    cli("train", "--model", "vgg11", "--width", "0.0625", "--data", "synthetic:16", "--epochs", "1", "--batch", "8",
        "--out", str(out))
    return out


_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U8": "u1", "BOOL": "?"}


def read_safetensors(path: Path) -> dict:
    """The tensors of a safetensors file, read here without the engine."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    out = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        out[name] = np.frombuffer(body[begin:end], dtype=_NUMPY[t["dtype"]]).reshape(t["shape"])
    return out


def write_tile_json(path: Path, g: np.ndarray, config: sparsexbar.CrossbarConfig, voltages: np.ndarray) -> None:
    """The tile file of `sparsexbar tile` (floats written exactly: repr round-trips)."""
    doc = {"rows": g.shape[0], "cols": g.shape[1], "conductance": g.tolist(), "voltages": voltages.tolist(),
           **{k: config.to_dict()[k] for k in ("r_source", "r_sink", "r_wire_row", "r_wire_col")}}
    Path(path).write_text(json.dumps(doc))
