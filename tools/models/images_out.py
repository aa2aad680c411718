"""Labelled image directories: DIR/images/NNNNN.png (sorted names = order) and DIR/labels.txt."""

import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf


def write_labelled_pngs(directory: Path, pixels: np.ndarray, labels: np.ndarray) -> None:
    """pixels (n, h, w, c) uint8; line i of labels.txt is the class of images/{i:05d}.png.
    Written into a fresh directory which then replaces the old one, so no stale files remain."""
    if pixels.shape[0] != labels.shape[0] or pixels.dtype != np.uint8:
        raise ValueError(f"{pixels.shape[0]} {pixels.dtype} images for {labels.shape[0]} labels")
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    for i in range(pixels.shape[0]):
        (tmp / "images" / f"{i:05d}.png").write_bytes(tf.io.encode_png(pixels[i]).numpy())
    (tmp / "labels.txt").write_text("".join(f"{int(c)}\n" for c in labels))
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)
