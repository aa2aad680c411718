"""The bench-real table from `grappo bench`'s report.json (one per trained model), the verdict on
the agent against the fixed methods, and the table's block in RESULTS.md."""

from __future__ import annotations

from typing import Any

BEGIN = "<!-- bench-real:begin -->"
END = "<!-- bench-real:end -->"
ALPHA = 0.05  # grappo bench's BENCH_ALPHA: a difference is called significant below this Welch p
FIXED = ("grappler", "grappler+int8", "sensitivity")  # the fixed methods the agent must not lose to
AGENT = "ppo+bo"

HEADER = (
    "| model | method | top-1 (labels) | change pp | keeps accuracy | median ms [95% CI] | × faster | p vs none | "
    "peak MiB | × smaller | p vs ppo+bo | optimize s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)

MIB = 1024.0 * 1024.0


def _p(x: float | None) -> str:
    if x is None:
        return "-"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def _result(methods: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for r in methods:
        if r.get("method") == name and r.get("ok"):
            return r
    return None


def rows(model: str, report_model: dict[str, Any]) -> list[str]:
    """One Markdown row per method of one model of a grappo bench report.json."""
    methods = report_model.get("methods", [])
    none = _result(methods, "none")
    out = []
    for r in methods:
        if not r.get("ok"):
            out.append(f"| {model} | {r.get('method')} | failed: {r.get('error', '?')} |" + " - |" * 9)
            continue
        top1 = r.get("label_top1")
        change = "-"
        if top1 is not None and none is not None and none.get("label_top1") is not None:
            change = f"{100.0 * (top1 - none['label_top1']):+.2f}"
        ci = f"{r['latency_ms_median']:.3f} [{r['latency_ms_median_ci95_lo']:.3f}, {r['latency_ms_median_ci95_hi']:.3f}]"
        win = report_model.get("winner") == r["method"]
        speed = f"{r['speedup']:.2f}×" if r.get("speedup") is not None else "-"
        cells = [
            model,
            f"**{r['method']}**" if win else r["method"],
            f"{100.0 * top1:.2f}%" if top1 is not None else "-",
            change,
            "yes" if r.get("keeps_accuracy") else "no",
            ci,
            speed,
            _p(r.get("welch_p_vs_none")),
            f"{r['peak_bytes'] / MIB:.1f}",
            f"{r['memory_x_smaller']:.2f}×" if r.get("memory_x_smaller") is not None else "-",
            _p(r.get("welch_p")),
            f"{r.get('optimize_seconds', 0):.1f}",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def agent_verdict(report_model: dict[str, Any]) -> str:
    """Is ppo+bo significantly slower than the fastest fixed method that keeps accuracy, or
    significantly faster (Welch p < ALPHA, grappo bench's p of each method against ppo+bo)?"""
    methods = report_model.get("methods", [])
    agent = _result(methods, AGENT)
    if agent is None:
        return "ppo+bo: no result"
    fixed = [r for r in (_result(methods, f) for f in FIXED) if r is not None and r.get("keeps_accuracy")]
    if not fixed:
        return "ppo+bo: no fixed method keeps accuracy"
    best = min(fixed, key=lambda r: r["latency_ms_median"])
    p = best.get("welch_p")
    a, b = agent["latency_ms_median"], best["latency_ms_median"]
    same = [r["method"] for r in fixed if r.get("rules") and r.get("rules") == agent.get("rules")]
    if same:
        # the agent returned a fixed pipeline's graph (its carried candidate): any timing
        # difference between identical graphs is measurement order, not a better graph
        return (
            f"ppo+bo {a:.3f} ms returned the same rewrites as {', '.join(same)} (a carried candidate): the same graph, "
            f"no gain of its own; the fastest fixed method keeping accuracy, {best['method']}, {b:.3f} ms (p {_p(p)})"
        )
    if not agent.get("keeps_accuracy"):
        verdict = "loses accuracy"
    elif p is None:
        verdict = "not compared (too few samples)"
    elif p < ALPHA and a > b:
        verdict = "significantly slower"
    elif p < ALPHA and a < b:
        verdict = "significantly faster"
    else:
        verdict = "not significantly different"
    return f"ppo+bo {a:.3f} ms vs the fastest fixed method keeping accuracy, {best['method']} {b:.3f} ms: {verdict} (p {_p(p)})"


def replace_block(text: str, block: str) -> str:
    """text with its bench-real block replaced by block (appended when there is none)."""
    wrapped = f"{BEGIN}\n{block.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + wrapped + tail
    return text.rstrip("\n") + "\n\n" + wrapped + "\n"
