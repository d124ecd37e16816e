"""The figures (gruvar.comparison.figures): what a reader sees is the table's numbers, legibly."""

import itertools
import os

import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer
from test_compare import PNG, compare_cli
from test_train import ROOT

from gruvar.comparison import analysis, figures, plotting, zoo_md

JSB = ROOT / "results" / "beyond" / "jsb" / "results.csv"  # 36 variants, 3 seeds each


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """A smoke comparison (gru and tanh on parity, 2 seeds x 2 rates), report included."""
    workdir = tmp_path_factory.mktemp("smoke")
    compare_cli(workdir)
    return workdir


def forest_rows(fig) -> tuple[list[str], list[tuple[float, float, float]]]:
    """A forest plot read back: its row labels top to bottom, and each bar as (y, mean, half
    width) from the error bars' segments."""
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    (bars,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segments = bars.lines[2][0].get_segments()
    return labels, [((a[1] + b[1]) / 2, (a[0] + b[0]) / 2, (b[0] - a[0]) / 2) for a, b in segments]


def test_the_forest_plot_is_the_tables_rows_best_first_with_their_std(smoke):
    table = pd.read_csv(smoke / "results.csv")
    labels, bars = forest_rows(figures.draw_forest(table))
    best_first = table.sort_values("test_mean", ascending=False, kind="stable")  # accuracy
    assert labels == list(best_first["variant"])
    for y, (row, (bar_y, mean, half)) in enumerate(zip(best_first.itertuples(), bars, strict=True)):
        assert bar_y == y
        assert mean == pytest.approx(row.test_mean * 100), "accuracy is drawn in percent"
        assert half == pytest.approx(row.test_std * 100), "the bar is ± the seeds' std"
    assert (smoke / "forest.png").read_bytes()[:8] == PNG, "compare's report draws it"
    assert (smoke / "lr_sensitivity.png").read_bytes()[:8] == PNG, "two rates: sensitivity too"


def test_the_forest_plot_marks_what_the_zoo_table_marks_and_edges_the_far_rows():
    table = pd.read_csv(JSB)
    labels, bars = forest_rows(figures.draw_forest(table, recurrent=lambda v: 18_630))
    names = [label.removesuffix(" †") for label in labels]
    assert names == list(table.sort_values("test_mean", kind="stable")["variant"]), "NLL: low first"
    rows = zoo_md.zoo_table(table, lambda v: 18_630).splitlines()[2:]
    marked = {r.split("|")[1].strip() for r in rows if r.split("|")[6].strip().endswith("†")}
    assert {n for n, label in zip(names, labels, strict=True) if label.endswith("†")} == marked
    means = table.set_index("variant")["test_mean"]
    drawn = {names[int(y)]: mean for y, mean, _ in bars}
    assert set(names) - set(drawn) == {"lstm4a", "lstm_fgr"}, "the two far rows sit at the edge"
    for name, mean in drawn.items():
        assert mean == pytest.approx(means[name])


def test_the_scatter_labels_do_not_overlap():
    table = pd.read_csv(JSB)  # 36 labels, a dozen of them within 22-28K parameters
    fig = figures.draw_test_vs_params(table)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = {t.get_text(): t.get_window_extent(renderer) for t in fig.axes[0].texts}
    assert len(boxes) == len(table)
    clashes = [(a, b) for a, b in itertools.combinations(boxes, 2) if boxes[a].overlaps(boxes[b])]
    assert not clashes
    legend = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert legend == {"GRU", "MGU", "Li-GRU", "LSTM", "LSTM + FGR", "MUT", "tanh RNN"}
    plotting.pyplot().close(fig)


def test_a_family_has_one_colour_in_every_figure():
    assert plotting.colour("gru3") == plotting.colour("mingru") == plotting.FAMILY_COLOURS["gru"][1]
    assert plotting.colour("mut1") == plotting.colour("mut3")
    assert plotting.colour("lstm:xhb") == plotting.colour("lstm_cifg")
    assert plotting.colour("not_registered") == plotting.FAMILY_COLOURS["other"][1]


def test_the_sensitivity_plot_counts_only_seeds_that_ran_every_rate(smoke):
    runs = analysis.load_runs(str(smoke))
    gone = (runs["model.variant"] == "gru") & (runs["seed"] == 1)
    one_rate = runs[~(gone & (runs["optimizer.learning_rate"] == 1e-2))]  # gru seed 1: one rate
    kept = figures.every_rate(one_rate)
    assert set(kept[kept["model.variant"] == "gru"]["seed"]) == {0}
    assert set(kept[kept["model.variant"] == "tanh"]["seed"]) == {0, 1}


def test_a_figure_is_replaced_whole_or_not_at_all(smoke, monkeypatch):
    path = str(smoke / "forest.png")
    before = open(path, "rb").read()
    table = pd.read_csv(smoke / "results.csv")

    def killed(fig, target, **kwargs):  # a kill halfway through writing the PNG
        target.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(figures.plotting.pyplot().Figure, "savefig", killed)
    with pytest.raises(KeyboardInterrupt):
        figures.forest_plot(table, path)
    assert open(path, "rb").read() == before
    assert not [f for f in os.listdir(smoke) if f.startswith(".forest.png")], "no temporary left"


def test_compare_gives_the_difference_with_a_welch_interval_or_says_n_is_too_small(tmp_path):
    from test_compare import write_run

    for seed, (a, b) in enumerate([(0.90, 0.80), (0.92, 0.81), (0.91, 0.79)]):
        write_run(tmp_path, f"gru/seed{seed}_lr0.1", "gru", seed, 0.1, [(1, a, a)])
        write_run(tmp_path, f"tanh/seed{seed}_lr0.1", "tanh", seed, 0.1, [(1, b, b)])
    write_run(tmp_path, "gru3/seed0_lr0.1", "gru3", 0, 0.1, [(1, 0.5, 0.5)])
    runs = analysis.load_runs(str(tmp_path))
    found = analysis.compare(runs, "gru", "tanh")
    assert found.diff == pytest.approx(0.11)
    assert found.low < 0.11 < found.high and found.low > 0 and found.p < 0.01
    assert "gru is better" in str(found) and "95% CI +8.7" in str(found)
    alone = analysis.compare(runs, "gru3", "gru")
    assert "too few seeds to conclude" in str(alone)
    with pytest.raises(ValueError, match="lstm"):
        analysis.compare(runs, "lstm", "gru")
