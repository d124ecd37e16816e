"""MNIST digits (LeCun, Cortes & Burges) as sequences, from the original files.

Tasks (pixels scaled to [0, 1]; label = digit):
    row             28 steps of 28 pixels (one image row per step)
    pixel           784 steps of 1 pixel
    permuted_pixel  784 steps of 1 pixel in a fixed, seeded order (the harder benchmark)

``source``: "tfds" reads TensorFlow Datasets' ``mnist``; "files" reads
``<data_dir>/mnist/`` (or ``data_dir`` itself): the four IDX files, gzipped or not,
or Keras' ``mnist.npz``. Files with the original names are checked against their published
sha256 (``verify_checksums``); any file must hold 28x28 uint8 images with one label 0-9
each. "auto" (the default) takes TFDS when its copy is prepared, else the files. The
validation split is carved from the training images with a fixed seed.
"""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np

from gruvar.data import Dataset, Split, find_dir
from gruvar.data import tfds as tfds_source

TASKS = ("row", "pixel", "permuted_pixel")
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
SHA256 = {  # published digests of the gzipped originals (and, decompressed, of the raw files)
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
HOW_TO_GET = (
    "Put the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; http://yann.lecun.com/exdb/mnist/) "
    "or Keras' mnist.npz in <data_dir>/mnist/; or, with network, prepare TFDS's copy: "
    "python experiments/prepare_data.py --data_dir=<data_dir> --fetch."
)


def load(
    task: str = "row",
    data_dir: str | None = None,
    num_validation: int = 5000,
    num_train: int | None = None,
    seed: int = 0,
    permutation_seed: int = 0,
    verify_checksums: bool = True,
    source: str = "auto",
    tfds_data_dir: str | None = None,
) -> Dataset:
    """MNIST ``task`` with ``num_validation`` training images held out (chosen by ``seed``);
    ``num_train`` keeps only that many of the rest (a reduced run; the test set stays whole)."""
    if task not in TASKS:
        raise ValueError(f"Unknown MNIST task {task!r}; choose from {list(TASKS)}.")
    if tfds_source.use(source, "mnist", tfds_data_dir):
        arrays = {}
        for split in ("train", "test"):
            found = tfds_source.read("mnist", split, tfds_data_dir)
            arrays[f"x_{split}"] = found["image"][..., 0]
            arrays[f"y_{split}"] = found["label"].astype(np.uint8)
        check_arrays(arrays, f"TFDS mnist ({tfds_data_dir or 'default data dir'})")
    else:
        arrays = read_arrays(find_dir(data_dir, "mnist", HOW_TO_GET), verify_checksums)
    order = np.random.default_rng(seed).permutation(len(arrays["y_train"]))
    held, kept = order[:num_validation], order[num_validation:]
    if num_train is not None:
        if not 0 < num_train <= len(kept):
            raise ValueError(
                f"mnist num_train must be in 1..{len(kept)} (the training images left after "
                f"{num_validation} held out for validation), got {num_train}."
            )
        kept = kept[:num_train]
    splits = {
        "train": _split(task, arrays["x_train"][kept], arrays["y_train"][kept], permutation_seed),
        "validation": _split(
            task, arrays["x_train"][held], arrays["y_train"][held], permutation_seed
        ),
        "test": _split(task, arrays["x_test"], arrays["y_test"], permutation_seed),
    }
    return Dataset(f"mnist_{task}", "classify", 10, splits)


def _split(task, images, labels, permutation_seed) -> Split:
    x = images.astype(np.float32) / 255.0
    if task == "row":
        x = x.reshape(-1, 28, 28)
    else:
        x = x.reshape(-1, 784, 1)
        if task == "permuted_pixel":
            x = x[:, np.random.default_rng(permutation_seed).permutation(784)]
    lengths = np.full(len(labels), x.shape[1], np.int32)
    return Split(x, labels.astype(np.int32), lengths)


def read_arrays(directory: str, verify_checksums: bool = True) -> dict[str, np.ndarray]:
    """x_train, y_train, x_test, y_test (uint8) from IDX files or mnist.npz in ``directory``."""
    npz = os.path.join(directory, "mnist.npz")
    found = {key: _find_idx(directory, name) for key, name in FILES.items()}
    if all(found.values()):
        arrays = {key: read_idx(path, verify_checksums) for key, path in found.items()}
    elif os.path.exists(npz):
        with np.load(npz) as f:
            arrays = {key: f[key] for key in FILES}
    else:
        missing = [FILES[k] for k, path in found.items() if path is None]
        raise FileNotFoundError(
            f"MNIST: no data in {directory} (missing {', '.join(missing)}, and no mnist.npz). "
            f"{HOW_TO_GET}"
        )
    check_arrays(arrays, directory)
    return arrays


def check_arrays(arrays: dict[str, np.ndarray], where: str) -> None:
    """28x28 uint8 images with one label 0-9 each, else an error naming ``where``."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if (
            x.dtype != np.uint8
            or x.shape[1:] != (28, 28)
            or y.shape != (len(x),)
            or y.max(initial=0) > 9
        ):
            raise ValueError(
                f"MNIST: the {split} data in {where} are images {x.shape} {x.dtype} and "
                f"labels {y.shape} (max {y.max(initial=0)}); expected [N, 28, 28] uint8 and N "
                f"labels 0-9. The files are not MNIST or are damaged. {HOW_TO_GET}"
            )


def _find_idx(directory, name):
    for candidate in (f"{name}.gz", name):
        path = os.path.join(directory, candidate)
        if os.path.exists(path):
            return path
    return None


def read_idx(path: str, verify_checksum: bool = True) -> np.ndarray:
    """An IDX file (gzipped if its name ends in .gz) as a uint8 array of its declared shape."""
    with open(path, "rb") as f:
        raw = f.read()
    name = os.path.basename(path)
    if verify_checksum and name in SHA256 and hashlib.sha256(raw).hexdigest() != SHA256[name]:
        raise ValueError(
            f"MNIST: {path} does not match the published sha256 of {name}; it is damaged or "
            f"not the original. Download it again. {HOW_TO_GET}"
        )
    data = gzip.decompress(raw) if name.endswith(".gz") else raw
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"MNIST: {path} is not an IDX file of unsigned bytes (bad header).")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise ValueError(
            f"MNIST: {path} declares shape {shape} but holds {len(data) - offset} bytes of data; "
            f"the file is truncated or damaged."
        )
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)
