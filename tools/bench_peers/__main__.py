"""``python -m bench_peers`` (with tools/ on PYTHONPATH): see cli."""

import sys

from .cli import main

sys.exit(main())
