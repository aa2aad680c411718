"""The engines, one module each. An engine is a conversion/quantization step (``prepare``,
cached under build/peers/<model key>/<artifact>-<tool versions>/) and a way to run the result
(``load``), in its own worker process (bench_peers.worker). ``ENGINES`` lists them in table
order; ``ort-fp32`` (ONNX Runtime, all graph optimizations) is every ratio's baseline."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Engine:
    id: str
    module: str  # bench_peers.engines.<module>
    precision: str  # fp32 or int8
    what: str


ENGINES = [
    Engine("tf-fp32", "tf_engine", "fp32", "TensorFlow running the SavedModel (Grappler + oneDNN)"),
    Engine("ort-fp32-noopt", "ort_engine", "fp32", "ONNX Runtime, tf2onnx model, graph optimizations off"),
    Engine("ort-fp32", "ort_engine", "fp32", "ONNX Runtime, tf2onnx model, ORT_ENABLE_ALL"),
    Engine("ort-int8", "ort_engine", "int8", "ONNX Runtime quantize_static (QDQ, per-channel), ORT_ENABLE_ALL"),
    Engine("ov-fp32", "ov_engine", "fp32", "OpenVINO convert_model of the SavedModel, f32 inference precision"),
    Engine("ov-int8", "ov_engine", "int8", "OpenVINO + NNCF quantize (post-training, same calibration data)"),
    Engine("inc-int8", "inc_engine", "int8", "Intel Neural Compressor static int8 of the TF model, run in TensorFlow"),
    Engine("grappo-orig", "grappo_engine", "fp32", "grappo's fast runtime on the unrewritten SavedModel"),
    Engine("grappo-fp32", "grappo_engine", "fp32", "grappo optimize --search grappler (exact)"),
    Engine("grappo-int8", "grappo_engine", "int8", "grappo optimize --search grappler+int8 --calibration (same data)"),
]
BY_ID = {e.id: e for e in ENGINES}
BASELINE = "ort-fp32"
REFERENCE = "tf-fp32"  # fidelity is measured against this engine's outputs
