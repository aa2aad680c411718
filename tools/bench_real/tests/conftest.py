"""tools/ on sys.path, so ``bench_real`` imports as a package (stdlib modules only here)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
