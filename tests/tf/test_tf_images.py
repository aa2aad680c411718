"""TensorFlow as the oracle for grappo's image input (src/io/image.c, src/io/dataset_dir.c).

Decoding and preprocessing: tf.io.decode_png / tf.io.decode_jpeg (dct_method INTEGER_ACCURATE,
libjpeg's default method, which grappo uses), tf.image.grayscale_to_rgb, tf.image.resize
(bilinear, half-pixel centres, no antialiasing) and x = (p / 255 - mean) / std against the tensor
tests/tool_image writes. Tolerances: PNG 1e-6 absolute (the same float operations in the same
order; observed: bit-identical); JPEG at most one grey level (1 / 255 / std), on average 5% of
one, since Debian's libjpeg-turbo and TensorFlow's bundled one may decode a pixel differently
(observed with libjpeg-turbo 2.1.5 and TensorFlow 2.x: bit-identical too).

End to end: `grappo eval` of a frozen TensorFlow classifier on a directory of JPEGs and PNGs
with --resize/--mean/--std must score top-1 100% against labels that are TensorFlow's own argmax
of the same files (images whose top two logits are closer than 1e-3 are left out).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

MEAN = [0.485, 0.456, 0.406, 0.5]  # the fourth for RGBA inputs
STD = [0.229, 0.224, 0.225, 0.25]


@pytest.fixture(scope="session")
def tool_image() -> Path:
    root = Path(__file__).resolve().parent.parent.parent
    path = Path(
        os.environ.get(
            "GRAPPO_TOOL_IMAGE", str(root / "build" / "tests" / "tool_image")
        )
    )
    if not path.exists():
        pytest.skip(f"{path} not built (make build/tests/tool_image)")
    return path


def _picture(h: int, w: int, c: int, seed: int) -> np.ndarray:
    """A photograph-like image: smooth gradients plus texture, uint8 HWC."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [128 + 100 * np.sin(x / (5 + k) + y / (7 + 2 * k) + seed) for k in range(c)],
        axis=-1,
    )
    noise = rng.normal(0, 20, size=(h, w, c))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _encode(img: np.ndarray, kind: str) -> bytes:
    if kind == "png":
        return tf.io.encode_png(img).numpy()
    return tf.io.encode_jpeg(img, quality=90).numpy()


def _tf_preprocess(
    data: bytes, kind: str, h: int, w: int, c: int, resize: bool, layout: str
) -> np.ndarray:
    if kind == "png":
        img = tf.io.decode_png(data, channels=0)
    else:
        img = tf.io.decode_jpeg(data, channels=0, dct_method="INTEGER_ACCURATE")
    if img.shape[-1] == 1 and c == 3:
        img = tf.image.grayscale_to_rgb(img)
    x = tf.cast(img, tf.float32)
    if resize:
        x = tf.image.resize(x, (h, w))  # bilinear, half-pixel centres, antialias=False
    x = (x / 255.0 - tf.constant(MEAN[:c])) / tf.constant(STD[:c])
    if layout == "nchw":
        x = tf.transpose(x, (2, 0, 1))
    return x.numpy()


def _grappo_preprocess(
    tool: Path, path: Path, h: int, w: int, c: int, resize: bool, layout: str
) -> np.ndarray:
    out = path.with_suffix(".npy")
    mean = ",".join(str(v) for v in MEAN[:c])
    std = ",".join(str(v) for v in STD[:c])
    args = [
        str(tool),
        str(path),
        str(out),
        str(h),
        str(w),
        str(c),
        "1" if resize else "0",
        mean,
        std,
        layout,
    ]
    subprocess.run(args, check=True, capture_output=True)
    return np.load(out)


