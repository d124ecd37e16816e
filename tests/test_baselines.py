"""The model-free music baselines against a loop over frames, keys and counts."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gruvar.comparison import baselines
from gruvar.data import synthetic

ROOT = Path(__file__).parents[1]
SHARED = ROOT.parent / "shared" / "data"


def reference(train, split):
    """Laplace-smoothed counts and the mean NLL per frame, one frame and key at a time."""
    d = train.y.shape[-1]
    on, on_after, seen_as = np.zeros(d), np.zeros((2, d)), np.zeros((2, d))
    frames = 0
    for x, y, n in zip(train.x, train.y, train.lengths, strict=True):
        for t in range(n):
            frames += 1
            for k in range(d):
                a = int(x[t, k])
                on[k] += y[t, k]
                seen_as[a, k] += 1
                on_after[a, k] += y[t, k]
    p_ind = (on + 1) / (frames + 2)
    p_markov = (on_after + 1) / (seen_as + 2)
    total, count = {"independent": 0.0, "markov": 0.0}, 0
    for x, y, n in zip(split.x, split.y, split.lengths, strict=True):
        for t in range(n):
            count += 1
            for k in range(d):
                for name, p in (("independent", p_ind[k]), ("markov", p_markov[int(x[t, k]), k])):
                    total[name] -= np.log(p) if y[t, k] else np.log(1 - p)
    return {name: v / count for name, v in total.items()}


def test_baselines_equal_the_frame_by_frame_reference():
    data = synthetic.shift(num_train=24, num_eval=8, seed=3)
    probs = baselines.fit(data.splits["train"])
    for split in ("train", "test"):
        got = baselines.nll(probs, data.splits[split])
        want = reference(data.splits["train"], data.splits[split])
        assert got == pytest.approx(want, rel=1e-12), split


def test_padding_frames_never_count():
    data = synthetic.shift(num_train=24, num_eval=8, seed=3)
    train = data.splits["train"]
    garbage = train.y.copy()
    for row, n in enumerate(train.lengths):
        garbage[row, n:] = 1
    noisy = dataclasses.replace(train, y=garbage)
    assert baselines.nll(baselines.fit(noisy), noisy) == baselines.nll(baselines.fit(train), train)


def test_markov_is_near_certain_when_every_key_holds():
    data = synthetic.shift(num_train=64, num_eval=16, seed=0)
    frames = dataclasses.replace(data.splits["train"], y=data.splits["train"].x)
    held = baselines.nll(baselines.fit(frames), frames)
    assert held["markov"] < 0.1 < held["independent"]


def test_classification_data_gets_a_clear_error():
    with pytest.raises(ValueError, match="predict frames"):
        baselines.table(synthetic.parity(num_train=8, num_eval=4))


def test_markdown_rows_give_every_split_and_the_test_train_gap():
    frame = pd.DataFrame(
        {
            "dataset": ["nottingham", "nottingham"],
            "baseline": ["independent", "markov"],
            "train": [10.0671, 5.2139],
            "validation": [10.0124, 5.2350],
            "test": [10.2607, 5.1532],
        }
    )
    rows = baselines.to_markdown(frame).splitlines()[2:]
    independent, markov = ([c.strip() for c in row.strip("|").split("|")] for row in rows)
    assert independent == ["nottingham", "independent", "10.067", "10.012", "10.261", "+0.194"]
    assert markov[2:] == ["5.214", "5.235", "5.153", "-0.061"]


@pytest.mark.skipif(not (SHARED / "polyphonic").is_dir(), reason="no ../shared/data/polyphonic")
def test_the_entry_point_scores_a_real_music_set(tmp_path):
    out = tmp_path / "music.csv"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "experiments" / "baselines.py"),
            "--datasets=jsb",
            f"--data_dir={SHARED}",
            f"--out={out}",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "| jsb | markov |" in result.stdout
    table = pd.read_csv(out).set_index("baseline")
    splits = ["train", "validation", "test"]
    assert (table.loc["markov", splits] < table.loc["independent", splits]).all(), (
        "a chord held from one frame to the next must be worth something on every split"
    )
