"""evaluate: the crossbar report of `sparsexbar evaluate --json`, as a dict."""
import json

import pytest

import sparsexbar
from sparsexbar import CrossbarConfig


def without_timings(x):
    """Drops timings and the git revision (the CLI and the module may be built at different commits)."""
    if isinstance(x, dict):
        return {k: without_timings(v) for k, v in x.items() if "seconds" not in k and k != "git"}
    if isinstance(x, list):
        return [without_timings(v) for v in x]
    return x


def test_equals_evaluate_json(cli, tiny_vgg, tmp_path):
    out = tmp_path / "r.json"
    cli("evaluate", "--model", "vgg11", "--weights", str(tiny_vgg), "--data", "synthetic:16", "--tile", "16",
        "--set", "r_wire=10", "--calibration", "none,column", "--backend", "cpu", "--no-cache", "--json", str(out),
        "--quiet")
    expected = json.loads(out.read_text())
    lines = []
    got = sparsexbar.evaluate("vgg11", tiny_vgg, "synthetic:16", CrossbarConfig(r_wire=10, tile_rows=16, tile_cols=16),
                              calibrations=["none", "column"], backend="cpu", log=lines.append)
    assert without_timings(got) == without_timings(expected)
    assert lines
    assert got["crossbars"] > 0 and len(got["layers"]) == 9


def test_errors_name_what_is_wrong(tiny_vgg, tmp_path):
    with pytest.raises(sparsexbar.Error, match="missing.safetensors"):
        sparsexbar.evaluate("vgg11", tmp_path / "missing.safetensors", "synthetic:16")
    with pytest.raises(sparsexbar.Error, match="calibrations"):
        sparsexbar.evaluate("vgg11", tiny_vgg, "synthetic:16", calibrations=["none", "none"])
    with pytest.raises(sparsexbar.Error, match="data"):
        sparsexbar.evaluate("vgg11", tiny_vgg, "imagenet:/nowhere")
