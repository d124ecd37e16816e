"""Raw speech, framed as Chung et al. 2014 framed Ubisoft's (private) sets: a public stand-in.

Each step reads 20 consecutive samples and predicts the next 10; windows advance by 10, so a
sequence of L samples gives (L - 20) // 10 steps: step t reads samples [10t, 10t + 20) and
predicts [10t + 20, 10t + 30). Two settings shaped like the paper's (lengths in samples; the
config docstring, configs/chung.py, says why):

    speech_a   7,230 sequences of   500 samples (48 steps)
    speech_b     800 sequences of 8,000 samples (798 steps)

Source: one prepared file ``<data_dir>/speech/speech.npz`` (or ``<data_dir>/speech.npz``;
``data_dir``: the argument, else $GRUVAR_DATA_DIR), written by ``gruvar.data.wav`` through
``python experiments/prepare_data.py --data_dir=<dir> --speech=festvox-ru``: every
utterance's int16 samples (16 kHz mono), their names, the sha256 of the source read and of the
samples (checked on every load), and the scale below.

Splits by utterance, fixed: utterances sorted by name, the i-th goes to validation when
i mod 10 = 8, to test when i mod 10 = 9, else to training (80/10/10, interleaved so each split
spans the whole recording session). A setting's sequences are split 80/10/10 too (A:
5,784 / 723 / 723; B: 640 / 80 / 80); each split's are cut from its own utterances, without
overlap and never across an utterance's end: of all L-sample windows at offsets 0, L, 2L, ...
of each utterance (in name order), evenly spaced ones are taken (window ⌊i·M/n⌋ of M, i < n).

Scale: the model reads and predicts x = s / σ, s the int16 sample and σ the standard deviation
of all training-split samples (stored in the prepared file; 3,891.6 for festvox-ru). The NLL is
that of x, in nats; the NLL of the int16 values is NLL + ln σ per sample.
"""

from __future__ import annotations

import hashlib
import itertools
import os

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gruvar.data import ENV_VAR, Dataset, Split

SAMPLE_RATE = 16_000
READ, PREDICT, HOP = 20, 10, 10  # samples a step reads, predicts; how far the window moves
SETTINGS = {"speech_a": (7_230, 500), "speech_b": (800, 8_000)}  # sequences, samples each
SPLITS = ("train", "validation", "test")
FOLDER, FILE = "speech", "speech.npz"
KEYS = ("samples", "offsets", "names", "source", "source_sha256", "samples_sha256", "scale")
HOW_TO_GET = (
    "Prepare it: python experiments/prepare_data.py --data_dir=<data_dir> --speech=festvox-ru "
    "(Debian's festvox-ru via apt-get download; or --speech=<a .deb> or "
    "--speech=<a folder of 16 kHz 16-bit mono WAVs>)."
)


def split_of(index: int) -> str:
    """The split of the ``index``-th utterance in name order (80/10/10, interleaved)."""
    return {8: "validation", 9: "test"}.get(index % 10, "train")


def write(
    folder: str, utterances: list[np.ndarray], names: list[str], source: str, source_sha256: str
) -> str:
    """Writes the prepared file for ``utterances`` (int16, in name order) into ``folder``."""
    if len(utterances) < 10:
        raise ValueError(
            f"{source}: {len(utterances)} utterances; the 80/10/10 split by utterance needs "
            f"at least 10."
        )
    samples = np.concatenate(utterances).astype(np.int16)
    offsets = np.concatenate([[0], np.cumsum([len(u) for u in utterances])]).astype(np.int64)
    train = [u for i, u in enumerate(utterances) if split_of(i) == "train"]
    scale = float(np.concatenate(train).astype(np.float64).std())
    if not scale > 0:
        raise ValueError(f"{source}: the training utterances are all silence (σ = 0).")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, FILE)
    tmp = path + ".part.npz"
    np.savez(
        tmp,
        samples=samples,
        offsets=offsets,
        names=np.array(names, str),
        source=np.array(source),
        source_sha256=np.array(source_sha256),
        samples_sha256=np.array(hashlib.sha256(samples.tobytes()).hexdigest()),
        scale=np.array(scale),
    )
    os.replace(tmp, path)
    return path