CASES = [
    # kind, source h, w, channels of the file, model h, w, c, resize, layout
    ("png", 37, 45, 3, 24, 20, 3, True, "nhwc"),
    ("png", 16, 16, 3, 16, 16, 3, False, "nchw"),
    ("png", 20, 30, 1, 64, 48, 3, True, "nhwc"),  # gray -> RGB, upscaled
    ("png", 50, 41, 4, 13, 17, 4, True, "nchw"),
    ("jpeg", 37, 45, 3, 24, 20, 3, True, "nhwc"),
    ("jpeg", 32, 32, 3, 32, 32, 3, False, "nhwc"),
    ("jpeg", 30, 22, 1, 40, 40, 3, True, "nchw"),
]


@pytest.mark.parametrize(
    ("kind", "sh", "sw", "sc", "h", "w", "c", "resize", "layout"), CASES
)
def test_preprocess_matches_tensorflow(
    tool_image: Path,
    tmp_path: Path,
    kind: str,
    sh: int,
    sw: int,
    sc: int,
    h: int,
    w: int,
    c: int,
    resize: bool,
    layout: str,
) -> None:
    img = _picture(sh, sw, sc, seed=sh * 100 + sw)
    data = _encode(img, kind)
    path = tmp_path / f"img.{'png' if kind == 'png' else 'jpg'}"
    path.write_bytes(data)
    want = _tf_preprocess(data, kind, h, w, c, resize, layout)
    got = _grappo_preprocess(tool_image, path, h, w, c, resize, layout)
    assert got.shape == want.shape
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    if kind == "png":
        assert diff.max() <= 1e-6, diff.max()
    else:
        one_level = 1.0 / 255.0 / min(STD[:c])
        assert diff.max() <= one_level + 1e-5, diff.max()
        assert diff.mean() <= 0.05 * one_level, diff.mean()


def _classifier(
    path: Path, h: int, w: int, classes: int
) -> tf.types.experimental.ConcreteFunction:
    rng = np.random.default_rng(7)
    kernel = tf.Variable(rng.normal(0, 0.2, size=(3, 3, 3, 8)).astype(np.float32))
    dense = tf.Variable(rng.normal(0, 0.2, size=(8, classes)).astype(np.float32))

    @tf.function(
        input_signature=[tf.TensorSpec([1, h, w, 3], tf.float32, name="image")]
    )
    def fn(x: tf.Tensor) -> dict[str, tf.Tensor]:
        y = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=1, padding="SAME"))
        y = tf.reduce_mean(y, axis=[1, 2])
        return {"logits": tf.matmul(y, dense)}

    concrete = fn.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    return concrete


def test_eval_top1_matches_tensorflow(grappo: Path, tmp_path: Path) -> None:
    h, w, classes = 24, 20, 7
    model = tmp_path / "classifier.pb"
    fn = _classifier(model, h, w, classes)
    images = tmp_path / "images"
    images.mkdir()
    labels = []
    kept = 0
    for i in range(40):
        kind = "png" if i % 2 else "jpeg"
        data = _encode(_picture(30 + i % 5, 26 + i % 3, 3, seed=i), kind)
        x = _tf_preprocess(data, kind, h, w, 3, True, "nhwc")
        logits = fn(tf.constant(x[None]))["logits"].numpy()[0]
        top = np.sort(logits)[::-1]
        if top[0] - top[1] < 1e-3:
            continue
        (images / f"{kept:03d}.{'png' if kind == 'png' else 'jpg'}").write_bytes(data)
        labels.append(int(np.argmax(logits)))
        kept += 1
    assert kept >= 20
    assert len(set(labels)) >= 2
    (tmp_path / "labels.txt").write_text("".join(f"{v}\n" for v in labels))
    args = [
        str(grappo),
        "eval",
        str(model),
        "--eval",
        str(images),
        "--labels",
        str(tmp_path / "labels.txt"),
        "--resize",
        f"{h},{w}",
        "--mean",
        ",".join(map(str, MEAN[:3])),
        "--std",
        ",".join(map(str, STD[:3])),
        "--json",
    ]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    assert result["rows"] == kept
    assert result["classes"] == classes
    assert result["top1"] == 1.0
