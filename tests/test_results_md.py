"""RESULTS.md's tables come from the committed CSVs: built by code, checked against the file."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gruvar.comparison import results_md

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from configs import chung  # noqa: E402


def grid(variants, test_mean, paper, metric="nll"):
    n = len(variants)
    return pd.DataFrame(
        {
            "variant": variants,
            "params": [1000 + i for i in range(n)],
            "metric": metric,
            "test_mean": test_mean,
            "test_std": [0.01] * n,
            "n": [3] * n,
            "paper": paper,
            "learning_rates": ["0.001"] * n,
            "steps": [2800.0] * n,
            "wall_time_s": [191.4] * n,
        }
    )


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip("|").split("|")]


def test_music_rows_compare_with_the_paper_and_mark_the_5_percent_target():
    table = grid(["gru", "tanh"], [8.54 * 1.05, 9.10 * 1.06], [8.54, 9.10])
    rows = results_md.music_table({"jsb": table}, recurrent=lambda v: {"gru": 7, "tanh": 9}[v])
    gru, tanh = (cells(r) for r in rows.splitlines()[2:])
    assert gru[:3] == ["jsb", "gru", "8.54"]
    assert gru[4] == f"{8.54 * 1.05:.3f} ± 0.010"
    assert (gru[6], gru[7]) == ("+5.0%", "yes"), "exactly 5% above the paper meets the target"
    assert (tanh[6], tanh[7]) == ("+6.0%", "no")
    assert gru[8] == "1,000 / 7" and tanh[8] == "1,001 / 9"


def test_music_rows_carry_the_tcn_papers_independent_number_with_its_model_size():
    table = grid(["gru", "lstm_peephole", "tanh", "gru3"], [8.5] * 4, [8.54, 8.67, 9.10, 8.54])
    for task, expected in {
        "jsb": ["8.43 (300K)", "8.45 (300K)", "8.91 (300K)", "–"],
        "nottingham_batch1": ["3.46 (1M)", "3.29 (1M)", "4.05 (1M)", "–"],
        "musedata": ["–"] * 4,  # Bai et al. ran no MuseData
    }.items():
        rows = results_md.music_table({task: table}, recurrent=lambda v: 7).splitlines()[2:]
        assert [cells(r)[3] for r in rows] == expected, task


def test_a_music_variant_with_no_finished_run_gets_no_verdict():
    table = grid(["gru", "tanh"], [np.nan, 9.0], [5.99, 6.23])
    table.loc[0, ["test_std", "n", "learning_rates", "steps", "wall_time_s"]] = np.nan
    table.loc[0, "n"] = 0
    rows = results_md.music_table({"musedata": table}, recurrent=lambda v: 7)
    gru = cells(rows.splitlines()[2])
    assert gru[4:8] == ["–", "0", "–", "not finished"]
    assert gru[9] == "–" and "nan" not in rows


def best_metrics(**columns):
    """A best_metrics.csv of two GRU seeds and one MGU, train and test, with more ``columns``."""
    return pd.DataFrame(
        {
            "run": ["gru/s0", "gru/s0", "gru/s1", "gru/s1", "mgu/s0", "mgu/s0"],
            "variant": ["gru", "gru", "gru", "gru", "mgu", "mgu"],
            "split": ["train", "test"] * 3,
            "nll": [3.2, 3.6, 3.4, 3.5, 3.0, 3.9],
        }
        | columns
    )


def test_fit_rows_set_clean_train_and_test_beside_the_papers_columns():
    frame = best_metrics()
    rows = results_md.fit_table({"nottingham_x": frame}, chung.paper_nll).splitlines()[2:]
    gru, mgu = (cells(r) for r in rows)
    assert gru[:4] == ["nottingham_x", "gru", "2.79", "3.23"]
    assert gru[4] == f"3.300 ± {np.std([3.2, 3.4], ddof=1):.3f}" and gru[5].startswith("3.550")
    assert gru[6:] == ["2", "+0.44", "+0.250"]
    assert mgu[2:4] == ["–", "–"] and mgu[4] == "3.000" and mgu[7:] == ["–", "+0.900"]


def test_per_song_rows_compare_the_test_split_averaged_song_by_song():
    frame = best_metrics(nll_by_sequence=[3.1, 3.3, 3.3, 3.5, 2.9, 4.0])
    unevaluated = best_metrics()
    grids = {"nottingham_x": frame, "nottingham_y": unevaluated}
    rows = results_md.per_song_table(grids, chung.paper_nll).splitlines()[2:]
    assert len(rows) == 2, "a grid evaluated without --by_sequence has no rows"
    gru, mgu = (cells(r) for r in rows)
    assert gru[:4] == ["nottingham_x", "gru", "3.23", "3.550"]
    assert gru[4:6] == [f"3.400 ± {np.std([3.3, 3.5], ddof=1):.3f}", "2"]
    assert gru[6:] == [f"{(3.4 / 3.23 - 1) * 100:+.1f}%", "no"], "+5.3% misses the 5% target"
    assert mgu[2] == "–" and mgu[4] == "4.000" and mgu[6:] == ["–", "–"]


def test_accuracy_rows_give_each_variant_against_gru():
    table = grid(["gru", "gru3"], [0.9873, 0.9751], [np.nan, 0.596], metric="accuracy")
    rows = results_md.accuracy_table({"mnist_row": table}).splitlines()[2:]
    gru, gru3 = (cells(r) for r in rows)
    assert gru[2:7] == ["–", "–", "98.73 ± 1.00%", "3", "–"], "no TCN number for row-wise"
    assert gru3[2] == "59.6%"
    assert gru3[6] == f"{(0.9751 - 0.9873) * 100:+.2f} pt"
    pixel = results_md.accuracy_table({"mnist_pixel_10epochs": table}).splitlines()[2:]
    assert [cells(r)[3] for r in pixel] == ["96.2% (70K)", "–"]


def test_an_accuracy_variant_with_no_finished_run_shows_dashes_not_nan():
    table = grid(["gru", "gru3"], [np.nan, 0.5], [np.nan, 0.596], metric="accuracy")
    table.loc[0, ["test_std", "params", "learning_rates", "steps", "wall_time_s"]] = np.nan
    table.loc[0, "n"] = 0
    rows = results_md.accuracy_table({"mnist_pixel_10epochs": table})
    gru = cells(rows.splitlines()[2])
    assert gru[4:] == ["–", "0", "–", "–", "–", "–", "–"] and "nan" not in rows


def test_fill_replaces_only_the_named_table():
    a = "<!-- table:a -->\n| old |\n<!-- /table -->\n"
    text = f"intro\n{a}middle\n" + a.replace(":a", ":b").replace("old", "b")
    out = results_md.fill(text, "a", "| new |")
    assert out == text.replace("| old |", "| new |")


@pytest.mark.parametrize("count", [0, 2])
def test_fill_needs_exactly_one_marked_table(count):
    text = "<!-- table:a -->\n| x |\n<!-- /table -->\n" * count
    with pytest.raises(ValueError, match="exactly one '<!-- table:a -->'"):
        results_md.fill(text, "a", "| y |")


def test_grids_come_in_the_papers_task_order(tmp_path):
    for name in [
        "pianomidi",
        "jsb",
        "nottingham_150epochs",
        "nottingham",
        "nottingham_20epochs",
        "other",
    ]:
        (tmp_path / name).mkdir()
        grid(["gru"], [1.0], [1.0]).to_csv(tmp_path / name / "results.csv", index=False)
    assert list(results_md.grids(str(tmp_path))) == [
        "jsb",
        "nottingham",
        "nottingham_20epochs",
        "nottingham_150epochs",
        "pianomidi",
        "other",
    ]


def test_the_committed_results_md_matches_the_committed_csvs():
    """Nobody typed a number into RESULTS.md: rebuilding its tables changes nothing."""
    text = (ROOT / "RESULTS.md").read_text()
    rebuilt = results_md.render(
        text,
        str(ROOT / "results"),
        chung.layer_params,
        chung.paper_nll,
    )
    assert rebuilt == text, "RESULTS.md is out of date: run python experiments/fill_results.py"
