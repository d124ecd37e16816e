"""The zoo tables ("Beyond the two papers"): each variant against the base model of its paper."""

import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gruvar.comparison import results_md, zoo_md
from gruvar.core import variants

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from configs import chung, dey_salem  # noqa: E402


def grid(rows, metric="accuracy"):
    """A results.csv of (variant, test_mean, test_std, n) rows."""
    frame = pd.DataFrame(rows, columns=["variant", "test_mean", "test_std", "n"])
    return frame.assign(params=1000.0, metric=metric, learning_rates="0.001", wall_time_s=191.4)


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip("|").split("|")]


def table_rows(frame, recurrent=lambda v: 7) -> dict[str, list[str]]:
    """The zoo table's rows by variant, in the table's order."""
    rows = zoo_md.zoo_table(frame, recurrent).splitlines()
    assert rows[:2] == zoo_md.header().splitlines()
    return {cells(r)[0]: cells(r) for r in rows[2:]}


DELTA = 5  # the column of Δ vs reference


def test_delta_is_the_difference_of_means_with_its_standard_error():
    rows = table_rows(grid([("gru", 0.98, 0.003, 3), ("mgu", 0.975, 0.004, 4)]))
    # Δ = 97.50 - 98.00 = -0.50 pt; SE = sqrt(0.3²/3 + 0.4²/4) = sqrt(0.07) = 0.26 pt < 2 SE.
    assert rows["mgu"][DELTA] == "-0.50 ± 0.26 pt"
    assert rows["gru"][DELTA] == "ref"


def test_the_mark_is_for_a_delta_beyond_two_standard_errors():
    se = math.sqrt(0.1**2 / 4 + 0.1**2 / 4)  # 0.0707; 2 SE = 0.14142
    frame = grid(
        [
            ("gru", 8.0, 0.1, 4),
            ("mgu", 8.1415, 0.1, 4),
            ("gru1", 8.1413, 0.1, 4),
            ("gru2", 7.8584, 0.1, 4),
        ],
        metric="nll",
    )
    rows = table_rows(frame)
    assert 0.1413 < 2 * se < 0.1415
    assert rows["mgu"][DELTA] == "+0.142 ± 0.071 †", "just over 2 SE is marked"
    assert rows["gru1"][DELTA] == "+0.141 ± 0.071", "just under 2 SE is not"
    assert rows["gru2"][DELTA] == "-0.142 ± 0.071 †", "either way"


def test_one_seed_on_either_side_gives_delta_without_se_or_mark():
    frame = grid([("gru", 0.98, 0.003, 3), ("gru3", 0.90, np.nan, 1)])
    assert table_rows(frame)["gru3"][DELTA] == "-8.00 pt"
    frame = grid([("gru", 0.98, np.nan, 1), ("gru3", 0.90, 0.003, 3)])
    assert table_rows(frame)["gru3"][DELTA] == "-8.00 pt"


def test_a_missing_reference_or_unfinished_variant_shows_a_dash():
    frame = grid([("gru", 0.98, 0.003, 3), ("lstm2", 0.97, 0.003, 3), ("mgu", np.nan, np.nan, 0)])
    rows = table_rows(frame)
    assert rows["lstm2"][DELTA] == "–", "neither lstm nor lstm_peephole in the grid"
    assert rows["mgu"][3:6] == ["–", "0", "–"]
    # As compare writes it: a variant with no finished run has no metric either.
    frame = grid([("gru", 8.46, np.nan, 1), ("mgu", np.nan, np.nan, 0)], metric="nll")
    frame.loc[1, "metric"] = np.nan
    assert table_rows(frame)["mgu"][3:6] == ["–", "0", "–"]


def test_accuracy_in_percent_and_nll_in_nats():
    accuracy = table_rows(grid([("gru", 0.98726, 0.00046, 3)]))["gru"]
    assert accuracy[3] == "98.73 ± 0.05%"
    nll = table_rows(grid([("gru", 8.4741, 0.0131, 3)], metric="nll"))["gru"]
    assert nll[3] == "8.474 ± 0.013"
    with pytest.raises(ValueError, match="metric 'bpc'"):
        table_rows(grid([("gru", 1.0, 0.1, 3)], metric="bpc"))


def test_the_references_come_first_then_the_csv_order():
    frame = grid([(v, 0.9, 0.01, 3) for v in ["mgu", "lstm", "lstm_peephole", "tanh", "gru"]])
    assert list(table_rows(frame)) == ["gru", "lstm_peephole", "lstm", "mgu", "tanh"]


