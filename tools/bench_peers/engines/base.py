"""What every engine module shares: the run-time settings (2 intra-op threads, 1 inter-op,
batch 1), the artifact cache, and the Runner type."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

INTRA_OP_THREADS = 2
INTER_OP_THREADS = 1

# feeds keyed by the signature's input keys -> the output compared across engines
Runner = Callable[[dict[str, np.ndarray]], np.ndarray]


def versions(*packages: str) -> str:
    return "-".join(f"{re.sub('[^a-z0-9]', '', p.lower())}{metadata.version(p)}" for p in packages)


def cached(dir_: Path, build: Callable[[Path], str]) -> tuple[Path, str]:
    """dir_ holds a finished artifact when dir_/done.json exists; otherwise build(tmp) makes
    it in a scratch directory moved into place at the end (an interrupted build leaves no
    half artifact). build returns a note kept with the artifact."""
    done = dir_ / "done.json"
    if done.exists():
        return dir_, json.loads(done.read_text()).get("note", "")
    tmp = dir_.with_name(dir_.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    note = build(tmp)
    (tmp / "done.json").write_text(json.dumps({"note": note}))
    shutil.rmtree(dir_, ignore_errors=True)
    tmp.replace(dir_)
    return dir_, note
