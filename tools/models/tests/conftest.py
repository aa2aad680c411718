"""tools/models/ holds the scripts as plain modules: make them importable by the tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
