"""``optimize``: one call of grappo's optimizer (the C library's ``grappo_optimize``, the
same code `grappo optimize` runs), and its ``Result``."""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Union

import numpy as np

from ._lib import EVAL_FN, PROGRESS_FN, CTensor, GrappoError, call, lib
from ._tensor import to_c
from .model import Model, load
from .report import format_result

PathOrModel = Union[str, "os.PathLike[str]", Model]


class Result:
    """What ``optimize`` returns: the measured report (``report``, a dict), whether the
    optimized graph was kept (``kept``), the resulting ``model`` and ``save()``. ``repr``
    shows the before/after table and, for ppo+bo, the trial table."""

    def __init__(self, handle: int) -> None:
        self._h = ctypes.c_void_p(handle)
        text = ctypes.c_void_p()
        call(lib.grappo_result_json, self._h, ctypes.byref(text))
        try:
            self.report: dict[str, Any] = json.loads(ctypes.string_at(text.value).decode())
        finally:
            lib.grappo_free(text)

    def __del__(self) -> None:
        if getattr(self, "_h", None):
            lib.grappo_result_free(self._h)
            self._h = ctypes.c_void_p()

    @property
    def kept(self) -> bool:
        """True when the optimized graph is the result; False when the input is returned."""
        return bool(lib.grappo_result_kept(self._h))

    @property
    def verdict(self) -> str:
        return str(self.report["verdict"])

    @property
    def trials(self) -> list[dict[str, Any]]:
        """The ppo+bo trial table (one dict per trial; empty for other methods)."""
        return list(self.report.get("bayesian_optimization", {}).get("trials", []))

    @property
    def model(self) -> Model:
        """The resulting model (the optimized graph, or the input when it was not kept)."""
        h = ctypes.c_void_p()
        call(lib.grappo_result_model, self._h, ctypes.byref(h))
        return Model(h.value or 0, True, "<optimized>")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the result as a frozen GraphDef, checked first to compute what the
        optimized graph computes; atomic (a failure leaves no file)."""
        call(lib.grappo_result_save, self._h, os.fsencode(path))

    def __repr__(self) -> str:
        return format_result(self.report)


def _set(opts: ctypes.c_void_p, key: str, value: object) -> None:
    call(lib.grappo_options_set, opts, key.encode(), str(value).encode())


def optimize(
    path_or_model: PathOrModel,
    output: str | os.PathLike[str] | None = None,
    search: str | None = None,
    max_accuracy_drop: float | None = None,
    calibration: Iterable[Mapping[str, np.ndarray]] | None = None,
    eval_fn: Callable[[Model], float] | None = None,
    time_budget: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    **options: object,
) -> Result:
    """Optimizes a model and measures the result against it, side by side.

    path_or_model: a path (or ``zoo:NAME``) or a loaded ``Model`` (not changed).
    output: when given, the result is written there (only after success: an error or a
        KeyboardInterrupt leaves no file).
    search: grappler (the default), grappler+int8, greedy, random, ppo, ppo+bo, sensitivity or
        ``rules:R1,R2``.
    max_accuracy_drop: the accuracy budget (default 0.01): top-1 agreement with the input
        >= 1 - drop, or, with ``eval_fn``, its score >= the input's score - drop.
    calibration: input batches ({input name: array}) for the precision methods' ranges,
        instead of generated ones.
    eval_fn: your metric on your labelled data, ``eval_fn(model) -> float`` (higher is
        better), called with the input and with the optimized candidate (a Model valid
        during the call only); the accuracy budget is then judged on it instead of fidelity.
    time_budget: seconds a search may spend on graph evaluations; then it returns the best
        graph found so far.
    progress: called as ``progress(step, done, total)`` at each step ("calibrating", the
        method, "search" after every graph evaluation of a search with done of at most
        total, "measuring"); raising stops the optimization (the exception is raised by
        ``optimize``, nothing is written).
    options: any other option of ``grappo_options_set`` (budget, seed, threads, repeats,
        eval_batches, trials, episodes, target, policy, objective, ...), among them the
        user's labelled data: ``eval`` (a directory of images or .npy batches), ``labels``
        (one class per line: the budget is then judged on top-1) and ``resize``, ``mean``,
        ``std``, ``layout`` for images (docs/formats.md).
    """
    model = path_or_model if isinstance(path_or_model, Model) else load(path_or_model)
    opts = ctypes.c_void_p()
    call(lib.grappo_options_new, ctypes.byref(opts))
    pending: list[BaseException] = []

    def run_eval(handle: int, user: int, score: Any) -> int:
        try:
            score[0] = float(eval_fn(Model(handle, owned=False, source="<candidate>")))  # type: ignore[misc]
            return 0
        except BaseException as e:  # noqa: BLE001 - re-raised after the C call returns
            pending.append(e)
            return 1

    def on_progress(what: bytes, done: int, total: int, user: int) -> int:
        # Python runs signal handlers between bytecodes: a Ctrl-C during the C call raises
        # its KeyboardInterrupt here, at the next step; it stops the optimization (nothing
        # is written) and is raised again below
        try:
            if progress is not None:
                progress(what.decode(), done, total)
            return 0
        except BaseException as e:  # noqa: BLE001
            pending.append(e)
            return 1

    c_eval = EVAL_FN(run_eval)
    c_progress = PROGRESS_FN(on_progress)
    try:
        if search is not None:
            _set(opts, "search", search)
        if max_accuracy_drop is not None:
            _set(opts, "max_accuracy_drop", repr(float(max_accuracy_drop)))
        if time_budget is not None:
            _set(opts, "time_budget", repr(float(time_budget)))
        for key, value in options.items():
            _set(opts, key, int(value) if isinstance(value, bool) else value)
        for batch in calibration or ():
            c_in = (CTensor * max(1, len(batch)))()
            keep = [to_c(name, np.asarray(v), c_in[i]) for i, (name, v) in enumerate(batch.items())]
            call(lib.grappo_options_add_calibration, opts, c_in, len(batch))
            del keep
        if eval_fn is not None:
            call(lib.grappo_options_set_eval_fn, opts, c_eval, None)
        call(lib.grappo_options_set_progress, opts, c_progress, None)
        h = ctypes.c_void_p()
        rc = lib.grappo_optimize(model.handle, opts, ctypes.byref(h))
        if pending:
            raise pending[0]
        if rc != 0:
            raise GrappoError(lib.grappo_errmsg().decode("utf-8", "replace"), rc)
        result = Result(h.value or 0)
    finally:
        lib.grappo_options_free(opts)
    if output is not None:
        result.save(output)
    return result


__all__ = ["GrappoError", "Result", "optimize"]
