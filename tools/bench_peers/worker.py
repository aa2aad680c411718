"""One engine in its own process (so that TensorFlow, ONNX Runtime, OpenVINO, INC and
libgrappo never share threads, allocators or global settings): converts/quantizes the model
(cached), loads it, checks one run, then answers the parent's commands on stdin, one JSON
line each on its own protocol pipe:
  time N     N timed calls on evaluation sample 0 -> {"ms": [...]}
  eval PATH  every evaluation sample, the outputs stacked into PATH (.npy) -> {"ok": true}
  quit
usage: python -m bench_peers.worker ENGINE MODEL.json CACHE_DIR [--prepare-only]"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TextIO

import numpy as np

from .engines import BY_ID
from .models import Model


def _protocol() -> TextIO:
    """A private copy of stdout for replies; fd 1 itself then goes to stderr, so libraries
    that print cannot corrupt the protocol."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


def serve(engine: str, m: Model, cache: Path, prepare_only: bool, proto: TextIO) -> None:
    mod = importlib.import_module(f".engines.{BY_ID[engine].module}", __package__)
    t0 = time.perf_counter()
    art, note = mod.prepare(engine, m, cache)
    prep_s = time.perf_counter() - t0
    run = mod.load(engine, m, art)
    feeds = m.feeds("eval", 0)
    first = run(feeds)
    proto.write(
        json.dumps({"ready": True, "note": note, "artifact": str(art), "prepare_s": prep_s, "shape": list(first.shape)}) + "\n"
    )
    if prepare_only:
        return
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "time":
            ms = []
            for _ in range(int(arg)):
                t = time.perf_counter()
                run(feeds)
                ms.append((time.perf_counter() - t) * 1e3)
            proto.write(json.dumps({"ms": ms}) + "\n")
        elif cmd == "eval":
            outs = [np.asarray(run(m.feeds("eval", k))).reshape(-1) for k in range(m.n_eval)]
            np.save(arg, np.stack(outs))
            proto.write(json.dumps({"ok": True}) + "\n")
        elif cmd == "quit":
            return
        else:
            proto.write(json.dumps({"error": f"unknown command {cmd!r}"}) + "\n")


def main() -> None:
    proto = _protocol()
    engine, model_json, cache = sys.argv[1], Path(sys.argv[2]).resolve(), Path(sys.argv[3]).resolve()
    # ORT's quantizer writes external-data and shape-inference scratch files into the working
    # directory: keep them in the model's cache directory, not the checkout
    cache.mkdir(parents=True, exist_ok=True)
    os.chdir(cache)
    try:
        serve(engine, Model.from_json(model_json.read_text()), cache, "--prepare-only" in sys.argv, proto)
    except Exception as e:  # the parent reports it in the engine's row
        traceback.print_exc()
        msg = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        proto.write(json.dumps({"error": f"{type(e).__name__}: {msg}"[:300]}) + "\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
