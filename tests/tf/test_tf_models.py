"""TensorFlow as the oracle for grappo's readers, writer and --target tf outputs.

For every model of gen_models.py: grappo reads the SavedModel and TensorFlow's own frozen
GraphDef and computes what TensorFlow computed; grappo's `optimize --target tf --search
grappler` result loads and runs in TensorFlow with the same outputs; savedmodel_save's output
loads with tf.saved_model.load and its serving_default signature keeps the input names.
Tolerance: max |grappo - tf| <= 1e-4 * max |tf| per output.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RTOL = 1e-4
# Models that need ops grappo lacks are expected to fail until the ops land (none now: the
# Keras 3 BERT-style encoder's Einsum and Erfc are in the op table).
MISSING_OPS: dict[str, str] = {}
NAMES = ["resnet", "mobilenet", "bert", "multi_output", "module", "tf1", "embed"]
SEARCH = {"grappler": [], "ppo": ["--episodes", "4", "--budget", "4"]}


def _param(name: str) -> Any:
    if name in MISSING_OPS:
        return pytest.param(name, marks=pytest.mark.xfail(reason=MISSING_OPS[name], strict=False))
    return name


PARAMS = [_param(n) for n in NAMES]


def _meta(models: Path, name: str) -> dict[str, Any]:
    return json.loads((models / name / "meta.json").read_text())


def _close(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
    assert err <= RTOL * max(scale, 1e-30), f"{what}: max error {err:.3g} > {RTOL} * {scale:.3g}"


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr}"
    return res


def _grappo_run(grappo: Path, model: Path, feeds: dict[str, Path], fetch: list[str], out: Path) -> None:
    cmd = [str(grappo), "run", str(model), "--runtime", "ref", "--save-outputs", str(out)]
    for name, path in feeds.items():
        cmd += ["--input", f"{name}={path}"]
    for t in fetch:
        cmd += ["--output", t]
    _run(cmd)


def _npy_name(tensor: str) -> str:
    return tensor.replace("/", "_").replace(":", "_") + ".npy"


@pytest.mark.parametrize("name", PARAMS)
def test_savedmodel_matches_tf(grappo: Path, models: Path, name: str, tmp_path: Path) -> None:
    d, meta = models / name, _meta(models, name)
    feeds = {k: d / f"in_{k}.npy" for k in meta["inputs"]}
    _grappo_run(grappo, d / "saved_model", feeds, [], tmp_path)
    for k in meta["outputs"]:  # outputs are Identity nodes named by the signature keys
        _close(np.load(tmp_path / _npy_name(f"{k}:0")), np.load(d / f"ref_{k}.npy"), f"{name} {k}")


@pytest.mark.parametrize("name", PARAMS)
def test_frozen_matches_tf(grappo: Path, models: Path, name: str, tmp_path: Path) -> None:
    d, meta = models / name, _meta(models, name)
    frozen = meta["frozen"]
    feeds = {frozen["inputs"][k].split(":")[0]: d / f"in_{k}.npy" for k in meta["inputs"]}
    fetch = [frozen["outputs"][k] for k in meta["outputs"]]
    _grappo_run(grappo, d / "frozen.pb", feeds, fetch, tmp_path)
    for k in meta["outputs"]:
        got = np.load(tmp_path / _npy_name(frozen["outputs"][k]))
        _close(got, np.load(d / f"ref_{k}.npy"), f"{name} {k}")


def _tf_run_graphdef(pb: Path, feeds: dict[str, np.ndarray], fetch: list[str]) -> list[np.ndarray]:
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return list(sess.run(fetch, feed_dict={f"{k}:0": v for k, v in feeds.items()}))


@pytest.mark.parametrize("search", sorted(SEARCH))
@pytest.mark.parametrize("name", PARAMS)
def test_optimized_runs_in_tf(
    grappo: Path, converter: Path, models: Path, name: str, search: str, tmp_path: Path
) -> None:
    """grappo's --target tf result, as a frozen .pb and as a SavedModel, runs in TensorFlow and
    gives TensorFlow's outputs of the original."""
    import tensorflow as tf

    d, meta = models / name, _meta(models, name)
    frozen = meta["frozen"]
    out = tmp_path / "opt.pb"
    cmd = [str(grappo), "optimize", str(d / "frozen.pb"), "-o", str(out), "--target", "tf", "--search", search]
    _run(cmd + SEARCH[search])
    feeds = {frozen["inputs"][k].split(":")[0]: np.load(d / f"in_{k}.npy") for k in meta["inputs"]}
    fetch = [frozen["outputs"][k] for k in meta["outputs"]]
    for k, got in zip(meta["outputs"], _tf_run_graphdef(out, feeds, fetch), strict=True):
        _close(got, np.load(d / f"ref_{k}.npy"), f"{name} {k} (TensorFlow on grappo's {search} .pb)")
    _run([str(converter), str(out), str(tmp_path / "sm")])
    fn = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    assert sorted(fn.structured_input_signature[1]) == sorted(feeds)
    res = fn(**{k: tf.constant(v) for k, v in feeds.items()})
    for k in meta["outputs"]:
        key = frozen["outputs"][k].removesuffix(":0").replace(":", "_")
        _close(
            res[key].numpy(), np.load(d / f"ref_{k}.npy"), f"{name} {k} (TensorFlow on grappo's {search} SavedModel)"
        )


