"""grappo's int8 against TensorFlow Lite's full-integer int8 on real fixtures and real photographs.

tools/int8_compare/compare.py does the work (see its docstring): float32 reference in
TensorFlow, grappler+int8 calibrated on the fixture's images/calib on grappo's reference
runtime, TFLite's post-training int8 on the same calibration images; scored on images/eval.
At equal coverage (every convolution in int8 in both) grappo's worst output must be at least as
close to float32 as TFLite's, and classifiers must agree on top-1 at least as often.
blazeface-front failed this before the int8 conv rule's channel equalization (grappo 0.952,
TFLite 0.959 on its score output; one 1x1 conv's input spans -505..13 in one of 96 channels).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "int8_compare"))
import compare  # noqa: E402


@pytest.fixture(scope="module")
def tool_int8() -> Path:
    path = Path(
        os.environ.get("GRAPPO_TOOL_INT8", str(ROOT / "build" / "tests" / "tool_int8"))
    )
    if not path.exists():
        pytest.skip(f"{path} not built (make build/tests/tool_int8)")
    return path.resolve()


@pytest.mark.parametrize("name", ["gender", "blazeface-front"])
def test_grappo_int8_at_least_tflite(name: str, grappo: Path, tool_int8: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    fx = compare.load_fixture(name)
    assert len(fx.calib) >= 8 and len(fx.eval) >= 8
    from tensorflow.core.framework import graph_pb2

    g = graph_pb2.GraphDef()
    g.ParseFromString(fx.pb.read_bytes())
    flat = compare.unfuse(g)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        flat_pb = work / "flat.pb"
        flat_pb.write_bytes(flat.SerializeToString())
        ref = compare.tf_float(flat, fx, fx.eval)
        gpb = compare.grappo_int8(str(tool_int8), fx, work)
        quantizable = compare.count_quantizable_tf(g)
        covered, _ = compare.grappo_coverage(gpb, quantizable)
        g_cos, g_top = compare.score(
            ref, compare.grappo_run(str(grappo), gpb, fx, fx.eval, work)
        )
        tfl = compare.tflite_int8(flat_pb, fx)
        t_cos, t_top = compare.score(ref, compare.tflite_run(tfl, fx, fx.eval))
        t_covered, t_quantizable, _, _ = compare.tflite_coverage(tfl)
    assert covered == quantizable  # equal coverage: every conv in int8 in both
    assert t_covered == t_quantizable == quantizable
    assert (
        g_cos >= t_cos
    ), f"{name}: grappo int8 cosine {g_cos:.4f} < TFLite {t_cos:.4f}"
    if g_top is not None and t_top is not None:
        assert g_top >= t_top
