"""Writes this benchmark's section of bench/RESULTS.md between its own markers, leaving the
rest of the file as it was (the section is appended the first time)."""

from __future__ import annotations

from pathlib import Path

BEGIN = "<!-- bench-peers:begin -->"
END = "<!-- bench-peers:end -->"


def replace_section(text: str, body: str) -> str:
    block = f"{BEGIN}\n{body.rstrip()}\n{END}"
    i, j = text.find(BEGIN), text.find(END)
    if i >= 0 and j > i:
        return text[:i] + block + text[j + len(END) :]
    sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    return f"{text}{sep}{block}\n"


def write_section(path: Path, body: str) -> None:
    old = path.read_text() if path.exists() else ""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(replace_section(old, body))
    tmp.replace(path)
