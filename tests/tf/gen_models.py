"""Builds the tiny TensorFlow models the harness checks grappo against.

Each model goes to OUT/<name>/: ``saved_model/`` (a SavedModel, written the way its kind of
user writes one), ``frozen.pb`` (TensorFlow's own ``convert_variables_to_constants_v2`` of the
``serving_default`` signature), deterministic inputs ``in_<key>.npy``, TensorFlow's outputs
``ref_<key>.npy`` and ``meta.json`` naming the signature's inputs/outputs and the frozen
graph's tensors for each. Run as ``python gen_models.py OUT``; conftest.py caches OUT by a hash
of this file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework.convert_to_constants import (  # noqa: E402
    convert_variables_to_constants_v2,
)

SEED = 1234


def _keras3() -> Any:
    import keras

    keras.utils.set_random_seed(SEED)
    return keras


def _tf_keras() -> Any:
    import tf_keras

    tf_keras.utils.set_random_seed(SEED)
    return tf_keras


def _randomize_bn(model: Any) -> None:
    """Non-trivial batch-norm statistics, so folding them is actually tested."""
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        if "BatchNormalization" in type(layer).__name__:
            ws = layer.get_weights()
            ws = [
                w + rng.uniform(0.1, 0.5, w.shape).astype(w.dtype)
                if i == 3
                else w + rng.normal(0, 0.1, w.shape).astype(w.dtype)
                for i, w in enumerate(ws)
            ]
            layer.set_weights(ws)


def resnet(out: Path) -> None:
    """Keras 3 ResNet-style CNN, written by model.export()."""
    keras = _keras3()
    L = keras.layers
    x = inp = keras.Input((16, 16, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    for _ in range(2):
        y = L.Conv2D(8, 3, padding="same", use_bias=False)(x)
        y = L.BatchNormalization()(y)
        y = L.ReLU()(y)
        y = L.Conv2D(8, 3, padding="same")(y)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10, activation="softmax")(x)
    model = keras.Model(inp, x)
    _randomize_bn(model)
    model.export(str(out), verbose=False)


def mobilenet(out: Path) -> None:
    """MobileNetV2-style inverted residuals (depthwise), tf-keras (Keras 2) model.save(dir)."""
    keras = _tf_keras()
    L = keras.layers
    x = inp = keras.Input((16, 16, 3), name="pixels")
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    for expand in (2, 3):
        y = L.Conv2D(8 * expand, 1, use_bias=False)(x)
        y = L.BatchNormalization()(y)
        y = L.ReLU(6.0)(y)
        y = L.DepthwiseConv2D(3, padding="same", use_bias=False)(y)
        y = L.BatchNormalization()(y)
        y = L.ReLU(6.0)(y)
        y = L.Conv2D(8, 1, use_bias=False)(y)
        y = L.BatchNormalization()(y)
        x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(5)(x)
    model = keras.Model(inp, x)
    _randomize_bn(model)
    model.save(str(out), save_format="tf")


def bert(
    out: Path, seq: int = 8, vocab: int = 50, dim: int = 16, layers: int = 2, heads: int = 2, ffn: int = 32
) -> None:
    """2-layer BERT-style encoder: int token ids + segment ids, MHA, LayerNorm, GELU (Keras 3)."""
    keras = _keras3()
    L = keras.layers
    ids = keras.Input((seq,), dtype="int32", name="input_ids")
    seg = keras.Input((seq,), dtype="int32", name="segment_ids")
    x = L.Embedding(vocab, dim)(ids) + L.Embedding(2, dim)(seg)
    x = L.LayerNormalization(epsilon=1e-6)(x)
    for _ in range(layers):
        a = L.MultiHeadAttention(num_heads=heads, key_dim=dim // heads)(x, x)
        x = L.LayerNormalization(epsilon=1e-6)(x + a)
        f = L.Dense(ffn, activation="gelu")(x)
        f = L.Dense(dim)(f)
        x = L.LayerNormalization(epsilon=1e-6)(x + f)
    pooled = L.Dense(dim, activation="tanh")(x[:, 0, :])
    model = keras.Model([ids, seg], pooled)
    model.export(str(out), verbose=False)


def multi_output(out: Path) -> None:
    """Several named outputs (a dict), tf-keras model.save(dir)."""
    keras = _tf_keras()
    L = keras.layers
    inp = keras.Input((12,), name="features")
    h = L.Dense(16, activation="relu")(inp)
    logits = L.Dense(4, name="logits")(h)
    probs = L.Softmax(name="probs")(logits)
    score = L.Dense(1, activation="sigmoid", name="score")(h)
    model = keras.Model(inp, {"logits": logits, "probs": probs, "score": score})
    model.save(str(out), save_format="tf")


def embed(out: Path) -> None:
    """tf-keras Embedding (a ResourceGather on the table inside the function) + pooling + Dense."""
    keras = _tf_keras()
    L = keras.layers
    ids = keras.Input((6,), dtype="int32", name="token_ids")
    x = L.Embedding(50, 4)(ids)
    x = L.GlobalAveragePooling1D()(x)
    x = L.Dense(3)(x)
    keras.Model(ids, x).save(str(out), save_format="tf")


class _Affine(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(SEED)
        self.w = tf.Variable(rng.normal(size=(6, 5)).astype(np.float32), name="w")
        self.b = tf.Variable(rng.normal(size=(5,)).astype(np.float32), name="b")
        self.scale = tf.Variable(np.float32(0.5), name="scale")

    @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="x")])
    def __call__(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        y = tf.nn.relu(tf.matmul(x, self.w) + self.b)
        return {"y": y * self.scale, "total": tf.reduce_sum(y, axis=1)}


def module(out: Path) -> None:
    """A tf.Module with a tf.function signature, tf.saved_model.save."""
    m = _Affine()
    tf.saved_model.save(m, str(out), signatures={"serving_default": m.__call__})


def tf1(out: Path) -> None:
    """TF1-style: a graph with a reference variable (VariableV2) and a resource variable,
    written by the v1 SavedModelBuilder (variables restored by save/restore_all ops)."""
    rng = np.random.default_rng(SEED)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        w = tf.compat.v1.get_variable("w", initializer=rng.normal(size=(4, 3)).astype(np.float32), use_resource=False)
        b = tf.compat.v1.get_variable("b", initializer=rng.normal(size=(3,)).astype(np.float32), use_resource=True)
        y = tf.nn.relu(tf.matmul(x, w) + b, name="y")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(out))
            sig = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()


class _Loops(tf.Module):
    """TF2 functional control flow as TensorFlow makes it: a tf.while_loop carrying a
    TensorArray (TensorList ops inside the While body) and a tf.cond on the data."""

    def __init__(self) -> None:
        rng = np.random.default_rng(SEED + 7)
        self.w = (0.5 * rng.normal(size=(4, 4))).astype(np.float32)  # a Const in the function
        self.scale = tf.Variable(rng.normal(size=(4,)).astype(np.float32))  # read outside the loop

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def __call__(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        steps = 3
        w = tf.constant(self.w)
        ta = tf.TensorArray(tf.float32, size=steps)

        def body(i: tf.Tensor, h: tf.Tensor, ta: Any) -> tuple[tf.Tensor, tf.Tensor, Any]:
            h = tf.tanh(tf.matmul(h, w) + 0.1)
            return i + 1, h, ta.write(i, h)

        _, h, ta = tf.while_loop(lambda i, h, ta: i < steps, body, (tf.constant(0), x, ta))
        seq = ta.stack()
        scale = self.scale.read_value()  # a value, not the resource, goes into the branches
        y = tf.cond(tf.reduce_sum(x) > 0.0, lambda: h * scale + tf.reduce_mean(seq, axis=0), lambda: h - 1.0)
        return {"seq": seq, "y": y}


def ctrlflow(out: Path) -> None:
    """tf.while_loop with a TensorArray and tf.cond in a tf.function, tf.saved_model.save (the
    SavedModel holds While/If with their function bodies; the frozen graph, lowered by
    convert_variables_to_constants_v2, TF1 frames with TensorList ops)."""
    m = _Loops()
    tf.saved_model.save(m, str(out), signatures={"serving_default": m.__call__})


MODELS: dict[str, Callable[[Path], None]] = {
    "resnet": resnet,
    "mobilenet": mobilenet,
    "bert": bert,
    "multi_output": multi_output,
    "module": module,
    "tf1": tf1,
    "embed": embed,
    "ctrlflow": ctrlflow,
}


def resnet50(out: Path) -> None:
    """Full-size Keras ResNet50 (random weights) for make bench-tf; not part of the tests."""
    keras = _keras3()
    keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3)).export(str(out), verbose=False)


def bert_base(out: Path) -> None:
    """A BERT-base-shaped encoder (12 layers, 768 wide, 12 heads, seq 128) for make bench-tf."""
    bert(out, seq=128, vocab=30522, dim=768, layers=12, heads=12, ffn=3072)


# generated only when named on the command line (make bench-tf)
BIG_MODELS: dict[str, Callable[[Path], None]] = {"resnet50": resnet50, "bert_base": bert_base}


def _inputs(fn: Any) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED + 1)
    feeds: dict[str, np.ndarray] = {}
    for key, spec in sorted(fn.structured_input_signature[1].items()):
        shape = [1 if d is None else d for d in spec.shape.as_list()]
        if spec.dtype.is_integer:
            hi = 2 if "segment" in key else 50  # below every test vocabulary
            feeds[key] = rng.integers(0, hi, size=shape).astype(spec.dtype.as_numpy_dtype)
        else:
            feeds[key] = rng.uniform(0, 1, size=shape).astype(spec.dtype.as_numpy_dtype)
    return feeds


def freeze(fn: Any, path: Path) -> dict[str, Any]:
    """convert_variables_to_constants_v2 of a signature -> frozen.pb; returns tensor names."""
    frozen = convert_variables_to_constants_v2(fn)
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    in_keys = sorted(fn.structured_input_signature[1])
    out_keys = sorted(fn.structured_outputs)
    ins = [t.name for t in frozen.inputs]
    outs = [t.name for t in frozen.outputs]
    # the signature's flattened order: inputs by argument order (sorted keys for dicts)
    return {"inputs": dict(zip(in_keys, ins, strict=True)), "outputs": dict(zip(out_keys, outs, strict=True))}


def generate(name: str, out: Path) -> None:
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    {**MODELS, **BIG_MODELS}[name](d / "saved_model")
    loaded = tf.saved_model.load(str(d / "saved_model"))  # keeps the variables alive
    fn = loaded.signatures["serving_default"]
    feeds = _inputs(fn)
    ref = fn(**{k: tf.constant(v) for k, v in feeds.items()})
    for k, v in feeds.items():
        np.save(d / f"in_{k}.npy", v)
    for k, v in ref.items():
        np.save(d / f"ref_{k}.npy", v.numpy())
    meta = {"frozen": freeze(fn, d / "frozen.pb"), "inputs": sorted(feeds), "outputs": sorted(ref)}
    (d / "meta.json").write_text(json.dumps(meta, indent=1))
    del loaded


def main() -> None:
    out = Path(sys.argv[1])
    names = sys.argv[2:] or list(MODELS)
    for name in names:
        generate(name, out)
    (out / ".done").write_text("ok\n")


if __name__ == "__main__":
    main()
