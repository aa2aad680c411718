"""TF2 functional control flow made by TensorFlow, against TensorFlow.

gen_models.py's `ctrlflow`: a tf.function with a tf.while_loop carrying a TensorArray (a
StatelessWhile whose body holds TensorList ops, the list a loop variable) and a tf.cond on the
data (a StatelessIf), saved with tf.saved_model.save; its frozen graph (lowered by
convert_variables_to_constants_v2 to TF1 frames: Enter/Merge/Switch/... with TensorList ops).
grappo runs both on both runtimes, on the generated input (the true branch) and on its negation
(the false branch, TensorFlow's outputs computed here), and `optimize --search grappler
--target tf` writes a graph TensorFlow and grappo both run with the same outputs.
Tolerance: max |grappo - tf| <= 1e-5 * max(1, max |tf|).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NAME = "ctrlflow"
TOL = 1e-5


def _close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want))))
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    assert err <= TOL * scale, f"{what}: max error {err:.3g} > {TOL} * {scale:.3g}"


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr}"
    return res


def _npy_name(tensor: str) -> str:
    return tensor.replace("/", "_").replace(":", "_") + ".npy"


def _cases(models: Path, tmp_path: Path) -> list[tuple[Path, dict[str, np.ndarray]]]:
    """(input .npy, TensorFlow's outputs by signature key) for the true and the false branch"""
    import tensorflow as tf

    d = models / NAME
    x = np.load(d / "in_x.npy")
    assert float(x.sum()) > 0  # the generated input takes the true branch
    neg = tmp_path / "neg_x.npy"
    np.save(neg, -x)
    fn = tf.saved_model.load(str(d / "saved_model")).signatures["serving_default"]
    want_neg = {k: v.numpy() for k, v in fn(x=tf.constant(-x)).items()}
    want = {k: np.load(d / f"ref_{k}.npy") for k in ("seq", "y")}
    return [(d / "in_x.npy", want), (neg, want_neg)]


@pytest.mark.parametrize("runtime", ["ref", "fast"])
def test_savedmodel_while_tensorarray_cond(grappo: Path, models: Path, runtime: str, tmp_path: Path) -> None:
    for i, (x, want) in enumerate(_cases(models, tmp_path)):
        out = tmp_path / f"o{i}"
        _run(
            [
                str(grappo),
                "run",
                str(models / NAME / "saved_model"),
                "--runtime",
                runtime,
                "--input",
                f"x={x}",
                "--save-outputs",
                str(out),
            ]
        )
        for k, v in want.items():
            _close(np.load(out / _npy_name(f"{k}:0")), v, f"SavedModel {k} ({runtime}, case {i})")


@pytest.mark.parametrize("runtime", ["ref", "fast"])
def test_frozen_lowered_to_frames(grappo: Path, models: Path, runtime: str, tmp_path: Path) -> None:
    meta = json.loads((models / NAME / "meta.json").read_text())
    outs = meta["frozen"]["outputs"]
    for i, (x, want) in enumerate(_cases(models, tmp_path)):
        out = tmp_path / f"o{i}"
        cmd = [
            str(grappo),
            "run",
            str(models / NAME / "frozen.pb"),
            "--runtime",
            runtime,
            "--input",
            f"x={x}",
            "--save-outputs",
            str(out),
        ]
        for k in sorted(outs):
            cmd += ["--output", outs[k]]
        _run(cmd)
        for k, v in want.items():
            _close(np.load(out / _npy_name(outs[k])), v, f"frozen {k} ({runtime}, case {i})")


@pytest.mark.parametrize("source", ["saved_model", "frozen.pb"])
def test_grappler_result_runs_in_tf_and_grappo(grappo: Path, models: Path, source: str, tmp_path: Path) -> None:
    import tensorflow as tf

    meta = json.loads((models / NAME / "meta.json").read_text())
    fetch = {k: f"{k}:0" for k in ("seq", "y")} if source == "saved_model" else meta["frozen"]["outputs"]
    opt = tmp_path / "opt.pb"
    res = _run(
        [
            str(grappo),
            "optimize",
            str(models / NAME / source),
            "--search",
            "grappler",
            "--target",
            "tf",
            "--format",
            "pb",
            "-o",
            str(opt),
        ]
    )
    assert "RESULT:" in res.stdout
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(opt.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    for i, (x, want) in enumerate(_cases(models, tmp_path)):
        with tf.compat.v1.Session(graph=graph) as sess:
            got = sess.run([fetch[k] for k in sorted(fetch)], {"x:0": np.load(x)})
        for k, v in zip(sorted(fetch), got, strict=True):
            _close(v, want[k], f"TensorFlow on grappo's grappler graph of {source}: {k} (case {i})")
        out = tmp_path / f"g{i}"
        cmd = [str(grappo), "run", str(opt), "--input", f"x={x}", "--save-outputs", str(out)]
        for k in sorted(fetch):
            cmd += ["--output", fetch[k]]
        _run(cmd)
        for k in sorted(fetch):
            _close(np.load(out / _npy_name(fetch[k])), want[k], f"grappo on its grappler graph of {source}: {k} (case {i})")
