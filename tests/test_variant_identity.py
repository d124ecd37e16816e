"""A variant is known by what it is, not by its name: a run keeps its variant's canonical form,
so a name registered anew for another model never reuses its results; the same model listed
twice is refused; the spec grammar refuses what would compute nothing."""

import json
import os

import ml_collections
import pytest
from test_train import smoke

from gruvar.comparison import compare
from gruvar.core import variants
from gruvar.core.variants import VARIANTS, variant
from gruvar.training import run, train


def test_every_registered_variant_is_read_back_from_its_canonical_form():
    for name, v in VARIANTS.items():
        assert variants.get(v.canonical) == v, name
    assert VARIANTS["gru"].canonical == "gru:z=xhb,r=xhb,h=xhb,act=tanh,out=tanh,bn=off"
    assert variants.get("gru:z=0.1234567891").canonical.startswith("gru:z=0.1234567891,")


def test_a_redefined_name_does_not_reuse_the_old_models_run(tmp_path, monkeypatch):
    workdir = str(tmp_path / "run")
    monkeypatch.setitem(VARIANTS, "my_gru", variant("gru", "h", r="xhb"))
    config = smoke(**{"model.variant": "my_gru", "train.num_epochs": 1})
    train.train_and_evaluate(config, workdir)
    saved = json.loads(open(os.path.join(workdir, "config.json")).read())
    assert saved["model"]["variant_form"] == "gru:z=h,r=xhb,h=xhb,act=tanh,out=tanh,bn=off"
    train.train_and_evaluate(config, workdir)  # the same model: reused

    monkeypatch.setitem(VARIANTS, "my_gru", variant("gru", "b"))
    redefined = r"\['model.variant_form'\]\)\. The variant 'my_gru' was gru:z=h,r=xhb"
    with pytest.raises(ValueError, match=redefined):
        train.train_and_evaluate(config, workdir)


def test_a_config_json_without_the_form_is_compared_by_name():
    """The committed records were written before config.json kept the variant's form."""
    config = smoke()
    saved = run.saved_config(config)
    assert run.config_changes(saved, config) == []
    del saved["model"]["variant_form"]
    assert run.config_changes(saved, config) == []
    assert run.config_changes(saved, smoke(**{"model.variant": "lstm"})) == ["model.variant"]


def test_a_committed_record_is_still_accepted():
    root = os.path.join(os.path.dirname(__file__), "..", "results")
    found = [os.path.join(d, "config.json") for d, _, f in os.walk(root) if "summary.json" in f]
    if not found:
        pytest.skip("no committed run records")
    saved = json.loads(open(found[0]).read())
    assert "variant_form" not in saved["model"]
    assert run.config_changes(saved, ml_collections.ConfigDict(saved)) == []


def test_a_shadowed_built_in_name_warns_and_is_refused_for_its_old_runs(monkeypatch):
    saved = run.saved_config(smoke())  # a real gru's run
    monkeypatch.setitem(VARIANTS, "gru", variant("lstm", "xhb"))
    monkeypatch.setattr(variants, "_WARNED", set())
    with pytest.warns(UserWarning, match=r"VARIANTS\['gru'\] is redefined as lstm:"):
        assert run.config_changes(saved, smoke()) == ["model.variant_form"]


@pytest.mark.parametrize(
    "listed",
    [["gru", "gru:"], ["indrnn", "tanh:h=xdb", "act=relu"], ["gru1", "gru:z=hb,r=hb"]],
)
def test_the_same_model_listed_twice_is_refused_naming_both(listed):
    with pytest.raises(ValueError, match="the same model") as refused:
        compare.variant_list(listed)
    first = listed[0]
    assert repr(first) in str(refused.value)


@pytest.mark.parametrize(
    "spec, why",
    [
        ("lstm:f=1e-50", "smallest normal"),
        ("lstm:f=5e-324", "smallest normal"),
        ("gru:act=", "act= has no value"),
        ("gru:out=", "out= has no value"),
        ("ligru:z=1", "keeps the old state"),
        ("gru:norm=zr", "forget gate"),
        ("lstm:norm=io", "forget gate"),
    ],
)
def test_the_grammar_refuses_what_computes_nothing_or_means_nothing(spec, why):
    with pytest.raises(ValueError, match=why):
        variants.get(spec)


def test_what_the_grammar_still_accepts():
    assert variants.get("ligru:z=0.5").spec("z").value == 0.5
    assert variants.get("lstm:norm=fi").norm == ("f", "i")
    assert variants.get("lstm:f=1e-30").spec("f").value == 1e-30
