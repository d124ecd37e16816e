"""Datasets as numpy arrays, and the batches the training loop consumes.

A ``Dataset`` holds train / validation / test ``Split``s. Training batches follow a fixed
permutation per epoch, drawn from (seed, epoch) alone, so a run resumed at step s sees exactly
the batches an uninterrupted run would. An epoch is N // batch_size full batches (one shape,
one compilation); the few examples left over differ from epoch to epoch. Evaluation batches
keep the split's order; the last one is padded and carries per-example weights, so metrics
kept as sums and counts are exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

KINDS = ("classify", "frames")


@dataclasses.dataclass(frozen=True)
class Split:
    """x [N, T, m] (or token ids [N, T]); y labels [N] ("classify") or next frames [N, T, d]
    ("frames"); lengths [N], the valid steps of each sequence."""

    x: np.ndarray
    y: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    def take(self, index: np.ndarray) -> dict[str, np.ndarray]:
        return {"x": self.x[index], "y": self.y[index], "lengths": self.lengths[index]}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A task's data: ``kind`` "classify" (one label per sequence, ``num_outputs`` classes; 1 for
    binary) or "frames" (predict frame t+1 from frames ≤ t, ``num_outputs`` Bernoulli units)."""

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
        order = _epoch_order(len(self.splits["train"]), seed, epoch)
        return self.splits["train"].take(order[i * batch_size : (i + 1) * batch_size])

    def eval_batches(self, split: str, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """The whole split in order; ``weights`` [B] is 0 on the last batch's padding rows."""
        data = self.splits[split]
        for start in range(0, len(data), batch_size):
            index = np.arange(start, start + batch_size)
            weights = (index < len(data)).astype(np.float32)
            batch = data.take(np.minimum(index, len(data) - 1))
            yield batch | {"weights": weights}


def _epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def load(name: str, data_dir: str | None = None, **options) -> Dataset:
    """The dataset called ``name``; ``options`` are its config fields (sizes, lengths, ...)."""
    from gruvar.data import synthetic

    loaders = {"parity": synthetic.parity, "shift": synthetic.shift}
    if name not in loaders:
        raise ValueError(f"Unknown dataset {name!r}; available: {sorted(loaders)}.")
    del data_dir  # the synthetic tasks are generated, not read
    return loaders[name](**options)
