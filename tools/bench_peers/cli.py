"""make bench-peers: every engine of ``engines.ENGINES`` on each model, converted/quantized
by its own tool (cached under build/peers/), timed in one alternating loop (2 threads, batch
1), accuracy on the same evaluation samples; writes bench/peers.json, bench/peers.svg and this
benchmark's section of bench/RESULTS.md. See docs/bench-peers.md."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import accuracy, machine, models, results_md, stats, svg, table
from .engines import BASELINE, BY_ID, ENGINES, REFERENCE
from .engines.base import INTER_OP_THREADS, INTRA_OP_THREADS
from .engines.grappo_engine import binary
from .timing import Worker, WorkerError, alternate

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before models.py imports TensorFlow
QUICK_MODELS = "resnet-tiny,bert-tiny"


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench_peers", description=__doc__)
    ap.add_argument("--models", default="resnet50,bert-base", help=f"comma list of {','.join(models.CATALOGUE)}")
    ap.add_argument("--engines", default=",".join(e.id for e in ENGINES), help="comma list (default: all)")
    ap.add_argument("--repeats", type=int, default=30, help="alternating rounds (default 30)")
    ap.add_argument(
        "--per-round", type=int, default=5, help="back-to-back calls per engine per round, their median kept (default 5)"
    )
    ap.add_argument("--warmup", type=int, default=5, help="untimed calls per engine first (default 5)")
    ap.add_argument("--calib", type=int, default=64, help="calibration samples (default 64)")
    ap.add_argument("--eval", type=int, default=200, help="evaluation samples (default 200)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"pipeline check in minutes: --models {QUICK_MODELS}, 5 rounds, 8 calibration and 16 eval samples",
    )
    ap.add_argument("--generated", action="store_true", help="the generated models even where trained ones exist")
    ap.add_argument("--prepare-only", action="store_true", help="convert/quantize (into the cache) and check one run; no timing")
    ap.add_argument("--banner", default="", help="a line put first in the RESULTS.md section (e.g. 'smoke run, not a result')")
    ap.add_argument("--out", type=Path, default=models.ROOT / "bench", help="where peers.json and peers.svg go (default bench/)")
    ap.add_argument("--results", type=Path, default=models.ROOT / "bench" / "RESULTS.md")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    a = ap.parse_args(argv)
    if a.quick:
        if a.models == ap.get_default("models"):
            a.models = QUICK_MODELS
        a.repeats, a.calib, a.eval, a.warmup = min(a.repeats, 5), min(a.calib, 8), min(a.eval, 16), min(a.warmup, 2)
        a.per_round = min(a.per_round, 2)
    for name in a.models.split(","):
        if name not in models.CATALOGUE:
            ap.error(f"unknown model {name!r} (known: {', '.join(models.CATALOGUE)})")
    for e in a.engines.split(","):
        if e not in BY_ID:
            ap.error(f"unknown engine {e!r} (known: {', '.join(BY_ID)})")
    return a


def _say(msg: str) -> None:
    print(f"[bench-peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _start(
    engines: list[str], m: models.Model, root: Path, prepare_only: bool
) -> tuple[dict[str, Worker], dict[str, dict[str, Any]]]:
    model_json = root / "model.json"
    model_json.write_text(m.to_json())
    workers: dict[str, Worker] = {}
    info: dict[str, dict[str, Any]] = {}
    for e in engines:
        _say(f"{m.name}: {e} (convert/quantize if not cached, load)")
        try:
            w = Worker(e, model_json, root, root / "logs" / f"{e}.log", prepare_only)
        except WorkerError as err:
            info[e] = {"note": f"failed: {err}"}
            _say(f"{m.name}: {e} failed: {err}")
            continue
        info[e] = {"note": w.ready.get("note", ""), "artifact": w.ready.get("artifact"), "prepare_s": w.ready.get("prepare_s")}
        if prepare_only:
            w.close()
        else:
            workers[e] = w
    return workers, info


def _accuracy(m: models.Model, outputs: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    acc: dict[str, dict[str, float]] = {}
    ref = outputs.get(REFERENCE)
    for e, out in outputs.items():
        if m.labels:
            acc[e] = {"top1": accuracy.top1(out, m.labels)}
        elif ref is not None and ref.shape == out.shape:
            acc[e] = {"cosine": accuracy.cosine(out, ref), "top1_agree": accuracy.top1_agreement(out, ref)}
    return acc


def run_model(name: str, a: argparse.Namespace) -> dict[str, Any]:
    m = models.resolve(name, a.calib, a.eval, prefer_trained=not a.generated)
    root = models.ROOT / "build" / "peers" / m.key
    engines = [e for e in a.engines.split(",")]
    workers, info = _start(engines, m, root, a.prepare_only)
    times: dict[str, list[float]] = {}
    outputs: dict[str, np.ndarray] = {}
    try:
        if workers:
            _say(f"{m.name}: timing {len(workers)} engines, {a.repeats} alternating rounds")
            times = alternate(workers, a.warmup, a.repeats, a.per_round)
            for e, w in workers.items():
                path = root / f"eval-{e}.npy"
                w.ask(f"eval {path}")
                outputs[e] = np.load(path)
    finally:
        for w in workers.values():
            w.close()
    acc = _accuracy(m, outputs)
    base = times.get(BASELINE)
    rows = []
    for e in engines:
        row: dict[str, Any] = {
            "engine": e,
            "precision": BY_ID[e].precision,
            "what": BY_ID[e].what,
            **info.get(e, {}),
            **acc.get(e, {}),
        }
        ts = times.get(e)
        if ts:
            row.update(samples_ms=ts, median_ms=stats.median(ts), ci_ms=list(stats.median_ci(ts)))
            if base:
                r, lo, hi = stats.ratio_ci(ts, base)
                row.update(ratio=r, ratio_ci=[lo, hi])
        rows.append(row)
    kind = (
        f"top-1 against the labels of {m.n_eval} eval samples"
        if m.labels
        else f"fidelity to TensorFlow fp32 on {m.n_eval} generated inputs"
    )
    return {
        "model": m.name,
        "source": m.source,
        "saved_model": _rel(m.saved_model),
        "key": m.key,
        "labelled": bool(m.labels),
        "accuracy_kind": kind,
        "n_calib": m.n_calib,
        "n_eval": m.n_eval,
        "engines": rows,
    }


def _rel(p: str) -> str:
    try:
        return str(Path(p).resolve().relative_to(models.ROOT))
    except ValueError:
        return p.replace(str(Path.home()), "~")


def make_arg(argv: list[str]) -> str:
    """argv as one shell word for PEERS_ARGS=..., double-quoted where that stays literal."""
    joined = shlex.join(argv)
    return f'"{joined}"' if not any(c in joined for c in '"$`\\') else shlex.quote(joined)


def header(desc: dict[str, Any], a: argparse.Namespace, argv: list[str]) -> list[str]:
    v = desc["versions"]
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M UTC} — peers: grappo next to ONNX Runtime, OpenVINO, "
        "Intel Neural Compressor, TensorFlow (`make bench-peers`)",
        "",
    ]
    if a.banner:
        lines += [f"> **{a.banner}**", ""]
    lines += [
        f"Command: `make bench-peers PEERS_ARGS={make_arg(argv)}` (tools/bench_peers, docs/bench-peers.md).",
        "",
        f"Machine: {desc['cpu']}, {desc['cores']} cores; ISA: {', '.join(desc['isa']) or 'none of the listed'}. "
        f"Engines: TensorFlow {v['tensorflow-cpu']}, ONNX Runtime {v['onnxruntime']} (tf2onnx {v['tf2onnx']}), "
        f"OpenVINO {v['openvino']} (NNCF {v['nncf']}), Neural Compressor {v['neural-compressor']}, "
        f"{v['grappo']} (commit {desc['commit']}).",
        "",
        f"Every engine: batch 1, intra-op {INTRA_OP_THREADS} / inter-op {INTER_OP_THREADS} threads, own process; "
        f"{a.warmup} warm-up calls, then {a.repeats} rounds alternating the engines (order shuffled per round, "
        f"{a.per_round} back-to-back call(s) each, their median kept). Median over rounds, 95% CI from order "
        f"statistics; ratio = engine / {BASELINE} (< 1 is faster), paired bootstrap 95% CI.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parse(argv)
    desc = machine.describe(binary())
    records = [run_model(name, a) for name in a.models.split(",")]
    if a.prepare_only:
        for rec in records:
            for e in rec["engines"]:
                print(f"{rec['model']:10} {e['engine']:15} {e.get('prepare_s') or 0:8.1f}s  {e.get('note', '')}")
        return 0
    text = table.section(header(desc, a, argv), records)
    print("\n".join(text))
    if not a.no_write:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "peers.json").write_text(json.dumps({"machine": desc, "argv": argv, "models": records}, indent=1) + "\n")
        title = f"{desc['cpu']} · batch 1 · {INTRA_OP_THREADS} threads" + (f" · {a.banner}" if a.banner else "")
        (a.out / "peers.svg").write_text(svg.render(records, title))
        results_md.write_section(a.results, "\n".join(text))
    return 0
