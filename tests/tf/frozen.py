"""Frozen TensorFlow GraphDefs for the harness: run one in a TF1 session."""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402


def run_frozen(
    gd: tf.compat.v1.GraphDef, feeds: dict[str, np.ndarray], fetch: str = "out:0"
) -> np.ndarray:
    """gd's tensor `fetch` with the placeholders named in feeds ("x:0": array) set."""
    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            return sess.run(fetch, feed_dict=feeds)
