"""The fashion-mnist reader and the ResNet-50's pixels (no training)."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import fmnist
import images_out
import resnet_data


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trip(tmp_path: Path) -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28) % 256
    _write_idx(tmp_path / "x-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "x-labels-idx1-ubyte.gz", np.array([3, 7]))
    split = fmnist.load_split("x", tmp_path)
    assert split.images.shape == (2, 28, 28)
    assert np.array_equal(split.images, images)
    assert split.labels.tolist() == [3, 7]


def test_read_idx_refuses_bad_files(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "bad.gz", "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x0D, 1) + struct.pack(">I", 4) + b"\0" * 16)  # float IDX
    with pytest.raises(ValueError, match="unsigned-byte"):
        fmnist.read_idx(tmp_path / "bad.gz")
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, 1) + struct.pack(">I", 5) + b"\0" * 4)
    with pytest.raises(ValueError, match="4 bytes"):
        fmnist.read_idx(tmp_path / "short.gz")


def test_debian_test_split() -> None:
    if not (fmnist.DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip(f"{fmnist.DEBIAN_DIR} absent (apt-get install dataset-fashion-mnist, or make models-deps)")
    split = fmnist.load_split("t10k")
    assert split.images.shape == (10000, 28, 28)
    assert np.bincount(split.labels).tolist() == [1000] * 10  # the published test split is balanced


def test_upsample_shape_and_closed_forms() -> None:
    flat = np.full((1, 28, 28), 77, dtype=np.uint8)
    ramp = np.tile(np.arange(28, dtype=np.uint8) * 9, (28, 1))[None]
    out = resnet_data.upsample(np.concatenate([flat, ramp]), 32)
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.uint8
    assert np.all(out[0] == 77)  # a constant image stays constant
    assert np.array_equal(out[..., 0], out[..., 2])  # gray copied to R, G, B
    assert np.all(np.diff(out[1, 5, :, 0].astype(int)) >= 0)  # bilinear keeps a ramp monotone
    assert out[1, 0, 0, 0] == 0 and out[1, 0, -1, 0] == 243


def test_normalize_formula() -> None:
    x = resnet_data.normalize(np.array([0, 255], dtype=np.uint8)).numpy()
    assert x == pytest.approx([-resnet_data.MEAN / resnet_data.STD, (1 - resnet_data.MEAN) / resnet_data.STD], rel=1e-6)


def test_labelled_pngs_round_trip(tmp_path: Path) -> None:
    import tensorflow as tf

    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    (tmp_path / "eval" / "images").mkdir(parents=True)
    (tmp_path / "eval" / "images" / "99999.png").write_bytes(b"stale")
    images_out.write_labelled_pngs(tmp_path / "eval", pixels, np.array([4, 0, 9]))
    names = sorted(p.name for p in (tmp_path / "eval" / "images").iterdir())
    assert names == ["00000.png", "00001.png", "00002.png"]  # the stale file is gone
    for i, name in enumerate(names):
        decoded = tf.io.decode_png((tmp_path / "eval" / "images" / name).read_bytes()).numpy()
        assert np.array_equal(decoded, pixels[i])
    assert (tmp_path / "eval" / "labels.txt").read_text() == "4\n0\n9\n"
