"""The bench-real table from a grappo bench report.json model entry, the agent's verdict
against the fixed methods, and the RESULTS.md block."""

from __future__ import annotations

from typing import Any

from bench_real import table


def result(method: str, ms: float, top1: float, keeps: bool = True, p: float | None = None) -> dict[str, Any]:
    return {
        "method": method,
        "ok": True,
        "latency_ms_median": ms,
        "latency_ms_median_ci95_lo": ms - 0.1,
        "latency_ms_median_ci95_hi": ms + 0.1,
        "speedup": 4.0 / ms,
        "welch_p_vs_none": 1e-6 if method != "none" else None,
        "peak_bytes": 64 * 1024 * 1024,
        "memory_x_smaller": 1.0,
        "label_top1": top1,
        "keeps_accuracy": keeps,
        "welch_p": p,
        "optimize_seconds": 1.25,
    }


def model(agent_ms: float, agent_p: float | None, int8_keeps: bool = True) -> dict[str, Any]:
    return {
        "winner": "grappler+int8",
        "methods": [
            result("none", 4.0, 0.92),
            result("grappler", 3.0, 0.92, p=1e-9),
            result("grappler+int8", 1.6, 0.915, keeps=int8_keeps, p=agent_p),
            result("sensitivity", 1.7, 0.92, p=0.5),
            result("ppo+bo", agent_ms, 0.92),
        ],
    }


def test_rows() -> None:
    rs = table.rows("resnet50-fmnist", model(1.6, 0.9))
    assert len(rs) == 5
    cells = [c.strip() for c in rs[2].strip("|").split("|")]
    assert cells[:5] == ["resnet50-fmnist", "**grappler+int8**", "91.50%", "-0.50", "yes"]
    assert cells[5] == "1.600 [1.500, 1.700]"
    assert cells[6] == "2.50×" and cells[7] == "<0.001" and cells[8] == "64.0" and cells[11] == "1.2"
    assert len(cells) == table.HEADER.splitlines()[0].count("|") - 1
    failed = table.rows("m", {"methods": [{"method": "ppo+bo", "ok": False, "error": "no policy"}]})
    assert "failed: no policy" in failed[0]


def test_agent_verdict() -> None:
    # compared with the fastest fixed method that keeps accuracy (grappler+int8 at 1.6 ms)
    assert "significantly slower (p 0.010)" in table.agent_verdict(model(1.9, 0.01))
    assert "significantly faster" in table.agent_verdict(model(1.3, 0.01))
    assert "not significantly different" in table.agent_verdict(model(1.65, 0.4))
    # grappler+int8 loses accuracy: sensitivity (1.7 ms) is the one to beat; its p is 0.5
    v = table.agent_verdict(model(1.9, 0.01, int8_keeps=False))
    assert "sensitivity 1.700 ms" in v and "not significantly different" in v


def test_agent_verdict_same_graph() -> None:
    m = model(1.3, 0.01)
    for r in m["methods"]:
        r["rules"] = "quantize_conv_int8 x52" if r["method"] in ("grappler+int8", "ppo+bo") else "fuse x1"
    v = table.agent_verdict(m)
    assert "the same rewrites as grappler+int8" in v and "no gain of its own" in v
    assert "significantly faster" not in v


def test_block_replaced_once() -> None:
    text = "# Results\n\nold stuff\n"
    once = table.replace_block(text, "table one")
    assert once.count(table.BEGIN) == 1 and "table one" in once and "old stuff" in once
    twice = table.replace_block(once + "\nafter\n", "table two")
    assert "table one" not in twice and "table two" in twice and twice.count(table.BEGIN) == 1
    assert twice.endswith("after\n")
