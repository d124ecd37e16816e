"""What a data directory holds, and fetching what it lacks on a machine with network."""

from __future__ import annotations

import os
import urllib.request

from gruvar.data import find_dir, imdb, mnist, music, speech
from gruvar.data import tfds as tfds_source

PICKLE_URL = "http://www-etud.iro.umontreal.ca/~boulanni/{}"


def report(data_dir: str | None, tfds_data_dir: str | None = None) -> list[tuple[str, str]]:
    """(dataset, status) for every dataset: where it would be read from, or why it cannot be.

    MNIST and the music sets are loaded and verified (checksums, sizes); a music set the data
    directory lacks is read from the package's copy. IMDB's source is located but not
    tokenised. The prepared speech file is read and its samples' checksum verified.
    """
    rows = []
    for name, tfds_name, check in (
        ("mnist", "mnist", lambda: _mnist(data_dir)),
        ("imdb", "imdb_reviews", lambda: _imdb(data_dir)),
    ):
        if tfds_source.prepared(tfds_name, tfds_data_dir):
            rows.append((name, f"ok: TFDS {tfds_name}"))
        else:
            rows.append((name, _status(check)))
    for name in music.SETS:
        rows.append((name, _status(lambda name=name: _music(name, data_dir))))
    rows.append(("speech", _status(lambda: describe_speech(data_dir))))
    return rows


def _status(check) -> str:
    try:
        return f"ok: {check()}"
    except (FileNotFoundError, ValueError) as err:
        return f"MISSING or BAD: {err}"


def _mnist(data_dir):
    ds = mnist.load("row", data_dir, num_validation=0, source="files")
    return (
        f"files, {len(ds.splits['train'])} train / {len(ds.splits['test'])} test, sha256 verified"
    )


def _imdb(data_dir):
    directory = find_dir(data_dir, "imdb", imdb.HOW_TO_GET)
    if os.path.exists(os.path.join(directory, "imdb.npz")):
        return os.path.join(directory, "imdb.npz")
    return f"raw reviews at {imdb.raw_source(directory)} (tokenised and cached on first use)"


def _music(name, data_dir):
    ds = music.load(name, data_dir)
    sizes = " / ".join(str(len(ds.splits[s])) for s in music.SPLITS)
    path = music.locate(name, data_dir)
    where = "packaged copy" if os.path.dirname(path) == music.ASSETS else path
    return f"{where}, {sizes} songs, standard splits verified"


def describe_speech(data_dir: str | None) -> str:
    """The prepared speech file: where, how much, from what (sha256), its scale σ."""
    path = speech.locate(data_dir)
    c = speech.read_prepared(path)
    minutes = len(c["samples"]) / speech.SAMPLE_RATE / 60
    return (
        f"{path}, {len(c['names'])} utterances, {len(c['samples']):,} samples "
        f"({minutes:.1f} min at 16 kHz), σ = {float(c['scale']):.1f}; source "
        f"{c['source']} sha256 {c['source_sha256']}"
    )


def fetch(data_dir: str, tfds_data_dir: str | None = None) -> None:
    """Prepares TFDS's mnist and imdb_reviews, and downloads the original music pickles into
    ``<data_dir>/polyphonic/`` (network needed; what is already there is kept)."""
    for tfds_name in ("mnist", "imdb_reviews"):
        print(f"TFDS: preparing {tfds_name} ...", flush=True)
        tfds_source.prepare(tfds_name, tfds_data_dir)
    folder = os.path.join(data_dir, "polyphonic")
    os.makedirs(folder, exist_ok=True)
    for mat, pickle_name, _, _ in music.SETS.values():
        if os.path.exists(os.path.join(folder, mat)) or os.path.exists(
            os.path.join(folder, pickle_name)
        ):
            continue
        url = PICKLE_URL.format(urllib.request.quote(pickle_name))
        print(f"downloading {url} ...", flush=True)
        tmp = os.path.join(folder, pickle_name + ".part")
        urllib.request.urlretrieve(url, tmp)
        os.replace(tmp, os.path.join(folder, pickle_name))
