"""make_partitioned_fixture.py - writes tests/fixtures/saved_model/partitioned/: a TF1-style
SavedModel (tf.compat.v1 Builder) whose one variable `w` [4, 6] is partitioned in two slices
along axis 1 (fixed_size_partitioner), so its checkpoint holds `w` with BundleEntryProto.slices
and the slices under OrderedCode-encoded keys. grappo refuses it with a one-line error naming
`w` (tests/test_partitioned.c).

Run with the test venv:  .venv/bin/python tools/make_partitioned_fixture.py"""

import os
import shutil

import numpy as np
import tensorflow as tf

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "tests",
    "fixtures",
    "saved_model",
    "partitioned",
)


def main() -> None:
    tf1 = tf.compat.v1
    tf1.disable_eager_execution()
    shutil.rmtree(OUT, ignore_errors=True)
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, [1, 4], name="x")
        w = tf1.get_variable(
            "w",
            [4, 6],
            initializer=tf1.random_normal_initializer(seed=1),
            partitioner=tf1.fixed_size_partitioner(2, axis=1),
        )
        y = tf.identity(tf.matmul(x, w), name="y")
        with tf1.Session() as s:
            s.run(tf1.global_variables_initializer())
            b = tf1.saved_model.Builder(OUT)
            sig = tf1.saved_model.predict_signature_def({"x": x}, {"y": y})
            b.add_meta_graph_and_variables(
                s, ["serve"], signature_def_map={"serving_default": sig}
            )
            b.save()
            print(s.run(y, {x: np.ones((1, 4), np.float32)}))


if __name__ == "__main__":
    main()
