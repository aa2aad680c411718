"""python -m bench_real GRAPPO: grappo bench on each trained model with its labelled data.

One `grappo bench` per model: every method's graph (none, grappler, grappler+int8, sensitivity,
ppo+bo) timed together in one alternating loop, accuracy judged on the labels as grappo optimize
judges it (--max-accuracy-drop). The per-method table, and whether ppo+bo is significantly
slower or faster than the fastest fixed method that keeps accuracy, go to its block of
bench/RESULTS.md; the bench reports (report.md, report.json, Pareto SVGs) to --work/<model>/.
Run on a quiet machine: the ratios are measured, not assumed."""

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
METHODS = "none,grappler,grappler+int8,sensitivity,ppo+bo"


def bench_one(grappo: str, m: models.RealModel, args: argparse.Namespace, work: Path) -> tuple[dict[str, Any] | None, float, str]:
    """grappo bench of one model: (its report.json model entry, wall seconds, error)."""
    out = work / m.name
    cmd = [grappo, "bench", str(m.saved_model), "--methods", args.methods, "--out", str(out)]
    cmd += ["--repeats", str(args.repeats), "--budget", str(args.budget), "--trials", str(args.trials)]
    cmd += ["--episodes", str(args.episodes), "--max-accuracy-drop", str(args.max_drop)]
    if args.cost_cache:
        cmd += ["--cost-cache", args.cost_cache]
    cmd += m.data_args
    print(f"bench-real: {m.name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.log").write_text(" ".join(cmd) + "\n\n" + proc.stdout + proc.stderr)
    rep = out / "report.json"
    if proc.returncode != 0 or not rep.exists():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, wall, f"exit {proc.returncode}: {last}"
    data = json.loads(rep.read_text())
    return (data["models"][0] if data.get("models") else None), wall, ""


def machine_line(grappo: str) -> str:
    version = subprocess.run([grappo, "--version"], capture_output=True, text=True).stdout.strip().replace("\n", "; ")
    cpu, flags = "?", set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and cpu == "?":
            cpu = line.split(":", 1)[1].strip()
        elif line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
    isa = ", ".join(f for f in wanted if f in flags) or "no AVX2"
    return f"Machine: {cpu}, {platform.machine()}, ISA: {isa}; {version}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_real", description=__doc__)
    p.add_argument("grappo")
    p.add_argument("--models", default="resnet50,minilm")
    p.add_argument("--methods", default=METHODS)
    p.add_argument("--eval-images", type=int, default=1000, help="ResNet-50: labelled test images (first N by name)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--budget", type=int, default=24, help="graph evaluations per search (grappo bench --budget)")
    p.add_argument("--trials", type=int, default=4, help="ppo+bo trials")
    p.add_argument("--episodes", type=int, default=4, help="ppo rollouts per trial")
    p.add_argument("--max-drop", type=float, default=0.005, help="--max-accuracy-drop (top-1, absolute)")
    p.add_argument("--cost-cache", default="", help="the agent's kernel cost tables (grappo bench --cost-cache)")
    p.add_argument("--work", default=str(ROOT / "bench" / "real"))
    p.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"), help="'-' prints the block instead")
    p.add_argument("--from-reports", action="store_true", help="measure nothing: the table from --work's report.json files")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        ms = models.resolve([x for x in args.models.split(",") if x], ROOT / "build" / "bench-real", args.eval_images)
    except (ValueError, FileNotFoundError) as e:
        print(f"bench-real: {e}", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.UTC)
    if args.from_reports:  # the date of the measurement, not of the rendering
        first = work / ms[0].name / "report.json"
        if first.exists():
            d = json.loads(first.read_text()).get("machine", {}).get("date", "")
            started = datetime.datetime.strptime(d, "%Y-%m-%d %H:%M UTC") if d else started
    lines: list[str] = []
    verdicts: list[str] = []
    for m in ms:
        if args.from_reports:
            rep_path = work / m.name / "report.json"
            rep, wall, err = (
                (json.loads(rep_path.read_text())["models"][0], 0.0, "") if rep_path.exists() else (None, 0.0, "no report")
            )
        else:
            rep, wall, err = bench_one(args.grappo, m, args, work)
        if rep is None:
            lines.append(f"| {m.name} | failed: {err} |" + " - |" * 10)
            continue
        lines += table.rows(m.name, rep)
        took = f" ({wall / 60:.1f} min)" if wall else ""
        verdicts.append(f"- {m.name}{took}: {table.agent_verdict(rep)}")
        print("\n".join(lines[-len(rep.get("methods", [])) :]), file=sys.stderr, flush=True)
    shown = [a for a in (argv if argv is not None else sys.argv[1:])[1:] if a != "--from-reports"]
    evals = ", ".join(f"{m.name}: {m.eval_rows} {m.eval_what}" for m in ms)
    block = "\n".join(
        [
            f"### {started:%Y-%m-%d %H:%M} UTC — the methods on the trained models, judged on labelled data (`make bench-real`)",
            "",
            f'Command: `make bench-real BENCH_REAL_ARGS="{" ".join(shown)}"` (tools/bench_real, one `grappo bench` per model; '
            f"reports in bench/real/{'; this table re-rendered from them' if args.from_reports else ''}). "
            f"{machine_line(args.grappo)}.",
            "",
            f"Every method's graph timed in one alternating loop ({args.repeats} rounds, batch 1, all threads; median and its "
            f"95% CI), ratios against `none` (the fp32 SavedModel as loaded). Accuracy: labelled top-1 ({evals}); a result "
            f"keeps accuracy when its top-1 is at most {100 * args.max_drop:.1f} pp below `none`'s. Searches: --budget "
            f"{args.budget}, ppo+bo {args.trials} trials of {args.episodes} rollouts. p: Welch's two-sided t-test on the "
            "per-run latencies; **bold**: grappo bench's winner (fastest result keeping accuracy, significantly faster than "
            "`none`).",
            "",
            table.HEADER,
            *lines,
            "",
            *verdicts,
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
