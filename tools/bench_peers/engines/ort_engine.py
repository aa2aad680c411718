"""ONNX Runtime: the SavedModel converted by tf2onnx (its documented CLI,
``python -m tf2onnx.convert --saved-model``), run with all graph optimizations
(ORT_ENABLE_ALL) or none; int8 by onnxruntime.quantization.quantize_static (QDQ, per-channel
weights, MinMax calibration on the shared calibration samples) after the recommended
quant_pre_process. tf2onnx 1.17 passes TensorFlow's Erfc (Keras 3's exact GELU) through as an
op ONNX does not have; each is replaced by 1 - Erf(x), the same function (``_erfc_to_erf``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from ..models import Model
from ..names import match_inputs
from .base import INTER_OP_THREADS, INTRA_OP_THREADS, Runner, cached, versions

OPSET = 17


def _erfc_to_erf(path: Path) -> int:
    """Replaces every Erfc node of the ONNX model at path by 1 - Erf(x); returns how many."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    nodes = list(graph.node)
    erfc = [n for n in nodes if n.op_type == "Erfc" and n.domain in ("", "ai.onnx")]
    if not erfc:
        return 0
    one = "bench_peers_one"
    graph.initializer.append(helper.make_tensor(one, TensorProto.FLOAT, [], [1.0]))
    del graph.node[:]
    for n in nodes:
        if n in erfc:
            mid = n.output[0] + "_erf"
            graph.node.extend(
                [
                    helper.make_node("Erf", [n.input[0]], [mid], name=n.name + "_erf"),
                    helper.make_node("Sub", [one, mid], [n.output[0]], name=n.name),
                ]
            )
        else:
            graph.node.append(n)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return len(erfc)


def _onnx_fp32(m: Model, root: Path) -> tuple[Path, str]:
    def build(tmp: Path) -> str:
        cmd = [
            sys.executable,
            "-m",
            "tf2onnx.convert",
            "--saved-model",
            m.saved_model,
            "--signature_def",
            "serving_default",
            "--tag",
            "serve",
            "--opset",
            str(OPSET),
            "--output",
            str(tmp / "model.onnx"),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("tf2onnx: " + (r.stderr.strip().splitlines() or ["failed"])[-1])
        n = _erfc_to_erf(tmp / "model.onnx")
        return f"tf2onnx opset {OPSET}" + (f"; {n} Erfc as 1 - Erf (tf2onnx has no Erfc)" if n else "")

    return cached(root / f"onnx-{versions('tf2onnx', 'onnx', 'tensorflow-cpu')}-opset{OPSET}", build)


def _flush_every(n: int) -> int:
    """How many samples' activations ORT's calibrator holds before reducing them to ranges
    (bounds its memory on BERT-base). Not a divisor of n: ORT 1.32 raises "No data is
    collected" when the last flush leaves nothing behind."""
    return next(k for k in (5, 7, 9, 11, 13) if n % k) if n > 5 else n + 1


def _onnx_int8(m: Model, root: Path) -> tuple[Path, str]:
    fp32, _ = _onnx_fp32(m, root)

    def build(tmp: Path) -> str:
        import onnxruntime as ort
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        pre = tmp / "pre.onnx"
        notes = []
        try:
            quant_pre_process(str(fp32 / "model.onnx"), str(pre))
        except Exception as e:  # ORT's symbolic shape inference gives up on some graphs
            quant_pre_process(str(fp32 / "model.onnx"), str(pre), skip_symbolic_shape=True)
            notes.append(f"pre-process without symbolic shapes ({(str(e).splitlines() or ['failed'])[0][:80]})")
        names = [i.name for i in ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()]
        mapping = match_inputs(names, list(m.inputs))

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.k = 0

            def get_next(self) -> dict[str, np.ndarray] | None:
                if self.k >= m.n_calib:
                    return None
                feeds = m.feeds("calib", self.k)
                self.k += 1
                return {mapping[key]: v for key, v in feeds.items()}

        quantize_static(
            str(pre),
            str(tmp / "model.onnx"),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            extra_options={"CalibMaxIntermediateOutputs": _flush_every(m.n_calib)},
        )
        pre.unlink()
        return "; ".join([f"quantize_static QDQ per-channel, {m.n_calib} calibration samples", *notes])

    return cached(root / f"onnx-int8-{versions('onnxruntime', 'tf2onnx', 'onnx')}-c{m.n_calib}", build)


def prepare(engine: str, m: Model, root: Path) -> tuple[Path, str]:
    return _onnx_int8(m, root) if engine == "ort-int8" else _onnx_fp32(m, root)


def load(engine: str, m: Model, art: Path) -> Runner:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = INTRA_OP_THREADS
    so.inter_op_num_threads = INTER_OP_THREADS
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_DISABLE_ALL if engine == "ort-fp32-noopt" else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    )
    sess = ort.InferenceSession(str(art / "model.onnx"), so, providers=["CPUExecutionProvider"])
    mapping = match_inputs([i.name for i in sess.get_inputs()], list(m.inputs))
    outs = [o.name for o in sess.get_outputs()]
    want = next((o for o in outs if o.split(":")[0] == m.output or o.split(":")[0].endswith(m.output)), outs[0])

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(sess.run([want], {mapping[k]: v for k, v in feeds.items()})[0])

    return run
