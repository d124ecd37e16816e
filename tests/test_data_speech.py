"""The speech set: WAV folders and .deb packages prepared into one int16 file, checked formats,
fixed utterance splits, the 20-in / 10-out framing, and errors that name the file."""

import hashlib
import io
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from gruvar import data
from gruvar.data import prepare, speech, wav

ROOT = Path(__file__).parents[1]


def write_wav(path, samples, rate=16_000, channels=1, width=2):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples).tobytes())


def utterances(count=20, seed=0):
    """``count`` int16 signals of 1,500-2,500 samples; the second is digital silence."""
    rng = np.random.default_rng(seed)
    signals = [
        (1000 * rng.standard_normal(int(rng.integers(1500, 2500)))).astype(np.int16)
        for _ in range(count)
    ]
    signals[1][:] = 0
    return signals


@pytest.fixture
def wav_folder(tmp_path):
    folder = tmp_path / "wavs"
    signals = utterances()
    for i, s in enumerate(signals):
        write_wav(folder / f"spk{i % 2}" / f"utt_{i:03d}.wav", s)
    return folder, signals


def test_framing_reads_20_predicts_the_next_10_and_advances_by_10():
    x, y = speech.frame(np.arange(500)[None])
    assert x.shape == (1, 48, 20) and y.shape == (1, 48, 10)
    for t in (0, 1, 47):
        np.testing.assert_array_equal(x[0, t], np.arange(10 * t, 10 * t + 20))
        np.testing.assert_array_equal(y[0, t], np.arange(10 * t + 20, 10 * t + 30))
    assert speech.frame(np.zeros((2, 8000)))[0].shape == (2, 798, 20)


def test_splits_are_80_10_10_by_utterance_and_interleaved():
    names = [speech.split_of(i) for i in range(620)]  # festvox-ru's 620 utterances
    assert [names.count(s) for s in speech.SPLITS] == [496, 62, 62]
    assert names[:10] == ["train"] * 8 + ["validation", "test"]


def test_windows_are_evenly_spaced_never_overlap_nor_cross_an_utterance():
    utts = [np.arange(1000), np.arange(1000, 1250), np.arange(2000, 3600)]
    got = speech.cut(utts, 3, 500, "here")
    starts = sorted(int(w[0]) for w in got)  # windows 0, 1, 3 (i·5 // 3) of 5
    assert starts == [0, 500, 2500]  # of 0, 500 | 2000, 2500, 3000; none fits 250 samples
    assert all(np.all(np.diff(w) == 1) for w in got)
    with pytest.raises(ValueError, match="5 fit in its 3 utterances"):
        speech.cut(utts, 6, 500, "here")


def test_a_folder_is_prepared_once_and_loaded_framed_and_scaled(tmp_path, wav_folder):
    folder, signals = wav_folder
    path = wav.prepare(str(folder), str(tmp_path / "data"))
    assert path == str(tmp_path / "data" / "speech" / "speech.npz")
    contents = speech.read_prepared(path)
    names = sorted(os.path.relpath(p, folder) for p in folder.rglob("*.wav"))
    assert list(contents["names"]) == names, "utterances in name order"
    manifest = "".join(
        f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in names
    )
    assert str(contents["source_sha256"]) == hashlib.sha256(manifest.encode()).hexdigest()
    by_name = {f"spk{i % 2}/utt_{i:03d}.wav": s for i, s in enumerate(signals)}
    ordered = [by_name[n] for n in names]
    train = np.concatenate([u for i, u in enumerate(ordered) if speech.split_of(i) == "train"])
    assert float(contents["scale"]) == pytest.approx(train.astype(np.float64).std())

    ds = data.load("speech_a", str(tmp_path / "data"), num_sequences=30, sequence_samples=500)
    assert ds.kind == "density" and ds.num_outputs == 10
    assert [len(ds.splits[s]) for s in speech.SPLITS] == [24, 3, 3]
    scale = np.float32(contents["scale"])
    for split in speech.SPLITS:
        mine = [u for i, u in enumerate(ordered) if speech.split_of(i) == split]
        expected = speech.cut(mine, len(ds.splits[split]), 500, "")
        x, y = speech.frame(expected.astype(np.float32) / scale)
        np.testing.assert_array_equal(ds.splits[split].x, x)
        np.testing.assert_array_equal(ds.splits[split].y, y)
        assert np.all(ds.splits[split].lengths == 48)


def test_the_data_dir_comes_from_the_environment_too(tmp_path, wav_folder, monkeypatch):
    wav.prepare(str(wav_folder[0]), str(tmp_path))
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert len(speech.load("speech_b", num_sequences=10, sequence_samples=800).splits["test"]) == 1
    assert dict(prepare.report(None))["speech"].startswith("ok: ")


