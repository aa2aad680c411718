"""OpenVINO: ``openvino.convert_model`` of the SavedModel (fp32), and NNCF's post-training
``nncf.quantize`` of that model on the shared calibration samples (int8; model_type
TRANSFORMER for the BERT-style models, as NNCF's documentation asks). Compiled for CPU with
2 inference threads, one stream, the latency hint and f32 inference precision (OpenVINO
would otherwise run bf16 on CPUs that have it: the fp32 rows stay fp32)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..models import Model
from ..names import match_inputs
from .base import INTRA_OP_THREADS, Runner, cached, versions


def _fp32(m: Model, root: Path) -> tuple[Path, str]:
    def build(tmp: Path) -> str:
        import openvino as ov

        ov.save_model(ov.convert_model(m.saved_model), str(tmp / "model.xml"))
        return ""

    return cached(root / f"ov-{versions('openvino')}", build)


def _input_names(model: object) -> list[str]:
    return [i.get_any_name() for i in model.inputs]  # type: ignore[attr-defined]


def _int8(m: Model, root: Path) -> tuple[Path, str]:
    fp32, _ = _fp32(m, root)

    def build(tmp: Path) -> str:
        import nncf
        import openvino as ov

        model = ov.Core().read_model(str(fp32 / "model.xml"))
        mapping = match_inputs(_input_names(model), list(m.inputs))
        samples = [{mapping[k]: v for k, v in m.feeds("calib", i).items()} for i in range(m.n_calib)]
        kind = nncf.ModelType.TRANSFORMER if m.transformer else None
        q = nncf.quantize(model, nncf.Dataset(samples), subset_size=m.n_calib, model_type=kind)
        ov.save_model(q, str(tmp / "model.xml"))
        return f"nncf.quantize, {m.n_calib} calibration samples" + (", model_type TRANSFORMER" if kind else "")

    return cached(root / f"ov-int8-{versions('openvino', 'nncf')}-c{m.n_calib}", build)


def prepare(engine: str, m: Model, root: Path) -> tuple[Path, str]:
    return _int8(m, root) if engine == "ov-int8" else _fp32(m, root)


def load(engine: str, m: Model, art: Path) -> Runner:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(art / "model.xml"))
    config = {
        "INFERENCE_NUM_THREADS": INTRA_OP_THREADS,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
    }
    compiled = core.compile_model(model, "CPU", config)
    mapping = match_inputs(_input_names(model), list(m.inputs))
    request = compiled.create_infer_request()
    outs = compiled.outputs
    out = next((o for o in outs if m.output in o.get_names()), outs[0])

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        res = request.infer({mapping[k]: v for k, v in feeds.items()})
        return np.array(res[out])

    return run
