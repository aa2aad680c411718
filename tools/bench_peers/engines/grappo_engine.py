"""grappo: ``grappo optimize SAVEDMODEL --search grappler`` (exact) and
``--search grappler+int8 --calibration DIR --eval DIR [--labels FILE]`` (the shared calibration and
evaluation samples: the keep/refuse verdict is judged on them, on labelled top-1 for trained models), and the
unrewritten SavedModel; all timed in-process through the Python package over libgrappo.so
(python/), the fast runtime at 2 threads (OMP_NUM_THREADS=2, set by the worker)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..models import ROOT, Model
from ..names import match_inputs
from .base import INTRA_OP_THREADS, Runner, cached

SEARCH = {"grappo-fp32": "grappler", "grappo-int8": "grappler+int8"}


def binary() -> Path:
    return Path(os.environ.get("GRAPPO") or ROOT / "build" / "grappo")


def library() -> Path:
    return Path(os.environ.get("GRAPPO_LIBRARY") or ROOT / "build" / "libgrappo.so")


def _build_key() -> str:
    """grappo changes under the benchmark: its artifacts are keyed by the binary itself."""
    return hashlib.sha1(binary().read_bytes()).hexdigest()[:10]


def prepare(engine: str, m: Model, root: Path) -> tuple[Path, str]:
    if engine == "grappo-orig":
        return Path(m.saved_model), ""
    search = SEARCH[engine]
    calib = engine == "grappo-int8"

    def build(tmp: Path) -> str:
        cmd = [
            str(binary()),
            "optimize",
            m.saved_model,
            "-o",
            str(tmp / "model") + "/",
            "--search",
            search,
            "--threads",
            str(INTRA_OP_THREADS),
        ]
        if calib:
            # judged like a user with data would run it: on the shared evaluation samples (with
            # their labels when the model is a trained one), not on generated noise
            cmd += ["--calibration", m.calib_dir, "--eval", m.eval_dir]
            for name, spec in m.inputs.items():
                cmd += ["--input-shape", name + "=" + ",".join(str(d) for d in spec["shape"])]
            if m.labels:
                labels = tmp / "labels.txt"
                labels.write_text("".join(f"{c}\n" for c in m.labels))
                cmd += ["--labels", str(labels)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("grappo optimize: " + (r.stderr.strip().splitlines() or ["failed"])[-1])
        result = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT:")]
        return result[-1] if result else ""

    suffix = f"-c{m.n_calib}-e{m.n_eval}" if calib else ""
    return cached(root / f"grappo-{search}-{_build_key()}{suffix}", build)


def load(engine: str, m: Model, art: Path) -> Runner:
    os.environ.setdefault("GRAPPO_LIBRARY", str(library()))
    sys.path.insert(0, str(ROOT / "python"))
    import grappo

    path = art if engine == "grappo-orig" else art / "model"
    model = grappo.load(str(path))
    mapping = match_inputs([t.name for t in model.inputs], list(m.inputs))
    outs = [t.name for t in model.outputs]
    want = next((o for o in outs if o.split(":")[0] == m.output), outs[0])

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.array(model.run({mapping[k]: v for k, v in feeds.items()})[want])

    run.keep = model  # type: ignore[attr-defined]
    return run
