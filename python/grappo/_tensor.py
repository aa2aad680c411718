"""numpy arrays to and from ``grappo_tensor``: inputs are read in place (no copy when the
array is C-contiguous with a supported dtype); outputs become arrays over grappo's buffers,
freed when the array is."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from ._lib import GRAPPO_MAX_RANK, CTensor, GrappoError, lib

# TensorFlow's DataType numbers (GRAPPO_FLOAT32, ...) and numpy's types
DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    3: np.dtype(np.int32),
    4: np.dtype(np.uint8),
    6: np.dtype(np.int8),
    9: np.dtype(np.int64),
    10: np.dtype(np.bool_),
    19: np.dtype(np.float16),
}
CODES: dict[np.dtype, int] = {v: k for k, v in DTYPES.items()}


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: its name, numpy dtype (None when numpy has none, e.g.
    bfloat16) and shape (None where the dimension is not fixed)."""

    name: str
    dtype: np.dtype | None
    shape: tuple[int | None, ...]


def info_from_c(t: CTensor) -> TensorInfo:
    shape = tuple(int(t.shape[k]) if t.shape[k] >= 0 else None for k in range(t.rank))
    return TensorInfo(t.name.decode(), DTYPES.get(t.dtype), shape)


def to_c(name: str, value: np.ndarray, slot: CTensor) -> np.ndarray:
    """Fills slot to read `value` in place; returns the array that must stay alive meanwhile
    (value itself when already C-contiguous with a supported dtype)."""
    arr = np.ascontiguousarray(value)
    code = CODES.get(arr.dtype)
    if code is None:
        raise GrappoError(f"input '{name}': dtype {arr.dtype} is not supported", 2)
    if arr.ndim > GRAPPO_MAX_RANK:
        raise GrappoError(f"input '{name}': rank {arr.ndim} exceeds {GRAPPO_MAX_RANK}", 2)
    slot.name = name.encode()
    slot.dtype = code
    slot.rank = arr.ndim
    for k, d in enumerate(arr.shape):
        slot.shape[k] = d
    slot.data = arr.ctypes.data
    slot.nbytes = arr.nbytes
    return arr


class _Owner:
    """Holds one buffer grappo allocated; numpy arrays made from it keep it alive, and it
    frees the buffer when the last of them goes."""

    def __init__(self, t: CTensor, dtype: np.dtype) -> None:
        self.ptr = t.data
        shape = tuple(int(t.shape[k]) for k in range(t.rank))
        self.__array_interface__ = {
            "shape": shape,
            "typestr": dtype.str,
            "data": (t.data, False),
            "version": 3,
        }

    def __del__(self) -> None:
        if self.ptr:
            lib.grappo_free(ctypes.c_void_p(self.ptr))
            self.ptr = None


def from_c(t: CTensor) -> np.ndarray:
    """An array over an output's buffer (no copy); the buffer is freed with the array."""
    dtype = DTYPES.get(t.dtype)
    if dtype is None:
        lib.grappo_free(ctypes.c_void_p(t.data))
        raise GrappoError(f"output '{t.name.decode()}': dtype {t.dtype} has no numpy type", 2)
    return np.asarray(_Owner(t, dtype))
