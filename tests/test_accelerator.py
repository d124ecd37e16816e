"""benchmarks/accelerator.py, the GPU check: its dry run on the CPU, so it keeps working while
no GPU is lent, and its report's rules (a failing part, a spent budget, the goals)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import epoch  # noqa: E402
import report  # noqa: E402

PARTS = ["environment", "numerics", "recurrence", "sweep", "mnist_epoch"]


def test_the_dry_run_runs_every_part_and_reports_each(tmp_path):
    # GRUVAR_HUGE_PAGES=0: one start-up instead of two (the re-execution has its own tests).
    env = os.environ | {"GRUVAR_HUGE_PAGES": "0"}
    command = [sys.executable, "benchmarks/accelerator.py", "--dry_run", f"--out={tmp_path}"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]

    found = json.loads((tmp_path / "report.json").read_text())
    assert found["dry_run"] and list(found["parts"]) == PARTS
    failed = {name: p["error"] for name, p in found["parts"].items() if p["status"] != "ok"}
    assert not failed, f"parts not ok in the dry run: {failed}\n{result.stdout[-3000:]}"
    text = (tmp_path / "report.md").read_text()
    assert all(f"## {name}" in text for name in PARTS)

    parts = {name: p["figures"] for name, p in found["parts"].items()}
    assert parts["environment"]["jax"] and parts["environment"]["platform"] == "cpu"
    assert len(parts["numerics"]) >= 5 and all(c["ok"] for c in parts["numerics"].values())
    models = {r["model"]: r for r in parts["recurrence"]["toy"]["rows"]}
    assert {"gruvar gru", "gruvar lstm", "flax nn.RNN(OptimizedLSTMCell)"} <= set(models)
    assert models["gruvar lstm"]["vs_flax"] > 0 and parts["recurrence"]["toy"]["best_gru_unroll"]
    assert [r["K"] for r in parts["sweep"]["toy"]["rows"]] == [1, 2]
    assert parts["mnist_epoch"]["steps"] == 2  # the smoke config's 64 images in batches of 32
    assert "not measured" in text  # no pixel shape nor K = 16 in a dry run


def test_a_failing_part_is_reported_and_the_next_runs_all_the_same(tmp_path):
    def fails(part):
        part.figures["before"] = 1.0
        raise ValueError("the accelerator said no")

    def runs_out_of_time(part):
        for k in (1, 4):
            if not part.over(f"K={k}"):
                part.figures[k] = k

    def one_piece_fails(part):
        part.fail("torch.nn.GRU", "RuntimeError: no cuDNN")
        part.figures["gruvar gru"] = 2.0

    def works(part):
        part.lines = ["fine"]

    parts = report.run_parts(
        {"fails": fails, "slow": runs_out_of_time, "partly": one_piece_fails, "works": works},
        {"fails": 10, "slow": 0, "partly": 10, "works": 10},
    )
    assert [p.status for p in parts.values()] == ["failed", "over budget", "failed", "ok"]
    assert parts["fails"].error == "ValueError: the accelerator said no"
    assert parts["fails"].figures == {"before": 1.0}  # what it had measured is kept
    assert parts["slow"].skipped == ["K=1", "K=4"] and not parts["slow"].figures
    assert parts["partly"].error == "torch.nn.GRU: RuntimeError: no cuDNN"
    assert parts["partly"].figures == {"gruvar gru": 2.0}  # it went on past the failure

    report.write(tmp_path, parts, dry_run=True)
    text = (tmp_path / "report.md").read_text()
    assert "| fails | failed |" in text and "ValueError: the accelerator said no" in text
    assert "| slow | over budget |" in text and "skipped: K=1; K=4" in text
    statuses = {
        n: p["status"]
        for n, p in json.loads((tmp_path / "report.json").read_text())["parts"].items()
    }
    assert statuses == {"fails": "failed", "slow": "over budget", "partly": "failed", "works": "ok"}


def test_the_goals_are_read_off_the_pixel_shape_and_k_16():
    recurrence, sweep = report.Part("recurrence", 1), report.Part("sweep", 1)
    recurrence.figures["pixel"] = {"rows": [{"model": "gruvar gru", "vs_torch": 0.8}]}
    sweep.figures["mnist_row"] = {"rows": [{"K": 4, "gain": 3.0}, {"K": 16, "gain": 9.0}]}
    found = report.goals({"recurrence": recurrence, "sweep": sweep})
    assert found[report.GRU_GOAL] == {"value": 1.25, "met": True}  # 1 / 0.8 of torch's time
    assert found[report.SWEEP_GOAL] == {"value": 9.0, "met": False}
    unmeasured = report.goals({})
    assert all(g == {"value": None, "met": None} for g in unmeasured.values())


def test_an_epoch_stopped_at_its_budget_projects_from_its_last_logged_step(tmp_path):
    logged = [
        {"split": "train", "step": 200, "epoch": 200 / 1718, "wall_time": 30.0},
        {"split": "validation", "step": 300, "epoch": 300 / 1718, "wall_time": 40.0},
        {"split": "train", "step": 400, "epoch": 400 / 1718, "wall_time": 50.0},
    ]
    metrics = tmp_path / "metrics.jsonl"
    killed_mid_line = '{"split": "train", "st'
    metrics.write_text("".join(json.dumps(r) + "\n" for r in logged) + killed_mid_line)
    part = report.Part("mnist_epoch", 1)
    epoch.stopped_epoch(part, metrics, wall=61.0)
    assert part.figures == {
        "stopped_at_step": 400,
        "steps_per_epoch": 1718,
        "loop_seconds_at_stop": 50.0,
        "projected_loop_seconds": pytest.approx(50.0 / 400 * 1718),
    }
    assert "step 400 of 1718" in part.lines[-1]

    nothing_yet = report.Part("mnist_epoch", 1)
    epoch.stopped_epoch(nothing_yet, tmp_path / "absent.jsonl", wall=61.0)
    assert nothing_yet.figures == {} and "before the first logged step" in nothing_yet.lines[-1]
