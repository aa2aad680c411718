"""grappo int8 against TensorFlow Lite int8 on the real fixtures, with real photographs.

For each model in tests/fixtures/real/<model>/ that has images/ (tools/int8_compare/
make_real_inputs.py): the float32 reference is TensorFlow running the frozen graph; grappo's int8
is grappler+int8 calibrated on images/calib (what `grappo optimize --search grappler+int8
--calibration images/calib` makes, written by tests/tool_int8.c whatever its accuracy) run on
grappo's reference runtime; TensorFlow Lite's is full-integer post-training quantization
(tf.compat.v1.lite.TFLiteConverter.from_frozen_graph, Optimize.DEFAULT, TFLITE_BUILTINS_INT8,
the same calibration images as representative data, float input/output). Both are scored on
images/eval against the float32 reference: cosine of every output (all eval images together;
the table shows the lowest over the outputs) and, for classifiers, top-1 agreement. Coverage:
convolutions / matmuls computed in int8 over those of the float graph (TFLite also quantizes
every other op).

The tfjs-converted graphs hold TensorFlow's internal fused ops (_FusedConv2D, _FusedMatMul,
without TArgs), which neither TensorFlow's importer nor the TFLite converter take: they are
split back into Conv2D/MatMul + BiasAdd [+ activation] first (same arithmetic).

Usage: python tools/int8_compare/compare.py [--grappo build/grappo] [--tool-int8 build/tests/tool_int8]
       [--models a,b] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
from tensorflow.core.framework import graph_pb2  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "fixtures" / "real"
QUANTIZABLE_TF = {
    "Conv2D",
    "DepthwiseConv2dNative",
    "MatMul",
    "_FusedConv2D",
    "_FusedMatMul",
    "FusedDepthwiseConv2dNative",
}
QUANTIZABLE_TFL = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}


@dataclass
class Fixture:
    name: str
    pb: Path
    input_name: str
    input_shape: list[int]
    outputs: list[str]
    mean: float
    std: float
    calib: list[np.ndarray]
    eval: list[np.ndarray]


def load_images(d: Path, mean: float, std: float) -> list[np.ndarray]:
    out = []
    for p in sorted(d.glob("*.png")):
        a = np.asarray(Image.open(p), dtype=np.float32)
        if a.ndim == 2:
            a = a[..., None]
        # the formula grappo applies to --calibration images (docs/formats.md), in float32
        x = (a / np.float32(255) - np.float32(mean)) / np.float32(std)
        out.append(x[None].astype(np.float32))
    return out


def load_fixture(name: str) -> Fixture:
    d = REAL / name
    man = json.loads((d / "manifest.json").read_text())
    pre = json.loads((d / "images" / "preprocess.json").read_text())
    inp = man["inputs"][0]
    return Fixture(
        name=name,
        pb=d / "model.pb",
        input_name=inp["name"],
        input_shape=inp["shape"],
        outputs=[o["name"] for o in man["outputs"]],
        mean=pre["mean"],
        std=pre["std"],
        calib=load_images(d / "images" / "calib", pre["mean"], pre["std"]),
        eval=load_images(d / "images" / "eval", pre["mean"], pre["std"]),
    )


# ---- the float graph for TensorFlow ----


def unfuse(g: graph_pb2.GraphDef) -> graph_pb2.GraphDef:
    """_FusedConv2D / _FusedMatMul (BiasAdd [, Relu|Relu6|Elu|LeakyRelu|Sigmoid|Tanh]) back into stock ops."""
    out = graph_pb2.GraphDef()
    out.CopyFrom(g)
    del out.node[:]
    for n in g.node:
        if n.op not in ("_FusedConv2D", "_FusedMatMul"):
            out.node.append(n)
            continue
        ops = [s.decode() for s in n.attr["fused_ops"].list.s]
        if not ops or ops[0] != "BiasAdd" or len(n.input) != 3 or len(ops) > 2:
            raise ValueError(f"{n.name}: fused_ops {ops} not handled")
        base = out.node.add()
        base.name = n.name + "/unfused"
        base.op = "Conv2D" if n.op == "_FusedConv2D" else "MatMul"
        base.input.extend(n.input[:2])
        keep = (
            "T",
            "strides",
            "padding",
            "explicit_paddings",
            "data_format",
            "dilations",
            "transpose_a",
            "transpose_b",
        )
        for k in keep:
            if k in n.attr:
                base.attr[k].CopyFrom(n.attr[k])
        bias = out.node.add()
        bias.name = n.name + ("/bias" if len(ops) == 2 else "")
        bias.op = "BiasAdd"
        bias.input.extend([base.name, n.input[2]])
        bias.attr["T"].CopyFrom(n.attr["T"])
        if "data_format" in n.attr:
            bias.attr["data_format"].CopyFrom(n.attr["data_format"])
        if len(ops) == 2:
            act = out.node.add()
            act.name = n.name
            act.op = ops[1]
            act.input.append(bias.name)
            act.attr["T"].CopyFrom(n.attr["T"])
            if ops[1] == "LeakyRelu":
                act.attr["alpha"].CopyFrom(n.attr["leakyrelu_alpha"])
    return out


def tf_float(
    g: graph_pb2.GraphDef, fx: Fixture, xs: list[np.ndarray]
) -> list[list[np.ndarray]]:
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(g, name="")
    with tf.compat.v1.Session(graph=graph) as s:
        return [s.run(fx.outputs, {fx.input_name: x}) for x in xs]


def count_quantizable_tf(g: graph_pb2.GraphDef) -> int:
    return sum(
        1 for n in g.node if n.op in QUANTIZABLE_TF or n.op == "Conv2DBackpropInput"
    )


# ---- TensorFlow Lite ----


def tflite_int8(pb: Path, fx: Fixture) -> bytes:
    node = fx.input_name.split(":")[0]
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(pb), [node], [o.split(":")[0] for o in fx.outputs], {node: fx.input_shape}
    )
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([c] for c in fx.calib)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return conv.convert()


def tflite_run(
    model: bytes, fx: Fixture, xs: list[np.ndarray]
) -> list[list[np.ndarray]]:
    it = tf.lite.Interpreter(model_content=model)
    it.allocate_tensors()
    ins = it.get_input_details()
    by_name = {d["name"]: d["index"] for d in it.get_output_details()}
    order = [
        by_name[o.split(":")[0]] if o.split(":")[0] in by_name else None
        for o in fx.outputs
    ]
    if None in order:  # the converter renames outputs: take them in declaration order
        order = [d["index"] for d in it.get_output_details()]
    res = []
    for x in xs:
        it.set_tensor(ins[0]["index"], x)
        it.invoke()
        res.append([it.get_tensor(i).copy() for i in order])
    return res


def tflite_coverage(model: bytes) -> tuple[int, int, int, int]:
    """(quantizable ops in int8, quantizable ops, all ops with an int8 input, all ops)"""
    an = tf.lite.experimental.Analyzer  # noqa: F841 - ensures the module exists
    interp = tf.lite.Interpreter(model_content=model)
    details = interp._get_ops_details()  # noqa: SLF001 - the public analyzer only prints
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    q = nq = i8 = total = 0
    for op in details:
        total += 1
        dtypes = [tensors[i]["dtype"] for i in op["inputs"] if i >= 0 and i in tensors]
        int8 = bool(dtypes) and dtypes[0] in (np.int8, np.uint8)
        i8 += int8
        if op["op_name"] in QUANTIZABLE_TFL:
            nq += 1
            q += int8
    return q, nq, i8, total


# ---- grappo ----


def grappo_int8(tool: str, fx: Fixture, work: Path) -> Path:
    """grappler+int8's graph, calibrated on images/calib, written whatever its accuracy
    (tests/tool_int8.c: grappo optimize would keep the input when the budget is missed)"""
    out = work / f"{fx.name}.int8.pb"
    calib = REAL / fx.name / "images" / "calib"
    cmd = [tool, str(fx.pb), str(out), str(calib), str(fx.mean), str(fx.std)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"tool_int8 {fx.name}: {r.stderr.strip()}")
    return out


def grappo_run(
    grappo: str, pb: Path, fx: Fixture, xs: list[np.ndarray], work: Path
) -> list[list[np.ndarray]]:
    res = []
    for k, x in enumerate(xs):
        xin = work / f"x{k}.npy"
        np.save(xin, x)
        od = work / f"o{k}"
        od.mkdir(exist_ok=True)
        cmd = [
            grappo,
            "run",
            str(pb),
            "--runtime",
            "ref",
            "--input",
            f"{fx.input_name}={xin}",
            "--save-outputs",
            str(od),
        ]
        cmd += [a for o in fx.outputs for a in ("--output", o)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"grappo run {pb}: {r.stderr.strip()}")
        files = sorted(od.glob("*.npy"))
        by = {f.stem: np.load(f) for f in files}
        outs = []
        for o in fx.outputs:
            stem = o.replace("/", "_").replace(":", "_")
            outs.append(
                by[stem]
                if stem in by
                else by[
                    next(
                        s for s in by if s.startswith(o.split(":")[0].replace("/", "_"))
                    )
                ]
            )
        res.append(outs)
    return res


def grappo_coverage(pb: Path, float_quantizable: int) -> tuple[int, int]:
    g = graph_pb2.GraphDef()
    g.ParseFromString(pb.read_bytes())
    q = sum(1 for n in g.node if n.op in ("GrappoQConv2D", "GrappoQMatMul"))
    return q, float_quantizable


# ---- metrics ----


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 and nb == 0:
        return 1.0
    if na == 0 or nb == 0:
        return 0.0
    return float(a @ b / (na * nb))


def output_cosines(
    ref: list[list[np.ndarray]], got: list[list[np.ndarray]]
) -> list[float]:
    return [
        cosine(np.stack([r[k] for r in ref]), np.stack([g[k] for g in got]))
        for k in range(len(ref[0]))
    ]


def score(
    ref: list[list[np.ndarray]], got: list[list[np.ndarray]]
) -> tuple[float, float | None]:
    cos = min(output_cosines(ref, got))
    top1 = None
    first = ref[0][0]
    if first.ndim == 2 and first.shape[0] == 1 and first.shape[1] > 1:
        agree = [
            int(np.argmax(r[0]) == np.argmax(g[0]))
            for r, g in zip(ref, got, strict=True)
        ]
        top1 = sum(agree) / len(agree)
    return cos, top1


def fmt(cos: float, top1: float | None) -> str:
    return f"{cos:.4f}" + (f" / {100 * top1:.0f}%" if top1 is not None else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--grappo", default=str(ROOT / "build" / "grappo"))
    ap.add_argument("--tool-int8", default=str(ROOT / "build" / "tests" / "tool_int8"))
    ap.add_argument("--models", default="")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    names = [m for m in args.models.split(",") if m] or sorted(
        p.name for p in REAL.iterdir() if (p / "images" / "preprocess.json").exists()
    )
    rows = [
        "| model | eval images | grappo int8: cosine / top-1 agr. | coverage | TFLite int8: cosine / top-1 agr. | coverage (all ops int8) |",
        "|---|---|---|---|---|---|",
    ]
    detail = [
        "| model | output | fp32 max abs | grappo int8 cosine | TFLite int8 cosine |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in names:
            fx = load_fixture(name)
            g = graph_pb2.GraphDef()
            g.ParseFromString(fx.pb.read_bytes())
            flat = unfuse(g)
            flat_pb = work / f"{name}.unfused.pb"
            flat_pb.write_bytes(flat.SerializeToString())
            ref = tf_float(flat, fx, fx.eval)
            nq = count_quantizable_tf(g)
            gpb = grappo_int8(args.tool_int8, fx, work)
            gq, _ = grappo_coverage(gpb, nq)
            g_out = grappo_run(args.grappo, gpb, fx, fx.eval, work)
            g_cos, g_top = score(ref, g_out)
            tfl = tflite_int8(flat_pb, fx)
            t_out = tflite_run(tfl, fx, fx.eval)
            t_cos, t_top = score(ref, t_out)
            for k, (a, b) in enumerate(
                zip(output_cosines(ref, g_out), output_cosines(ref, t_out), strict=True)
            ):
                big = max(float(np.abs(r[k]).max()) for r in ref)
                detail.append(
                    f"| {name} | {fx.outputs[k]} | {big:.3g} | {a:.4f} | {b:.4f} |"
                )
            tq, tnq, ti8, tall = tflite_coverage(tfl)
            rows.append(
                f"| {name} | {len(fx.eval)} | {fmt(g_cos, g_top)} | {gq}/{nq} | {fmt(t_cos, t_top)} | "
                f"{tq}/{tnq} ({ti8}/{tall}) |"
            )
            print(rows[-1], flush=True)
    text = (
        "\n".join(rows)
        + "\n\nPer output (cosine over all eval images):\n\n"
        + "\n".join(detail)
        + "\n"
    )
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
