"""gen_ctrlflow_fixtures.py - writes the small TensorFlow control-flow graphs of
tests/fixtures/ctrlflow/ and TensorFlow's own outputs for them (.npy).

Run with the TensorFlow venv:  /work/main/.venv/bin/python tools/gen_ctrlflow_fixtures.py
Each graph is frozen with convert_variables_to_constants_v2(lower_control_flow=False), so the
GraphDef keeps TF2's functional While/If nodes and their function library; *_lowered.pb is the
same function frozen with lower_control_flow=True (TF1 Switch/Merge). MANIFEST lists, per case,
the graph, its inputs and outputs (tensor name = .npy file)."""

import os
import sys

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "ctrlflow")
manifest = []


# ---- TF1 while loops (control_flow_v2 off): tests/fixtures/tf1loops/, run as
#      python tools/gen_ctrlflow_fixtures.py --tf1   (writes only that directory)
def tf1_fixtures() -> None:
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "tf1loops")
    os.makedirs(out, exist_ok=True)
    v1 = tf.compat.v1
    v1.disable_eager_execution()
    v1.disable_control_flow_v2()
    lines = []
    r = np.random.default_rng(5)

    def save(name, build, feeds_list, fetch_names):
        g = tf.Graph()
        with g.as_default():
            build()
        gd = g.as_graph_def()
        with open(os.path.join(out, name + ".pb"), "wb") as f:
            f.write(gd.SerializeToString())
        print(name, sorted({n.op for n in gd.node}))
        with v1.Session(graph=g) as s:
            for ci, feeds in enumerate(feeds_list):
                res = s.run([f + ":0" for f in fetch_names], {k + ":0": v for k, v in feeds.items()})
                ins, outs = [], []
                for k, v in feeds.items():
                    fn_ = "%s.%d.%s.npy" % (name, ci, k)
                    np.save(os.path.join(out, fn_), v)
                    ins.append("%s=%s" % (k, fn_))
                for k, v in zip(fetch_names, res):
                    fn_ = "%s.%d.%s.npy" % (name, ci, k)
                    np.save(os.path.join(out, fn_), v)
                    outs.append("%s:0=%s" % (k, fn_))
                lines.append("%s.pb %s -> %s" % (name, " ".join(ins), " ".join(outs)))
        return gd

    def ta_loop():
        x = v1.placeholder(tf.float32, [3], name="x")
        n = v1.placeholder(tf.int32, [], name="n")
        ta = tf.TensorArray(tf.float32, size=n)
        _, ta, acc = v1.while_loop(
            lambda i, t, a: i < n, lambda i, t, a: (i + 1, t.write(i, a * x), a + tf.sin(a)), [tf.constant(0), ta, x]
        )
        tf.identity(ta.stack(), name="stacked")
        tf.identity(ta.size(), name="size")
        tf.identity(acc, name="acc")

    def nested():
        x = v1.placeholder(tf.float32, [2], name="x")
        n = v1.placeholder(tf.int32, [], name="n")

        def outer_body(i, a):
            _, b = v1.while_loop(
                lambda j, b: j < i + 1, lambda j, b: (j + 1, b * 0.5 + tf.cast(j, tf.float32)), [tf.constant(0), a]
            )
            return i + 1, b + x

        _, y = v1.while_loop(lambda i, a: i < n, outer_body, [tf.constant(0), x])
        tf.identity(y, name="y")

    def cond_in_loop():
        x = v1.placeholder(tf.float32, [3], name="x")

        def body(i, a):
            a = v1.cond(tf.reduce_sum(a) > 4.0, lambda: a * 0.5, lambda: a + x)
            return i + 1, a

        _, y = v1.while_loop(lambda i, a: i < 6, body, [tf.constant(0), x])
        tf.identity(y, name="y")

    def ta_unstack():
        x = v1.placeholder(tf.float32, [4, 2], name="x")
        ta = tf.TensorArray(tf.float32, size=4).unstack(x)
        out = tf.TensorArray(tf.float32, size=4, clear_after_read=False)
        _, out = v1.while_loop(lambda i, o: i < 4, lambda i, o: (i + 1, o.write(3 - i, ta.read(i) * 2.0)), [tf.constant(0), out])
        tf.identity(out.stack(), name="rev")
        tf.identity(out.gather([1, 3]), name="some")
        tf.identity(out.concat(), name="cat")

    def spin():
        x = v1.placeholder(tf.float32, [3], name="x")
        y = v1.while_loop(lambda a: tf.reduce_sum(a) > -1e30, lambda a: tf.abs(a) + 1.0, [x])
        tf.identity(y, name="y")

    def ta_oob():
        x = v1.placeholder(tf.float32, [3], name="x")
        k = v1.placeholder(tf.int32, [], name="k")
        ta = tf.TensorArray(tf.float32, size=3).unstack(x)
        tf.identity(ta.read(k), name="y")

    x3 = r.standard_normal(3).astype(np.float32)
    save("ta_loop", ta_loop, [{"x": x3, "n": np.int32(5)}, {"x": x3, "n": np.int32(1)}], ["stacked", "size", "acc"])
    save("nested", nested, [{"x": r.standard_normal(2).astype(np.float32), "n": np.int32(4)}], ["y"])
    save("cond_in_loop", cond_in_loop, [{"x": np.abs(x3) + 0.3}], ["y"])
    save("ta_unstack", ta_unstack, [{"x": r.standard_normal((4, 2)).astype(np.float32)}], ["rev", "some", "cat"])
    save("ta_oob", ta_oob, [{"x": x3, "k": np.int32(1)}], ["y"])
    g = tf.Graph()
    with g.as_default():
        spin()
    spin_gd = g.as_graph_def()
    with open(os.path.join(out, "spin.pb"), "wb") as f:
        f.write(spin_gd.SerializeToString())
    # hostile: TensorFlow's own loop graph with one edge changed each
    base = v1.GraphDef()
    with open(os.path.join(out, "nested.pb"), "rb") as f:
        base.ParseFromString(f.read())

    def variant(name, change):
        bad = v1.GraphDef()
        bad.CopyFrom(base)
        change({n.name: n for n in bad.node})
        with open(os.path.join(out, name + ".pb"), "wb") as f:
            f.write(bad.SerializeToString())

    def cycle(nodes):  # the outer loop's Merge reads the add instead of its NextIteration
        m = nodes["while/Merge_1"]
        m.input[1] = "while/add_1"

    def exit_outside(nodes):  # an Exit reading the placeholder: Exit without Enter
        nodes["while/Exit_1"].input[0] = "x"

    def mismatch(nodes):  # a body node reading the inner frame's value from the outer frame
        nodes["while/add_1"].input[0] = "while/while/Merge_1"

    variant("bad_cycle", cycle)
    variant("bad_exit", exit_outside)
    variant("bad_frames", mismatch)
    with open(os.path.join(out, "MANIFEST"), "w") as f:
        f.write(
            "# written by tools/gen_ctrlflow_fixtures.py --tf1 with TensorFlow %s (TF1 graphs, control_flow_v2 off)\n"
            % tf.__version__
        )
        f.write("\n".join(lines) + "\n")


