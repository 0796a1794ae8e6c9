"""effective_weights: `sparsexbar weff` in memory, bit for bit its output file;
several calibrations from one solve; packed layouts; clear errors."""
import json

import numpy as np
import pytest

import sparsexbar
from conftest import read_safetensors
from sparsexbar import CrossbarConfig


def state_dict(seed=1):
    rng = np.random.default_rng(seed)
    return {
        "conv1.weight": rng.uniform(-0.5, 0.5, (8, 3, 3, 3)).astype(np.float32),
        "conv1.bias": rng.uniform(-0.1, 0.1, 8).astype(np.float32),
        "dw.weight": rng.uniform(-0.5, 0.5, (8, 2, 3, 3)).astype(np.float16),
        "bn.running_var": rng.uniform(0.5, 1.5, 8).astype(np.float32),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
        "fc.weight": rng.uniform(-0.5, 0.5, (10, 20)),  # float64
        "mask": rng.uniform(size=(4, 4)) > 0.5,
    }


def test_equals_the_weff_cli_bit_for_bit(cli, tmp_path):
    sd = state_dict()
    src = tmp_path / "in.safetensors"
    sparsexbar.save_state_dict(src, sd, {"format": "pt"})
    out, report_path = tmp_path / "out.safetensors", tmp_path / "r.json"
    cli("weff", "--weights", str(src), "--out", str(out), "--tile", "8", "--set", "r_wire=5", "--set",
        "calibration=column", "--groups", "dw.weight=4", "--backend", "cpu", "--json", str(report_path), "--quiet")
    expected = read_safetensors(out)
    got, report = sparsexbar.effective_weights(sd, CrossbarConfig(r_wire=5), tile=8, calibration="column",
                                               groups={"dw.weight": 4}, backend="cpu")
    assert sorted(got) == sorted(expected) == sorted(sd)
    for name, e in expected.items():
        assert got[name].dtype == e.dtype == sd[name].dtype, name
        assert got[name].shape == e.shape == sd[name].shape, name
        assert got[name].tobytes() == e.tobytes(), name
    for name in ("conv1.bias", "bn.num_batches_tracked", "mask"):
        assert np.array_equal(got[name], sd[name])
    assert not np.array_equal(got["fc.weight"], sd["fc.weight"])  # 5 ohm wires change W
    cli_report = json.loads(report_path.read_text())
    for key in ("crossbars", "nf", "tile_rows", "calibrations", "copied", "crossbar"):
        assert report[key] == cli_report[key], key
    for mine, theirs in zip(report["layers"], cli_report["layers"]):
        for key in ("tensor", "shape", "dtype", "groups", "crossbars", "nf", "gains", "scale", "relative_error"):
            assert mine[key] == theirs[key], (mine["tensor"], key)
    dw = report["layers"][1]
    assert dw["tensor"] == "dw.weight" and dw["groups"] == 4 and dw["crossbars"] == 2 * 4 * 3
    assert dw["gains"]["min"] > 1.0 and dw["nf"]["mean"] > 0.0


def test_calibrations_from_one_solve_equal_each_alone():
    sd = state_dict(2)
    config = CrossbarConfig("wire-28")
    variants, report = sparsexbar.effective_weights(sd, config, tile=8, calibration=["none", "column", "layer"],
                                                    groups={"dw.weight": 4}, backend="cpu")
    assert len(variants) == 3 and report["calibrations"] == ["none", "column", "layer"]
    for calibration, got in zip(["none", "column", "layer"], variants):
        alone, _ = sparsexbar.effective_weights(sd, config, tile=8, calibration=calibration,
                                                groups={"dw.weight": 4}, backend="cpu")
        for name in sd:
            assert got[name].tobytes() == alone[name].tobytes(), (calibration, name)
    errors = report["layers"][2]["relative_errors"]
    assert errors["column"] < errors["none"]


def test_zero_parasitics_give_back_the_weights():
    sd = state_dict(3)
    got, report = sparsexbar.effective_weights(sd, CrossbarConfig("ideal"), tile=16, groups={"dw.weight": 4})
    assert np.array_equal(got["dw.weight"], sd["dw.weight"])  # fp16: W_eff = W far below half a step
    assert np.allclose(got["conv1.weight"], sd["conv1.weight"], rtol=1e-6, atol=1e-7)
    assert np.allclose(got["fc.weight"], sd["fc.weight"], rtol=1e-6, atol=1e-7)
    assert all(layer["nf"]["max"] < 1e-9 for layer in report["layers"])