@pytest.mark.parametrize("name", NAMES)  # TensorFlow runs what grappo wrote: no grappo kernels needed
def test_written_savedmodel_loads_in_tf(converter: Path, models: Path, name: str, tmp_path: Path) -> None:
    import tensorflow as tf

    d, meta = models / name, _meta(models, name)
    out = tmp_path / "sm"
    _run([str(converter), str(d / "saved_model"), str(out)])
    fn = tf.saved_model.load(str(out)).signatures["serving_default"]
    assert sorted(fn.structured_input_signature[1]) == meta["inputs"]  # the input's signature names
    got = fn(**{k: tf.constant(np.load(d / f"in_{k}.npy")) for k in meta["inputs"]})
    assert sorted(got) == meta["outputs"]
    for k in meta["outputs"]:
        _close(got[k].numpy(), np.load(d / f"ref_{k}.npy"), f"{name} {k} (written SavedModel)")


def test_bad_signature_is_one_line(grappo: Path, models: Path) -> None:
    res = subprocess.run(
        [str(grappo), "inspect", str(models / "module" / "saved_model"), "--signature", "nope"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "no signature 'nope'" in res.stderr


def _to_tfjs(frozen: Path, out: Path, quantize: str | None = None) -> Path:
    """A TensorFlow.js graph model of a frozen graph, laid out as tensorflowjs_converter does:
    modelTopology = the GraphDef in protobuf's JSON mapping without the Consts' values, which go
    to one weight shard (int64 as int32, as TensorFlow.js stores them; float32 weights with
    more than 16 elements optionally uint8/float16-quantized)."""
    import tensorflow as tf
    from google.protobuf import json_format

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(frozen.read_bytes())
    nodes: list[dict[str, Any]] = []
    weights: list[dict[str, Any]] = []
    blob = bytearray()
    for n in gd.node:
        d = json_format.MessageToDict(n)
        if n.op == "Const":
            v = tf.make_ndarray(n.attr["value"].tensor)
            if v.dtype == np.int64:
                v = v.astype(np.int32)
            dtype = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32", np.dtype(np.bool_): "bool"}[v.dtype]
            d["attr"].pop("value")
            spec: dict[str, Any] = {"name": n.name, "shape": list(v.shape), "dtype": dtype}
            if quantize and dtype == "float32" and v.size > 16:
                lo, hi = float(v.min()), float(v.max())
                if quantize == "uint8":
                    scale = (hi - lo) / 255 or 1.0
                    q = np.round((v - lo) / scale).astype(np.uint8)
                    spec["quantization"] = {"dtype": "uint8", "scale": scale, "min": lo}
                else:
                    q = v.astype(np.float16)
                    spec["quantization"] = {"dtype": "float16"}
                blob += q.tobytes()
            else:
                blob += np.ascontiguousarray(v).tobytes()
            weights.append(spec)
        nodes.append(d)
    out.mkdir(parents=True, exist_ok=True)
    (out / "group1-shard1of1.bin").write_bytes(bytes(blob))
    model = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}],
    }
    (out / "model.json").write_text(json.dumps(model))
    return out / "model.json"


