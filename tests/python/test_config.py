"""CrossbarConfig: the JSON configuration's keys, presets and checks."""
import json

import pytest

import sparsexbar
from sparsexbar import CrossbarConfig


def test_defaults_and_presets():
    c = CrossbarConfig()
    d = c.to_dict()
    assert d["preset"] == "default"
    assert (d["r_on"], d["r_off"], d["tile_rows"], d["tile_cols"]) == (20e3, 200e3, 64, 64)
    assert CrossbarConfig.presets()[:3] == ["default", "mild", "ideal"]
    assert CrossbarConfig("ideal").r_wire_row == 0.0
    assert CrossbarConfig("wire-28").r_wire_col == 28.0


def test_keys_override_the_preset():
    c = CrossbarConfig("wire-28", r_wire=5, tile_rows=32, calibration="column", seed=7)
    assert (c.r_wire_row, c.r_wire_col, c.tile_rows, c.tile_cols) == (5.0, 5.0, 32, 64)
    assert c.calibration == "column" and c.seed == 7
    assert CrossbarConfig(**c.to_dict()) == c
    assert c.replace(r_sink=50).r_sink == 50.0 and c.replace(r_sink=50).r_wire_row == 5.0


def test_from_json_reads_the_cli_file(tmp_path):
    path = tmp_path / "xbar.json"
    path.write_text(json.dumps({"preset": "devices-300k-3M", "r_wire": 1.5, "levels": 16}))
    c = CrossbarConfig.from_json(path)
    assert c == CrossbarConfig("devices-300k-3M", r_wire=1.5, levels=16)
    assert c.r_on == 300e3
    (tmp_path / "bad.json").write_text('{"r_wire": -1}')
    with pytest.raises(sparsexbar.Error, match="bad.json: r_wire_row = -1"):
        CrossbarConfig.from_json(tmp_path / "bad.json")


@pytest.mark.parametrize("keys, message", [
    ({"r_wir": 5}, '"r_wir": unknown key'),
    ({"r_on": -1.0}, "r_on = -1 must be a finite resistance"),
    ({"r_on": "high"}, '"r_on"'),
    ({"tile_rows": 2000}, '"tile_rows"'),
    ({"tile_rows": 1.5}, '"tile_rows"'),
    ({"calibration": "diagonal"}, '"calibration"'),
    ({"stuck_at_gmin": 0.7, "stuck_at_gmax": 0.7}, "stuck_at_gmin \\+ stuck_at_gmax"),
    ({"r_off": float("nan")}, '"r_off" must be a finite number'),
])
def test_a_bad_key_or_value_is_a_value_error_naming_it(keys, message):
    with pytest.raises(ValueError, match=message) as e:
        CrossbarConfig(**keys)
    assert isinstance(e.value, sparsexbar.Error)
    assert "\n" not in str(e.value)


def test_bad_preset_and_types():
    with pytest.raises(ValueError, match="unknown crossbar preset 'wire-99'"):
        CrossbarConfig("wire-99")
    with pytest.raises(TypeError, match="r_on"):
        CrossbarConfig(r_on=object())
    with pytest.raises(AttributeError, match="no key 'r_wire'"):
        CrossbarConfig().r_wire