def test_a_layout_places_the_layers_it_names(cli, tmp_path):
    rng = np.random.default_rng(4)
    sd = {"fc1.weight": rng.uniform(-1, 1, (4, 6)).astype(np.float32)}
    layout = {"method": "xcs", "tile_rows": 4, "tile_cols": 4,
              "layers": [{"layer": "fc1", "inputs": 6, "outputs": 4, "tiles": [{"rows": [0, 1, 2, 3], "cols": [1, 3]}]}]}
    (tmp_path / "l.json").write_text(json.dumps(layout))
    got, report = sparsexbar.effective_weights(sd, CrossbarConfig("ideal"), layout=tmp_path / "l.json")
    w = got["fc1.weight"]
    assert report["layout"] == "xcs" and report["tile_rows"] == 4 and report["crossbars"] == 2
    assert np.all(w[[0, 2], :] == 0) and np.all(w[:, 4:] == 0)  # held by no tile
    assert np.allclose(w[[1, 3], :4], sd["fc1.weight"][[1, 3], :4], rtol=1e-6)
    # The same through `weff --layout`, on a non-ideal crossbar.
    sparsexbar.save_state_dict(tmp_path / "in.safetensors", sd)
    cli("weff", "--weights", str(tmp_path / "in.safetensors"), "--out", str(tmp_path / "out.safetensors"),
        "--layout", str(tmp_path / "l.json"), "--set", "r_wire=10", "--backend", "cpu", "--quiet")
    got, _ = sparsexbar.effective_weights(sd, CrossbarConfig(r_wire=10), layout=tmp_path / "l.json", backend="cpu")
    assert got["fc1.weight"].tobytes() == read_safetensors(tmp_path / "out.safetensors")["fc1.weight"].tobytes()


def test_log_lines_and_errors():
    sd = state_dict(5)
    lines = []
    sparsexbar.effective_weights(sd, tile=16, log=lines.append, include="^fc")
    assert lines and lines[0].startswith("solving ")

    def fail(line):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        sparsexbar.effective_weights(sd, tile=16, log=fail)
    with pytest.raises(sparsexbar.Error, match="tensor 'x.weight' has shape \\[2, 3, 4\\] \\(3-D\\).*weff.exclude"):
        sparsexbar.effective_weights({"x.weight": np.ones((2, 3, 4), np.float32)})
    with pytest.raises(sparsexbar.Error, match="tensor 'x.weight' has dtype I32"):
        sparsexbar.effective_weights({"x.weight": np.ones((2, 3), np.int32)})
    with pytest.raises(TypeError, match=r"state_dict\['z'\]: dtype complex128"):
        sparsexbar.effective_weights({"z": np.ones(2, complex)})
    with pytest.raises(sparsexbar.Error, match="weff.include '\\^enc' matches no tensor of state_dict"):
        sparsexbar.effective_weights(sd, include="^enc")
    with pytest.raises(sparsexbar.Error, match="calibration"):
        sparsexbar.effective_weights(sd, calibration="diagonal")
    with pytest.raises(sparsexbar.Error, match="weff.groups: 'dw.weight' has 8 output channels, which 3 groups"):
        sparsexbar.effective_weights(sd, groups={"dw.weight": 3})
    with pytest.raises(ValueError, match="tile 'big'"):
        sparsexbar.effective_weights(sd, tile="big")


def test_state_dict_files_round_trip(tmp_path):
    sd = state_dict(6)
    sparsexbar.save_state_dict(tmp_path / "a.safetensors", sd, {"note": "x"})
    back, metadata = sparsexbar.load_state_dict(tmp_path / "a.safetensors")
    assert metadata == {"note": "x"}
    independent = read_safetensors(tmp_path / "a.safetensors")
    for name, value in sd.items():
        assert back[name].dtype == value.dtype and np.array_equal(back[name], value)
        assert np.array_equal(independent[name], value)
