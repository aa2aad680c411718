"""``Model``: a loaded graph that runs on grappo's fast runtime."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping

import numpy as np

from ._lib import CTensor, call, lib
from ._tensor import TensorInfo, from_c, info_from_c, to_c


class Model:
    """A model grappo loaded (``grappo.load``) or produced (``Result.model``)."""

    def __init__(self, handle: int, owned: bool = True, source: str = "") -> None:
        self._h = ctypes.c_void_p(handle)
        self._owned = owned
        self.source = source

    @property
    def handle(self) -> ctypes.c_void_p:
        return self._h

    def __del__(self) -> None:
        if getattr(self, "_owned", False) and self._h:
            lib.grappo_model_free(self._h)
            self._h = ctypes.c_void_p()

    def _interface(self, outputs: bool) -> list[TensorInfo]:
        arr = ctypes.POINTER(CTensor)()
        n = ctypes.c_int()
        call(lib.grappo_model_outputs if outputs else lib.grappo_model_inputs, self._h, ctypes.byref(arr), ctypes.byref(n))
        return [info_from_c(arr[i]) for i in range(n.value)]

    @property
    def inputs(self) -> list[TensorInfo]:
        """The placeholders: name, dtype, shape (None where free, e.g. a dynamic batch)."""
        return self._interface(False)

    @property
    def outputs(self) -> list[TensorInfo]:
        """The graph outputs, in the order ``run`` returns them."""
        return self._interface(True)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs the model on the fast runtime: ``{input name: array}`` in, ``{output name:
        array}`` out. Inputs that are C-contiguous with the input's dtype are read in place
        (others are converted); outputs are arrays over grappo's own buffers (no copy)."""
        names = list(feeds)
        c_in = (CTensor * max(1, len(names)))()
        want = {t.name: t.dtype for t in self.inputs}
        # the model's dtype for each input: converted (copied) only when it differs
        arrays = [np.asarray(feeds[name], dtype=want.get(name)) for name in names]
        keep = [to_c(name, arr, c_in[i]) for i, (name, arr) in enumerate(zip(names, arrays))]
        n_out = len(self.outputs)
        c_out = (CTensor * max(1, n_out))()
        call(lib.grappo_model_run, self._h, c_in, len(names), c_out, n_out)
        del keep
        return {c_out[j].name.decode(): from_c(c_out[j]) for j in range(n_out)}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the model as a frozen GraphDef (atomically)."""
        call(lib.grappo_model_save, self._h, os.fsencode(path))

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.name}{list(t.shape)}" for t in self.inputs)
        outs = ", ".join(f"{t.name}{list(t.shape)}" for t in self.outputs)
        return f"<grappo.Model {self.source!r}: inputs {ins}; outputs {outs}>"


def load(path: str | os.PathLike[str]) -> Model:
    """Loads a model: a frozen GraphDef (.pb), other formats as grappo's readers exist, or
    ``zoo:NAME`` for a built-in benchmark model. Raises GrappoError with grappo's message."""
    h = ctypes.c_void_p()
    call(lib.grappo_model_load, os.fsencode(path), ctypes.byref(h))
    return Model(h.value or 0, True, os.fsdecode(path))
