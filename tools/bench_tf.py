"""make bench-tf: TensorFlow's own Grappler as a measured peer.

For each full-size model of tests/tf/gen_models.py (Keras ResNet50, a BERT-base-shaped encoder;
generated into build/tf-bench/, not committed), times in one run, alternating in rounds:
  tf:orig   TensorFlow running the original SavedModel signature (Grappler and oneDNN on,
            intra-op threads 2, inter-op 1)
  grappo    grappo's optimized graph (--search grappler --target tf) on grappo's fast runtime
            (`grappo run --repeat`, 2 threads)
  tf:grappo TensorFlow running grappo's --target tf output (frozen .pb)
and appends a table (medians of the per-round medians, ratios to tf:orig) with the command,
machine and date to bench/RESULTS.md. A row that cannot be measured (e.g. an op grappo does not
have yet) says why instead of a number.
usage: python tools/bench_tf.py GRAPPO [--rounds N] [--per-round K] [--models resnet50,bert_base] [--dry]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _generate(names: list[str]) -> Path:
    out = ROOT / "build" / "tf-bench"
    missing = [n for n in names if not (out / n / "meta.json").exists()]
    if missing:
        subprocess.run([sys.executable, str(ROOT / "tests" / "tf" / "gen_models.py"), str(out), *missing], check=True)
    return out


def _time_calls(fn: Any, k: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(k):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def _graphdef_fn(pb: Path, feeds: dict[str, np.ndarray], fetch: list[str]) -> Any:
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(gd, name=""), [])
    f = wrapped.prune(
        [wrapped.graph.get_tensor_by_name(f"{k}:0") for k in feeds],
        [wrapped.graph.get_tensor_by_name(t) for t in fetch],
    )
    args = [tf.constant(v) for v in feeds.values()]
    return lambda: f(*args)


def bench(grappo: Path, models: Path, name: str, rounds: int, per_round: int) -> list[str]:
    d = models / name
    meta = json.loads((d / "meta.json").read_text())
    frozen = meta["frozen"]
    feeds = {k: np.load(d / f"in_{k}.npy") for k in meta["inputs"]}
    sig = tf.saved_model.load(str(d / "saved_model")).signatures["serving_default"]
    orig_args = {k: tf.constant(v) for k, v in feeds.items()}
    rows: dict[str, list[float]] = {"tf:orig": [], "grappo": [], "tf:grappo": []}
    notes: dict[str, str] = {}
    opt = d / "grappo_opt.pb"
    res = subprocess.run(
        [str(grappo), "optimize", str(d / "frozen.pb"), "-o", str(opt), "--target", "tf", "--search", "grappler"],
        capture_output=True,
        text=True,
    )
    if res.returncode:
        notes["grappo"] = notes["tf:grappo"] = res.stderr.strip().splitlines()[-1]
    pb_feeds = {frozen["inputs"][k].split(":")[0]: v for k, v in feeds.items()}
    fetch = [frozen["outputs"][k] for k in meta["outputs"]]
    tf_opt = None if "tf:grappo" in notes else _graphdef_fn(opt, pb_feeds, fetch)
    for _ in range(rounds):
        rows["tf:orig"].append(_time_calls(lambda: sig(**orig_args), per_round))
        if "grappo" not in notes:
            cmd = [str(grappo), "run", str(opt), "--threads", "2", "--repeat", str(per_round), "--json"]
            for k in meta["inputs"]:
                cmd += ["--input", f"{frozen['inputs'][k].split(':')[0]}={d / f'in_{k}.npy'}"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                notes["grappo"] = r.stderr.strip().splitlines()[-1]
            else:
                rows["grappo"].append(json.loads(r.stdout)["time_ms"]["median"])
        if tf_opt is not None:
            rows["tf:grappo"].append(_time_calls(tf_opt, per_round))
    base = statistics.median(rows["tf:orig"])
    out = []
    for what, ts in rows.items():
        if what in notes or not ts:
            out.append(f"| {name} | {what} | n/a | | | {notes.get(what, 'not measured')} |")
            continue
        m = statistics.median(ts)
        out.append(f"| {name} | {what} | {m:.2f} | {min(ts):.2f} | {max(ts):.2f} | {base / m:.2f}x vs tf:orig |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("grappo", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--models", default="resnet50,bert_base")
    ap.add_argument("--dry", action="store_true", help="print the table, do not append it to bench/RESULTS.md")
    a = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    names = a.models.split(",")
    models = _generate(names)
    rows = []
    for n in names:
        rows += bench(a.grappo.resolve(), models, n, a.rounds, a.per_round)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    text = [
        "",
        f"### {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} — TensorFlow {tf.__version__} (Grappler, oneDNN) vs grappo",
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores. Command: `make bench-tf` ({a.rounds} alternating rounds of "
        f"{a.per_round} timed calls after one warm-up; ms, median of the round medians, min/max over rounds; "
        "TensorFlow intra-op 2 / inter-op 1 threads, grappo 2 threads; batch 1).",
        "",
        "| model | engine | median ms | min | max | note |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    if not a.dry:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
