"""The bench-real table: a row from a report as grappo optimize writes it, and the RESULTS.md block."""

from __future__ import annotations

from typing import Any

from bench_real import table


def report(kept: bool = True) -> dict[str, Any]:
    return {
        "optimized_graph_returned": kept,
        "verdict": "optimized graph written" if kept else "accuracy budget violated: the input graph was written unchanged",
        "before": {"latency_ms_median": 4.0, "peak_bytes": 64 * 1024 * 1024},
        "after": {"latency_ms_median": 1.6, "peak_bytes": 16 * 1024 * 1024},
        "accuracy": {"labels": {"top1_before": 0.92, "top1_after": 0.915}},
        "machine_busy": False,
        "sensitivity": {"kept_fp32": 2},
    }


def test_row_numbers() -> None:
    r = table.row("resnet50-fmnist", "sensitivity", report(), 61.4)
    cells = [c.strip() for c in r.strip("|").split("|")]
    assert cells[:2] == ["resnet50-fmnist", "sensitivity"]
    assert cells[2] == "92.00% → 91.50% (-0.50)"
    assert cells[3] == "yes"
    assert cells[4] == "4.00 → 1.60"
    assert cells[5] == "2.50×"
    assert cells[6] == "64.0 → 16.0"
    assert cells[7] == "4.00×"
    assert cells[8] == "61"
    assert "2 node(s) kept fp32" in cells[9]
    assert len(cells) == table.HEADER.splitlines()[0].count("|") - 1


def test_row_refused_and_failed() -> None:
    r = table.row("m", "grappler+int8", report(kept=False), 5)
    assert "| no |" in r and "accuracy budget violated" in r
    f = table.row("m", "ppo+bo", None, 3, "exit 2: bad input")
    assert "failed: exit 2: bad input" in f


def test_block_replaced_once() -> None:
    text = "# Results\n\nold stuff\n"
    once = table.replace_block(text, "table one")
    assert once.count(table.BEGIN) == 1 and "table one" in once and "old stuff" in once
    twice = table.replace_block(once + "\nafter\n", "table two")
    assert "table one" not in twice and "table two" in twice and twice.count(table.BEGIN) == 1
    assert twice.endswith("after\n")
