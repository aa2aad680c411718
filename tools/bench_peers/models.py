"""Which SavedModel each benchmark model is, and its data: the TRAINED model of the models
cache when present (docs/bench-peers.md; $GRAPPO_MODELS or ~/.cache/grappo/models), else the
one tests/tf/gen_models.py generates into build/tf-bench/ (what make bench-tf times).
Calibration and evaluation samples are written once as grappo's ``<input>_<k>.npy`` batches
of one (every engine reads the same files); labels come with the trained models' eval sets."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .names import file_stem

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Catalogue:
    trained: str | None  # directory name in the models cache
    # SavedModels of that directory, first present wins, with whether the eval labels apply to
    # its output (minilm's saved_model outputs an embedding; its classifier/ the labelled logits)
    trained_models: tuple[tuple[str, bool], ...]
    generated: str  # tests/tf/gen_models.py model name
    int_high: int  # generated integer inputs are uniform in [0, int_high) (segment ids: [0, 2))
    transformer: bool


CATALOGUE = {
    "resnet50": Catalogue("resnet50-fmnist", (("saved_model", True),), "resnet50", 0, False),
    "bert-base": Catalogue("minilm", (("classifier/saved_model", True), ("saved_model", False)), "bert_base", 1000, True),
    # --quick: the harness's tiny models, same code paths in seconds
    "resnet-tiny": Catalogue(None, (), "resnet", 0, False),
    "bert-tiny": Catalogue(None, (), "bert", 50, True),
}


@dataclass
class Model:
    name: str
    source: str  # "generated" or "trained: <cache dir>/<saved model>"
    saved_model: str
    inputs: dict[str, dict[str, Any]]  # signature key -> {"dtype", "shape"} (batch 1)
    output: str  # the signature output every engine is compared on
    key: str  # cache key: name, source, hash of saved_model.pb and variables.index
    transformer: bool
    calib_dir: str = ""
    eval_dir: str = ""
    n_calib: int = 0
    n_eval: int = 0
    labels: list[int] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> Model:
        return Model(**json.loads(text))

    def feeds(self, split: str, k: int) -> dict[str, np.ndarray]:
        d = Path(self.calib_dir if split == "calib" else self.eval_dir)
        return {name: np.load(d / f"{file_stem(name)}_{k}.npy") for name in self.inputs}


def models_cache() -> Path:
    return Path(os.environ.get("GRAPPO_MODELS") or Path.home() / ".cache" / "grappo" / "models")


def _saved_model_sha(sm: Path) -> str:
    """The graph and the weights: retraining keeps saved_model.pb but changes variables.index
    (it holds every tensor's checksum)."""
    h = hashlib.sha1((sm / "saved_model.pb").read_bytes())
    index = sm / "variables" / "variables.index"
    if index.exists():
        h.update(index.read_bytes())
    return h.hexdigest()[:10]


def _generate(name: str) -> Path:
    out = ROOT / "build" / "tf-bench"
    if not (out / name / "meta.json").exists():
        py = os.environ.get("GRAPPO_TEST_PYTHON") or str(ROOT / ".venv" / "bin" / "python")
        if not Path(py).exists():
            py = sys.executable
        subprocess.run([py, str(ROOT / "tests" / "tf" / "gen_models.py"), str(out), name], check=True)
    return out / name / "saved_model"


def _signature(saved_model: Path) -> tuple[dict[str, dict[str, Any]], str]:
    import tensorflow as tf

    sig = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    inputs = {}
    for key, spec in sorted(sig.structured_input_signature[1].items()):
        inputs[key] = {"dtype": spec.dtype.name, "shape": [1 if d is None else int(d) for d in spec.shape.as_list()]}
    return inputs, sorted(sig.structured_outputs)[0]


def _preprocessing(info: dict[str, Any]) -> dict[str, Any]:
    pre = info.get("preprocessing", info)
    return pre if isinstance(pre, dict) else {}


def _png_sample(path: Path, spec: dict[str, Any], pre: dict[str, Any]) -> np.ndarray:
    import tensorflow as tf

    img = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False)
    layout = str(pre.get("layout", "nhwc")).lower()
    h, w = (spec["shape"][2], spec["shape"][3]) if layout == "nchw" else (spec["shape"][1], spec["shape"][2])
    x = tf.cast(img, tf.float32)
    if tuple(x.shape[:2]) != (h, w):
        x = tf.image.resize(x, (h, w), method="bilinear")
    arr = x.numpy() / 255.0
    mean = np.asarray(pre.get("mean", [0.0, 0.0, 0.0]), np.float32)
    std = np.asarray(pre.get("std", [1.0, 1.0, 1.0]), np.float32)
    arr = (arr - mean) / std
    if layout == "nchw":
        arr = arr.transpose(2, 0, 1)
    return arr[None].astype(spec["dtype"])


