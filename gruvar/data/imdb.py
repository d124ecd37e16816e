"""IMDB movie-review sentiment (Maas et al. 2011): 25,000 train / 25,000 test reviews, label 1 =
positive, as word ids the way Keras' ``imdb.npz`` numbers them.

``source``: "tfds" reads TensorFlow Datasets' ``imdb_reviews``; "files" reads
``<data_dir>/imdb/``: Keras' ``imdb.npz`` if present, else the raw reviews (the ``aclImdb``
folder or a tarball of it, e.g. ``aclImdb_v1.tar.gz``); "auto" (the default) takes TFDS
when its copy is prepared, else the files. From raw text: lower-case,
``<br />`` and punctuation stripped, split on white space; words ranked by training-set
frequency (ties alphabetical), id = rank + 3, with 0 = padding, 1 = start of review, 2 = out of
vocabulary. The tokenised reviews are cached (``cache_dir``, else $GRUVAR_CACHE_DIR, else
~/.cache/gruvar), never written into the data folder, so tokenisation runs once.

Preprocessing as in Dey & Salem's (Keras) setup: ids >= ``num_words`` become 2, each review
keeps its last ``maxlen`` tokens (Keras truncates at the front). Keras pads at the front too;
here padding goes after the tokens and ``lengths`` masks it, so the recurrence never reads it.
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
import string
import tarfile

import numpy as np

from gruvar.data import Dataset, Split, find_dir
from gruvar.data import tfds as tfds_source

PAD, START, OOV, INDEX_FROM = 0, 1, 2, 3
NPZ_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
TARBALLS = ("aclImdb_v1_labeled.tar.gz", "aclImdb_v1.tar.gz")
REVIEW = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
HOW_TO_GET = (
    "Put the aclImdb folder or its archive (aclImdb_v1.tar.gz, "
    "https://ai.stanford.edu/~amaas/data/sentiment/) or Keras' imdb.npz in <data_dir>/imdb/; "
    "or, with network, prepare TFDS's copy: "
    "python experiments/prepare_data.py --data_dir=<data_dir> --fetch."
)
_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation + "\t\n"})


def load(
    data_dir: str | None = None,
    num_words: int = 20000,
    maxlen: int = 80,
    num_validation: int = 5000,
    seed: int = 0,
    cache_dir: str | None = None,
    source: str = "auto",
    tfds_data_dir: str | None = None,
) -> Dataset:
    """IMDB with a ``num_words`` vocabulary, reviews cut to ``maxlen`` tokens, and
    ``num_validation`` training reviews held out (chosen by ``seed``)."""
    if tfds_source.use(source, "imdb_reviews", tfds_data_dir):
        texts = {}
        for split in ("train", "test"):
            found = tfds_source.read("imdb_reviews", split, tfds_data_dir)
            texts[split] = ([t.decode("utf-8") for t in found["text"]], found["label"])
        reviews = _numbered(_texts_fingerprint(texts), lambda: texts, cache_dir)
    else:
        reviews = word_ids(find_dir(data_dir, "imdb", HOW_TO_GET), cache_dir)
    order = np.random.default_rng(seed).permutation(len(reviews["train"][1]))
    train = _split(*reviews["train"], num_words, maxlen)
    splits = {
        "train": _subset(train, order[num_validation:]),
        "validation": _subset(train, order[:num_validation]),
        "test": _split(*reviews["test"], num_words, maxlen),
    }
    return Dataset("imdb", "classify", 1, splits, vocab_size=num_words)


def _subset(split: Split, index: np.ndarray) -> Split:
    return Split(split.x[index], split.y[index], split.lengths[index])


def _split(ids: list[np.ndarray], labels: np.ndarray, num_words: int, maxlen: int) -> Split:
    x = np.zeros((len(ids), maxlen), np.int32)
    lengths = np.zeros(len(ids), np.int32)
    for i, review in enumerate(ids):
        kept = review[-maxlen:]
        x[i, : len(kept)] = np.where(kept < num_words, kept, OOV)
        lengths[i] = len(kept)
    return Split(x, labels.astype(np.int32), lengths)


def word_ids(directory: str, cache_dir: str | None = None) -> dict:
    """{"train": (reviews, labels), "test": ...}; each review an int32 array starting with 1."""
    npz = os.path.join(directory, "imdb.npz")
    if os.path.exists(npz):
        return _read_keras_npz(npz)
    source = raw_source(directory)
    return _numbered(_fingerprint(source), lambda: read_reviews(source), cache_dir)


def _numbered(key: str, read_texts, cache_dir: str | None) -> dict:
    """``number_words(read_texts())``, read from the cache file ``imdb-<key>.npz`` if there."""
    cache = os.path.join(_cache_dir(cache_dir), f"imdb-{key}.npz")
    if os.path.exists(cache):
        return _read_cache(cache)
    reviews = number_words(read_texts())
    _write_cache(cache, reviews)
    return reviews


def _texts_fingerprint(texts: dict) -> str:
    digest = hashlib.sha256()
    for split in ("train", "test"):
        for text, label in zip(*texts[split], strict=True):
            digest.update(f"{split}:{label}:{text}\n".encode())
    return "tfds-" + digest.hexdigest()[:16]


def tokenize(text: str) -> list[str]:
    return text.replace("<br />", " ").lower().translate(_PUNCTUATION).split()


def number_words(texts: dict) -> dict:
    """Word ids from raw texts, ranked by training-set frequency (see the module docstring)."""
    tokens = {split: [tokenize(t) for t in texts[split][0]] for split in ("train", "test")}
    counts = collections.Counter(w for review in tokens["train"] for w in review)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    index = {w: rank + 1 + INDEX_FROM for rank, w in enumerate(ranked)}  # most frequent: 4
    return {
        split: (
            [
                np.array([START] + [index.get(w, OOV) for w in review], np.int32)
                for review in tokens[split]
            ],
            np.asarray(texts[split][1], np.int32),
        )
        for split in ("train", "test")
    }


def read_reviews(source: str) -> dict:
    """{"train": (texts, labels), "test": ...} from an aclImdb folder or archive, in name order."""
    found = []
    if os.path.isdir(source):
        for root, _, files in os.walk(source):
            for name in files:
                path = os.path.join(root, name)
                hit = REVIEW.search(path.replace(os.sep, "/"))
                if hit:
                    with open(path, encoding="utf-8") as f:
                        found.append((hit, f.read()))
    else:
        try:
            with tarfile.open(source) as archive:
                for member in archive:
                    hit = REVIEW.search(member.name)
                    if hit and member.isfile():
                        found.append((hit, archive.extractfile(member).read().decode("utf-8")))
        except (tarfile.TarError, OSError, EOFError) as err:
            raise ValueError(
                f"IMDB: {source} is not a readable archive ({err}). {HOW_TO_GET}"
            ) from err
    texts = {"train": ([], []), "test": ([], [])}
    for hit, text in sorted(found, key=lambda item: (item[0][1], item[0][2], int(item[0][3]))):
        texts[hit[1]][0].append(text)
        texts[hit[1]][1].append(1 if hit[2] == "pos" else 0)
    if not texts["train"][0] or not texts["test"][0]:
        raise ValueError(
            f"IMDB: {source} holds no aclImdb/{{train,test}}/{{pos,neg}}/<id>_<rating>.txt "
            f"reviews. {HOW_TO_GET}"
        )
    return texts


def raw_source(directory: str) -> str:
    for name in ("aclImdb", *TARBALLS):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    raise FileNotFoundError(
        f"IMDB: no imdb.npz, aclImdb/ or {' / '.join(TARBALLS)} in {directory}. {HOW_TO_GET}"
    )


def _fingerprint(source: str) -> str:
    """Names the cache after the source's content (file) or its file list and sizes (folder)."""
    digest = hashlib.sha256()
    if os.path.isdir(source):
        for root, _, files in sorted(os.walk(source)):
            for name in sorted(files):
                digest.update(f"{root}/{name}:{os.path.getsize(os.path.join(root, name))}".encode())
    else:
        with open(source, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _cache_dir(cache_dir: str | None) -> str:
    path = (
        cache_dir
        or os.environ.get("GRUVAR_CACHE_DIR")
        or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "gruvar")
    )
    os.makedirs(path, exist_ok=True)
    return path


