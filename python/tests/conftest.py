"""Shared fixtures: a small real model file (grappo's zoo ResNet-8 saved as a frozen GraphDef)."""

from __future__ import annotations

from pathlib import Path

import pytest

import grappo


@pytest.fixture(scope="session")
def model_pb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "resnet8.pb"
    grappo.load("zoo:resnet8").save(path)
    return path


QUICK = {"repeats": 3, "eval_batches": 2, "threads": 1}