@pytest.mark.parametrize("quantize,rtol", [(None, RTOL), ("float16", 1e-2), ("uint8", 5e-2)])
@pytest.mark.parametrize("name", ["resnet", "module"])
def test_tfjs_matches_tf(
    grappo: Path, models: Path, name: str, quantize: str | None, rtol: float, tmp_path: Path
) -> None:
    d, meta = models / name, _meta(models, name)
    frozen = meta["frozen"]
    model_json = _to_tfjs(d / "frozen.pb", tmp_path / "tfjs", quantize)
    feeds = {frozen["inputs"][k].split(":")[0]: d / f"in_{k}.npy" for k in meta["inputs"]}
    fetch = [frozen["outputs"][k] for k in meta["outputs"]]
    _grappo_run(grappo, model_json, feeds, fetch, tmp_path / "out")
    for k in meta["outputs"]:
        got = np.load(tmp_path / "out" / _npy_name(frozen["outputs"][k]))
        ref = np.load(d / f"ref_{k}.npy")
        assert got.shape == ref.shape
        err = float(np.max(np.abs(got - ref)))
        assert err <= rtol * max(float(np.max(np.abs(ref))), 1e-30), f"{name} {k} ({quantize}): {err:.3g}"


@pytest.mark.parametrize("name", PARAMS)
def test_savedmodel_optimized_keeps_signature_names(
    grappo: Path, converter: Path, models: Path, name: str, tmp_path: Path
) -> None:
    """SavedModel -> grappo's own frozen .pb -> optimize --target tf: TensorFlow runs the result
    fed and fetched by the signature's names, with TensorFlow's outputs of the original."""
    d, meta = models / name, _meta(models, name)
    frozen, out = tmp_path / "frozen.pb", tmp_path / "opt.pb"
    _run([str(converter), str(d / "saved_model"), str(frozen)])
    _run([str(grappo), "optimize", str(frozen), "-o", str(out), "--target", "tf", "--search", "grappler"])
    feeds = {k: np.load(d / f"in_{k}.npy") for k in meta["inputs"]}
    got = _tf_run_graphdef(out, feeds, [f"{k}:0" for k in meta["outputs"]])
    for k, g in zip(meta["outputs"], got, strict=True):
        _close(g, np.load(d / f"ref_{k}.npy"), f"{name} {k} (TensorFlow on grappo's optimized SavedModel graph)")


@pytest.mark.parametrize("name", PARAMS)
def test_optimize_savedmodel_to_savedmodel(grappo: Path, models: Path, name: str, tmp_path: Path) -> None:
    """grappo optimize SAVEDMODEL -o OUT/ --target tf: OUT is a SavedModel that
    tf.saved_model.load runs through serving_default, with the input's signature names and
    TensorFlow's outputs of the original."""
    import tensorflow as tf

    d, meta = models / name, _meta(models, name)
    out = tmp_path / "opt"
    _run([str(grappo), "optimize", str(d / "saved_model"), "-o", f"{out}/", "--target", "tf", "--search", "grappler"])
    fn = tf.saved_model.load(str(out)).signatures["serving_default"]
    assert sorted(fn.structured_input_signature[1]) == meta["inputs"]
    got = fn(**{k: tf.constant(np.load(d / f"in_{k}.npy")) for k in meta["inputs"]})
    assert sorted(got) == meta["outputs"]
    for k in meta["outputs"]:
        _close(got[k].numpy(), np.load(d / f"ref_{k}.npy"), f"{name} {k} (TensorFlow on grappo's optimized SavedModel)")