def _trained_split(src: Path, dst: Path, m: Model, n: int) -> int:
    """Writes up to n samples of src (images/ or <input>_<k>.npy batches) to dst as batches of one."""
    dst.mkdir(parents=True, exist_ok=True)
    pngs = sorted(p for p in (src / "images").glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if pngs:
        info_path = src.parent / "info.json"
        pre = _preprocessing(json.loads(info_path.read_text())) if info_path.exists() else {}
        (key,) = m.inputs
        for k, p in enumerate(pngs[:n]):
            np.save(dst / f"{file_stem(key)}_{k}.npy", _png_sample(p, m.inputs[key], pre))
        return min(n, len(pngs))
    rows: dict[str, list[np.ndarray]] = {}
    for key in m.inputs:
        k = 0
        while (f := src / f"{file_stem(key)}_{k}.npy").exists() and sum(len(r) for r in rows.get(key, [])) < n:
            rows.setdefault(key, []).append(np.load(f))
            k += 1
    counts = {key: sum(len(r) for r in rows.get(key, [])) for key in m.inputs}
    total = min([n, *counts.values()])
    for key in m.inputs:
        flat = np.concatenate(rows[key]) if rows.get(key) else np.zeros((0,))
        for k in range(total):
            np.save(dst / f"{file_stem(key)}_{k}.npy", flat[k : k + 1].astype(m.inputs[key]["dtype"]))
    return total


def _generated_split(dst: Path, m: Model, n: int, seed: int, int_high: int) -> int:
    dst.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(n):
        for key, spec in m.inputs.items():
            if np.dtype(spec["dtype"]).kind in "iu":
                hi = 2 if "segment" in key or "type" in key else int_high
                x = rng.integers(0, hi, size=spec["shape"]).astype(spec["dtype"])
            else:
                x = rng.uniform(0, 1, size=spec["shape"]).astype(spec["dtype"])
            np.save(dst / f"{file_stem(key)}_{k}.npy", x)
    return n


def resolve(name: str, n_calib: int, n_eval: int, prefer_trained: bool = True) -> Model:
    """The model called name, its calibration and evaluation data written under build/peers/."""
    cat = CATALOGUE[name]
    trained = models_cache() / cat.trained if cat.trained else None
    found = [(rel, lab) for rel, lab in cat.trained_models if trained and (trained / rel / "saved_model.pb").exists()]
    use_labels = False
    if prefer_trained and trained and found:
        rel, use_labels = found[0]
        source, sm = f"trained: {cat.trained}/{rel}", trained / rel
    else:
        source, sm = "generated", _generate(cat.generated)
    inputs, output = _signature(sm)
    key = f"{name}-{'trained' if trained and sm.is_relative_to(trained) else 'generated'}-{_saved_model_sha(sm)}"
    m = Model(name, source, str(sm), inputs, output, key, cat.transformer)
    data = ROOT / "build" / "peers" / key / f"data-c{n_calib}-e{n_eval}"
    m.calib_dir, m.eval_dir = str(data / "calib"), str(data / "eval")
    stamp = data / "done.json"
    if stamp.exists():
        saved = json.loads(stamp.read_text())
        m.n_calib, m.n_eval, m.labels = saved["n_calib"], saved["n_eval"], saved["labels"]
        return m
    shutil.rmtree(data, ignore_errors=True)
    if source != "generated" and trained is not None:
        m.n_calib = _trained_split(trained / "calib", Path(m.calib_dir), m, n_calib)
        m.n_eval = _trained_split(trained / "eval", Path(m.eval_dir), m, n_eval)
        labels = trained / "eval" / "labels.txt"
        if use_labels and labels.exists():
            m.labels = [int(x) for x in labels.read_text().split()[: m.n_eval]]
    else:
        m.n_calib = _generated_split(Path(m.calib_dir), m, n_calib, 11, cat.int_high)
        m.n_eval = _generated_split(Path(m.eval_dir), m, n_eval, 22, cat.int_high)
    stamp.write_text(json.dumps({"n_calib": m.n_calib, "n_eval": m.n_eval, "labels": m.labels}))
    return m
