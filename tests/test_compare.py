"""The comparison runner, its report, and the analysis library under it."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from test_train import ROOT, smoke

from gruvar import data
from gruvar.comparison import analysis, compare, figures
from gruvar.training import train

GRID = [
    "--config=configs/synthetic.py:parity,smoke",
    "--variants=gru,tanh",
    "--seeds=2",
    "--learning_rates=1e-2,1e-3",
]
PNG = b"\x89PNG\r\n\x1a\n"


def compare_cli(workdir, *extra, grid=GRID):
    return subprocess.run(
        [sys.executable, "experiments/compare.py", *grid, f"--workdir={workdir}", *extra],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )


def write_run(root, name, variant, seed, lr, evals, status="complete"):
    """A hand-made run directory: ``evals`` is [(step, validation accuracy, test accuracy)]."""
    path = os.path.join(root, name)
    os.makedirs(path)
    config = {"seed": seed, "model": {"variant": variant}, "optimizer": {"learning_rate": lr}}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        for step, val, test in evals:
            line = {"step": step, "epoch": step, "wall_time": float(step), "loss": 0.5}
            f.write(json.dumps(line | {"split": "train", "accuracy": 0.9}) + "\n")
            f.write(json.dumps(line | {"split": "validation", "accuracy": val}) + "\n")
            f.write(json.dumps(line | {"split": "test", "accuracy": test}) + "\n")
    if status:
        with open(os.path.join(path, "summary.json"), "w") as f:
            json.dump({"status": status, "param_count": 100}, f)


def test_the_learning_rate_is_selected_on_validation_never_on_test(tmp_path):
    # lr 0.1 wins on validation (0.80 at step 2) but loses on test; lr 0.01 the other way.
    write_run(tmp_path, "gru/seed0_lr0.1", "gru", 0, 0.1, [(1, 0.70, 0.70), (2, 0.80, 0.60)])
    write_run(tmp_path, "gru/seed0_lr0.01", "gru", 0, 0.01, [(1, 0.75, 0.95), (2, 0.74, 0.99)])
    write_run(tmp_path, "gru/seed1_lr0.1", "gru", 1, 0.1, [(1, 0.60, 0.90)])
    write_run(tmp_path, "gru/seed1_lr0.01", "gru", 1, 0.01, [(1, 0.65, 0.50)])
    table = analysis.summarize(analysis.load_runs(str(tmp_path)))
    row = table.set_index("variant").loc["gru"]
    assert row["learning_rates"] == "0.01 0.1"
    assert row["n"] == 2
    # The test metric of each seed's selected run, at its best-validation step: 0.60 and 0.50.
    assert row["test_mean"] == pytest.approx(0.55)
    assert row["test_std"] == pytest.approx(np.std([0.60, 0.50], ddof=1))
    assert row["validation_mean"] == pytest.approx((0.80 + 0.65) / 2)


def test_load_runs_reports_an_interrupted_run_as_unfinished(tmp_path, monkeypatch):
    cfg = smoke(**{"train.num_epochs": 4, "train.checkpoint_every_steps": 4})
    train.train_and_evaluate(cfg, str(tmp_path / "finished"))
    real = data.Dataset.train_batch

    def crash_at_9(self, step, *args):
        if step == 9:
            raise RuntimeError("simulated crash")
        return real(self, step, *args)

    monkeypatch.setattr(data.Dataset, "train_batch", crash_at_9)
    with pytest.raises(RuntimeError):
        train.train_and_evaluate(cfg, str(tmp_path / "interrupted"))
    runs = analysis.load_runs(str(tmp_path))
    status = runs.groupby("run")["status"].first()
    assert status.to_dict() == {"finished": "complete", "interrupted": "unfinished"}
    assert runs[runs["run"] == "interrupted"]["step"].max() == 8
    assert (runs["model.variant"] == "gru").all() and "optimizer.learning_rate" in runs
    table = analysis.summarize(runs)
    assert "interrupted (unfinished)" in table.loc[0, "not_done"]
    assert table.loc[0, "n"] == 1, "only the finished run counts"


def test_load_runs_says_what_to_do_when_there_are_no_runs(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--workdir of experiments/compare\.py"):
        analysis.load_runs(str(tmp_path))


def test_compare_writes_the_table_and_plots_and_a_rerun_skips_finished_runs(tmp_path):
    first = compare_cli(tmp_path)
    table = pd.read_csv(tmp_path / "results.csv")
    assert list(table["variant"]) == ["gru", "tanh"]
    assert list(table["n"]) == [2, 2] and list(table["runs_done"]) == [4, 4]
    for png in ("curves.png", "test_vs_params.png", "forest.png", "lr_sensitivity.png"):
        assert (tmp_path / png).read_bytes()[:8] == PNG
        assert str(tmp_path / png) in first.stdout
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.count("\n| gru |") == 1 and markdown.count("\n| tanh |") == 1
    assert "| gru |" in first.stdout

    # The learning rate kept for each (variant, seed) is the best on validation.
    for variant in ("gru", "tanh"):
        chosen = []
        for seed in (0, 1):
            best = {
                lr: json.loads(
                    (tmp_path / variant / f"seed{seed}_lr{lr}" / "summary.json").read_text()
                )["best"]
                for lr in ("0.001", "0.01")
            }  # of equal validation accuracies, the smaller learning rate is kept
            lr = max(best, key=lambda k: best[k]["validation"]["accuracy"])
            chosen.append(best[lr]["test"]["accuracy"])
        row = table.set_index("variant").loc[variant]
        assert row["test_mean"] == pytest.approx(np.mean(chosen))

    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/*/metrics.jsonl")}
    assert len(stamps) == 8
    again = compare_cli(tmp_path)
    assert again.stdout.count("done, skipped") == 2
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/*/metrics.jsonl")} == stamps
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "results.csv"), table)

    # The same grid with another config is never answered with the old results.
    with pytest.raises(subprocess.CalledProcessError) as changed:
        compare_cli(tmp_path, "--config.model.features=5")
    assert "model.features" in changed.value.stderr and "done, skipped" not in changed.value.stdout
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/*/metrics.jsonl")} == stamps


def test_the_submitit_local_executor_builds_the_same_table(tmp_path):
    local, remote = tmp_path / "local", tmp_path / "submitit"
    compare_cli(local)
    compare_cli(remote, "--launcher=submitit_local", "--timeout_min=10")
    assert list((remote / "submitit").glob("*_log.out")), "the jobs ran through submitit"
    a, b = (pd.read_csv(d / "results.csv").drop(columns="wall_time_s") for d in (local, remote))
    pd.testing.assert_frame_equal(a, b, rtol=1e-5)


def test_the_report_names_missing_runs(tmp_path):
    compare_cli(tmp_path)
    grid = json.loads((tmp_path / "grid.json").read_text())["runs"]
    (tmp_path / "grid.json").write_text(json.dumps({"runs": [*grid, "lstm/seed0_lr0.01"]}))
    paths = compare.report(str(tmp_path))
    markdown = open(paths["results.md"]).read()
    assert "- lstm: missing: lstm/seed0_lr0.01" in markdown
    assert "| lstm | – |" in markdown


def test_drawn_learning_rates_follow_chung_et_al():
    rates = compare.drawn_learning_rates(10, -12.0, -6.0, seed=0)
    assert len(set(rates)) == 10
    assert all(np.exp(-12) <= r <= np.exp(-6) * 1.001 for r in rates)
    assert rates == compare.drawn_learning_rates(10, -12.0, -6.0, seed=0)
    assert compare.seeds_from(["3"]) == (0, 1, 2) and compare.seeds_from(["4", "9"]) == (4, 9)


def test_the_analysis_notebook_runs_on_a_comparison(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    compare_cli(tmp_path)
    notebook = nbformat.read(ROOT / "notebooks" / "analysis.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells), "no stored outputs in git"
    monkeypatch.setenv("GRUVAR_COMPARE_DIR", str(tmp_path))
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    text = "".join(
        str(output.get("data", {}).get("text/markdown", ""))
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    assert "| gru |" in text and "| tanh |" in text
    printed = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert "test accuracy" in printed and "seeds" in printed, "compare(runs, a, b) answers"
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 3, "the forest plot, the curves and the learning-rate sensitivity"


def test_select_seeds_chooses_rates_with_the_first_seed_then_runs_the_rest(tmp_path):
    compare_cli(tmp_path, "--seeds=3", "--select_seeds=1")
    chosen = json.loads((tmp_path / "chosen_rates.json").read_text())
    assert chosen["seeds"] == [0]
    grid = set(json.loads((tmp_path / "grid.json").read_text())["runs"])
    for variant in ("gru", "tanh"):
        best = {
            lr: json.loads((tmp_path / variant / f"seed0_lr{lr}" / "summary.json").read_text())[
                "best"
            ]["validation"]["accuracy"]
            for lr in (0.001, 0.01)
        }
        lr = max(sorted(best), key=best.get)  # of equals, the smaller rate
        assert chosen["learning_rates"][variant] == lr
        runs = {str(p.relative_to(tmp_path)) for p in (tmp_path / variant).iterdir()}
        expected = {f"{variant}/seed0_lr0.001", f"{variant}/seed0_lr0.01"}
        expected |= {f"{variant}/seed{s}_lr{lr:g}" for s in (1, 2)}
        assert runs == expected, "seeds 1 and 2 ran at the chosen rate only"
        assert expected <= grid
    table = pd.read_csv(tmp_path / "results.csv").set_index("variant")
    assert list(table["n"]) == [3, 3]

    other = tmp_path / "other"
    compare_cli(other, "--seeds=1", f"--learning_rates_from={tmp_path}")
    for variant in ("gru", "tanh"):
        lr = chosen["learning_rates"][variant]
        assert [p.name for p in (other / variant).iterdir()] == [f"seed0_lr{lr:g}"]


def test_learning_rates_from_a_comparison_without_a_choice_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run that comparison with --select_seeds"):
        compare.rates_chosen_in(str(tmp_path), ["gru"])
    (tmp_path / "chosen_rates.json").write_text(json.dumps({"learning_rates": {"gru": 0.1}}))
    with pytest.raises(ValueError, match=r"chose no learning rate for \['lstm'\]"):
        compare.rates_chosen_in(str(tmp_path), ["gru", "lstm"])


def test_the_per_learning_rate_table_keeps_every_rate(tmp_path):
    write_run(tmp_path, "gru3/seed0_lr0.001", "gru3", 0, 1e-3, [(1, 0.30, 0.31), (2, 0.20, 0.9)])
    write_run(tmp_path, "gru3/seed1_lr0.001", "gru3", 1, 1e-3, [(1, 0.40, 0.41)])
    write_run(tmp_path, "gru3/seed0_lr0.0001", "gru3", 0, 1e-4, [(1, 0.60, 0.59)])
    write_run(tmp_path, "gru3/seed1_lr0.0001", "gru3", 1, 1e-4, [(1, 0.6, 0.5)], status=None)
    table = analysis.by_learning_rate(analysis.load_runs(str(tmp_path)))
    rows = table.set_index("learning_rate")
    assert list(rows["n"]) == [2, 1], "unfinished runs are left out"
    assert rows.loc[1e-3, "test_mean"] == pytest.approx(0.36), "test at best validation"
    markdown = analysis.by_learning_rate_markdown(table)
    assert "| gru3 | 0.001 | 2 | 90% | 35% | 36 ± 7.1% |" in markdown
    assert "| gru3 | 0.0001 | 1 | 90% | 60% | 59% |" in markdown


def test_report_files_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    write_run(tmp_path, "gru/seed0_lr0.1", "gru", 0, 0.1, [(1, 0.70, 0.70)])
    paths = compare.report(str(tmp_path))
    before = {name: open(paths[name]).read() for name in ("results.md", "results.csv")}
    before["results_by_lr.md"] = open(paths["results_by_lr.md"]).read()

    def killed(*args, **kwargs):  # a kill while the report is being written
        for arg in args:
            if isinstance(arg, str) and os.path.isabs(arg):
                open(arg, "w").write("half")
        raise KeyboardInterrupt

    for name, target in [
        ("results.md", (analysis, "to_markdown")),
        ("results_by_lr.md", (analysis, "by_learning_rate_markdown")),
        ("results.csv", (pd.DataFrame, "to_csv")),
    ]:
        with monkeypatch.context() as m:
            m.setattr(*target, lambda self, *args, **kwargs: killed(*args, **kwargs))
            with pytest.raises(KeyboardInterrupt):
                compare.report(str(tmp_path))
        assert open(paths[name]).read() == before[name], f"{name} was damaged"


def test_grid_json_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    compare.plan({"gru": smoke()}, (0,), (1e-2,), str(tmp_path))
    grid = (tmp_path / "grid.json").read_text()

    def killed(src, dst):  # a kill after the new text is written, before it takes the name
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        compare.plan({"gru": smoke()}, (0, 1), (1e-2,), str(tmp_path))
    assert (tmp_path / "grid.json").read_text() == grid


def test_the_report_says_what_is_not_counted_and_never_nan(tmp_path):
    write_run(tmp_path, "gru/seed0_lr0.1", "gru", 0, 0.1, [(1, 0.70, 0.70)])
    write_run(tmp_path, "gru/seed1_lr0.1", "gru", 1, 0.1, [(1, 0.70, 0.70)], status="diverged")
    (tmp_path / "grid.json").write_text(
        json.dumps({"runs": ["gru/seed0_lr0.1", "gru/seed1_lr0.1", "lstm/seed0_lr0.1"]})
    )
    markdown = open(compare.report(str(tmp_path))["results.md"]).read()
    assert "nan" not in markdown
    assert "- gru: not counted: gru/seed1_lr0.1 (diverged)" in markdown
    assert "- lstm: missing: lstm/seed0_lr0.1" in markdown
    assert "- lstm: not" not in markdown
    assert compare.diverged(str(tmp_path)) == ["gru/seed1_lr0.1"]


def test_report_only_with_a_diverged_run_prints_the_report_and_exits_1(tmp_path):
    write_run(tmp_path, "gru/seed0_lr0.1", "gru", 0, 0.1, [(1, 0.70, 0.70)])
    write_run(tmp_path, "gru/seed1_lr0.1", "gru", 1, 0.1, [(1, 0.70, 0.70)], status="diverged")
    result = subprocess.run(
        [sys.executable, "experiments/compare.py", *GRID, f"--workdir={tmp_path}", "--report_only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "| gru |" in result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 1 run(s) diverged (each run's summary.json says at which step and what to "
        "try): gru/seed1_lr0.1"
    )


@pytest.mark.parametrize("name", ["summary.json", "config.json"])
def test_a_damaged_run_file_is_an_error_naming_it(tmp_path, name):
    write_run(tmp_path, "gru/seed0_lr0.1", "gru", 0, 0.1, [(1, 0.70, 0.70)])
    path = tmp_path / "gru" / "seed0_lr0.1" / name
    path.write_text("")
    with pytest.raises(ValueError, match=f"{path} is empty.*re-run the command"):
        analysis.load_runs(str(tmp_path))


def test_records_logged_twice_count_once(tmp_path):
    write_run(tmp_path, "gru/seed0_lr0.1", "gru", 0, 0.1, [(1, 0.70, 0.70), (2, 0.8, 0.6)])
    metrics = tmp_path / "gru" / "seed0_lr0.1" / "metrics.jsonl"
    metrics.write_text(metrics.read_text() * 2)  # two processes wrote the run
    table = analysis.summarize(analysis.load_runs(str(tmp_path)))
    assert table.loc[0, "test_mean"] == pytest.approx(0.6)


def test_a_variant_with_no_finished_run_is_drawn_unfinished_in_the_curves(tmp_path):
    write_run(tmp_path, "gru/seed0_lr0.1", "gru", 0, 0.1, [(1, 0.6, 0.6), (2, 0.7, 0.7)])
    write_run(tmp_path, "gru3/seed0_lr0.01", "gru3", 0, 0.01, [(1, 0.3, 0.3)], status=None)
    results = analysis.run_results(analysis.load_runs(str(tmp_path)))
    assert analysis.curves(results) == [
        ("gru", ["gru/seed0_lr0.1"], "accuracy", "-"),
        ("gru3 lr 0.01 (unfinished)", ["gru3/seed0_lr0.01"], "accuracy", "--"),
    ]
    png = figures.learning_curves(analysis.load_runs(str(tmp_path)), str(tmp_path / "c.png"))
    assert open(png, "rb").read(8) == PNG


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="counts Linux memory maps")
def test_a_job_leaves_no_compiled_code_mapped(tmp_path):
    """Every stack compiles its own programs, and XLA:CPU maps their code: kept in JAX's caches,
    a grid of a dozen variants in one process reached vm.max_map_count and died in LLVM."""

    def maps():
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)

    compare.run_job([smoke("gru,parity")], [str(tmp_path / "gru")])
    before = maps()
    for variant in ("tanh", "lstm", "mgu"):
        compare.run_job([smoke(f"{variant},parity")], [str(tmp_path / variant)])
    # Measured: each of these stacks left ~240 maps behind before the fix, none after it.
    assert maps() - before < 150, "three more stacks left their code mapped"