def _write_cache(path: str, reviews: dict) -> None:
    """Flat ids + offsets per split (no pickles), written to a temporary file and renamed."""
    arrays = {}
    for split, (ids, labels) in reviews.items():
        arrays[f"{split}_ids"] = np.concatenate(ids)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(r) for r in ids])
        arrays[f"{split}_labels"] = labels
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _read_cache(path: str) -> dict:
    try:
        with np.load(path) as f:
            return {
                split: (
                    np.split(f[f"{split}_ids"], f[f"{split}_offsets"][1:-1]),
                    f[f"{split}_labels"],
                )
                for split in ("train", "test")
            }
    except Exception as err:  # numpy and zipfile raise several types for a damaged file
        raise ValueError(
            f"IMDB: the tokenised cache {path} is damaged ({type(err).__name__}: {err}). Delete "
            f"it; the next load tokenises the reviews again and rewrites it."
        ) from err


def _read_keras_npz(path: str) -> dict:
    with open(path, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != NPZ_SHA256:
            raise ValueError(
                f"IMDB: {path} does not match the sha256 of Keras' imdb.npz; it is damaged or "
                f"a different file. {HOW_TO_GET}"
            )
    with np.load(path, allow_pickle=True) as f:  # Keras stores lists of ids as objects
        return {
            split: ([np.asarray(r, np.int32) for r in f[f"x_{split}"]], f[f"y_{split}"])
            for split in ("train", "test")
        }
