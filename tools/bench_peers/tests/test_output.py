"""table, svg and results_md on a hand-made run record."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from bench_peers import machine, names, results_md, svg, table

NS = "{http://www.w3.org/2000/svg}"


def record(labelled: bool = False) -> dict[str, Any]:
    def row(e: str, p: str, ms: float | None, **kw: Any) -> dict[str, Any]:
        r: dict[str, Any] = {"engine": e, "precision": p, **kw}
        if ms is not None:
            r.update(median_ms=ms, ci_ms=[ms * 0.9, ms * 1.1], ratio=ms / 20.0, ratio_ci=[ms / 22, ms / 18])
        return r

    acc = (lambda v: {"top1": v}) if labelled else (lambda v: {"cosine": v, "top1_agree": 1.0})
    return {
        "model": "resnet50",
        "source": "generated",
        "saved_model": "build/tf-bench/resnet50/saved_model",
        "labelled": labelled,
        "accuracy_kind": "fidelity",
        "engines": [
            row("ort-fp32", "fp32", 20.0, **acc(1.0)),
            row("ort-int8", "int8", 9.0, **acc(0.98)),
            row("grappo-int8", "int8", 8.0, **acc(0.99)),
            row("inc-int8", "int8", None, note="failed: boom"),
        ],
    }


def test_table_rows() -> None:
    lines = table.model_table(record())
    assert len(lines) == 2 + 4
    assert lines[2].startswith("| ort-fp32 | fp32 | 20.00 | 18.00–22.00 | 1.00 (0.91–1.11) | cos 1.0000, agree 100.0% |")
    assert "| inc-int8 | int8 | n/a |" in lines[5] and "failed: boom" in lines[5]
    assert "top-1 98.00%" in table.model_table(record(labelled=True))[3]


def test_svg_markers_and_labels() -> None:
    root = ET.fromstring(svg.render([record(), record(labelled=True)], "title"))
    circles = root.findall(f"{NS}circle")
    polys = root.findall(f"{NS}polygon")
    # per panel: one fp32 circle, two int8 triangles; the legend adds one of each
    assert len(circles) == 2 * 1 + 1 and len(polys) == 2 * 2 + 1
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert texts.count("grappo-int8") == 2 and "inc-int8" not in texts  # unmeasured: not plotted
    # faster engine further left in its panel
    xs = {t.text: float(t.get("x", 0)) for t in root.iter(f"{NS}text") if t.text in ("ort-fp32", "grappo-int8")}
    assert xs["grappo-int8"] < xs["ort-fp32"]


def test_results_section_replaced_not_duplicated() -> None:
    first = results_md.replace_section("# Results\n\nolder text\n", "one")
    assert first.startswith("# Results\n\nolder text\n\n") and first.count(results_md.BEGIN) == 1
    second = results_md.replace_section(first + "\nlater section\n", "two")
    assert "one" not in second and "two" in second and second.endswith("\nlater section\n")
    assert second.count(results_md.BEGIN) == 1 and second.count(results_md.END) == 1


def test_isa_flags_and_cpu() -> None:
    info = "model name\t: Some CPU @ 2GHz\nflags\t\t: fpu sse avx2 fma avx512f avx512_vnni amx_tile\n"
    assert machine.cpu_model(info) == "Some CPU @ 2GHz"
    assert machine.isa_flags(info) == ["avx2", "fma", "avx512f", "avx512_vnni", "amx_tile"]


def test_match_inputs() -> None:
    keys = ["input_ids", "segment_ids"]
    got = names.match_inputs(["serving_default_segment_ids:0", "serving_default_input_ids:0"], keys)
    assert got == {"input_ids": "serving_default_input_ids:0", "segment_ids": "serving_default_segment_ids:0"}
    assert names.match_inputs(["x:0"], ["keras_tensor"]) == {"keras_tensor": "x:0"}
    assert names.file_stem("a/b:0") == "a_b_0"
