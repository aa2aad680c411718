"""make_op_fixtures.py - small frozen GraphDefs exercising the ops added for real models
(issue 12), with inputs and the outputs TensorFlow computes, for tests/test_ops_fixtures.c.

    .venv/bin/python tools/make_op_fixtures.py [OUT_DIR]   (default tests/fixtures/ops)

Each model directory holds model.pb, in<k>.npy, out<k>.npy and manifest.txt
("input NAME FILE" / "output NAME FILE" lines). Values are deterministic (numpy seed 0); the
.pb bytes may differ between runs (TensorFlow numbers its traced functions). tf1_while and
tf1_cond hold TF1 control flow only, for the messages that name it."""
import os, sys
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
np.random.seed(0)
OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/ops"

def save(name, fn, specs, feeds):
    """freezes fn, writes DIR/model.pb, the inputs, TensorFlow's outputs and manifest.txt"""
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cf = tf.function(fn).get_concrete_function(*specs)
    fz = convert_variables_to_constants_v2(cf)
    gd = fz.graph.as_graph_def()
    open(os.path.join(d, "model.pb"), "wb").write(gd.SerializeToString())
    outs = fz(*[tf.constant(f) for f in feeds])
    if not isinstance(outs, (list, tuple)): outs = [outs]
    lines = []
    for i, (t, f) in enumerate(zip(fz.graph.inputs, feeds)):
        np.save(os.path.join(d, f"in{i}.npy"), f)
        lines.append(f"input {t.name} in{i}.npy")
    for i, (t, o) in enumerate(zip(fz.graph.outputs, outs)):
        np.save(os.path.join(d, f"out{i}.npy"), o.numpy())
        lines.append(f"output {t.name} out{i}.npy")
    open(os.path.join(d, "manifest.txt"), "w").write("\n".join(lines) + "\n")
    print(name, sorted(set(n.op for n in gd.node)))

x = (np.random.randn(2,3,4,8)*3).astype(np.float32)
y = (np.random.randn(2,3,4,8)*3).astype(np.float32)
def f_ew(a, b):
    return [tf.math.floordiv(a, b), tf.math.floormod(a, b), tf.math.atan2(a, b), tf.floor(a), tf.math.ceil(a), tf.cos(a), tf.sin(a), tf.math.reciprocal(b),
            tf.cast(tf.math.logical_and(a > b, a >= 0.0), tf.float32), tf.cast(tf.math.logical_or(a < b, tf.math.logical_not(a <= 1.0)), tf.float32),
            tf.cast(tf.equal(tf.floor(a), tf.floor(b)), tf.int32), tf.cast(tf.not_equal(a, 0.0), tf.int32), tf.where(a > b, a, b),
            tf.raw_ops.Select(condition=a[:, :, :, 0] > 0, x=a[:, :, :, 0], y=b[:, :, :, 0]), tf.zeros_like(a), tf.size(a),
            tf.broadcast_to(b[0, :, :1, :], [5, 3, 4, 8]), tf.nn.depth_to_space(a, 2), tf.nn.space_to_depth(a[:, :2], 2),
            tf.space_to_batch_nd(a, [1, 2], [[1, 0], [1, 1]]), tf.compat.v1.batch_to_space_nd(tf.concat([a, b], 0), [2, 1], [[0, 1], [0, 0]])]
save("ew", f_ew, [tf.TensorSpec(x.shape, tf.float32), tf.TensorSpec(y.shape, tf.float32)], [x, y])
xi = np.random.randint(-9, 10, size=(4, 5)).astype(np.int32)
yi = np.random.randint(1, 5, size=(4, 5)).astype(np.int32) * np.where(np.random.rand(4,5) > .5, 1, -1).astype(np.int32)
def f_int(a, b):
    return [tf.math.floordiv(a, b), tf.math.floormod(a, b), tf.range(0, 10, 3), tf.math.top_k(a, 3).values, tf.math.top_k(a, 3).indices,
            tf.gather_nd(a, [[1, 2], [3, 4], [0, 0]]), tf.gather_nd(a, [[2], [0]]),
            tf.sparse.to_dense(tf.SparseTensor([[0, 1], [2, 3]], [7, 8], [3, 5]), default_value=-1)]
save("int", f_int, [tf.TensorSpec(xi.shape, tf.int32), tf.TensorSpec(yi.shape, tf.int32)], [xi, yi])
def f_dyn(a):
    w = tf.where(a > 0.5)
    g = tf.gather_nd(a, w)
    k = tf.cast(tf.reduce_sum(tf.cast(a[0] > 0.9, tf.int32)), tf.int32) + 1
    r = tf.range(tf.cast(tf.reduce_max(a) * 10, tf.int32))
    return [w, g, tf.reduce_sum(g), tf.math.top_k(a[0], k).values, r, tf.size(w)]
xa = np.random.rand(6, 7).astype(np.float32)
save("dyn", f_dyn, [tf.TensorSpec(xa.shape, tf.float32)], [xa])
boxes = np.random.rand(50, 4).astype(np.float32); boxes[:, 2:] += boxes[:, :2]
scores = np.random.rand(50).astype(np.float32)
def f_nms(b, s):
    i3 = tf.image.non_max_suppression(b, s, 20, 0.3, 0.2)
    i5, s5, v5 = tf.raw_ops.NonMaxSuppressionV5(boxes=b, scores=s, max_output_size=15, iou_threshold=0.6, score_threshold=0.1, soft_nms_sigma=0.3, pad_to_max_output_size=False)
    return [i3, tf.gather(b, i3), i5, s5, v5]
save("nms", f_nms, [tf.TensorSpec(boxes.shape, tf.float32), tf.TensorSpec(scores.shape, tf.float32)], [boxes, scores])

# TF1 control flow (graph mode, control flow v1): grappo does not execute it and must say so
# by name (a while loop with its frame, a cond's Switch/Merge), not "graph has a cycle"
def tf1_graph(name, build):
    g = tf.Graph()
    with g.as_default():
        build()
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "model.pb"), "wb").write(g.as_graph_def().SerializeToString())
    print(name, sorted(set(n.op for n in g.as_graph_def().node)))

def build_while():
    x = tf.compat.v1.placeholder(tf.float32, [4], name="x")
    _, y = tf.compat.v1.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2.0), [tf.constant(0), x])
    tf.identity(y, name="out")

def build_cond():
    x = tf.compat.v1.placeholder(tf.float32, [4], name="x")
    p = tf.compat.v1.placeholder(tf.bool, [], name="p")
    y = tf.compat.v1.cond(p, lambda: x * 2.0, lambda: x + 1.0)
    tf.identity(y, name="out")

tf.compat.v1.disable_control_flow_v2()
tf1_graph("tf1_while", build_while)
tf1_graph("tf1_cond", build_cond)
