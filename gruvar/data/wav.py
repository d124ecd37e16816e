"""Preparing the speech set: WAV files from a folder, a Debian package, or apt, checked and
written as one compact int16 file (``gruvar.data.speech`` reads it).

Sources (``prepare(source, data_dir)``):
- an apt package name (``festvox-ru``, the default): ``apt-get download`` into a temporary
  folder, then as a .deb (network to a Debian mirror needed; nothing is installed);
- a ``.deb`` file: its ``data.tar.*`` is read in Python (no dpkg needed); the WAVs under a
  ``wav/`` folder are taken (festvox-ru: ``.../msu_ru_nsh_clunits/wav/``), else every WAV;
- a folder: every ``*.wav`` under it, recursively (a user's own TIMIT or LibriSpeech copy,
  converted to WAV).

Every file must be 16 kHz, 16-bit PCM, mono; an error names the file and says how to convert
it. The sha256 of what was read (the .deb, or a manifest of each file's sha256 for a folder)
is stored in the prepared file and printed.
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import wave

import numpy as np

from gruvar.data import speech

DEFAULT_PACKAGE = "festvox-ru"  # the source the docs name
CONVERT = "convert it first, e.g. `sox in.wav -r 16000 -b 16 -c 1 out.wav`"


def read_wav(data: bytes | str, name: str) -> np.ndarray:
    """The int16 samples of one WAV (a path, or its bytes with ``name`` for messages); ValueError
    naming the file unless it is 16 kHz, 16-bit PCM, mono."""
    try:
        with wave.open(io.BytesIO(data) if isinstance(data, bytes) else data, "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as err:
        raise ValueError(f"{name}: not a readable PCM WAV file ({err}); {CONVERT}.") from err
    problems = []
    if rate != speech.SAMPLE_RATE:
        problems.append(f"{rate} Hz, not {speech.SAMPLE_RATE}")
    if width != 2:
        problems.append(f"{8 * width}-bit samples, not 16-bit")
    if channels != 1:
        problems.append(f"{channels} channels, not mono")
    if problems:
        raise ValueError(f"{name}: {', '.join(problems)}; {CONVERT}.")
    return np.frombuffer(frames, "<i2").astype(np.int16)


def from_folder(folder: str) -> tuple[dict[str, np.ndarray], str]:
    """(name -> samples, sha256 of the manifest "<sha256>  <relative path>" per file, sorted)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder of WAV files.")
    paths = sorted(
        p
        for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
        if p.lower().endswith(".wav") and os.path.isfile(p)
    )
    if not paths:
        raise FileNotFoundError(f"{folder}: no .wav files in it or below it.")
    utterances, manifest = {}, []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        rel = os.path.relpath(path, folder)
        manifest.append(f"{hashlib.sha256(data).hexdigest()}  {rel}\n")
        utterances[rel] = read_wav(data, path)
    return utterances, hashlib.sha256("".join(manifest).encode()).hexdigest()


def from_deb(path: str) -> tuple[dict[str, np.ndarray], str]:
    """(name -> samples, sha256 of the .deb) of the WAVs in a Debian package."""
    with open(path, "rb") as f:
        blob = f.read()
    digest = hashlib.sha256(blob).hexdigest()
    tar = _data_tar(blob, path)
    try:
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            members = [m for m in archive.getmembers() if m.isfile()]
            wavs = [m for m in members if m.name.lower().endswith(".wav")]
            in_wav = [m for m in wavs if "/wav/" in f"/{m.name}"]
            chosen = sorted(in_wav or wavs, key=lambda m: m.name)
            if not chosen:
                raise ValueError(f"{path}: the package holds no .wav files.")
            utterances = {
                m.name.removeprefix("./"): read_wav(
                    archive.extractfile(m).read(), f"{path}:{m.name}"
                )
                for m in chosen
            }
    except tarfile.TarError as err:
        raise ValueError(f"{path}: its data archive does not read ({err}).") from err
    return utterances, digest


def _data_tar(blob: bytes, path: str) -> bytes:
    """The ``data.tar.*`` member of a .deb (an ar archive), compressed as it is stored."""
    if not blob.startswith(b"!<arch>\n"):
        raise ValueError(f"{path}: not a Debian package (no ar archive header).")
    at = 8
    while at + 60 <= len(blob):
        header = blob[at : at + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip() or 0)
        if name.startswith("data.tar"):
            return blob[at + 60 : at + 60 + size]
        at += 60 + size + (size % 2)
    raise ValueError(f"{path}: a Debian package without a data.tar member.")


def download(package: str, folder: str) -> str:
    """``apt-get download <package>`` into ``folder``; the .deb's path."""
    if shutil.which("apt-get") is None:
        raise FileNotFoundError(
            f"apt-get is not on this machine, so {package!r} cannot be fetched. Download "
            f"{package}'s .deb elsewhere (packages.debian.org/{package}) and give its path, or "
            f"give a folder of 16 kHz 16-bit mono WAV files."
        )
    result = subprocess.run(
        ["apt-get", "download", package], cwd=folder, capture_output=True, text=True
    )
    debs = glob.glob(os.path.join(folder, f"{package}_*.deb"))
    if result.returncode or not debs:
        raise FileNotFoundError(
            f"apt-get download {package} failed ({result.stderr.strip()[-300:]}). Run "
            f"`apt-get update` first, or give a .deb or a folder of WAV files."
        )
    return debs[0]


def prepare(source: str, data_dir: str) -> str:
    """Reads ``source`` (module docstring) and writes ``<data_dir>/speech/speech.npz``; its
    path. The utterances are sorted by name; ``speech.split_of`` assigns their splits."""
    if os.path.isdir(source):
        utterances, digest = from_folder(source)
    elif os.path.isfile(source):
        utterances, digest = from_deb(source)
    elif os.sep in source or source.startswith(".") or source.endswith(".deb"):
        raise FileNotFoundError(f"{source}: no such folder of WAV files or .deb file.")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            deb = download(source, tmp)
            utterances, digest = from_deb(deb)
            source = f"apt-get download {source}: {os.path.basename(deb)}"
    names = sorted(utterances)
    return speech.write(
        os.path.join(data_dir, speech.FOLDER),
        [utterances[n] for n in names],
        names,
        source=source,
        source_sha256=digest,
    )
