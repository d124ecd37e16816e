"""Experiment configs: they build, validate, size variants as documented, and train a step."""

import sys
from pathlib import Path

import pytest

from gruvar import config as config_lib
from gruvar import train

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from configs import chung, synthetic  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.mark.parametrize("name", chung.SETS)
@pytest.mark.parametrize("variant", ["tanh", "gru", "lstm", "gru1", "gru2", "gru3", "mgu"])
def test_chung_configs_validate_and_match_parameter_counts(name, variant):
    cfg = chung.get_config(f"{variant},{name}")
    config_lib.validate(cfg)
    gru = chung.recurrent_params("gru", 46)
    assert gru == 3 * (46 * 88 + 46 * 46 + 46)  # 3(nm + n² + n), PAPERS.md §0
    count = chung.recurrent_params(variant, cfg.model.features)
    assert abs(count - gru) / gru < 0.035, "≈ the same recurrent parameter budget"
    if variant in chung.UNITS:
        assert cfg.model.features == chung.UNITS[variant]
        assert cfg.paper.test == chung.PAPER_TEST[name][variant]
    else:
        assert cfg.paper.test is None


def test_config_arguments_take_an_optional_variant_and_known_modifiers():
    assert chung.get_config("jsb").model.variant == "gru"
    assert chung.get_config("gru:z=hb,r=xhb,jsb,quick").model.variant == "gru:z=hb,r=xhb"
    assert synthetic.get_config("parity,smoke").model.variant == "gru"
    with pytest.raises(ValueError, match="No task in config argument"):
        chung.get_config("gru,bach")
    with pytest.raises(ValueError, match=r"Unknown modifier\(s\) \['fast'\]"):
        chung.get_config("gru,jsb,fast")


@pytest.mark.skipif(not (SHARED_DATA / "polyphonic").exists(), reason="no ../shared/data")
def test_a_chung_smoke_run_trains_on_jsb(tmp_path):
    cfg = chung.get_config("lstm,jsb,smoke")
    cfg.unlock()
    cfg.data.data_dir = str(SHARED_DATA)
    summary = train.train_and_evaluate(cfg, str(tmp_path))
    assert summary["status"] == "complete"
    assert 3 < summary["best"]["test"]["nll"] < 60  # 88 keys: ln 2 x 88 = 61 untrained
