"""Rows of the bench-real table from grappo optimize's JSON reports, and its block in RESULTS.md."""

from __future__ import annotations

from typing import Any

BEGIN = "<!-- bench-real:begin -->"
END = "<!-- bench-real:end -->"

HEADER = (
    "| model | method | top-1 before → after (pp) | kept | latency ms before → after | speedup | "
    "peak memory MiB before → after | smaller | search s | note |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)

MIB = 1024.0 * 1024.0


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f}%"


def row(model: str, method: str, rep: dict[str, Any] | None, wall_s: float, error: str = "") -> str:
    """One Markdown row: labelled top-1 before/after, whether the result was kept, the paired
    latency medians and their ratio, peak memory and its ratio, the search's wall time."""
    if rep is None:
        return f"| {model} | {method} | - | - | - | - | - | - | {wall_s:.0f} | failed: {error} |"
    lab = rep.get("accuracy", {}).get("labels", {})
    b, a = rep["before"], rep["after"]
    top1 = "-"
    if lab:
        top1 = f"{_pct(lab['top1_before'])} → {_pct(lab['top1_after'])} ({100.0 * (lab['top1_after'] - lab['top1_before']):+.2f})"
    kept = "yes" if rep.get("optimized_graph_returned") else "no"
    lat = f"{b['latency_ms_median']:.2f} → {a['latency_ms_median']:.2f}"
    speed = f"{b['latency_ms_median'] / a['latency_ms_median']:.2f}×" if a["latency_ms_median"] > 0 else "-"
    mem = f"{b['peak_bytes'] / MIB:.1f} → {a['peak_bytes'] / MIB:.1f}"
    smaller = f"{b['peak_bytes'] / a['peak_bytes']:.2f}×" if a["peak_bytes"] > 0 else "-"
    notes = []
    if not rep.get("optimized_graph_returned"):
        notes.append(rep.get("verdict", ""))
    if rep.get("machine_busy"):
        notes.append(f"machine busy: timed with {rep.get('timing_threads', '?')} thread(s)")
    if rep.get("timings_unstable"):
        notes.append("timings unstable")
    if rep.get("stopped"):
        notes.append(rep["stopped"])
    sens = rep.get("sensitivity")
    if isinstance(sens, dict) and "kept_fp32" in sens:
        notes.append(f"{sens['kept_fp32']} node(s) kept fp32")
    if rep.get("grappo_ops"):
        notes.append(f"grappo ops: {rep['grappo_ops']}")
    return f"| {model} | {method} | {top1} | {kept} | {lat} | {speed} | {mem} | {smaller} | {wall_s:.0f} | {'; '.join(notes)} |"


def replace_block(text: str, block: str) -> str:
    """text with its bench-real block replaced by block (appended when there is none)."""
    wrapped = f"{BEGIN}\n{block.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + wrapped + tail
    return text.rstrip("\n") + "\n\n" + wrapped + "\n"
