"""Datasets as numpy arrays, and the batches the training loop consumes: mnist, imdb, music,
speech and synthetic tasks, TensorFlow Datasets as a source (tfds), WAV sources of the speech
set (wav), and fetching what is missing (prepare).
Imports nothing else of gruvar: the data knows no model and no training.

A ``Dataset`` holds train / validation / test ``Split``s. Training batches follow a fixed
permutation per epoch, drawn from (seed, epoch) alone, so a run resumed at step s sees exactly
the batches an uninterrupted run would. An epoch is N // batch_size full batches; the few
examples left over differ from epoch to epoch. Evaluation batches cover the whole split; the
last one is padded and carries per-example weights, so metrics kept as sums and counts are
exact.

Variable-length data (the music sets, up to ~4,000 steps beside a mean of a few hundred) is
stored ragged, one array per sequence, and padded per batch. Its batches group sequences of
similar length (sorted by length with a per-epoch jitter, then the batches shuffled), and each
batch is padded only to its longest sequence rounded up to a quarter-octave bucket (1, 1.25,
1.5, 1.75 x 2^k steps): at most 25% padding, and few distinct shapes to compile.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
    """x [N, T, m] (or token ids [N, T]); y labels [N] ("classify") or next frames [N, T, d]
    ("frames"); lengths [N], the valid steps of each sequence. Ragged: x and y are object
    arrays of N per-sequence arrays [T_i, ...], padded when a batch is taken."""

    x: np.ndarray
    y: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def ragged(self) -> bool:
        return self.x.dtype == object

    def take(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """The examples at ``index``; ragged ones zero-padded to the batch's time bucket."""
        lengths = self.lengths[index]
        if not self.ragged:
            return {"x": self.x[index], "y": self.y[index], "lengths": lengths}
        time = time_bucket(int(lengths.max()))
        batch = {}
        for key, seqs in (("x", self.x), ("y", self.y)):
            out = np.zeros((len(index), time, *seqs[index[0]].shape[1:]), np.float32)
            for row, i in enumerate(index):
                out[row, : self.lengths[i]] = seqs[i][: self.lengths[i]]
            batch[key] = out
        return batch | {"lengths": lengths}


def time_bucket(length: int) -> int:
    """The smallest of 1, 1.25, 1.5, 1.75 x 2^k (k >= 3: at least 8 steps) that is >= length."""
    octave = 8
    while octave * 2 < length:
        octave *= 2
    return next(octave * q // 4 for q in (4, 5, 6, 7, 8) if octave * q // 4 >= length)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A task's data: ``kind`` "classify" (one label per sequence, ``num_outputs`` classes; 1 for
    binary), "frames" (predict frame t+1 from frames ≤ t, ``num_outputs`` Bernoulli units) or
    "density" (a density over the ``num_outputs`` real values of frame t+1: speech)."""

    name: str
    kind: str
    num_outputs: int
    splits: dict[str, Split]
    vocab_size: int | None = None

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(self.splits["train"]) // batch_size

    def train_batch(self, step: int, batch_size: int, seed: int) -> dict[str, np.ndarray]:
        """Batch ``step`` of training: epoch step // steps_per_epoch, in that epoch's order."""
        per_epoch = self.steps_per_epoch(batch_size)
        epoch, i = divmod(step, per_epoch)
        train = self.splits["train"]
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(train))[: per_epoch * batch_size]
        if train.ragged:  # similar lengths together, in a shuffled order of batches
            jitter = rng.uniform(0.9, 1.1, len(order))
            order = order[np.argsort(train.lengths[order] * jitter, kind="stable")]
            order = order.reshape(per_epoch, batch_size)[rng.permutation(per_epoch)].ravel()
        return train.take(order[i * batch_size : (i + 1) * batch_size])

    def eval_batches(self, split: str, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """The whole split (ragged ones sorted by length), each example once; ``weights`` [B]
        is 0 on the last batch's padding rows."""
        data = self.splits[split]
        order = np.argsort(data.lengths, kind="stable") if data.ragged else np.arange(len(data))
        for start in range(0, len(data), batch_size):
            index = np.arange(start, start + batch_size)
            weights = (index < len(data)).astype(np.float32)
            batch = data.take(order[np.minimum(index, len(data) - 1)])
            yield batch | {"weights": weights}


ENV_VAR = "GRUVAR_DATA_DIR"


def find_dir(data_dir: str | None, name: str, how_to_get: str) -> str:
    """The folder holding dataset ``name``: ``<data_dir>/<name>`` if it exists, else ``data_dir``.

    ``data_dir`` is ``config.data.data_dir`` or, when that is unset, $GRUVAR_DATA_DIR; the
    layout is that of ../shared/data (``mnist/``, ``imdb/``, ``polyphonic/``).
    """
    data_dir = data_dir or os.environ.get(ENV_VAR)
    if not data_dir:
        raise FileNotFoundError(
            f"{name}: no data directory given. Set config.data.data_dir or ${ENV_VAR} to a "
            f"folder with a {name}/ subfolder. {how_to_get}"
        )
    for candidate in (os.path.join(data_dir, name), data_dir):
        if os.path.isdir(candidate) and os.listdir(candidate):
            return candidate
    raise FileNotFoundError(
        f"{name}: looked in {os.path.join(data_dir, name)} and {data_dir} and found nothing. "
        f"{how_to_get}"
    )


def load(name: str, data_dir: str | None = None, **options) -> Dataset:
    """The dataset called ``name``; ``options`` are its config fields (sizes, lengths, ...)."""
    from gruvar.data import imdb, mnist, music, speech, synthetic

    generated = {"parity": synthetic.parity, "shift": synthetic.shift}
    if name in generated:
        return generated[name](**options)
    if name.startswith("mnist_") and name[len("mnist_") :] in mnist.TASKS:
        return mnist.load(name[len("mnist_") :], data_dir, **options)
    if name in music.SETS:
        return music.load(name, data_dir, **options)
    if name == "imdb":
        return imdb.load(data_dir, **options)
    if name in speech.SETTINGS:
        return speech.load(name, data_dir, **options)
    known = [
        *generated,
        *(f"mnist_{t}" for t in mnist.TASKS),
        *music.SETS,
        "imdb",
        *speech.SETTINGS,
    ]
    raise ValueError(f"Unknown dataset {name!r}; available: {known}.")
