"""TensorFlow parses and runs the GraphDefs grappo writes in protobuf text format.

`grappo optimize IN -o OUT.pbtxt --target tf` on every harness model (and on a While loop whose
body and condition live in the function library): TensorFlow's own
`google.protobuf.text_format.Parse` reads OUT.pbtxt into a GraphDef equal to the one grappo
writes as binary for the same optimization, and TensorFlow running it gives the original's
TensorFlow outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RTOL = 1e-4
NAMES = ["resnet", "mobilenet", "bert", "multi_output", "module", "tf1", "embed"]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pbtxt"


def _optimize(grappo: Path, src: Path, out: Path) -> None:
    cmd = [
        str(grappo),
        "optimize",
        str(src),
        "-o",
        str(out),
        "--target",
        "tf",
        "--search",
        "grappler",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr}"


def _parse_text(path: Path) -> Any:
    import tensorflow as tf
    from google.protobuf import text_format

    return text_format.Parse(path.read_text(), tf.compat.v1.GraphDef())


def _tf_run(
    gd: Any, feeds: dict[str, np.ndarray], fetch: list[str]
) -> list[np.ndarray]:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return list(sess.run(fetch, feed_dict={f"{k}:0": v for k, v in feeds.items()}))


def _close(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = (
        float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
        if ref.size
        else 0.0
    )
    assert err <= RTOL * max(
        scale, 1e-30
    ), f"{what}: max error {err:.3g} > {RTOL} * {scale:.3g}"


@pytest.mark.parametrize("name", NAMES)
def test_tf_runs_pbtxt_output(
    grappo: Path, models: Path, name: str, tmp_path: Path
) -> None:
    import tensorflow as tf

    d = models / name
    meta = json.loads((d / "meta.json").read_text())
    frozen = meta["frozen"]
    _optimize(grappo, d / "frozen.pb", tmp_path / "opt.pbtxt")
    gd = _parse_text(tmp_path / "opt.pbtxt")
    # the same optimization written as binary: the text holds the same GraphDef (grappler is
    # deterministic, so both runs rewrite alike)
    _optimize(grappo, d / "frozen.pb", tmp_path / "opt.pb")
    binary = tf.compat.v1.GraphDef()
    binary.ParseFromString((tmp_path / "opt.pb").read_bytes())
    assert gd == binary, f"{name}: the text GraphDef differs from the binary one"
    feeds = {
        frozen["inputs"][k].split(":")[0]: np.load(d / f"in_{k}.npy")
        for k in meta["inputs"]
    }
    fetch = [frozen["outputs"][k] for k in meta["outputs"]]
    for k, got in zip(meta["outputs"], _tf_run(gd, feeds, fetch), strict=True):
        _close(
            got,
            np.load(d / f"ref_{k}.npy"),
            f"{name} {k} (TensorFlow on grappo's .pbtxt)",
        )


def test_tf_runs_pbtxt_with_function_library(grappo: Path, tmp_path: Path) -> None:
    out = tmp_path / "while.pbtxt"
    _optimize(grappo, FIXTURES / "while.pb", out)
    assert "library {" in out.read_text()
    gd = _parse_text(out)
    assert len(gd.library.function) >= 2  # the While's condition and body
    x = np.load(FIXTURES / "while.in.npy")
    (got,) = _tf_run(gd, {"x": x}, ["Identity:0"])
    _close(
        got,
        np.load(FIXTURES / "while.out.npy"),
        "while (TensorFlow on grappo's .pbtxt)",
    )
