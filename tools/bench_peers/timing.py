"""The parent's side of the workers and the alternating loop: every engine warmed up, then
rounds in which each engine makes its calls in an order shuffled per round (seeded), so load
drift and position effects hit all engines alike."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

from .engines.base import INTRA_OP_THREADS


class WorkerError(RuntimeError):
    pass


class Worker:
    def __init__(self, engine: str, model_json: Path, cache: Path, log: Path, prepare_only: bool = False) -> None:
        env = dict(os.environ)
        env.update({"OMP_NUM_THREADS": str(INTRA_OP_THREADS), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")]))
        log.parent.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self.log_path = log
        self._log: TextIO = open(log, "w")  # noqa: SIM115  # lives as long as the worker
        cmd = [sys.executable, "-m", "bench_peers.worker", engine, str(model_json), str(cache)]
        if prepare_only:
            cmd.append("--prepare-only")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env)
        self.ready = self._reply()

    def _reply(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise WorkerError(f"worker exited ({self.proc.returncode}); see {self.log_path}")
        msg: dict[str, Any] = json.loads(line)
        if "error" in msg:
            self.close()
            raise WorkerError(msg["error"])
        return msg

    def ask(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def alternate(workers: dict[str, Worker], warmup: int, rounds: int, per_round: int, seed: int = 0) -> dict[str, list[float]]:
    """{engine: per-round median ms}; per_round calls per engine per round."""
    for w in workers.values():
        w.ask(f"time {warmup}")
    rng = random.Random(seed)
    out: dict[str, list[float]] = {e: [] for e in workers}
    for _ in range(rounds):
        order = list(workers)
        rng.shuffle(order)
        for e in order:
            ms = sorted(workers[e].ask(f"time {per_round}")["ms"])
            out[e].append(ms[len(ms) // 2] if len(ms) % 2 else (ms[len(ms) // 2 - 1] + ms[len(ms) // 2]) / 2)
    return out
