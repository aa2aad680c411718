"""The readable text of a result: the before/after table (ratios as "x faster" / "x smaller",
input divided by result) and, for ppo+bo, the trial table."""

from __future__ import annotations

from typing import Any


def _bytes(v: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(v) < 1024 or unit == "GiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.2f} {unit}"
        v /= 1024
    return f"{v:.2f} GiB"


def _ratio(a: float, b: float, word: str) -> str:
    return f"{a / b:.2f}x {word}" if b else "-"


def format_result(r: dict[str, Any]) -> str:
    """The report dict (``Result.report``) as a table a person reads."""
    b, a, acc = r["before"], r["after"], r["accuracy"]
    rows = [
        (
            "latency ms (median)",
            f"{b['latency_ms_median']:.3f}",
            f"{a['latency_ms_median']:.3f}",
            _ratio(b["latency_ms_median"], a["latency_ms_median"], "faster"),
        ),
        ("peak memory", _bytes(b["peak_bytes"]), _bytes(a["peak_bytes"]), _ratio(b["peak_bytes"], a["peak_bytes"], "smaller")),
        (
            "weights",
            _bytes(b["weight_bytes"]),
            _bytes(a["weight_bytes"]),
            _ratio(b["weight_bytes"], a["weight_bytes"], "smaller"),
        ),
        ("nodes", str(b["nodes"]), str(a["nodes"]), ""),
    ]
    if "metric_before" in acc:
        rows.append(("your metric", f"{acc['metric_before']:.4f}", f"{acc['metric_after']:.4f}", ""))
    if "top1_agreement" in acc:
        rows.append(("top-1 agreement", "-", f"{100 * acc['top1_agreement']:.2f}%", ""))
    rows.append(("cosine (worst)", "-", f"{acc['min_cosine']:.6f}", ""))
    lines = [f"grappo {r['search']} (target {r['target']}): {r['verdict']}", f"{'':22} {'input':>14} {'result':>14}  ratio"]
    lines += [f"{n:22} {x:>14} {y:>14}  {z}" for n, x, y, z in rows]
    rules = r.get("rules_applied", {})
    lines.append("rules applied: " + (", ".join(f"{k} x{v}" for k, v in rules.items()) or "none"))
    bo = r.get("bayesian_optimization")
    if bo:
        lines.append(f"ppo+bo trials (minimize {bo['objective']}):")
        lines.append(f"{'trial':>5} {'w_lat':>6} {'w_mem':>6} {'w_acc':>6} {'latency ms':>11} {'memory':>11} {'feasible':>8}")
        for t in bo["trials"]:
            mark = "  <- kept" if t["trial"] == bo["best_trial"] else ""
            lines.append(
                f"{t['trial']:>5} {t['w_lat']:>6.3f} {t['w_mem']:>6.3f} {t['w_acc']:>6.3f} {t['latency_ms']:>11.3f} "
                f"{_bytes(t['peak_bytes']):>11} {'yes' if t['feasible'] else 'no':>8}{mark}"
            )
    return "\n".join(lines)
