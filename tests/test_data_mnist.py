"""MNIST from IDX / npz files: generated small files, errors, and the real files when present."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from gruvar import data
from gruvar.data import mnist

SHARED = Path(__file__).parents[2] / "shared" / "data"


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def fake_mnist(directory: Path, n_train=40, n_test=12, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder = directory / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in mnist.FILES.items():
        raw = idx_bytes(arrays[key])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return arrays


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_idx_files_give_each_task(tmp_path, gz):
    arrays = fake_mnist(tmp_path, gz=gz)
    row = data.load("mnist_row", str(tmp_path), num_validation=8, verify_checksums=False)
    assert row.kind == "classify" and row.num_outputs == 10
    assert [len(row.splits[s]) for s in ("train", "validation", "test")] == [32, 8, 12]
    test = row.splits["test"]
    np.testing.assert_allclose(test.x, arrays["x_test"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(test.y, arrays["y_test"])
    np.testing.assert_array_equal(test.lengths, 28)
    assert test.x.dtype == np.float32 and test.y.dtype == np.int32

    pixel = data.load("mnist_pixel", str(tmp_path), num_validation=8, verify_checksums=False)
    assert pixel.splits["test"].x.shape == (12, 784, 1)
    np.testing.assert_array_equal(pixel.splits["test"].x[:, :, 0], test.x.reshape(12, 784))
    # train and validation are a seeded partition of the training images
    train_val = np.concatenate([row.splits["train"].x, row.splits["validation"].x])
    expected = (arrays["x_train"] / 255.0).astype(np.float32)
    assert sorted(map(bytes, train_val)) == sorted(map(bytes, expected))


def test_permuted_pixel_is_one_fixed_permutation(tmp_path):
    fake_mnist(tmp_path)
    kwargs = {"num_validation": 8, "verify_checksums": False}
    pixel = data.load("mnist_pixel", str(tmp_path), **kwargs).splits
    permuted = data.load("mnist_permuted_pixel", str(tmp_path), **kwargs).splits
    perm = np.random.default_rng(0).permutation(784)
    for split in ("train", "test"):
        np.testing.assert_array_equal(permuted[split].x, pixel[split].x[:, perm])
    other = data.load("mnist_permuted_pixel", str(tmp_path), permutation_seed=1, **kwargs)
    assert not np.array_equal(other.splits["test"].x, permuted["test"].x)


def test_a_training_subset_keeps_validation_and_test_whole(tmp_path):
    fake_mnist(tmp_path)
    kwargs = {"num_validation": 8, "verify_checksums": False}
    full = data.load("mnist_pixel", str(tmp_path), **kwargs).splits
    some = data.load("mnist_pixel", str(tmp_path), num_train=10, **kwargs).splits
    assert [len(some[s]) for s in ("train", "validation", "test")] == [10, 8, 12]
    np.testing.assert_array_equal(some["train"].x, full["train"].x[:10])
    np.testing.assert_array_equal(some["validation"].x, full["validation"].x)
    with pytest.raises(ValueError, match=r"num_train must be in 1\.\.32"):
        data.load("mnist_row", str(tmp_path), num_train=33, **kwargs)


def test_keras_npz(tmp_path):
    arrays = fake_mnist(tmp_path / "unused")
    (tmp_path / "mnist").mkdir()
    np.savez(tmp_path / "mnist" / "mnist.npz", **arrays)
    ds = data.load("mnist_row", str(tmp_path), num_validation=8)
    np.testing.assert_array_equal(ds.splits["test"].y, arrays["y_test"])


def test_data_dir_from_the_environment(tmp_path, monkeypatch):
    fake_mnist(tmp_path)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert (
        len(data.load("mnist_row", None, num_validation=8, verify_checksums=False).splits["test"])
        == 12
    )


def test_missing_files_say_where_and_how(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=r"GRUVAR_DATA_DIR.*train-images-idx3-ubyte\.gz"):
        data.load("mnist_row", None)
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "README").write_text("nothing here")
    with pytest.raises(FileNotFoundError, match=r"missing train-images-idx3-ubyte.*yann\.lecun"):
        data.load("mnist_row", str(tmp_path))


def test_corrupt_files_are_errors(tmp_path):
    fake_mnist(tmp_path)
    images = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    with pytest.raises(ValueError, match="does not match the published sha256"):
        data.load("mnist_row", str(tmp_path))  # our fake files are not the originals
    raw = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(ValueError, match="truncated or damaged"):
        data.load("mnist_row", str(tmp_path), verify_checksums=False)
    images.write_bytes(gzip.compress(b"\x00\x00\x0d\x03" + raw[4:]))
    with pytest.raises(ValueError, match="bad header"):
        data.load("mnist_row", str(tmp_path), verify_checksums=False)


def test_wrong_shapes_are_errors(tmp_path):
    folder = tmp_path / "mnist"
    fake_mnist(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(5, np.uint8)))
    )
    with pytest.raises(ValueError, match=r"test data .* expected \[N, 28, 28\] uint8 and N labels"):
        data.load("mnist_row", str(tmp_path), verify_checksums=False)


needs_shared = pytest.mark.skipif(
    not (SHARED / "mnist").is_dir(), reason=f"real MNIST files not present at {SHARED}/mnist"
)


@needs_shared
def test_real_mnist_checksums_sizes_and_labels():
    ds = data.load("mnist_row", str(SHARED))  # verifies the published sha256 of each file
    assert [len(ds.splits[s]) for s in ("train", "validation", "test")] == [55000, 5000, 10000]
    counts = np.bincount(ds.splits["test"].y, minlength=10)
    np.testing.assert_array_equal(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    assert ds.splits["test"].x.mean() == pytest.approx(33.79 / 255, abs=1e-3)
    batch = ds.train_batch(0, 32, seed=0)
    assert batch["x"].shape == (32, 28, 28) and batch["y"].shape == (32,)
    for task in ("pixel", "permuted_pixel"):
        batch = data.load(f"mnist_{task}", str(SHARED)).train_batch(0, 32, seed=0)
        assert batch["x"].shape == (32, 784, 1)