@pytest.mark.parametrize(
    "fmt, message",
    [
        (dict(rate=8000), "8000 Hz, not 16000"),
        (dict(channels=2), "2 channels, not mono"),
        (dict(width=1), "8-bit samples, not 16-bit"),
    ],
)
def test_a_wrong_format_is_refused_naming_the_file(tmp_path, wav_folder, fmt, message):
    folder, _ = wav_folder
    samples = np.zeros(1000, np.uint8 if fmt.get("width") == 1 else np.int16)
    write_wav(folder / "bad.wav", samples, **fmt)
    with pytest.raises(ValueError, match=f"bad.wav: {message}.*sox"):
        wav.prepare(str(folder), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists(), "nothing is written from a bad source"


def test_missing_sources_and_not_a_wav_say_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such folder of WAV files or .deb"):
        wav.prepare(str(tmp_path / "nowhere"), str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no .wav files"):
        wav.prepare(str(tmp_path / "empty"), str(tmp_path))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.wav").write_bytes(b"RIFF not really")
    with pytest.raises(ValueError, match=r"a.wav: not a readable PCM WAV"):
        wav.prepare(str(tmp_path / "junk"), str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"prepare_data.py --data_dir=<data_dir> --speech"):
        data.load("speech_a", str(tmp_path))


def test_a_damaged_prepared_file_is_refused(tmp_path, wav_folder):
    path = Path(wav.prepare(str(wav_folder[0]), str(tmp_path)))
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"speech.npz: damaged.*prepare it again"):
        data.load("speech_a", str(tmp_path), num_sequences=30)
    contents = dict(np.load(io.BytesIO(good)))
    contents["samples"] = contents["samples"].copy()
    contents["samples"][5] += 1
    np.savez(path, **contents)
    with pytest.raises(ValueError, match="do not match their recorded sha256"):
        data.load("speech_a", str(tmp_path), num_sequences=30)
    np.savez(path, samples=contents["samples"])
    with pytest.raises(ValueError, match="not a prepared speech file"):
        data.load("speech_a", str(tmp_path), num_sequences=30)


def test_asking_for_more_sequences_than_fit_says_which_option(tmp_path, wav_folder):
    wav.prepare(str(wav_folder[0]), str(tmp_path))
    with pytest.raises(ValueError, match=r"config.data.options.num_sequences"):
        data.load("speech_b", str(tmp_path))  # 8,000-sample windows in 2,500-sample utterances


def build_deb(tmp_path, signals):
    """A minimal Debian package holding ``signals`` as a festvox voice's wav/, plus a prompt
    WAV elsewhere that is not part of the recordings."""
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: festvox-tiny\nVersion: 0.1\nArchitecture: all\n"
        "Maintainer: gruvar tests <t@example.org>\nDescription: test voice\n"
    )
    voice = root / "usr/share/festival/voices/russian/tiny_clunits"
    for i, s in enumerate(signals):
        write_wav(voice / "wav" / f"ru_{i:04d}.wav", s)
    write_wav(voice / "prompt.wav", np.zeros(10, np.int16))
    deb = tmp_path / "festvox-tiny_0.1_all.deb"
    subprocess.run(["dpkg-deb", "--build", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
def test_a_deb_is_read_without_dpkg_taking_its_wav_folder(tmp_path):
    signals = utterances(10, seed=1)
    deb = build_deb(tmp_path, signals)
    path = wav.prepare(str(deb), str(tmp_path / "data"))
    contents = speech.read_prepared(path)
    assert str(contents["source_sha256"]) == hashlib.sha256(deb.read_bytes()).hexdigest()
    assert all("/wav/ru_" in str(n) for n in contents["names"]) and len(contents["names"]) == 10
    np.testing.assert_array_equal(contents["samples"], np.concatenate(signals))


def test_not_a_deb_is_refused(tmp_path):
    (tmp_path / "x.deb").write_bytes(b"not an archive")
    with pytest.raises(ValueError, match=r"x.deb: not a Debian package"):
        wav.prepare(str(tmp_path / "x.deb"), str(tmp_path))


def test_prepare_data_prepares_a_folder_and_reports_it(tmp_path, wav_folder):
    result = subprocess.run(
        [
            sys.executable,
            "experiments/prepare_data.py",
            f"--data_dir={tmp_path / 'data'}",
            f"--speech={wav_folder[0]}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    line = next(r for r in result.stdout.splitlines() if r.startswith("speech "))
    assert "ok: " in line and "20 utterances" in line and "sha256" in line, line