def locate(data_dir: str | None = None) -> str:
    data_dir = data_dir or os.environ.get(ENV_VAR)
    if not data_dir:
        raise FileNotFoundError(f"speech: no data directory given (${ENV_VAR}). {HOW_TO_GET}")
    candidates = [os.path.join(data_dir, FOLDER, FILE), os.path.join(data_dir, FILE)]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"speech: no {' or '.join(candidates)}. {HOW_TO_GET}")


def read_prepared(path: str, verify_checksum: bool = True) -> dict[str, np.ndarray]:
    """The prepared file's arrays; ValueError if it is damaged or not a prepared speech file."""
    redo = f"Delete it and prepare it again. {HOW_TO_GET}"
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in KEYS if k not in f.files]
            if missing:
                raise ValueError(f"{path}: not a prepared speech file (no {missing}). {redo}")
            contents = {k: f[k] for k in KEYS}
    except ValueError:
        raise
    except Exception as err:  # zipfile / numpy raise several types for a damaged file
        raise ValueError(f"{path}: damaged ({type(err).__name__}: {err}). {redo}") from err
    samples, offsets = contents["samples"], contents["offsets"]
    if samples.dtype != np.int16 or offsets[-1] != len(samples) or len(offsets) < 11:
        raise ValueError(f"{path}: inconsistent samples / offsets. {redo}")
    if verify_checksum:
        digest = hashlib.sha256(samples.tobytes()).hexdigest()
        if digest != str(contents["samples_sha256"]):
            raise ValueError(f"{path}: samples do not match their recorded sha256. {redo}")
    return contents


def load(
    name: str,
    data_dir: str | None = None,
    num_sequences: int | None = None,
    sequence_samples: int | None = None,
    verify_checksum: bool = True,
) -> Dataset:
    """Setting ``name`` (``SETTINGS``) as a "density" dataset: x [N, T, 20] the samples each step
    reads, y [N, T, 10] those it predicts, both scaled by 1/σ. ``num_sequences`` and
    ``sequence_samples`` override the setting's (all splits together; samples per sequence)."""
    if name not in SETTINGS:
        raise ValueError(f"Unknown speech setting {name!r}; choose from {list(SETTINGS)}.")
    n, length = SETTINGS[name]
    n, length = num_sequences or n, sequence_samples or length
    if length < READ + PREDICT:
        raise ValueError(f"sequence_samples={length}: a step needs {READ + PREDICT} samples.")
    path = locate(data_dir)
    contents = read_prepared(path, verify_checksum)
    offsets, scale = contents["offsets"], float(contents["scale"])
    utterances = [contents["samples"][a:b] for a, b in itertools.pairwise(offsets)]
    held_out = max(1, round(0.1 * n))
    counts = {"train": n - 2 * held_out, "validation": held_out, "test": held_out}
    splits = {}
    for split in SPLITS:
        mine = [u for i, u in enumerate(utterances) if split_of(i) == split]
        sequences = cut(mine, counts[split], length, f"{path} ({split})")
        x, y = frame(sequences.astype(np.float32) / np.float32(scale))
        splits[split] = Split(x, y, np.full(len(x), x.shape[1], np.int32))
    return Dataset(name, "density", PREDICT, splits)


def cut(utterances: list[np.ndarray], n: int, length: int, where: str) -> np.ndarray:
    """``n`` evenly spaced non-overlapping ``length``-sample windows [n, length] (docstring)."""
    starts = [
        (u, k * length) for u, utt in enumerate(utterances) for k in range(len(utt) // length)
    ]
    if n < 1 or n > len(starts):
        raise ValueError(
            f"{where}: {n} sequences of {length} samples wanted, {len(starts)} fit in its "
            f"{len(utterances)} utterances. Ask for fewer or shorter sequences "
            f"(config.data.options.num_sequences / sequence_samples)."
        )
    chosen = [starts[i] for i in (np.arange(n) * len(starts)) // n]
    return np.stack([utterances[u][s : s + length] for u, s in chosen])


def frame(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps of sequences [N, L]: x [N, T, 20], y [N, T, 10], T = (L - 20) // 10 (docstring)."""
    steps = (signal.shape[-1] - READ) // HOP
    windows = sliding_window_view(signal, READ + PREDICT, axis=-1)[:, ::HOP][:, :steps]
    return np.ascontiguousarray(windows[..., :READ]), np.ascontiguousarray(windows[..., READ:])
