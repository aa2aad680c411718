"""grappo.optimize on the user's labelled images (options eval, labels, resize, mean, std,
layout of grappo_options_set): top-1 against labels judged and reported, bad labels refused."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import grappo

from .conftest import QUICK


def _png(path: Path, rgb: np.ndarray) -> None:
    """An 8-bit RGB PNG (no filter), written with zlib alone."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _images(tmp_path: Path, model_pb: Path, n: int = 4) -> tuple[Path, list[int]]:
    """n 32x32 images (the model's size) in tmp_path/img and the model's own classes for them
    on x = pixel / 255, computed here without grappo's image code."""
    d = tmp_path / "img"
    d.mkdir()
    m = grappo.load(model_pb)
    labels = []
    rng = np.random.default_rng(3)
    for i in range(n):
        rgb = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        _png(d / f"{i:02d}.png", rgb)
        x = (rgb.astype(np.float32) / 255.0)[None]
        labels.append(int(np.argmax(m.run({"input_1": x})["probs"][0])))
    return d, labels


def test_labelled_top1_judged(tmp_path: Path, model_pb: Path) -> None:
    d, labels = _images(tmp_path, model_pb)
    lab = tmp_path / "labels.txt"
    lab.write_text("".join(f"{v}\n" for v in labels))
    r = grappo.optimize(model_pb, search="grappler", eval=d, labels=lab, layout="nhwc", **QUICK)
    got = r.report["accuracy"]["labels"]
    assert got["rows"] == len(labels)
    assert got["top1_before"] == 1.0
    assert got["top1_after"] == 1.0


def test_bad_labels_refused(tmp_path: Path, model_pb: Path) -> None:
    d, labels = _images(tmp_path, model_pb)
    lab = tmp_path / "labels.txt"
    lab.write_text("".join(f"{v}\n" for v in labels[:-1]))
    with pytest.raises(grappo.GrappoError, match="labels but"):
        grappo.optimize(model_pb, eval=d, labels=lab, **QUICK)
    with pytest.raises(grappo.GrappoError, match="--resize wants H,W"):
        grappo.optimize(model_pb, eval=d, resize="32", **QUICK)
