"""make_pbtxt_fixtures.py - writes tests/fixtures/pbtxt/: small TensorFlow graphs frozen by
TensorFlow, each written by tf.io.write_graph both as text (NAME.pbtxt) and binary (NAME.pb),
with an input and TensorFlow's output (NAME.in.npy, NAME.out.npy) for tests/test_pbtxt.c.

Run with the test venv:  .venv/bin/python tools/make_pbtxt_fixtures.py"""

import os

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "pbtxt"
)


def write(
    name: str,
    fn: tf.types.experimental.GenericFunction,
    spec: tf.TensorSpec,
    x: np.ndarray,
    lower: bool = True,
) -> None:
    frozen = convert_variables_to_constants_v2(
        fn.get_concrete_function(spec), lower_control_flow=lower
    )
    gd = frozen.graph.as_graph_def()
    # what tf.io.write_graph(as_text=True) writes: text_format.MessageToString(graph_def,
    # float_format=""), whose float_format argument the pinned protobuf no longer takes (it
    # prints floats shortest-round-trip by default, as float_format="" asked)
    with open(os.path.join(OUT, name + ".pbtxt"), "w") as f:
        f.write(text_format.MessageToString(gd))
    tf.io.write_graph(gd, OUT, name + ".pb", as_text=False)
    np.save(os.path.join(OUT, name + ".in.npy"), x)
    y = frozen(tf.constant(x))
    y = y[0] if isinstance(y, (list, tuple)) else y
    np.save(os.path.join(OUT, name + ".out.npy"), y.numpy())
    print(name, [t.name for t in frozen.inputs], [t.name for t in frozen.outputs])


def main() -> None:
    tf.keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    cnn = tf.keras.Sequential(
        [
            tf.keras.Input((6, 6, 2)),
            tf.keras.layers.Conv2D(3, 3, padding="same", activation="relu"),
            tf.keras.layers.BatchNormalization(),
            tf.keras.layers.DepthwiseConv2D(3, activation="relu6"),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(4, activation="softmax"),
        ]
    )
    # non-default BatchNorm statistics, so the folded constants are not all 0 / 1
    bn = cnn.layers[1]
    bn.moving_mean.assign(rng.standard_normal(3).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2, 3).astype(np.float32))
    write(
        "cnn",
        tf.function(lambda x: cnn(x, training=False)),
        tf.TensorSpec([1, 6, 6, 2], tf.float32),
        rng.standard_normal((1, 6, 6, 2)).astype(np.float32),
    )

    @tf.function
    def loop(x: tf.Tensor) -> tf.Tensor:
        _, acc = tf.while_loop(
            lambda i, a: i < 4, lambda i, a: (i + 1, a * 0.5 + tf.sin(a)), [0, x]
        )
        return tf.nn.softmax(acc * tf.constant([1.0, -2.0, np.inf])[:1])

    # the function library (While body and cond) in text form
    write(
        "while",
        loop,
        tf.TensorSpec([3], tf.float32),
        rng.standard_normal(3).astype(np.float32),
        lower=False,
    )


if __name__ == "__main__":
    main()
