"""TensorFlow Datasets as a source: the only module that imports tensorflow_datasets, lazily.

TFDS is optional (``pip install -e '.[tfds]'``). It is used when its copy of a dataset is
prepared in its data directory (``tfds_data_dir``, else TFDS's own default, which honours
$TFDS_DATA_DIR); ``experiments/prepare_data.py --fetch`` prepares it on a machine with network.
"""

from __future__ import annotations

import numpy as np


def installed() -> bool:
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        return False
    return True


def use(source: str, name: str, tfds_data_dir: str | None) -> bool:
    """Whether a loader should read TFDS's ``name``: ``source`` "tfds", or "auto" and prepared."""
    if source not in ("auto", "tfds", "files"):
        raise ValueError(f"Unknown data source {source!r}; choose 'auto', 'tfds' or 'files'.")
    if source == "tfds" and not installed():
        raise ImportError(
            "source='tfds' needs tensorflow-datasets: pip install -e '.[tfds]' "
            "(or use source='files')."
        )
    return source == "tfds" or (source == "auto" and prepared(name, tfds_data_dir))


def prepared(name: str, tfds_data_dir: str | None) -> bool:
    """Whether TFDS is installed and holds a prepared copy of dataset ``name``."""
    if not installed():
        return False
    import tensorflow_datasets as tfds

    return tfds.builder(name, data_dir=tfds_data_dir).is_prepared()


def read(name: str, split: str, tfds_data_dir: str | None) -> dict[str, np.ndarray]:
    """A whole TFDS split as numpy arrays, one per feature."""
    import tensorflow_datasets as tfds

    chunks = list(tfds.as_numpy(tfds.load(name, split=split, data_dir=tfds_data_dir).batch(4096)))
    return {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}


def prepare(name: str, tfds_data_dir: str | None) -> None:
    """Downloads and prepares ``name`` (needs network)."""
    import tensorflow_datasets as tfds

    tfds.builder(name, data_dir=tfds_data_dir).download_and_prepare()
