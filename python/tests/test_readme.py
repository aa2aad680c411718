"""The README's "Python" example runs as written, and its "C library" example is
examples/use.c (which tests/test_api.c builds with pkg-config and runs)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"README has no section '{title}'"
    return m.group(1)


def code(title: str, lang: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", section(title), re.S)
    assert blocks, f"no {lang} block in '{title}'"
    return blocks[0]


def test_python_example_runs_as_written(tmp_path, model_pb, monkeypatch, capsys):
    shutil.copy(model_pb, tmp_path / "model.pb")
    monkeypatch.chdir(tmp_path)
    exec(compile(code("Python", "python"), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "latency ms (median)" in printed and "your metric" in printed
    assert (tmp_path / "model.opt.pb").exists()
    import grappo

    assert len(grappo.load(tmp_path / "model.opt.pb").outputs) == 2


def test_c_example_is_examples_use_c():
    assert code("C library", "c") == (ROOT / "examples" / "use.c").read_text()


@pytest.mark.parametrize("name", ["load", "optimize", "Model", "Result", "GrappoError"])
def test_package_exports(name):
    import grappo

    assert hasattr(grappo, name)
