"""make_partitioned_fixture.py - writes tests/fixtures/saved_model/partitioned/: a TF1-style
SavedModel (tf.compat.v1 Builder) with two partitioned variables, so its checkpoint holds each
variable's entry with BundleEntryProto.slices and the slices under OrderedCode-encoded keys:

  w [4, 6]    two slices along axis 1 (starts 0 and 3: one-byte signed key numbers)
  v [130, 2]  three slices along axis 0 (starts 0, 44 and 87: 87 needs a two-byte number)

Every element has its own value (so a misplaced slice shows). Outputs y = x @ w and z = v.
TensorFlow's own values are saved next to the model: ref_w.npy, ref_v.npy and ref_y.npy (for
x = ones [1, 4]). tests/test_partitioned.c reads them.

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


def distinct_values(shape: tuple[int, ...], scale: float) -> np.ndarray:
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float32) * scale - 1.0).reshape(shape)


def assign_parts(sess: object, var: object, values: np.ndarray) -> None:
    """Assigns each partition of var its part of values (partitions in order of offset)."""
    for part in var:
        offset = part._save_slice_info.var_offset
        shape = part._save_slice_info.full_shape
        box = tuple(slice(o, o + s) for o, s in zip(offset, part.shape.as_list()))
        assert list(shape) == list(values.shape)
        sess.run(part.assign(values[box]))


def main() -> None:
    tf1 = tf.compat.v1
    tf1.disable_eager_execution()
    shutil.rmtree(OUT, ignore_errors=True)
    w_val = distinct_values((4, 6), 0.125)
    v_val = distinct_values((130, 2), 0.01)
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, [1, 4], name="x")
        w = tf1.get_variable(
            "w",
            [4, 6],
            initializer=tf1.zeros_initializer(),
            partitioner=tf1.fixed_size_partitioner(2, axis=1),
        )
        v = tf1.get_variable(
            "v",
            [130, 2],
            initializer=tf1.zeros_initializer(),
            partitioner=tf1.fixed_size_partitioner(3, axis=0),
        )
        y = tf.identity(tf.matmul(x, w), name="y")
        z = tf.identity(v.as_tensor(), name="z")
        with tf1.Session() as s:
            s.run(tf1.global_variables_initializer())
            assign_parts(s, w, w_val)
            assign_parts(s, v, v_val)
            b = tf1.saved_model.Builder(OUT)
            sig = tf1.saved_model.predict_signature_def({"x": x}, {"y": y, "z": z})
            b.add_meta_graph_and_variables(
                s, ["serve"], signature_def_map={"serving_default": sig}
            )
            b.save()
            y_ref, z_ref = s.run([y, z], {x: np.ones((1, 4), np.float32)})
    reader = tf.train.load_checkpoint(os.path.join(OUT, "variables", "variables"))
    assert np.array_equal(reader.get_tensor("w"), w_val)
    assert np.array_equal(reader.get_tensor("v"), v_val)
    assert np.array_equal(z_ref, v_val)
    np.save(os.path.join(OUT, "ref_w.npy"), reader.get_tensor("w"))
    np.save(os.path.join(OUT, "ref_v.npy"), reader.get_tensor("v"))
    np.save(os.path.join(OUT, "ref_y.npy"), y_ref)


if __name__ == "__main__":
    main()
