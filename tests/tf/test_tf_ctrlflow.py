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
    res = subprocess.run(
        [str(grappo), "optimize", str(FIX / pb), "--target", "tf", "--search", "grappler", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
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


# ---- TF1 while loops (tests/fixtures/tf1loops/, made by tools/gen_ctrlflow_fixtures.py --tf1 with
#      control_flow_v2 off): TensorFlow live on fresh inputs against grappo on both runtimes, and
#      against what `optimize --search grappler` writes (which TensorFlow must still import and run)
TF1 = Path(__file__).resolve().parent.parent / "fixtures" / "tf1loops"


def _tf1_cases() -> list[tuple[str, dict[str, str], list[str]]]:
    out = []
    seen = set()
    for line in (TF1 / "MANIFEST").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        pb, rest = line.split(" ", 1)
        if pb in seen:
            continue
        seen.add(pb)
        ins, outs = rest.split(" -> ")
        feeds = dict(kv.split("=") for kv in ins.split())
        out.append((pb, feeds, [kv.split("=")[0] for kv in outs.split()]))
    return out


def _fresh(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if v.dtype == np.float32:
        return rng.standard_normal(v.shape).astype(np.float32)
    return v  # counts and indices keep the fixture's (valid) value


def _tf_run(pb: Path, feeds: dict[str, np.ndarray], fetch: list[str]) -> list[np.ndarray]:
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=g) as s:
        return list(s.run(fetch, {f"{k}:0": v for k, v in feeds.items()}))


def _close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 0.0)
    assert float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) <= 1e-5 * scale


@pytest.mark.parametrize("case", _tf1_cases(), ids=lambda c: c[0])
def test_tf1_loops_match_tf(grappo: Path, case: tuple[str, dict[str, str], list[str]], tmp_path: Path) -> None:
    pb, feed_files, fetch = case
    rng = np.random.default_rng(len(pb))
    feeds = {k: _fresh(np.load(TF1 / v), rng) for k, v in feed_files.items()}
    args = []
    for k, v in feeds.items():
        np.save(tmp_path / f"{k}.npy", v)
        args += ["--input", f"{k}={tmp_path / f'{k}.npy'}"]
    for f in fetch:
        args += ["--output", f]
    want = _tf_run(TF1 / pb, feeds, fetch)
    opt = tmp_path / "opt.pb"
    res = subprocess.run(
        [str(grappo), "optimize", str(TF1 / pb), "--search", "grappler", "-o", str(opt)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "TF1 control flow" in res.stdout
    for got, w in zip(_tf_run(opt, feeds, fetch), want):
        _close(got, w)
    for runtime in ("ref", "fast"):
        d = tmp_path / runtime
        res = subprocess.run(
            [str(grappo), "run", str(TF1 / pb), *args, "--runtime", runtime, "--save-outputs", str(d)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, res.stderr
        for f, w in zip(fetch, want):
            _close(np.load(d / (f.replace("/", "_").replace(":", "_") + ".npy")), w)
