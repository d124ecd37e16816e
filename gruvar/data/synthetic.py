"""Small generated tasks that exercise the training spine without data files.

``parity``: x_t ∈ {0, 1}; the label is the parity of the sequence's valid bits (classify, 2).
``shift``: binary frames of ``width`` bits whose pattern rotates one place per step; predict
frame t+1 from frames ≤ t, masked past each length (frames, like the piano-roll tasks).
"""

from __future__ import annotations

import numpy as np

from gruvar.data import Dataset, Split


def _lengths(rng, n, max_len, min_len):
    return rng.integers(min_len, max_len + 1, size=n).astype(np.int32)


def parity(
    num_train: int = 512,
    num_eval: int = 128,
    max_len: int = 8,
    min_len: int = 2,
    seed: int = 0,
) -> Dataset:
    rng = np.random.default_rng(seed)

    def split(n):
        lengths = _lengths(rng, n, max_len, min_len)
        bits = rng.integers(0, 2, size=(n, max_len)).astype(np.float32)
        bits[np.arange(max_len)[None, :] >= lengths[:, None]] = 0
        return Split(bits[..., None], (bits.sum(axis=1) % 2).astype(np.int32), lengths)

    splits = {"train": split(num_train), "validation": split(num_eval), "test": split(num_eval)}
    return Dataset("parity", "classify", 2, splits)


def shift(
    num_train: int = 256,
    num_eval: int = 64,
    max_len: int = 12,
    min_len: int = 4,
    width: int = 8,
    seed: int = 0,
) -> Dataset:
    rng = np.random.default_rng(seed)

    def split(n):
        lengths = _lengths(rng, n, max_len, min_len)
        first = (rng.random((n, width)) < 0.3).astype(np.float32)
        frames = np.stack([np.roll(first, t, axis=1) for t in range(max_len + 1)], axis=1)
        frames[np.arange(max_len + 1)[None, :] > lengths[:, None]] = 0
        return Split(frames[:, :-1], frames[:, 1:], lengths)

    splits = {"train": split(num_train), "validation": split(num_eval), "test": split(num_eval)}
    return Dataset("shift", "frames", width, splits)
