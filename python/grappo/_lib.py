"""Finding libgrappo.so and declaring its C functions (include/grappo.h) for ctypes."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any, Callable

GRAPPO_MAX_RANK = 8


class GrappoError(RuntimeError):
    """A grappo call failed; the message is grappo's own one-line message.

    ``code`` is the C API's result code: 1 a failure while working, 2 bad input or usage,
    3 cancelled.
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class CTensor(ctypes.Structure):
    """``grappo_tensor``: name, dtype, rank, shape, data, nbytes."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("dtype", ctypes.c_int),
        ("rank", ctypes.c_int),
        ("shape", ctypes.c_int64 * GRAPPO_MAX_RANK),
        ("data", ctypes.c_void_p),
        ("nbytes", ctypes.c_size_t),
    ]


EVAL_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double))
PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


def _candidates() -> list[Path]:
    """Where libgrappo.so may be: $GRAPPO_LIBRARY, next to this package, the build directory."""
    out = []
    env = os.environ.get("GRAPPO_LIBRARY")
    if env:
        out.append(Path(env))
    here = Path(__file__).resolve().parent
    out.append(here / "libgrappo.so")
    out.append(here.parent.parent / "build" / "libgrappo.so")  # a source checkout: python/grappo
    return out


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        if path.exists():
            return ctypes.CDLL(str(path))
        tried.append(str(path))
    raise ImportError("libgrappo.so not found (tried " + ", ".join(tried) + "); build it with make or set GRAPPO_LIBRARY")


lib = _load()

_P = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "grappo_libversion": (ctypes.c_char_p, []),
    "grappo_errmsg": (ctypes.c_char_p, []),
    "grappo_free": (None, [_P]),
    "grappo_model_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(_P)]),
    "grappo_model_free": (None, [_P]),
    "grappo_model_save": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "grappo_model_inputs": (ctypes.c_int, [_P, ctypes.POINTER(ctypes.POINTER(CTensor)), ctypes.POINTER(ctypes.c_int)]),
    "grappo_model_outputs": (ctypes.c_int, [_P, ctypes.POINTER(ctypes.POINTER(CTensor)), ctypes.POINTER(ctypes.c_int)]),
    "grappo_model_run": (ctypes.c_int, [_P, ctypes.POINTER(CTensor), ctypes.c_int, ctypes.POINTER(CTensor), ctypes.c_int]),
    "grappo_options_new": (ctypes.c_int, [ctypes.POINTER(_P)]),
    "grappo_options_free": (None, [_P]),
    "grappo_options_set": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    "grappo_options_add_calibration": (ctypes.c_int, [_P, ctypes.POINTER(CTensor), ctypes.c_int]),
    "grappo_options_set_eval_fn": (ctypes.c_int, [_P, EVAL_FN, _P]),
    "grappo_options_set_progress": (ctypes.c_int, [_P, PROGRESS_FN, _P]),
    "grappo_optimize": (ctypes.c_int, [_P, _P, ctypes.POINTER(_P)]),
    "grappo_result_free": (None, [_P]),
    "grappo_result_kept": (ctypes.c_int, [_P]),
    "grappo_result_model": (ctypes.c_int, [_P, ctypes.POINTER(_P)]),
    "grappo_result_json": (ctypes.c_int, [_P, ctypes.POINTER(_P)]),
    "grappo_result_save": (ctypes.c_int, [_P, ctypes.c_char_p]),
}
for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args


def check(rc: int) -> None:
    """Raises GrappoError with grappo's message when a call returned non-zero."""
    if rc != 0:
        raise GrappoError(lib.grappo_errmsg().decode("utf-8", "replace"), rc)


def call(fn: Callable[..., int], *args: Any) -> None:
    """Calls a grappo function returning a result code, raising on failure."""
    check(fn(*args))