if "--tf1" in sys.argv:
    tf1_fixtures()
    sys.exit(0)


def freeze(fn, specs, name, lower=False, raw=False):
    cf = fn.get_concrete_function(*specs)
    if raw:  # no variables: the function's own graph (freezing lowers Case to _SwitchN/Merge)
        frozen = cf
    else:
        frozen = convert_variables_to_constants_v2(cf, lower_control_flow=lower)
    gd = frozen.graph.as_graph_def()
    with open(os.path.join(OUT, name + ".pb"), "wb") as f:
        f.write(gd.SerializeToString())
    ins = [t.name for t in frozen.inputs]
    outs = [t.name for t in frozen.outputs]
    ops = sorted({n.op for n in gd.node} | {n.op for fd in gd.library.function for n in fd.node_def})
    print(
        name,
        ins,
        outs,
        [o for o in ops if o in ("While", "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase", "Switch", "Merge")],
    )
    return frozen, ins, outs


def case(name, fn, specs, feeds_list, lower=False, raw=False):
    frozen, ins, outs = freeze(fn, specs, name, lower, raw)
    for ci, feeds in enumerate(feeds_list):
        res = frozen(*[tf.constant(v) for v in feeds])
        if not isinstance(res, (list, tuple)):
            res = [res]
        files_in, files_out = [], []
        for k, v in enumerate(feeds):
            fn_ = "%s.%d.in%d.npy" % (name, ci, k)
            np.save(os.path.join(OUT, fn_), np.asarray(v))
            files_in.append("%s=%s" % (ins[k].split(":")[0], fn_))
        for k, v in enumerate(res):
            fn_ = "%s.%d.out%d.npy" % (name, ci, k)
            np.save(os.path.join(OUT, fn_), v.numpy())
            files_out.append("%s=%s" % (outs[k], fn_))
        manifest.append("%s.pb %s -> %s" % (name, " ".join(files_in), " ".join(files_out)))


rng = np.random.default_rng(12)
x3 = rng.standard_normal(3).astype(np.float32)


@tf.function
def while_loop(x):
    i0 = tf.constant(0)
    _, acc = tf.while_loop(lambda i, a: i < 5, lambda i, a: (i + 1, a * 1.5 + tf.sin(a)), [i0, x])
    return acc


@tf.function
def cond(x):
    return tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0 + 1.0, lambda: tf.square(x) - 1.0)


