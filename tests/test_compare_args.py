"""compare.py's command line: how it parses variants and seeds, and what it refuses before
any job starts."""

import json

import pandas as pd
import pytest
from test_compare import compare_cli
from test_train import ROOT, smoke

from gruvar.comparison import compare


def test_a_custom_spec_keeps_its_commas_and_every_variant_is_parsed_first():
    assert compare.variant_list(["gru:z=b", "r=b", "lstm"]) == ["gru:z=b,r=b", "lstm"]
    assert compare.variant_list(["lstm:i=b,f=hb", "tanh"]) == ["lstm:i=b,f=hb", "tanh"]
    with pytest.raises(ValueError, match=r"--variants: Unknown variant 'bogus'"):
        compare.variant_list(["gru", "bogus"])
    with pytest.raises(ValueError, match=r"--variants:.*'q'"):
        compare.variant_list(["gru:z=b", "r=q"])
    with pytest.raises(ValueError, match=r"lists \['gru'\] twice"):
        compare.variant_list(["gru", "tanh", "gru"])


def test_a_custom_spec_with_commas_trains_as_one_variant(tmp_path):
    compare_cli(tmp_path, "--variants=gru:z=b,r=b", "--seeds=1", "--learning_rates=1e-2")
    (run,) = [p.parent for p in tmp_path.rglob("config.json")]
    assert run.relative_to(tmp_path).parts == ("gru_z=b_r=b", "seed0_lr0.01")
    assert json.loads((run / "config.json").read_text())["model"]["variant"] == "gru:z=b,r=b"
    assert list(pd.read_csv(tmp_path / "results.csv")["variant"]) == ["gru:z=b,r=b"]


def test_overriding_the_variant_of_every_entry_is_refused():
    config_file = str(ROOT / "configs" / "synthetic.py")
    with pytest.raises(ValueError, match=r"would train 'tanh', not 'gru'.*--variants only"):
        compare.variant_config(config_file, "parity,smoke", "gru", {"model.variant": "tanh"})
    same = compare.variant_config(config_file, "parity,smoke", "tanh", {"model.variant": "tanh"})
    assert same.model.variant == "tanh"  # no --variants: the override names the one variant


@pytest.mark.parametrize("seeds", [["0"], ["-2"], ["-1", "3"], ["two"]])
def test_seeds_that_give_no_run_or_a_negative_seed_are_refused(seeds):
    with pytest.raises(ValueError, match="--seeds"):
        compare.seeds_from(seeds)


def test_draws_and_seed_selection_that_make_no_sense_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--lr_draws must be >= 1"):
        compare.drawn_learning_rates(0, -12.0, -6.0, seed=0)
    with pytest.raises(ValueError, match="low < high"):
        compare.drawn_learning_rates(10, -6.0, -12.0, seed=0)
    with pytest.raises(ValueError, match="--select_seeds must be >= 0"):
        compare.run({"gru": smoke()}, (0, 1), (1e-2, 1e-3), str(tmp_path), select_seeds=-1)
    assert not (tmp_path / "grid.json").exists()


def test_a_negative_max_stack_is_refused_before_any_job(tmp_path):
    configs = {"gru": smoke()}
    with pytest.raises(ValueError, match=r"--max_stack must be >= 0"):
        compare.plan(configs, (0,), (1e-2,), str(tmp_path), max_stack=-1)
    assert len(compare.plan(configs, (0, 1), (1e-2,), str(tmp_path), max_stack=1)) == 2


def test_a_bad_config_of_any_variant_is_refused_before_any_job(tmp_path):
    configs = {"gru": smoke(), "tanh": smoke(**{"model.features": 0})}
    with pytest.raises(ValueError, match=r"tanh: config.model.features must be positive"):
        compare.plan(configs, (0,), (1e-2,), str(tmp_path))
    assert not (tmp_path / "grid.json").exists()
