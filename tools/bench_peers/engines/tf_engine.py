"""TensorFlow running the original SavedModel's serving_default signature: its default
Grappler passes and oneDNN kernels, intra-op 2 / inter-op 1 threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..models import Model
from .base import INTER_OP_THREADS, INTRA_OP_THREADS, Runner


def set_threads() -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(INTRA_OP_THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(INTER_OP_THREADS)


def prepare(engine: str, m: Model, root: Path) -> tuple[Path, str]:
    return Path(m.saved_model), ""


def load(engine: str, m: Model, art: Path) -> Runner:
    import tensorflow as tf

    set_threads()
    loaded = tf.saved_model.load(str(art))
    sig = loaded.signatures["serving_default"]

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        out = sig(**{k: tf.constant(v) for k, v in feeds.items()})
        return np.asarray(out[m.output].numpy())

    run.keep = loaded  # type: ignore[attr-defined]  # the variables live as long as the runner
    return run
