"""TensorFlow runs grappo's re-associated residual sums (reassociate_bias_add) and gets the same outputs.

A frozen graph written the way TensorFlow's arithmetic optimizer leaves a residual block
(AddOpsRewrite): conv -> AddN(conv, shortcut) -> + bias -> Relu, the conv bare. The folded
pipeline (tests/tool_grappler with GRAPPO_TOOL_FOLDED=1, --target tf's rules, no keep-or-refuse
timing) moves the bias onto the conv, so the bias, the shortcut Add and the Relu fuse into one
_FusedConv2D; TensorFlow loads the result and its output matches TensorFlow's on the original
within float32 rounding. The plain grappler pipeline (Grappler's own order) leaves the AddN.
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
    w1 = rng.standard_normal((3, 3, 8, 8)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((1, 1, 8, 8)).astype(np.float32) * 0.3
    b = rng.standard_normal((8,)).astype(np.float32)
    b2 = rng.standard_normal((8,)).astype(np.float32)
    with tf.Graph().as_default() as g:
        x = tf.compat.v1.placeholder(tf.float32, [1, 6, 6, 8], name="x")
        shortcut = tf.nn.relu(
            tf.nn.bias_add(tf.nn.conv2d(x, w2, strides=1, padding="SAME"), b2)
        )
        y = tf.math.add_n(
            [tf.nn.conv2d(shortcut, w1, strides=1, padding="SAME"), shortcut]
        )
        y = tf.nn.relu(tf.math.add(y, tf.constant(b)))
        tf.identity(y, name="out")
    return g.as_graph_def()


def _rewrite(tool: Path, src: Path, out: Path, folded: bool) -> tf.compat.v1.GraphDef:
    env = dict(os.environ, GRAPPO_TOOL_FOLDED="1" if folded else "0")
    r = subprocess.run(
        [str(tool), str(src), str(out)], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stdout + r.stderr
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(out.read_bytes())
    return gd


def test_tensorflow_runs_reassociated_sum(tool_grappler: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    gd = _frozen(rng)
    src = tmp_path / "block.pb"
    src.write_bytes(gd.SerializeToString())

    plain = _rewrite(tool_grappler, src, tmp_path / "plain.pb", folded=False)
    assert [n.op for n in plain.node].count("AddN") == 1

    opt = _rewrite(tool_grappler, src, tmp_path / "folded.pb", folded=True)
    ops = [n.op for n in opt.node]
    assert "AddN" not in ops and "BiasAdd" not in ops and "Relu" not in ops
    fused = [n for n in opt.node if n.op == "_FusedConv2D"]
    assert sorted([list(n.attr["fused_ops"].list.s) for n in fused]) == sorted(
        [[b"BiasAdd", b"Relu"], [b"BiasAdd", b"Add", b"Relu"]]
    )
    x = rng.standard_normal((1, 6, 6, 8)).astype(np.float32)
    want, got = run_frozen(gd, {"x:0": x}), run_frozen(opt, {"x:0": x})
    assert got.shape == want.shape
    np.testing.assert_allclose(
        got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max())
    )
