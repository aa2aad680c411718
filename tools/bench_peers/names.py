"""Matching a model's inputs as each engine names them to the SavedModel signature's keys
(stdlib only): tf2onnx and OpenVINO name them after graph tensors (``serving_default_x:0``,
``x``), grappo and TensorFlow after the signature (``x``)."""

from __future__ import annotations

from collections.abc import Sequence


def _plain(name: str) -> str:
    return name.split(":", 1)[0]


def _matches(name: str, key: str, level: int) -> bool:
    """level 0: the same name; 1: the same without ``:port``; 2: ends in ``_key`` or ``/key``."""
    if level == 0:
        return name == key
    if level == 1:
        return _plain(name) == key
    return _plain(name).endswith(("_" + key, "/" + key))


def match_inputs(engine_names: Sequence[str], keys: Sequence[str]) -> dict[str, str]:
    """{signature key: engine input name}. Exact name first, then the name without a
    ``:port``, then the only engine name ending in ``_key``/``/key``; what is still unmatched
    is paired in sorted order. Raises ValueError when the counts differ."""
    if len(engine_names) != len(keys):
        raise ValueError(f"the engine has {len(engine_names)} inputs, the signature {len(keys)}")
    out: dict[str, str] = {}
    free = list(engine_names)
    for key in keys:
        for level in range(3):
            hits = [n for n in free if _matches(n, key, level)]
            if len(hits) == 1:
                out[key] = hits[0]
                free.remove(hits[0])
                break
    rest = sorted(k for k in keys if k not in out)
    out.update(zip(rest, sorted(free), strict=True))
    return out


def file_stem(input_name: str) -> str:
    """grappo's calibration file name for an input: '/' and ':' become '_'."""
    return input_name.replace("/", "_").replace(":", "_")
