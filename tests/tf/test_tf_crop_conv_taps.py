"""TensorFlow runs grappo's cropped convolutions (crop_conv_taps) and gets the same outputs.

A frozen graph made by TensorFlow: a stride-2 1x1 conv takes a 2x2 map to 1x1, then a 3x3
SAME conv and a 5x3 dilated EXPLICIT-padded conv run on that 1x1 map (every tap but one reads
padding). The grappler pipeline with --target tf's rules (tests/tool_grappler: no keep-or-refuse
timing, which a graph this small may lose) crops their filters to the taps used; TensorFlow
loads the result, whose filters are exactly the used taps, and its output matches TensorFlow's
on the original within float32 rounding.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402
from frozen import run_frozen  # noqa: E402


def _frozen(rng: np.random.Generator) -> tf.compat.v1.GraphDef:
    w1 = rng.standard_normal((1, 1, 4, 8)).astype(np.float32)
    w2 = rng.standard_normal((3, 3, 8, 8)).astype(np.float32)
    w3 = rng.standard_normal((5, 3, 8, 6)).astype(np.float32)
    with tf.Graph().as_default() as g:
        x = tf.compat.v1.placeholder(tf.float32, [2, 2, 2, 4], name="x")
        y = tf.nn.relu(tf.nn.conv2d(x, w1, strides=2, padding="SAME"))
        y = tf.nn.relu(tf.nn.conv2d(y, w2, strides=1, padding="SAME"))
        y = tf.nn.conv2d(
            y, w3, strides=1, padding=[[0, 0], [4, 4], [2, 2], [0, 0]], dilations=2
        )
        tf.identity(y, name="out")
    return g.as_graph_def()


def test_tensorflow_runs_cropped_convs(tool_grappler: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    gd = _frozen(rng)
    src, out = tmp_path / "convs.pb", tmp_path / "convs.opt.pb"
    src.write_bytes(gd.SerializeToString())
    r = subprocess.run(
        [str(tool_grappler), str(src), str(out)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr
    opt = tf.compat.v1.GraphDef()
    opt.ParseFromString(out.read_bytes())

    def filter_sizes(graph: tf.compat.v1.GraphDef) -> list[int]:
        consts = {n.name: n for n in graph.node if n.op == "Const"}
        sizes = []
        for n in graph.node:
            if n.op in ("Conv2D", "_FusedConv2D"):
                t = consts[n.input[1].split(":")[0]].attr["value"].tensor
                sizes.append(int(np.prod([d.size for d in t.tensor_shape.dim])))
        return sorted(sizes)

    assert filter_sizes(opt) == sorted([4 * 8, 8 * 8, 1 * 1 * 8 * 6])
    x = rng.standard_normal((2, 2, 2, 4)).astype(np.float32)
    want, got = run_frozen(gd, {"x:0": x}), run_frozen(opt, {"x:0": x})
    assert got.shape == want.shape
    np.testing.assert_allclose(
        got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max())
    )
