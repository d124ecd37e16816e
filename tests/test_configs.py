"""Experiment configs: they build, validate, size variants as documented, and train a step."""

import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from gruvar import data
from gruvar.core.variants import VARIANTS
from gruvar.training import config as config_lib
from gruvar.training import steps, train

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from configs import chung, dey_salem, synthetic  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.mark.parametrize("name", chung.SETS)
@pytest.mark.parametrize("variant", [*chung.UNITS, "lstm", "gru1", "gru2", "gru3", "mgu"])
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


@pytest.mark.parametrize("variant", sorted(set(VARIANTS) - {"mut1", "mut2"}))
def test_every_registered_variant_gets_the_grus_recurrent_budget_on_jsb(variant):
    gru = chung.recurrent_params("gru", 46)
    units = chung.get_config(f"{variant},jsb").model.features
    assert abs(chung.recurrent_params(variant, units) - gru) / gru < 0.035


def test_mut1_and_mut2_cannot_be_matched_and_take_the_88_keys_as_units():
    for variant in ("mut1", "mut2"):
        cfg = chung.get_config(f"{variant},jsb")
        assert cfg.model.features == 88
        config_lib.validate(cfg)
        assert chung.recurrent_params(variant, 88) > 1.5 * chung.recurrent_params("gru", 46)


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


def test_chungs_lstm_is_the_peephole_lstm_with_the_papers_training_options():
    cfg = chung.get_config("lstm_peephole,jsb")
    assert cfg.model.features == 36 and cfg.paper.test == 8.67
    assert chung.recurrent_params("lstm_peephole", 36) == 4 * (36 * 88 + 36 * 36 + 36) + 3 * 36
    assert cfg.train.weight_noise == 0.075 and cfg.optimizer.grad_clip_norm == 1.0
    assert cfg.model.init == "uniform" and cfg.optimizer.name == "rmsprop"
    assert chung.get_config("lstm,jsb").paper.test is None, "Table 2's LSTM has peepholes"


def test_chungs_librnn_modifier_trains_as_the_released_code():
    base, code = chung.get_config("tanh,nottingham"), chung.get_config("tanh,nottingham,librnn")
    assert (base.data.batch_size, code.data.batch_size) == (8, 1)
    assert (base.optimizer.schedule, code.optimizer.schedule) == ("constant", "linear")
    config_lib.validate(code)


def fake_dataset(cfg) -> data.Dataset:
    """Four random examples shaped like the config's task (no data files needed)."""
    rng = np.random.default_rng(0)
    name = cfg.data.name
    if name in chung.SETS:
        x = (rng.random((4, 6, 88)) < 0.1).astype(np.float32)
        split = data.Split(x, np.roll(x, -1, axis=1), np.array([6, 4, 5, 2]))
        return data.Dataset(
            name, "frames", 88, dict.fromkeys(("train", "validation", "test"), split)
        )
    if name == "imdb":
        ids = rng.integers(0, cfg.data.options.num_words, (4, cfg.data.options.maxlen))
        split = data.Split(ids.astype(np.int32), np.array([0, 1, 1, 0]), np.array([80, 9, 50, 1]))
        return data.Dataset(name, "classify", 1, dict.fromkeys(("train",), split), 20000)
    shape = (28, 28) if name == "mnist_row" else (784, 1)
    x = rng.random((4, *shape)).astype(np.float32)
    split = data.Split(x, np.array([3, 1, 4, 1]), np.full(4, shape[0]))
    return data.Dataset(name, "classify", 10, dict.fromkeys(("train",), split))


PAPER_GRID = [
    *((chung, f"{v},{s}") for s in chung.SETS for v in chung.UNITS),
    *(
        (dey_salem, f"{v},{t}")
        for t in dey_salem.TASKS
        for v in ("gru", "gru1", "gru2", "gru3", "lstm", "tanh")
    ),
]


@pytest.mark.parametrize("module, arg", PAPER_GRID, ids=[a for _, a in PAPER_GRID])
def test_every_paper_config_validates_and_trains_a_step(module, arg):
    """Each config of both papers' grids, with its own optimizer, initialisers and weight noise,
    on four examples shaped like its task."""
    cfg = module.get_config(arg)
    config_lib.validate(cfg)
    dataset = fake_dataset(cfg)
    model = steps.build_model(cfg, dataset)
    state = steps.create_state(cfg, dataset, model, 10)
    batch = dataset.train_batch(0, 4, cfg.seed) | {"weights": np.ones(4, np.float32)}
    before = jax.tree.map(np.array, state.params)
    state, window = steps.train_step(
        dataset.kind,
        state,
        steps.zero_window(dataset.kind),
        batch,
        jax.random.key(0),
        weight_noise=cfg.train.weight_noise,
    )
    assert np.isfinite(window["nll" if dataset.kind == "frames" else "loss"])
    moved = jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != b)), state.params, before)
    assert all(jax.tree.leaves(moved)), moved


def test_dey_salem_configs_follow_papers_md():
    row = dey_salem.get_config("gru3,mnist_row")
    assert (row.model.features, row.data.batch_size, row.optimizer.name) == (100, 32, "rmsprop")
    assert row.model.init == "keras" and row.model.gate == "sigmoid"
    imdb = dey_salem.get_config("gru1,imdb")
    assert (imdb.model.features, imdb.model.embed_dim) == (128, 128)
    assert (imdb.data.options.num_words, imdb.data.options.maxlen) == (20000, 80)
    assert dey_salem.get_config("gru3,mnist_pixel").paper.test == 0.596
    assert dey_salem.get_config("gru,mnist_pixel").paper.test is None
