"""Fashion-MNIST as Debian's dataset-fashion-mnist package ships it (gzipped IDX files)."""

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
IDX_UBYTE = 0x08


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (n, 28, 28) uint8
    labels: np.ndarray  # (n,) int64


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (magic 0x0000 0x08 ndim, big-endian dims, then uint8 data)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != IDX_UBYTE or ndim < 1:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {body.size} bytes of data for dims {dims}")
    return body.reshape(dims)


def load_split(name: str, root: Path = DEBIAN_DIR) -> Split:
    """name is "train" (60,000 images) or "t10k" (the 10,000-image test split)."""
    images = read_idx(root / f"{name}-images-idx3-ubyte.gz")
    labels = read_idx(root / f"{name}-labels-idx1-ubyte.gz").astype(np.int64)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"{root}/{name}: images {images.shape} do not match labels {labels.shape}")
    return Split(images=images, labels=labels)
