"""The TensorFlow Datasets source, on TFDS's mock data (skipped where TFDS is not installed),
and its errors (everywhere)."""

import numpy as np
import pytest

from gruvar import data
from gruvar.data import tfds as tfds_source


def test_unknown_source_and_missing_tfds_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="Unknown data source 'hub'"):
        data.load("mnist_row", None, source="hub")
    monkeypatch.setattr(tfds_source, "installed", lambda: False)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[tfds\]'"):
        data.load("imdb", None, source="tfds")


def test_mnist_from_tfds():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=30):
        ds = data.load("mnist_pixel", None, source="tfds", num_validation=10)
    assert [len(ds.splits[s]) for s in ("train", "validation", "test")] == [20, 10, 30]
    test = ds.splits["test"]
    assert test.x.shape == (30, 784, 1) and test.x.dtype == np.float32
    assert 0 <= test.x.min() and test.x.max() <= 1 and test.y.max() <= 9


def test_imdb_from_tfds(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        ds = data.load(
            "imdb",
            None,
            source="tfds",
            num_validation=2,
            maxlen=10,
            num_words=50,
            cache_dir=str(tmp_path),
        )
    assert ds.vocab_size == 50 and ds.num_outputs == 1
    test = ds.splits["test"]
    assert test.x.shape == (12, 10) and test.x.max() < 50
    assert all(test.x[i, : test.lengths[i]].all() for i in range(12))  # no padding inside
    assert len(list(tmp_path.glob("imdb-tfds-*.npz"))) == 1
