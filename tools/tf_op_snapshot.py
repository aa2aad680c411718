"""Snapshot of what stock TensorFlow (CPU) executes, for tests/test_target_tf.c.

Writes tests/fixtures/tf_ops.json with
  ops:        every op in TensorFlow's op registry -> for each type attribute, the types
              the op definition allows and a CPU kernel registered for that op accepts
              ([] when the op has no CPU kernel, None when nothing constrains it);
  fused:      for _FusedConv2D, _FusedDepthwiseConv2dNative and _FusedMatMul, every
              fused_ops list (of the candidates below) and T that TensorFlow really runs:
              each one is built as a one-node graph and executed on the CPU, and kept
              only when it runs;
  dtype_enum: TensorFlow's DataType numbers (the ones GraphDef attributes hold);
  tensorflow: the version it was taken from.
The kernels and fused patterns are those of this CPU build of TensorFlow on the machine that
ran it (bfloat16 kernels depend on the CPU's instruction set).

Run with the project's virtual environment (make venv):
    .venv/bin/python tools/tf_op_snapshot.py tests/fixtures/tf_ops.json
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.core.framework import (  # noqa: E402
    graph_pb2,
    kernel_def_pb2,
    op_def_pb2,
    types_pb2,
)
from tensorflow.python.client import pywrap_tf_session as c_api  # noqa: E402

ACTIVATIONS = [
    "Relu",
    "Relu6",
    "Elu",
    "LeakyRelu",
    "Tanh",
    "Sigmoid",
    "GeluExact",
    "GeluApproximate",
    "_MklSwish",
]
DTYPES = {
    "DT_FLOAT": np.float32,
    "DT_BFLOAT16": tf.bfloat16.as_numpy_dtype,
    "DT_HALF": np.float16,
}


def type_name(t: int) -> str:
    return str(types_pb2.DataType.Name(t))


def op_registry() -> dict[str, op_def_pb2.OpDef]:
    buf = c_api.TF_GetAllOpList()
    ops = op_def_pb2.OpList()
    ops.ParseFromString(c_api.TF_GetBuffer(buf))
    return {o.name: o for o in ops.op}


def cpu_kernel_types(
    ops: dict[str, op_def_pb2.OpDef],
) -> dict[str, dict[str, list[str] | None]]:
    """op -> type attr -> sorted types some CPU kernel accepts ([] = no CPU kernel)."""
    kernels = kernel_def_pb2.KernelList()
    kernels.ParseFromString(c_api.TF_GetBuffer(c_api.TF_GetAllRegisteredKernels()))
    seen: dict[str, dict[str, set[str] | None]] = {}
    for k in kernels.kernel:
        if k.device_type != "CPU" or k.op not in ops:
            continue
        per = seen.setdefault(k.op, {})
        constrained = {c.name: c for c in k.constraint}
        for a in ops[k.op].attr:
            if a.type != "type":
                continue
            if a.name in constrained:
                allowed = {
                    type_name(t) for t in constrained[a.name].allowed_values.list.type
                }
                cur = per.get(a.name, set())
                if cur is not None:
                    per[a.name] = cur | allowed
            else:
                per[a.name] = None  # a kernel that takes any type
    out: dict[str, dict[str, list[str] | None]] = {}
    for name, op in ops.items():
        attrs: dict[str, list[str] | None] = {}
        for a in op.attr:
            if a.type != "type":
                continue
            # the op definition's own list: a kernel registered for a type the op does not
            # allow (oneDNN's bfloat16 _FusedConv2D in 2.20) never runs, the graph does not load
            opdef = {type_name(t) for t in a.allowed_values.list.type} or None
            v: set[str] | None = (
                set() if name not in seen else seen[name].get(a.name, set())
            )
            if v is None:
                v = opdef
            elif opdef is not None:
                v &= opdef
            attrs[a.name] = None if v is None else sorted(v)
        out[name] = attrs
    return out


def const(
    g: graph_pb2.GraphDef, name: str, value: np.ndarray[Any, Any], dtype: str
) -> str:
    n = g.node.add()
    n.name = name
    n.op = "Const"
    n.attr["dtype"].type = types_pb2.DataType.Value(dtype)
    t = tf.make_tensor_proto(value.astype(DTYPES[dtype]))
    n.attr["value"].tensor.CopyFrom(t)
    return name


def fused_graph(host: str, ops_list: list[str], dtype: str) -> graph_pb2.GraphDef:
    rng = np.random.default_rng(0)
    g = graph_pb2.GraphDef()
    if host == "_FusedMatMul":
        x = const(g, "x", rng.standard_normal((2, 3)), dtype)
        w = const(g, "w", rng.standard_normal((3, 4)), dtype)
        out_shape: tuple[int, ...] = (2, 4)
        ch = 4
    else:
        x = const(g, "x", rng.standard_normal((1, 5, 5, 3)), dtype)
        depthwise = host == "_FusedDepthwiseConv2dNative"
        w = const(g, "w", rng.standard_normal((3, 3, 3, 1 if depthwise else 4)), dtype)
        ch = 3 if depthwise else 4
        out_shape = (1, 5, 5, ch)
    args: list[str] = []
    if ops_list[0] == "BiasAdd":
        args.append(const(g, "bias", rng.standard_normal(ch), dtype))
    else:  # FusedBatchNorm: scale, offset, mean, variance
        for k, name in enumerate(["scale", "offset", "mean", "variance"]):
            v = rng.standard_normal(ch) if k < 3 else rng.uniform(0.5, 1.5, ch)
            args.append(const(g, name, v, dtype))
    if "Add" in ops_list:
        args.append(const(g, "residual", rng.standard_normal(out_shape), dtype))
    n = g.node.add()
    n.name = "fused"
    n.op = host
    n.input.extend([x, w, *args])
    n.attr["T"].type = types_pb2.DataType.Value(dtype)
    n.attr["num_args"].i = len(args)
    n.attr["fused_ops"].list.s.extend([s.encode() for s in ops_list])
    n.attr["epsilon"].f = 0.001
    if host == "_FusedMatMul":
        n.attr["transpose_a"].b = False
        n.attr["transpose_b"].b = False
    else:
        n.attr["strides"].list.i.extend([1, 1, 1, 1])
        n.attr["padding"].s = b"SAME"
        n.attr["data_format"].s = b"NHWC"
        n.attr["dilations"].list.i.extend([1, 1, 1, 1])
        n.attr["TArgs"].list.type.extend([types_pb2.DataType.Value(dtype)] * len(args))
        if host == "_FusedConv2D":
            n.attr["num_host_args"].i = 0
    return g


def runs(g: graph_pb2.GraphDef) -> bool:
    with tf.Graph().as_default() as graph:
        try:
            tf.graph_util.import_graph_def(g, name="")
            with tf.compat.v1.Session(graph=graph) as sess:
                out = sess.run("fused:0")
            return bool(np.all(np.isfinite(np.asarray(out, dtype=np.float32))))
        except (tf.errors.OpError, ValueError, TypeError):
            return False


def fused_patterns() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for host in ["_FusedConv2D", "_FusedDepthwiseConv2dNative", "_FusedMatMul"]:
        ok: list[dict[str, Any]] = []
        for base in ["BiasAdd", "FusedBatchNorm"]:
            for add in [False, True]:
                for act in [None, *ACTIVATIONS]:
                    ops_list = (
                        [base] + (["Add"] if add else []) + ([act] if act else [])
                    )
                    for dtype in DTYPES:
                        if runs(fused_graph(host, ops_list, dtype)):
                            ok.append({"fused_ops": ops_list, "T": dtype})
        out[host] = ok
    return out


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    ops = op_registry()
    snapshot = {
        "tensorflow": tf.__version__,
        "how": "tools/tf_op_snapshot.py: op registry, CPU kernel registry, fused patterns executed on CPU",
        "dtype_enum": {
            types_pb2.DataType.Name(v): int(v) for v in types_pb2.DataType.values()
        },
        "ops": cpu_kernel_types(ops),
        "fused": fused_patterns(),
    }
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(snapshot, f, indent=0, sort_keys=True)
        f.write("\n")
    n_fused = {k: len(v) for k, v in snapshot["fused"].items()}
    print(f"{len(ops)} ops, fused patterns that run: {n_fused}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
