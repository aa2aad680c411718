"""bench/peers.svg (stdlib only): latency against accuracy, one panel per model. Each engine
is a point at its median latency with a horizontal bar for the 95% interval; the colour says
whose engine it is, the marker shape its precision; each point is labelled."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

COLOURS = {"tf": "#ff7f0e", "ort": "#1f77b4", "ov": "#9467bd", "inc": "#8c564b", "grappo": "#2ca02c"}
PANEL_W, PANEL_H, PAD_L, PAD_R, PAD_T, PAD_B = 440, 330, 62, 18, 40, 74
LOG_X_ABOVE = 8.0  # a log latency axis when the slowest is this many times the fastest
CHAR_W, LINE_H = 6.6, 11.0  # label box estimate at font-size 10 (DejaVu Sans, with a margin)


def family(engine: str) -> str:
    return engine.split("-", 1)[0]


def y_value(e: dict[str, Any], labelled: bool) -> float | None:
    v = e.get("top1") if labelled else e.get("cosine")
    return None if v is None else float(v)


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo if hi > lo else 1.0
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    t = math.floor(lo / step) * step
    out = []
    while t <= hi + 1e-12:
        if t >= lo - 1e-12:
            out.append(round(t, 10))
        t += step
    return out


def _log_ticks(lo: float, hi: float) -> list[float]:
    out = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        out += [m * 10.0**k for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]
    return out


def label_position(
    x: float, y: float, width: float, left: bool, placed: list[tuple[float, float, float, float]], ybounds: tuple[float, float]
) -> tuple[float, float]:
    """Where a point's label goes: just above or below it, else further away, at the first
    offset whose box overlaps no label placed so far (the box is recorded in placed)."""
    dx = -7.0 if left else 7.0
    for dy in (-8.0, 14.0, -20.0, 26.0, -32.0, 38.0, -44.0, 50.0, -56.0, 62.0):
        ly = y + dy
        bx0 = x + dx - width if left else x + dx
        box = (bx0, ly - LINE_H + 2, bx0 + width, ly + 2)
        if not (ybounds[0] + LINE_H <= ly <= ybounds[1] - 2):
            continue
        if all(box[2] < p[0] or box[0] > p[2] or box[3] < p[1] or box[1] > p[3] for p in placed):
            placed.append(box)
            return x + dx, ly
    return x + dx, y - 8.0


def marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "fp32":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5.5" fill="{colour}" stroke="black" stroke-width="0.6"/>'
    pts = f"{x:.1f},{y - 6.5:.1f} {x - 6:.1f},{y + 4.5:.1f} {x + 6:.1f},{y + 4.5:.1f}"
    return f'<polygon points="{pts}" fill="{colour}" stroke="black" stroke-width="0.6"/>'


def panel(rec: dict[str, Any], ox: float) -> list[str]:
    labelled = bool(rec.get("labelled"))
    pts = [e for e in rec["engines"] if e.get("median_ms") is not None and y_value(e, labelled) is not None]
    out = [
        f'<text x="{ox + PANEL_W / 2:.0f}" y="22" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{escape(rec['model'])} ({escape(rec['source'])})</text>"
    ]
    x0, x1 = ox + PAD_L, ox + PANEL_W - PAD_R
    y0, y1 = PANEL_H - PAD_B, PAD_T
    out.append(f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#444"/>')
    if not pts:
        out.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{(y0 + y1) / 2:.0f}" text-anchor="middle">no engine measured</text>')
        return out
    xs_all = [v for e in pts for v in (e["ci_ms"][0], e["ci_ms"][1], e["median_ms"]) if v > 0]
    log_x = bool(xs_all) and max(xs_all) / min(xs_all) > LOG_X_ABOVE
    if log_x:
        lx0, lx1 = math.log10(min(xs_all) / 1.15), math.log10(max(xs_all) * 1.15)
    xmax = max(e["ci_ms"][1] for e in pts) * 1.08
    ys = [y_value(e, labelled) or 0.0 for e in pts]
    ylo, yhi = min(ys), max(ys)
    margin = max((yhi - ylo) * 0.15, 0.002)
    ylo, yhi = ylo - margin, min(yhi + margin, 1.0 + margin)

    def sx(v: float) -> float:
        if log_x:
            return x0 + (x1 - x0) * (math.log10(max(v, 1e-9)) - lx0) / (lx1 - lx0)
        return x0 + (x1 - x0) * v / xmax

    def sy(v: float) -> float:
        return y0 - (y0 - y1) * (v - ylo) / (yhi - ylo)

    xticks = _log_ticks(10**lx0, 10**lx1) if log_x else _nice_ticks(0.0, xmax)
    for t in xticks:
        out.append(f'<line x1="{sx(t):.1f}" y1="{y0}" x2="{sx(t):.1f}" y2="{y0 + 4}" stroke="#444"/>')
        out.append(f'<text x="{sx(t):.1f}" y="{y0 + 16}" text-anchor="middle" font-size="10">{t:g}</text>')
    for t in _nice_ticks(ylo, yhi):
        lab = f"{100 * t:.4g}" if labelled else f"{t:.4g}"
        out.append(f'<line x1="{x0 - 4}" y1="{sy(t):.1f}" x2="{x1}" y2="{sy(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{sy(t) + 3:.1f}" text-anchor="end" font-size="10">{lab}</text>')
    out.append(
        f'<text x="{(x0 + x1) / 2:.0f}" y="{y0 + 34}" text-anchor="middle" font-size="11">'
        f"latency, ms{' (log scale)' if log_x else ''} (median, 95% CI; batch 1, 2 threads)</text>"
    )
    ylab = "top-1 on the labelled eval set, %" if labelled else "cosine to TensorFlow fp32 outputs"
    out.append(
        f'<text transform="translate({ox + 14},{(y0 + y1) / 2:.0f}) rotate(-90)" text-anchor="middle" '
        f'font-size="11">{ylab}</text>'
    )
    # every marker's box first, so that no label is put over another engine's point
    placed: list[tuple[float, float, float, float]] = [
        (sx(e["median_ms"]) - 6, sy(y_value(e, labelled) or 0.0) - 6, sx(e["median_ms"]) + 6, sy(y_value(e, labelled) or 0.0) + 6)
        for e in pts
    ]
    for e in sorted(pts, key=lambda e: e["median_ms"]):
        x, y = sx(e["median_ms"]), sy(y_value(e, labelled) or 0.0)
        c = COLOURS.get(family(e["engine"]), "#555")
        out.append(
            f'<line x1="{sx(e["ci_ms"][0]):.1f}" y1="{y:.1f}" x2="{sx(e["ci_ms"][1]):.1f}" y2="{y:.1f}" '
            f'stroke="{c}" stroke-width="2"/>'
        )
        out.append(marker(e["precision"], x, y, c))
        anchor = "end" if x > x0 + 0.7 * (x1 - x0) else "start"
        lx, ly = label_position(x, y, len(e["engine"]) * CHAR_W, anchor == "end", placed, (y1, y0))
        out.append(
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{lx:.1f}" y2="{ly - 3:.1f}" stroke="#999" stroke-width="0.5"/>'
            if abs(ly - y) > 16
            else ""
        )
        out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" font-size="10">{escape(e["engine"])}</text>')
    return out


def legend(y: float, width: float) -> list[str]:
    out = []
    x = 20.0
    for fam, c in COLOURS.items():
        out.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{x + 16}" y="{y + 1}" font-size="11">{fam}</text>')
        x += 70
    out.append(marker("fp32", x + 10, y - 3, "#fff"))
    out.append(f'<text x="{x + 20}" y="{y + 1}" font-size="11">fp32</text>')
    out.append(marker("int8", x + 70, y - 3, "#fff"))
    out.append(f'<text x="{x + 80}" y="{y + 1}" font-size="11">int8</text>')
    return out


def render(records: Sequence[dict[str, Any]], title: str) -> str:
    n = max(1, len(records))
    width, height = PANEL_W * n, PANEL_H + 46
    body = [
        f'<text x="{width / 2:.0f}" y="{PANEL_H + 36}" text-anchor="middle" font-size="11" fill="#333">' f"{escape(title)}</text>"
    ]
    for k, rec in enumerate(records):
        body += panel(rec, PANEL_W * k)
    body += legend(PANEL_H + 14, width)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="DejaVu Sans, Arial, sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )
