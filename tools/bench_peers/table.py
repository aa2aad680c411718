"""The Markdown table of one run (stdlib only): one row per model and engine, from the run's
JSON records (see ``cli.run_model``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BASELINE = "ort-fp32"  # every ratio is this engine's median over the row's


def _fmt(x: float | None, spec: str) -> str:
    return "" if x is None else format(x, spec)


def accuracy_cell(e: dict[str, Any], labelled: bool) -> str:
    if labelled:
        return "" if e.get("top1") is None else f"top-1 {100 * e['top1']:.2f}%"
    parts = []
    if e.get("cosine") is not None:
        parts.append(f"cos {e['cosine']:.4f}")
    if e.get("top1_agree") is not None:
        parts.append(f"agree {100 * e['top1_agree']:.1f}%")
    return ", ".join(parts)


def model_table(rec: dict[str, Any]) -> list[str]:
    labelled = rec.get("labelled", False)
    acc_head = "top-1 (labels)" if labelled else "fidelity to TF fp32"
    lines = [
        f"| engine | precision | median ms | 95% CI ms | × {BASELINE} (95% CI) | {acc_head} | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in rec["engines"]:
        if e.get("median_ms") is None:
            lines.append(f"| {e['engine']} | {e['precision']} | n/a | | | {accuracy_cell(e, labelled)} | {e.get('note', '')} |")
            continue
        lo, hi = e["ci_ms"]
        ratio = ""
        if e.get("ratio") is not None:
            rlo, rhi = e["ratio_ci"]
            ratio = f"{e['ratio']:.2f} ({rlo:.2f}–{rhi:.2f})"
        lines.append(
            f"| {e['engine']} | {e['precision']} | {e['median_ms']:.2f} | {lo:.2f}–{hi:.2f} | {ratio} | "
            f"{accuracy_cell(e, labelled)} | {e.get('note', '')} |"
        )
    return lines


def section(header: Sequence[str], records: Sequence[dict[str, Any]]) -> list[str]:
    out = list(header)
    for rec in records:
        out += [
            "",
            f"**{rec['model']}** ({rec['source']}: `{rec['saved_model']}`; accuracy: {rec['accuracy_kind']})",
            "",
            *model_table(rec),
        ]
    return out