def test_each_variant_is_measured_against_the_base_model_of_its_paper():
    greff = ["lstm_peephole", "lstm_nig", "lstm_nfg", "lstm_np", "lstm_cifg", "lstm_fgr"]
    other_lstms = ["lstm", "lstm1", "lstm3", "lstm4a", "lstm11", "minlstm", "lstm:xhb"]
    others = ["gru", "gru3", "mgu", "mut1", "ligru", "mingru", "indrnn", "tanh", "gru:z=hb"]
    both = ("gru", "lstm", "lstm_peephole")
    assert {zoo_md.reference(v, both) for v in greff} == {"lstm_peephole"}
    assert {zoo_md.reference(v, both) for v in other_lstms} == {"lstm"}
    assert {zoo_md.reference(v, both) for v in others} == {"gru"}
    # A grid with one of the two LSTMs measures the whole family against it.
    assert {zoo_md.reference(v, ("gru", "lstm")) for v in greff + other_lstms} == {"lstm"}
    peephole_only = ("gru", "lstm_peephole")
    assert {zoo_md.reference(v, peephole_only) for v in greff + other_lstms} == {"lstm_peephole"}


def test_deltas_use_the_reference_of_each_paper():
    frame = grid(
        [
            ("lstm_peephole", 0.97, np.nan, 1),
            ("lstm", 0.95, np.nan, 1),
            ("lstm_nfg", 0.96, np.nan, 1),
            ("lstm1", 0.94, np.nan, 1),
        ]
    )
    rows = table_rows(frame)
    assert rows["lstm_nfg"][DELTA] == "-1.00 pt", "Greff's NFG against lstm_peephole"
    assert rows["lstm1"][DELTA] == "-1.00 pt", "Akandeh & Salem's LSTM1 against lstm"
    assert rows["lstm"][DELTA] == rows["lstm_peephole"][DELTA] == "ref"


def test_paper_params_lr_and_wall_time_columns():
    frame = grid([("gru", 0.98, 0.003, 3), ("gru:z=hb", 0.97, 0.003, 3)])
    rows = table_rows(frame, recurrent=lambda v: 18630 if v == "gru" else 1)
    assert rows["gru"][1:3] == ["Cho et al. 2014", "1,000 / 18,630"]
    assert rows["gru:z=hb"][1] == "–", "an unregistered spec has no paper"
    assert rows["gru"][6:] == ["0.001", "191"]


def test_every_registered_variant_has_a_short_citation():
    assert set(variants.SOURCES) == set(variants.VARIANTS)
    assert all(source.strip() for source in variants.SOURCES.values())


def test_the_dey_salem_widths_are_the_configs_and_count_the_papers_parameters():
    for task, (_, units) in results_md.DEY_WIDTHS.items():
        assert dey_salem.get_config(f"gru,{task}").model.features == units, task
    m, n = results_md.DEY_WIDTHS["imdb"]
    assert dey_salem.get_config("gru,imdb").model.embed_dim == m
    imdb = [variants.param_count(v, m, n) for v in ("gru", "gru1", "gru2", "gru3")]
    assert imdb == [98_688, 65_920, 65_664, 33_152], "PAPERS.md §3.1's GRU0-3 on IMDB"


def block(text: str, name: str) -> list[str]:
    """The rows between ``<!-- table:name -->`` and ``<!-- /table -->``."""
    return re.search(rf"<!-- table:{name} -->\n(.*?)<!-- /table -->", text, re.S)[1].splitlines()