w = tf.Variable(np.float32([0.5, -1.0, 2.0]))


@tf.function
def pyloop(x, n):
    # a Python loop over a tensor: autograph makes it a While with a data-dependent trip count;
    # the variable read inside the body becomes a Const of the body when frozen
    acc = tf.zeros_like(x)
    for i in tf.range(n):
        acc = acc + x * w * tf.cast(i, tf.float32)
        if tf.reduce_sum(acc) > 10.0:  # an If inside the loop body
            acc = acc * 0.5
    return acc


@tf.function
def grow(x, n):
    # the loop-carried value grows: its shape is known only at run time
    s = x
    for _ in tf.range(n):
        tf.autograph.experimental.set_loop_options(shape_invariants=[(s, tf.TensorShape([None]))])
        s = tf.concat([s, s[-1:] + 1.0], 0)
    return s


@tf.function
def case_fn(x, k):
    return tf.switch_case(k, [lambda: x + 1.0, lambda: x * 3.0, lambda: -x])


@tf.function
def spin(x):
    # never ends: the bound on loop iterations must stop it
    return tf.while_loop(lambda a: tf.reduce_sum(a) > -1e30, lambda a: (tf.abs(a) + 1.0,), [x])[0]


f3 = tf.TensorSpec([3], tf.float32)
i32 = tf.TensorSpec([], tf.int32)
case("while_loop", while_loop, [f3], [[x3]])
case(
    "cond",
    cond,
    [tf.TensorSpec([2, 3], tf.float32)],
    [[np.abs(rng.standard_normal((2, 3))).astype(np.float32)], [-np.abs(rng.standard_normal((2, 3))).astype(np.float32)]],
)
case(
    "cond_lowered",
    cond,
    [tf.TensorSpec([2, 3], tf.float32)],
    [[np.abs(rng.standard_normal((2, 3))).astype(np.float32)], [-np.abs(rng.standard_normal((2, 3))).astype(np.float32)]],
    lower=True,
)
case("pyloop", pyloop, [f3, i32], [[x3, np.int32(7)], [x3, np.int32(0)]])
case("grow", grow, [f3, i32], [[x3, np.int32(4)]])
case("case", case_fn, [f3, i32], [[x3, np.int32(0)], [x3, np.int32(1)], [x3, np.int32(7)]], raw=True)
case("case_lowered", case_fn, [f3, i32], [[x3, np.int32(0)], [x3, np.int32(1)], [x3, np.int32(-1)]])  # _SwitchN/Merge


class Loop(tf.Module):
    @tf.function(input_signature=[f3])
    def serve(self, x):
        return {"y": while_loop(x)}


m = Loop()
sm_dir = os.path.join(OUT, "sm_while")
tf.saved_model.save(m, sm_dir, signatures={"serving_default": m.serve})
np.save(os.path.join(OUT, "sm_while.in.npy"), x3)
np.save(os.path.join(OUT, "sm_while.out.npy"), m.serve(tf.constant(x3))["y"].numpy())
freeze(spin, [f3], "spin")


@tf.function
def talist(x):
    # a TensorArray written in the loop body: TensorList ops (not supported yet) inside the body
    ta = tf.TensorArray(tf.float32, size=3)
    _, ta = tf.while_loop(lambda i, t: i < 3, lambda i, t: (i + 1, t.write(i, x * tf.cast(i, tf.float32))), [0, ta])
    return ta.stack()


freeze(talist, [f3], "talist")

with open(os.path.join(OUT, "MANIFEST"), "w") as f:
    f.write("# written by tools/gen_ctrlflow_fixtures.py with TensorFlow %s\n" % tf.__version__)
    f.write("\n".join(manifest) + "\n")

# bad input: a While whose body function is missing from the library, and one whose body is
# the cond function (1 result for 2 loop variables)
gd = tf.compat.v1.GraphDef()
with open(os.path.join(OUT, "while_loop.pb"), "rb") as f:
    gd.ParseFromString(f.read())
wnode = [n for n in gd.node if n.op in ("While", "StatelessWhile")][0]
body, cond_f = wnode.attr["body"].func.name, wnode.attr["cond"].func.name
bad = tf.compat.v1.GraphDef()
bad.CopyFrom(gd)
keep = [fd for fd in bad.library.function if fd.signature.name != body]
del bad.library.function[:]
bad.library.function.extend(keep)
with open(os.path.join(OUT, "bad_nobody.pb"), "wb") as f:
    f.write(bad.SerializeToString())
bad = tf.compat.v1.GraphDef()
bad.CopyFrom(gd)
[n for n in bad.node if n.op in ("While", "StatelessWhile")][0].attr["body"].func.name = cond_f
with open(os.path.join(OUT, "bad_arity.pb"), "wb") as f:
    f.write(bad.SerializeToString())
