"""TensorFlow runs what grappo writes for control-flow graphs.

For each TF2 control-flow fixture of tests/fixtures/ctrlflow/ (While, If, Case with their
function library; written by tools/gen_ctrlflow_fixtures.py): `grappo optimize --target tf
--search grappler` writes a graph that TensorFlow imports and runs (the function library was
written back), with TensorFlow's own outputs. Tolerance: max |tf(grappo's graph) - tf| <= 1e-5 * max(1, max |tf|).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "ctrlflow"


def _cases() -> list[tuple[str, dict[str, str], str, str]]:
    out = []
    for line in (FIX / "MANIFEST").read_text().splitlines():
        if not line or line.startswith("#") or "lowered" in line:
            continue
        pb, rest = line.split(" ", 1)
        ins, outs = rest.split(" -> ")
        feeds = dict(kv.split("=") for kv in ins.split())
        name, npy = outs.split("=")
        out.append((pb, feeds, name, npy))
    return out


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c[0]}:{sorted(c[1].values())[0]}")
def test_optimized_control_flow_runs_in_tf(grappo: Path, case: tuple[str, dict[str, str], str, str], tmp_path: Path) -> None:
    import tensorflow as tf

    pb, feeds, fetch, npy = case
    out = tmp_path / "opt.pb"
    res = subprocess.run([str(grappo), "optimize", str(FIX / pb), "--target", "tf", "--search", "grappler", "-o", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(out.read_bytes())
    assert len(gd.library.function) > 0, "the function library was not written back"
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=g) as s:
        got = s.run(fetch, {f"{k}:0": np.load(FIX / v) for k, v in feeds.items()})
    want = np.load(FIX / npy)
    assert got.shape == want.shape
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 0.0)
    assert float(np.max(np.abs(got - want))) <= 1e-5 * scale
