"""grappo.load, Model.inputs/outputs, Model.run: numpy in and out, errors carry grappo's message."""

from __future__ import annotations

import numpy as np
import pytest

import grappo


def test_interface(model_pb):
    m = grappo.load(model_pb)
    (x,) = m.inputs
    assert x.name == "input_1" and x.dtype == np.float32
    assert x.shape == (None, 32, 32, 3)  # a dynamic batch is None
    assert [o.name for o in m.outputs] == ["logits", "probs"]
    assert m.outputs[1].shape == (1, 10)
    assert "input_1" in repr(m)


def test_run_numpy_in_and_out(model_pb):
    m = grappo.load(model_pb)
    rng = np.random.default_rng(0)
    x = rng.random((1, 32, 32, 3), dtype=np.float32)
    out = m.run({"input_1": x})
    assert list(out) == ["logits", "probs"]
    probs = out["probs"]
    assert probs.shape == (1, 10) and probs.dtype == np.float32
    assert abs(float(probs.sum()) - 1.0) < 1e-5
    # outputs are arrays over grappo's buffers (no copy), and the same input gives the same result
    assert not probs.flags["OWNDATA"]
    np.testing.assert_array_equal(m.run({"input_1": x})["probs"], probs)
    # softmax of the logits
    logits = out["logits"].astype(np.float64)
    e = np.exp(logits - logits.max())
    np.testing.assert_allclose(probs, e / e.sum(), rtol=1e-4, atol=1e-6)
    # a non-contiguous view or another dtype is converted, with the same values
    big = np.zeros((1, 32, 64, 3), dtype=np.float64)
    big[:, :, ::2, :] = x
    view = big[:, :, ::2, :]
    np.testing.assert_allclose(m.run({"input_1": view})["probs"], probs, rtol=1e-6)


def test_outputs_outlive_model(model_pb):
    m = grappo.load(model_pb)
    x = np.full((1, 32, 32, 3), 0.5, dtype=np.float32)
    probs = m.run({"input_1": x})["probs"]
    expected = probs.copy()
    del m
    np.testing.assert_array_equal(probs, expected)


def test_errors_carry_grappos_message(tmp_path, model_pb):
    with pytest.raises(grappo.GrappoError, match="cannot open") as e:
        grappo.load(tmp_path / "missing.pb")
    assert e.value.code == 2
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"\xff\xff\xff")
    with pytest.raises(grappo.GrappoError):
        grappo.load(bad)
    m = grappo.load(model_pb)
    with pytest.raises(grappo.GrappoError, match="input_1"):
        m.run({"input_1": np.zeros((1, 32, 32, 4), dtype=np.float32)})
    with pytest.raises(grappo.GrappoError, match="nope"):
        m.run({"nope": np.zeros((1, 32, 32, 3), dtype=np.float32)})
