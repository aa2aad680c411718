"""Fixtures for the TensorFlow harness: the grappo binary and the generated models.

Models are generated once by gen_models.py into build/tf-models/<hash of gen_models.py>/ and
reused by later runs until the generator changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _binary(env: str, default: Path) -> Path:
    path = Path(os.environ.get(env, str(default)))
    if not path.exists():
        pytest.skip(f"{path} not built (make)")
    return path.resolve()


@pytest.fixture(scope="session")
def grappo() -> Path:
    return _binary("GRAPPO", ROOT / "build" / "grappo")


@pytest.fixture(scope="session")
def tool_grappler() -> Path:
    return _binary("GRAPPO_TOOL_GRAPPLER", ROOT / "build" / "tests" / "tool_grappler")


@pytest.fixture(scope="session")
def converter() -> Path:
    return _binary("GRAPPO_CONVERT", ROOT / "build" / "tests" / "tool_convert")


@pytest.fixture(scope="session")
def models() -> Path:
    gen = HERE / "gen_models.py"
    digest = hashlib.sha256(gen.read_bytes()).hexdigest()[:12]
    out = ROOT / "build" / "tf-models" / digest
    if not (out / ".done").exists():
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        subprocess.run(
            [sys.executable, str(gen), str(tmp)], check=True, capture_output=True
        )
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return out
