"""grappo.optimize: the measured result, eval_fn judged instead of fidelity, calibration, the
trial table, save(), and no partial output on errors or a keyboard interrupt."""

from __future__ import annotations

import json

import numpy as np
import pytest

import grappo

from .conftest import QUICK


def test_grappler_result_table_and_save(tmp_path, model_pb):
    out = tmp_path / "opt.pb"
    r = grappo.optimize(model_pb, output=out, search="grappler", **QUICK)
    assert out.exists()
    text = repr(r)
    assert "latency ms (median)" in text and "x faster" in text and "x smaller" in text
    assert r.report["search"] == "grappler"
    assert len(r.report["before"]["latency_ms_samples"]) == 3
    assert r.kept == r.report["optimized_graph_returned"]
    assert r.trials == []
    # the written file runs and gives the model's answer
    x = np.random.default_rng(1).random((1, 32, 32, 3), dtype=np.float32)
    want = grappo.load(model_pb).run({"input_1": x})["probs"]
    got = grappo.load(out).run({"input_1": x})["probs"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r.model.run({"input_1": x})["probs"], want, rtol=1e-4, atol=1e-6)


def test_eval_fn_is_judged_instead_of_fidelity(model_pb):
    calls = []

    def metric(model: grappo.Model) -> float:
        calls.append(model)
        return 1.0 if len(calls) == 1 else 0.5  # the candidate scores lower than the input

    r = grappo.optimize(model_pb, search="grappler", eval_fn=metric, max_accuracy_drop=0.1, **QUICK)
    assert len(calls) == 2
    assert r.report["accuracy"]["metric_before"] == 1.0 and r.report["accuracy"]["metric_after"] == 0.5
    assert not r.kept and "accuracy budget" in r.verdict  # fidelity is perfect: only the metric refused
    assert r.report["accuracy"]["min_cosine"] > 0.999
    calls.clear()
    r = grappo.optimize(model_pb, search="grappler", eval_fn=metric, max_accuracy_drop=0.6, **QUICK)
    assert "accuracy budget" not in r.verdict


def test_eval_fn_error_leaves_no_output(tmp_path, model_pb):
    out = tmp_path / "never.pb"

    def broken(model: grappo.Model) -> float:
        raise ValueError("my metric broke")

    with pytest.raises(ValueError, match="my metric broke"):
        grappo.optimize(model_pb, output=out, eval_fn=broken, **QUICK)
    assert not out.exists()


@pytest.mark.parametrize(("search", "at"), [("grappler", "measuring"), ("greedy", "search")])
def test_keyboard_interrupt_leaves_no_output(tmp_path, model_pb, search, at):
    out = tmp_path / "never.pb"
    steps = []

    def interrupted(step: str, done: int, total: int) -> None:
        steps.append((step, done, total))
        if step == at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grappo.optimize(model_pb, output=out, search=search, budget=20, progress=interrupted, **QUICK)
    assert search in [s[0] for s in steps] and steps[-1][0] == at and not out.exists()
    assert list(tmp_path.iterdir()) == []
    if at == "search":  # a search reports each evaluation against its budget, and stops at once
        assert steps[-1][1:] == (1, 20)


def test_calibration_batches(model_pb):
    rng = np.random.default_rng(2)
    batches = [{"input_1": rng.random((1, 32, 32, 3), dtype=np.float32)} for _ in range(2)]
    r = grappo.optimize(model_pb, search="grappler+int8", calibration=batches, **QUICK)
    assert any(k.startswith("quantize_") for k in r.report["rules_applied"])
    batches[1]["input_1"][0, 0, 0, 0] = np.nan
    with pytest.raises(grappo.GrappoError, match="NaN"):
        grappo.optimize(model_pb, search="grappler+int8", calibration=batches, **QUICK)


def test_ppo_bo_trial_table(model_pb):
    r = grappo.optimize(model_pb, search="ppo+bo", trials=2, budget=4, episodes=1, **QUICK)
    assert len(r.trials) == 2
    assert {"w_lat", "w_mem", "w_acc", "latency_ms", "feasible"} <= set(r.trials[0])
    assert "ppo+bo trials" in repr(r) and "<- kept" in repr(r)
    json.dumps(r.report)


def test_time_budget_stops_a_search(model_pb):
    r = grappo.optimize(model_pb, search="greedy", time_budget=1e-6, budget=50, **QUICK)
    assert r.report["evaluations"] <= 2  # the start graph, then the deadline had passed


def test_bad_options(model_pb):
    with pytest.raises(grappo.GrappoError, match="fastest"):
        grappo.optimize(model_pb, search="fastest")
    with pytest.raises(grappo.GrappoError, match="max_accuracy_drop"):
        grappo.optimize(model_pb, max_accuracy_drop=2)
    with pytest.raises(grappo.GrappoError, match="no_such_option"):
        grappo.optimize(model_pb, no_such_option=1)
