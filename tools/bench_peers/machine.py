"""What the run ran on: CPU model, the ISA flags that decide int8/bf16 speed, core count and
the versions of every engine (stdlib only; versions are read from installed package metadata,
grappo's from ``grappo --version``)."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
PACKAGES = ("tensorflow-cpu", "onnxruntime", "tf2onnx", "onnx", "openvino", "nncf", "neural-compressor", "numpy")


def cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def isa_flags(cpuinfo: str) -> list[str]:
    have: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            break
    return [f for f in ISA_FLAGS if f in have]


def package_versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def grappo_version(grappo: Path) -> str:
    try:
        r = subprocess.run([str(grappo), "--version"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return f"unavailable ({e})"
    return r.stdout.strip() or r.stderr.strip()


def commit(repo: Path) -> str:
    """The checkout's commit, with "+dirty" when it has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "-uno"], capture_output=True, text=True)
    except OSError:
        return "unknown"
    return (head.stdout.strip() or "unknown") + ("+dirty" if dirty.stdout.strip() else "")


def describe(grappo: Path) -> dict[str, object]:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return {
        "cpu": cpu_model(info),
        "isa": isa_flags(info),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {**package_versions(), "grappo": grappo_version(grappo)},
        "commit": commit(Path(__file__).resolve().parent),
    }
