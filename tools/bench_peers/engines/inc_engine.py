"""Intel Neural Compressor: ``neural_compressor.tensorflow.quantize_model`` with its default
static int8 config (``StaticQuantConfig()``) on the shared calibration samples, the quantized
TensorFlow graph then run in TensorFlow (intra-op 2 / inter-op 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..models import Model
from ..names import match_inputs
from .base import Runner, cached, versions
from .tf_engine import set_threads


def prepare(engine: str, m: Model, root: Path) -> tuple[Path, str]:
    def build(tmp: Path) -> str:
        set_threads()
        from neural_compressor.tensorflow import Model as IncModel
        from neural_compressor.tensorflow import StaticQuantConfig, quantize_model
        from neural_compressor.tensorflow.utils import BaseDataLoader

        fp32 = IncModel(m.saved_model)
        # several inputs go in by INC's own tensor names (its pairing of a list is by shape,
        # ambiguous when every input is [1, 128] int32)
        mapping = match_inputs(list(fp32.input_tensor_names), list(m.inputs))

        class Calib:
            def __len__(self) -> int:
                return m.n_calib

            def __getitem__(self, k: int) -> tuple[Any, int]:
                f = m.feeds("calib", k)
                if len(f) == 1:
                    return next(iter(f.values()))[0], 0
                return {mapping[key]: v[0] for key, v in f.items()}, 0

        q = quantize_model(fp32, StaticQuantConfig(), BaseDataLoader(Calib(), batch_size=1), m.n_calib)
        q.save(str(tmp / "model"))
        return f"StaticQuantConfig() defaults, {m.n_calib} calibration samples"

    return cached(root / f"inc-int8-{versions('neural-compressor', 'tensorflow-cpu')}-c{m.n_calib}", build)


def load(engine: str, m: Model, art: Path) -> Runner:
    import tensorflow as tf

    set_threads()
    d = art / "model"
    if (d / "saved_model.pb").exists():
        loaded = tf.saved_model.load(str(d))
        sig = loaded.signatures["serving_default"]
        names = sorted(sig.structured_input_signature[1])
        mapping = match_inputs(names, list(m.inputs))
        outs = sorted(sig.structured_outputs)
        want = m.output if m.output in outs else outs[0]

        def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
            return np.asarray(sig(**{mapping[k]: tf.constant(v) for k, v in feeds.items()})[want].numpy())

        run.keep = loaded  # type: ignore[attr-defined]
        return run
    raise RuntimeError(f"INC wrote no SavedModel under {d}: {sorted(p.name for p in d.parent.iterdir())}")
