"""python -m bench_real GRAPPO: every method on every trained model, one grappo optimize each.

Each run times the input and the result alternately in one process (paired medians) and judges
accuracy on the model's labelled data; the table goes to its block in bench/RESULTS.md and the
reports to the work directory. Run on a quiet machine: the ratios are measured, not assumed."""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_real import models, table

ROOT = Path(__file__).resolve().parents[2]
METHODS = ["grappler", "grappler+int8", "sensitivity", "ppo+bo"]


Outcome = tuple[dict[str, Any] | None, float, str]


def run_one(grappo: str, m: models.RealModel, method: str, args: argparse.Namespace, work: Path) -> Outcome:
    """grappo optimize of one model with one method: (report, wall seconds, error)."""
    tag = f"{m.name}.{method.replace('+', '_')}"
    rep_path, out = work / f"{tag}.json", work / f"{tag}.pb"
    cmd = [grappo, "optimize", str(m.saved_model), "-o", str(out), "--search", method, "--report", str(rep_path)]
    cmd += ["--max-accuracy-drop", str(args.max_drop), "--repeats", str(args.repeats), "--time-budget", args.time_budget]
    cmd += m.data_args
    print(f"bench-real: {m.name} --search {method}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    (work / f"{tag}.log").write_text(" ".join(cmd) + "\n\n" + proc.stdout + proc.stderr)
    if proc.returncode != 0 or not rep_path.exists():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, wall, f"exit {proc.returncode}: {last}"
    return json.loads(rep_path.read_text()), wall, ""


def machine_line(grappo: str) -> str:
    version = subprocess.run([grappo, "--version"], capture_output=True, text=True).stdout.strip().replace("\n", "; ")
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"Machine: {cpu}, {platform.machine()}; {version}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_real", description=__doc__)
    p.add_argument("grappo")
    p.add_argument("--models", default="resnet50,minilm")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--eval-images", type=int, default=1000, help="ResNet-50: labelled test images (first N by name)")
    p.add_argument("--time-budget", default="10m", help="per search (grappo optimize --time-budget)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--max-drop", type=float, default=0.005, help="--max-accuracy-drop (top-1, absolute)")
    p.add_argument("--work", default=str(ROOT / "build" / "bench-real"))
    p.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"), help="'-' prints the block instead")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        ms = models.resolve([x for x in args.models.split(",") if x], work, args.eval_images)
    except (ValueError, FileNotFoundError) as e:
        print(f"bench-real: {e}", file=sys.stderr)
        return 2
    methods = [x for x in args.methods.split(",") if x]
    started = datetime.datetime.now(datetime.UTC)
    rows = []
    for m in ms:
        for method in methods:
            rep, wall, err = run_one(args.grappo, m, method, args, work)
            rows.append(table.row(m.name, method, rep, wall, err))
            print(rows[-1], file=sys.stderr, flush=True)
    shown = (argv if argv is not None else sys.argv[1:])[1:]
    evals = ", ".join(f"{m.name}: {m.eval_rows} {m.eval_what}" for m in ms)
    block = "\n".join(
        [
            f"### {started:%Y-%m-%d %H:%M} UTC — the searches on the trained models, judged on labelled data (`make bench-real`)",
            "",
            f"Command: `make bench-real BENCH_REAL_ARGS=\"{' '.join(shown)}\"` (tools/bench_real). {machine_line(args.grappo)}.",
            "",
            f"Each row is one `grappo optimize --search METHOD --max-accuracy-drop {args.max_drop} --repeats {args.repeats} "
            f"--time-budget {args.time_budget}`: the input (fp32 SavedModel) and the result timed alternately in one process "
            f"(medians of {args.repeats} paired runs, all threads, batch 1), accuracy judged on top-1 against the labels "
            f"({evals}); the result is kept only when top-1 drops by at most {100 * args.max_drop:.1f} pp. "
            "Peak memory: the planned arena with the weights (grappo's runtime).",
            "",
            table.HEADER,
            *rows,
        ]
    )
    if args.out == "-":
        print(block)
    else:
        out = Path(args.out)
        out.write_text(table.replace_block(out.read_text() if out.exists() else "", block))
        print(f"bench-real: table written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