def test_render_fills_the_zoo_tables_from_results_beyond_and_the_same_protocol_grids(tmp_path):
    for paper in ("chung", "dey_salem", "baselines"):
        (tmp_path / paper).symlink_to(ROOT / "results" / paper)
    (tmp_path / "beyond" / "jsb").mkdir(parents=True)
    shutil.copy(ROOT / "results/chung/jsb/results.csv", tmp_path / "beyond/jsb/results.csv")
    text = (ROOT / "RESULTS.md").read_text()
    for task in results_md.BEYOND:  # RESULTS.md as it reads before any zoo grid has run
        text = results_md.fill(text, f"beyond_{task}", zoo_md.header())
    rebuilt = results_md.render(text, str(tmp_path), chung.layer_params, chung.paper_nll)
    jsb = block(rebuilt, "beyond_jsb")
    assert [cells(r)[0] for r in jsb[2:]] == ["gru", "lstm_peephole", "tanh"]
    assert cells(jsb[2])[2] == "22,766 / 18,630"
    assert [cells(r)[5] for r in jsb[2:4]] == ["ref", "ref"]
    assert cells(jsb[4])[5].endswith(" †"), "tanh: +0.155 NLL, SE 0.016"
    for task, grid_dir in results_md.SAME_PROTOCOL.items():
        same = pd.read_csv(ROOT / "results" / grid_dir / "results.csv")
        rows = block(rebuilt, f"beyond_{task}")[2:]
        assert sorted(cells(r)[0] for r in rows) == sorted(same["variant"]), task
    emptied = rebuilt
    for task in results_md.BEYOND:
        emptied = results_md.fill(emptied, f"beyond_{task}", zoo_md.header())
    assert emptied == text, "only the zoo tables changed"


def test_a_zoo_grid_joins_the_same_protocol_grid_and_its_own_rows_win(tmp_path):
    assert results_md.zoo_grid(str(tmp_path), "mnist_row") is None, "a task not yet run"
    (tmp_path / "dey_salem" / "mnist_row").mkdir(parents=True)
    dey = grid([("gru", 0.98, 0.003, 3), ("gru1", 0.97, 0.004, 3)])
    dey.to_csv(tmp_path / "dey_salem/mnist_row/results.csv", index=False)
    alone = results_md.zoo_grid(str(tmp_path), "mnist_row")
    assert list(alone["variant"]) == ["gru", "gru1"]
    (tmp_path / "beyond" / "mnist_row").mkdir(parents=True)
    own = grid([("gru1", 0.5, 0.1, 3), ("lstm1", 0.9, 0.01, 3)])
    own.to_csv(tmp_path / "beyond/mnist_row/results.csv", index=False)
    joined = results_md.zoo_grid(str(tmp_path), "mnist_row")
    assert list(joined["variant"]) == ["gru", "gru1", "lstm1"]
    assert joined.set_index("variant").loc["gru1", "test_mean"] == 0.5, "the zoo's own run wins"
    assert results_md.zoo_grid(str(tmp_path), "imdb") is None


def test_zoo_plots_draw_each_run_task_from_its_joined_rows(tmp_path, monkeypatch):
    (tmp_path / "dey_salem" / "mnist_row").mkdir(parents=True)
    grid([("gru", 0.98, 0.003, 3)]).to_csv(
        tmp_path / "dey_salem/mnist_row/results.csv", index=False
    )
    (tmp_path / "beyond" / "mnist_row").mkdir(parents=True)
    own = grid([("lstm1", 0.97, 0.01, 3), ("mgu", 0.96, float("nan"), 1)])
    own.to_csv(tmp_path / "beyond/mnist_row/results.csv", index=False)
    drawn = {}
    real = results_md.figures.test_vs_params

    def spy(table, path, title=None):
        drawn[path] = list(table["variant"])
        return real(table, path, title)

    monkeypatch.setattr(results_md.figures, "test_vs_params", spy)
    written = results_md.zoo_plots(str(tmp_path), chung.layer_params)
    folder = tmp_path / "beyond" / "mnist_row"
    png = str(folder / "zoo_vs_params.png")
    assert written == [str(folder / "forest.png"), png], "only the task with rows; no records"
    assert drawn == {png: ["gru", "lstm1", "mgu"]}, "the Dey & Salem rows join the zoo's own"
    for path in written:
        assert Path(path).read_bytes()[:4] == b"\x89PNG"


def test_zoo_plots_draw_the_learning_rate_sensitivity_from_the_run_records(tmp_path):
    folder = tmp_path / "beyond" / "mnist_pixel"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "results/beyond/mnist_pixel/results.csv", folder / "results.csv")
    (folder / "runs").symlink_to(ROOT / "results/beyond/mnist_pixel/runs")
    runs = results_md.zoo_runs(str(tmp_path), "mnist_pixel")
    assert set(runs["model.variant"]) == {"mingru", "minlstm", "indrnn", "ligru"}
    assert results_md.zoo_runs(str(tmp_path), "imdb") is None, "no records, no sensitivity"
    written = results_md.zoo_plots(str(tmp_path), chung.layer_params)
    assert str(folder / "lr_sensitivity.png") in written
