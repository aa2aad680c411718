"""TensorFlow runs what `grappo optimize --target tf` writes, and computes what the input computes.

The graphs are optimized through the CLI (greedy and ppo) and both the input and the written
graph are executed by TensorFlow itself: the written graph must load (every op, type and
fused_ops pattern is one TensorFlow accepts) and give the input's outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402

GRAPPO = os.environ.get(
    "GRAPPO", str(Path(__file__).resolve().parents[2] / "build" / "grappo")
)


def run_graph(
    pb: Path, feed: dict[str, np.ndarray], fetch: list[str]
) -> list[np.ndarray]:
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            return [np.asarray(x) for x in sess.run(fetch, feed_dict=feed)]


@pytest.mark.parametrize(
    ("search", "extra"),
    [
        ("greedy", ["--budget", "12"]),
        ("ppo", ["--budget", "4", "--episodes", "2", "--cost", "roofline"]),
    ],
)
def test_tensorflow_runs_target_tf_output(
    tmp_path: Path, search: str, extra: list[str]
) -> None:
    src = tmp_path / "r8.pb"
    subprocess.run(
        [GRAPPO, "zoo", "resnet8", "-o", str(src)], check=True, capture_output=True
    )
    out, report = tmp_path / "r8tf.pb", tmp_path / "r.json"
    returned = False
    for _ in range(
        3
    ):  # a faster result measured "not faster" on a busy machine: try again
        subprocess.run(
            [
                GRAPPO,
                "optimize",
                str(src),
                "-o",
                str(out),
                "--target",
                "tf",
                "--search",
                search,
                "--report",
                str(report),
                "--repeats",
                "5",
                "--eval-batches",
                "2",
                "--threads",
                "1",
                *extra,
            ],
            check=True,
            capture_output=True,
        )
        rep = json.loads(report.read_text())
        returned = bool(rep["optimized_graph_returned"])
        if returned or "faster" not in rep["verdict"]:
            break
    assert returned, rep["verdict"]
    assert sum(rep["rules_applied"].values()) > 0
    x = np.random.default_rng(3).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    want = run_graph(src, {"input_1:0": x}, ["logits:0", "probs:0"])
    got = run_graph(out, {"input_1:0": x}, ["logits:0", "probs:0"])
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * float(np.abs(w).max()))
