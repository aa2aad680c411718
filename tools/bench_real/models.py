"""The trained models of the cache (make models) and the data options grappo optimize needs for each.

ResNet-50 (fashion-mnist): calibration images, the first N images of the labelled test split
(linked into a work directory with their labels), the preprocessing of its info.json. MiniLM
classifier: calibration and evaluation token batches (.npy) and the evaluation labels."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path


def models_dir() -> Path:
    """$GRAPPO_MODELS, else ~/.cache/grappo/models (as mk/models.mk)."""
    return Path(os.environ.get("GRAPPO_MODELS", str(Path.home() / ".cache" / "grappo" / "models")))


@dataclass
class RealModel:
    """One trained model: where it is and the grappo optimize options of its data."""

    name: str
    saved_model: Path
    data_args: list[str] = field(default_factory=list)
    eval_rows: int = 0
    eval_what: str = ""


def _label_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def resnet50(root: Path, work: Path, n_eval: int) -> RealModel:
    """Trained ResNet-50 with the first n_eval labelled test images (sorted names)."""
    base = root / "resnet50-fmnist"
    info = json.loads((base / "info.json").read_text())
    pre = info.get("preprocessing", {})
    images = sorted(p.name for p in (base / "eval" / "images").iterdir())
    labels = _label_lines(base / "eval" / "labels.txt")
    if len(images) != len(labels):
        raise ValueError(f"{base}/eval: {len(images)} images but {len(labels)} labels")
    n = min(n_eval, len(images))
    subset = work / f"resnet50-eval-{n}"
    (subset / "images").mkdir(parents=True, exist_ok=True)
    for f in (subset / "images").iterdir():
        f.unlink()
    for name in images[:n]:
        (subset / "images" / name).symlink_to(base / "eval" / "images" / name)
    (subset / "labels.txt").write_text("\n".join(labels[:n]) + "\n")
    csv = lambda v: ",".join(f"{x:g}" for x in v)  # noqa: E731
    args = ["--calibration", str(base / "calib" / "images")]
    args += ["--eval", str(subset / "images"), "--labels", str(subset / "labels.txt")]
    if "mean" in pre:
        args += ["--mean", csv(pre["mean"])]
    if "std" in pre:
        args += ["--std", csv(pre["std"])]
    return RealModel("resnet50-fmnist", base / "saved_model", args, n, "labelled test images")


def minilm(root: Path) -> RealModel:
    """Trained MiniLM sentence classifier with its evaluation token batches and labels."""
    base = root / "minilm"
    labels = base / "eval" / "labels.txt"
    rows = len(_label_lines(labels))
    args = ["--calibration", str(base / "calib"), "--eval", str(base / "eval"), "--labels", str(labels)]
    return RealModel("minilm-classifier", base / "classifier" / "saved_model", args, rows, "labelled sentences")


def resolve(names: list[str], work: Path, n_eval: int) -> list[RealModel]:
    """The named models (resnet50, minilm) that the cache holds; a missing one is an error."""
    root = models_dir()
    out: list[RealModel] = []
    for name in names:
        if name == "resnet50":
            m = resnet50(root, work, n_eval)
        elif name == "minilm":
            m = minilm(root)
        else:
            raise ValueError(f"unknown model '{name}' (resnet50, minilm)")
        if not (m.saved_model / "saved_model.pb").exists():
            raise FileNotFoundError(f"{m.saved_model}: no SavedModel (make models builds it)")
        out.append(m)
    return out
