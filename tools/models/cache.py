"""Where `make models` keeps its trained models (the cache layout of the project's contract)."""

import os
from pathlib import Path

RESNET_DIR_NAME = "resnet50-fmnist"
MINILM_DIR_NAME = "minilm"


def models_root() -> Path:
    """$GRAPPO_MODELS if set, else $HOME/.cache/grappo/models."""
    env = os.environ.get("GRAPPO_MODELS")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "grappo" / "models"
