"""TensorFlow runs grappo's int8 embedding table (quantize_gather_int8) and gets the table back
within the rule's per-row bound.

A frozen graph made by TensorFlow (a 1000 x 96 float32 table, one tf.gather of int32 ids of
rank 2) goes through grappler+int8 (tests/tool_int8: no keep-or-refuse timing, which a lone
gather would lose to its three extra ops); TensorFlow loads the result, which must hold only
stock ops (an int8 GatherV2, Cast, Mul, no float32 copy of the table), and every output element
must be within s_r / 2 (s_r = max|row r| / 127, as float32) of the table element it gathers,
plus one float32 rounding.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
V, D = 1000, 96  # 96,000 elements: above the rule's 65,536
ZERO_ROW = 7


@pytest.fixture(scope="module")
def tool_int8() -> Path:
    path = Path(
        os.environ.get("GRAPPO_TOOL_INT8", str(ROOT / "build" / "tests" / "tool_int8"))
    )
    if not path.exists():
        pytest.skip(f"{path} not built (make build/tests/tool_int8)")
    return path.resolve()


def _table() -> np.ndarray:
    rng = np.random.default_rng(11)
    t = rng.standard_normal((V, D)).astype(np.float32)
    t *= np.exp2(rng.integers(-6, 4, (V, 1))).astype(np.float32)  # rows of different magnitudes
    t[ZERO_ROW] = 0
    return t


def test_tensorflow_runs_int8_embedding(tool_int8: Path, tmp_path: Path) -> None:
    table = _table()
    ids = np.random.default_rng(5).integers(0, V, (2, 24)).astype(np.int32)
    ids[0, 0] = ZERO_ROW
    with tf.Graph().as_default() as g:
        x = tf.compat.v1.placeholder(tf.int32, [2, 24], name="ids")
        tf.gather(tf.constant(table, name="table"), x, axis=0, name="emb")
    src = tmp_path / "emb.pb"
    src.write_bytes(g.as_graph_def().SerializeToString())
    calib = tmp_path / "calib"
    calib.mkdir()
    np.save(calib / "ids_0.npy", ids)
    out = tmp_path / "emb.int8.pb"
    subprocess.run(
        [str(tool_int8), str(src), str(out), str(calib)], check=True, capture_output=True
    )

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(out.read_bytes())
    ops = {n.op for n in gd.node}
    assert ops <= {"Placeholder", "Const", "GatherV2", "Cast", "Mul"}, ops
    assert any(
        n.op == "GatherV2" and n.attr["Tparams"].type == tf.int8.as_datatype_enum
        for n in gd.node
    )
    assert next(n for n in gd.node if n.name == "emb").op == "Mul"
    big_float = [
        n.name
        for n in gd.node
        if n.op == "Const"
        and n.attr["dtype"].type == tf.float32.as_datatype_enum
        and np.prod([d.size for d in n.attr["value"].tensor.tensor_shape.dim]) >= V * D
    ]
    assert not big_float, big_float

    with tf.Graph().as_default() as g2:
        tf.graph_util.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=g2) as sess:
            y = sess.run("emb:0", feed_dict={"ids:0": ids})
    want = table[ids]
    assert y.shape == want.shape
    scale = (np.abs(table).max(axis=1).astype(np.float64) / 127).astype(np.float32)
    s = scale[ids][..., None].astype(np.float64)
    err = np.abs(y.astype(np.float64) - want)
    bound = s / 2 * (1 + 1e-6) + np.abs(want) * 2.0**-23
    assert np.all(err <= bound), float(np.max(err - bound))  # the worst excess
    assert np.all(y[0, 0] == 0)  # the zero row comes back exactly
    rows = ids != ZERO_ROW
    assert (err[rows] / bound[rows]).max() > 0.5  # the rule did round the table
