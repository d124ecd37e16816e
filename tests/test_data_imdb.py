"""IMDB: Keras-style word ids from raw reviews (folder or archive), the cache, errors, and the
real archive when present."""

import io
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from gruvar import data
from gruvar.data import imdb

SHARED = Path(__file__).parents[2] / "shared" / "data"
REVIEWS = {  # (split, label, id, rating): text
    ("train", "pos", 0, 9): "A great, GREAT film!<br />Loved it.",
    ("train", "pos", 1, 8): "great acting; great story",
    ("train", "neg", 0, 2): "Awful film. Awful.",
    ("train", "neg", 1, 1): "a waste",
    ("test", "pos", 0, 10): "great film, unseenword",
    ("test", "neg", 0, 3): "awful",
}


def write_folder(directory: Path):
    for (split, label, i, rating), text in REVIEWS.items():
        path = directory / "imdb" / "aclImdb" / split / label / f"{i}_{rating}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_archive(directory: Path):
    (directory / "imdb").mkdir(parents=True)
    with tarfile.open(directory / "imdb" / "aclImdb_v1.tar.gz", "w:gz") as archive:
        for (split, label, i, rating), text in REVIEWS.items():
            raw = text.encode()
            info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_{rating}.txt")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))


def test_tokenize_strips_markup_punctuation_and_case():
    assert imdb.tokenize("A great, GREAT film!<br />Loved it.") == [
        "a",
        "great",
        "great",
        "film",
        "loved",
        "it",
    ]


@pytest.mark.parametrize("write", [write_folder, write_archive], ids=["folder", "archive"])
def test_word_ids_follow_keras_numbering(tmp_path, write):
    write(tmp_path)
    reviews = imdb.word_ids(str(tmp_path / "imdb"), cache_dir=str(tmp_path / "cache"))
    # Training-set counts: great 5, awful 2, film 2, a 2, then the rest once (alphabetical).
    ranked = ["great", "a", "awful", "film", "acting", "it", "loved", "story", "waste"]
    index = {w: r + 4 for r, w in enumerate(ranked)}
    ids, labels = reviews["test"]
    # Name order: neg before pos. "unseenword" is not in the training vocabulary: 2.
    np.testing.assert_array_equal(labels, [0, 1])
    np.testing.assert_array_equal(ids[0], [1, index["awful"]])
    np.testing.assert_array_equal(ids[1], [1, index["great"], index["film"], 2])


def test_vocabulary_cut_truncation_and_lengths(tmp_path):
    write_folder(tmp_path)
    ds = data.load(
        "imdb",
        str(tmp_path),
        num_words=6,
        maxlen=3,
        num_validation=1,
        cache_dir=str(tmp_path / "cache"),
    )
    assert ds.kind == "classify" and ds.num_outputs == 1 and ds.vocab_size == 6
    test = ds.splits["test"]
    # "great film unseenword" -> [1, 4, 7, 2]: ids >= 6 become 2, the last 3 tokens are kept.
    np.testing.assert_array_equal(test.x[1], [4, 2, 2])
    np.testing.assert_array_equal(test.x[0], [1, 2, 0])  # [start, awful = 6 -> 2], padded after
    np.testing.assert_array_equal(test.lengths, [2, 3])
    assert len(ds.splits["train"]) + len(ds.splits["validation"]) == 4


def test_tokenisation_runs_once_then_the_cache_is_read(tmp_path, monkeypatch):
    write_archive(tmp_path)
    cache = tmp_path / "cache"
    first = imdb.word_ids(str(tmp_path / "imdb"), cache_dir=str(cache))
    assert len(list(cache.iterdir())) == 1
    assert not any(p.name.endswith(".npz") for p in (tmp_path / "imdb").iterdir())

    def no_tokenizing(*args):
        raise AssertionError("tokenised again despite the cache")

    monkeypatch.setattr(imdb, "number_words", no_tokenizing)
    again = imdb.word_ids(str(tmp_path / "imdb"), cache_dir=str(cache))
    for a, b in zip(first["train"][0], again["train"][0], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 cut short"])
def test_a_damaged_cache_is_an_error_naming_it(tmp_path, damage):
    write_archive(tmp_path)
    cache = tmp_path / "cache"
    imdb.word_ids(str(tmp_path / "imdb"), cache_dir=str(cache))
    (path,) = cache.iterdir()
    path.write_bytes(damage)
    with pytest.raises(ValueError, match=f"cache {re.escape(str(path))} is damaged.*Delete it"):
        imdb.word_ids(str(tmp_path / "imdb"), cache_dir=str(cache))


def test_missing_and_damaged_sources(tmp_path):
    (tmp_path / "imdb").mkdir()
    (tmp_path / "imdb" / "notes.txt").write_text("nothing")
    with pytest.raises(FileNotFoundError, match=r"no imdb.npz, aclImdb/.*stanford"):
        data.load("imdb", str(tmp_path))
    (tmp_path / "imdb" / "aclImdb_v1.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a readable archive"):
        data.load("imdb", str(tmp_path), cache_dir=str(tmp_path / "cache"))
    (tmp_path / "imdb" / "imdb.npz").write_bytes(b"fake")
    with pytest.raises(ValueError, match=r"does not match the sha256 of Keras' imdb\.npz"):
        data.load("imdb", str(tmp_path))


@pytest.mark.skipif(not (SHARED / "imdb").is_dir(), reason=f"IMDB not present at {SHARED}/imdb")
def test_real_imdb_counts_and_balance(tmp_path):
    ds = data.load("imdb", str(SHARED), cache_dir=str(tmp_path))
    test = ds.splits["test"]
    assert len(test) == 25000 and np.bincount(test.y).tolist() == [12500, 12500]
    train_labels = np.concatenate([ds.splits["train"].y, ds.splits["validation"].y])
    assert np.bincount(train_labels).tolist() == [12500, 12500]
    assert test.x.max() < 20000 and (test.x[:, 0] > 0).all()
    batch = ds.train_batch(0, 32, seed=0)
    assert batch["x"].shape == (32, 80) and batch["x"].dtype == np.int32
