"""ONNX Runtime: the SavedModel converted by tf2onnx (its documented CLI,
``python -m tf2onnx.convert --saved-model``), run with all graph optimizations
(ORT_ENABLE_ALL) or none; int8 by onnxruntime.quantization.quantize_static (QDQ, per-channel
weights, MinMax calibration on the shared calibration samples) after the recommended
quant_pre_process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from ..models import Model
from ..names import match_inputs
from .base import INTER_OP_THREADS, INTRA_OP_THREADS, Runner, cached, versions

OPSET = 17


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
        return ""

    return cached(root / f"onnx-{versions('tf2onnx', 'onnx', 'tensorflow-cpu')}-opset{OPSET}", build)


def _onnx_int8(m: Model, root: Path) -> tuple[Path, str]:
    fp32, _ = _onnx_fp32(m, root)

    def build(tmp: Path) -> str:
        import onnxruntime as ort
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        pre = tmp / "pre.onnx"
        quant_pre_process(str(fp32 / "model.onnx"), str(pre))
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
            extra_options={"CalibMaxIntermediateOutputs": 4},
        )
        pre.unlink()
        return f"quantize_static QDQ per-channel, {m.n_calib} calibration samples"

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
