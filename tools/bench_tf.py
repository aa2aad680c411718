"""make bench-tf: TensorFlow's own Grappler as a measured peer.

For each full-size model of tests/tf/gen_models.py (Keras ResNet50, a BERT-base-shaped encoder;
generated into build/tf-bench/, not committed), times in one run, alternating in rounds (the
engines' order shuffled each round, seeded):
  tf:orig   TensorFlow running the original SavedModel signature (Grappler and oneDNN on,
            intra-op threads 2, inter-op 1)
  grappo    grappo's optimized graph (--search grappler --target tf) on grappo's fast runtime
            (`grappo run --repeat`, 2 threads)
  tf:grappo TensorFlow running grappo's --target tf output (frozen .pb)
Each round keeps each engine's median of --per-round calls; the table gives the median over
rounds with a distribution-free 95% CI (order statistics; 6 rounds or more), and each engine's
ratio to tf:orig (< 1 is faster) with a paired bootstrap 95% CI (tools/bench_peers/stats.py).
The section appended to --out (default bench/RESULTS.md) says the command, date, machine, ISA
flags, core count, versions and commit. A row that cannot be measured (e.g. an op grappo does
not have yet) says why instead of a number.

usage: python tools/bench_tf.py GRAPPO [--rounds N] [--per-round K] [--models resnet50,bert_base]
                                       [--out FILE] [--dry]
  make bench-tf                                          the full run (quiet machine!)
  make bench-tf BENCH_TF_ARGS="--models resnet,bert --rounds 6 --per-round 2 --out /tmp/t.md"
                                                         an end-to-end check on the small
                                                         harness models, not into RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
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

from bench_peers import machine, stats  # noqa: E402  (tools/ is on sys.path: stdlib-only modules)

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("tf:orig", "grappo", "tf:grappo")
BASE = "tf:orig"


def _generate(names: list[str]) -> Path:
    out = ROOT / "build" / "tf-bench"
    missing = [n for n in names if not (out / n / "meta.json").exists()]
    if missing:
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "tests" / "tf" / "gen_models.py"),
                str(out),
                *missing,
            ],
            check=True,
        )
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
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(gd, name=""), []
    )
    f = wrapped.prune(
        [wrapped.graph.get_tensor_by_name(f"{k}:0") for k in feeds],
        [wrapped.graph.get_tensor_by_name(t) for t in fetch],
    )
    args = [tf.constant(v) for v in feeds.values()]
    return lambda: f(*args)


def bench(
    grappo: Path, models: Path, name: str, rounds: int, per_round: int
) -> list[str]:
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
        [
            str(grappo),
            "optimize",
            str(d / "frozen.pb"),
            "-o",
            str(opt),
            "--target",
            "tf",
            "--search",
            "grappler",
        ],
        capture_output=True,
        text=True,
    )
    if res.returncode:
        notes["grappo"] = notes["tf:grappo"] = res.stderr.strip().splitlines()[-1]
    pb_feeds = {frozen["inputs"][k].split(":")[0]: v for k, v in feeds.items()}
    fetch = [frozen["outputs"][k] for k in meta["outputs"]]
    tf_opt = None if "tf:grappo" in notes else _graphdef_fn(opt, pb_feeds, fetch)
    rng = random.Random(0)

    def grappo_round() -> None:
        cmd = [
            str(grappo),
            "run",
            str(opt),
            "--threads",
            "2",
            "--repeat",
            str(per_round),
            "--json",
        ]
        for k in meta["inputs"]:
            cmd += [
                "--input",
                f"{frozen['inputs'][k].split(':')[0]}={d / f'in_{k}.npy'}",
            ]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            notes["grappo"] = r.stderr.strip().splitlines()[-1]
        else:
            rows["grappo"].append(json.loads(r.stdout)["time_ms"]["median"])

    for _ in range(rounds):
        order = list(ENGINES)
        rng.shuffle(order)
        for what in order:
            if what == "tf:orig":
                rows[what].append(_time_calls(lambda: sig(**orig_args), per_round))
            elif what == "grappo" and "grappo" not in notes:
                grappo_round()
            elif what == "tf:grappo" and tf_opt is not None:
                rows[what].append(_time_calls(tf_opt, per_round))
    return table_rows(name, rows, notes)


def table_rows(
    name: str, rows: dict[str, list[float]], notes: dict[str, str]
) -> list[str]:
    """One table row per engine: median over rounds, its 95% CI, the ratio to tf:orig."""
    base = rows[BASE]
    out = []
    for what in ENGINES:
        ts = rows[what]
        if what in notes or not ts:
            out.append(
                f"| {name} | {what} | n/a | | | {notes.get(what, 'not measured')} |"
            )
            continue
        lo, hi = stats.median_ci(ts)
        if what == BASE or not base:
            ratio = "1 (baseline)" if what == BASE else "n/a"
        else:
            r, rlo, rhi = stats.ratio_ci(ts, base)
            ratio = f"{r:.2f} [{rlo:.2f}, {rhi:.2f}]"
        note = f"{len(ts)} rounds" + (
            " (fewer than 6: the interval is [min, max])" if len(ts) < 6 else ""
        )
        out.append(
            f"| {name} | {what} | {stats.median(ts):.2f} | [{lo:.2f}, {hi:.2f}] | {ratio} | {note} |"
        )
    return out


def header(a: argparse.Namespace, argv: list[str], grappo: Path) -> list[str]:
    desc = machine.describe(grappo)
    versions = {
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "python": str(desc["python"]),
        "grappo": str(desc["versions"]["grappo"]).removeprefix("grappo "),  # type: ignore[index]
    }
    command = (
        "make bench-tf"
        if not argv
        else f"python tools/bench_tf.py GRAPPO {shlex.join(argv)}"
    )
    return [
        "",
        f"### {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}: TensorFlow (Grappler, oneDNN) vs grappo",
        "",
        f"- Command: `{command}` (tools/bench_tf.py, commit {desc['commit']})",
        f"- Machine: {desc['cpu']}, {desc['cores']} logical cores; ISA: {', '.join(desc['isa']) or 'none of note'}",  # type: ignore[arg-type]
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- Method: batch 1; {a.rounds} rounds, the engines in a shuffled order each round, each engine's median of "
        f"{a.per_round} calls (after one warm-up) kept per round; median over rounds, 95% CI from order statistics; "
        "ratio = engine / tf:orig (< 1 is faster), paired bootstrap 95% CI. TensorFlow intra-op 2 / inter-op 1 "
        "threads, grappo 2 threads.",
        "",
        "| model | engine | median ms | 95% CI ms | × tf:orig (95% CI) | note |",
        "|---|---|---|---|---|---|",
    ]


SECTION = "## TensorFlow as a peer (make bench-tf)"
SECTION_TEXT = [
    SECTION,
    "",
    "TensorFlow running the original SavedModel (its default Grappler and oneDNN optimizations) against",
    "grappo's `--search grappler --target tf` result on grappo's runtime and in TensorFlow, on Keras",
    "ResNet50(weights=None) and a BERT-base-shaped encoder (tests/tf/gen_models.py). Each run appends",
    "a dated block below (tools/bench_tf.py).",
]


def append(out: Path, block: list[str]) -> None:
    """Appends block under the section heading (writing the heading first when the file lacks it)."""
    text = out.read_text() if out.exists() else ""
    lines = [] if SECTION in text else ["", *SECTION_TEXT]
    with open(out, "a") as f:
        f.write("\n".join(lines + block) + "\n")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser()
    ap.add_argument("grappo", type=Path)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--models", default="resnet50,bert_base")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    ap.add_argument(
        "--dry", action="store_true", help="print the table, do not append it to --out"
    )
    a = ap.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    names = a.models.split(",")
    models = _generate(names)
    rows = []
    for n in names:
        rows += bench(a.grappo.resolve(), models, n, a.rounds, a.per_round)
    text = header(a, argv[1:], a.grappo.resolve()) + rows
    if not a.dry:
        append(a.out, text)
    print("\n".join(text))


if __name__ == "__main__":
    main()
