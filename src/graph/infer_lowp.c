/* infer_lowp.c - attribute parsing (lowp_attrs.h), shape/dtype inference and FLOPs for grappo's
 * int8 ops: GrappoQuantize, GrappoDequantize, GrappoQConv2D, GrappoQMatMul (docs/ops.md).
 *
 * bfloat16/float16 compute needs nothing here: it is expressed with stock TensorFlow ops whose
 * T is bfloat16, which their own inference already accepts. */
#include <math.h>
#include <string.h>

#include "infer.h"
#include "lowp_attrs.h"

/* ---- attribute helpers ---- */

/* a required positive finite float attribute */
static int attr_scale(const Node *n, const char *name, float *out, Err *err) {
    const Attr *a = node_attr_find(n, name);
    if (!a || a->kind != ATTR_FLOAT) return err_set(err, ERR_INPUT, "attribute %s (a float > 0) is missing", name);
    if (!(a->f > 0) || !isfinite(a->f)) return err_set(err, ERR_INPUT, "attribute %s must be finite and > 0, got %g", name, a->f);
    *out = a->f;
    return 0;
}

/* an optional int attribute (default 0) within [lo, hi] */
static int attr_zero_point(const Node *n, const char *name, int64_t lo, int64_t hi, int32_t *out, Err *err) {
    const Attr *a = node_attr_find(n, name);
    if (a && a->kind != ATTR_INT) return err_set(err, ERR_INPUT, "attribute %s must be an int", name);
    int64_t v = a ? a->i : 0;
    if (v < lo || v > hi)
        return err_set(err, ERR_INPUT, "attribute %s = %lld is outside [%lld, %lld]", name, (long long)v, (long long)lo,
                       (long long)hi);
    *out = (int32_t)v;
    return 0;
}

/* a required list of count positive finite floats (count < 0: any non-empty length) */
static int attr_scales(const Node *n, const char *name, int64_t count, const float **out, int *n_out, Err *err) {
    const AttrList *l = node_attr_list(n, name);
    if (!l || l->n == 0 || l->kind != ATTR_FLOAT)
        return err_set(err, ERR_INPUT, "attribute %s (a list of floats > 0) is missing", name);
    if (count >= 0 && l->n != count)
        return err_set(err, ERR_INPUT, "attribute %s has %d values, expected %lld (one per output channel)", name, l->n,
                       (long long)count);
    for (int i = 0; i < l->n; i++)
        if (!(l->f[i] > 0) || !isfinite(l->f[i]))
            return err_set(err, ERR_INPUT, "attribute %s[%d] must be finite and > 0, got %g", name, i, l->f[i]);
    *out = l->f;
    *n_out = l->n;
    return 0;
}

static int64_t int_min(int dt) { return dt == DT_INT8 ? -128 : dt == DT_UINT8 ? 0 : INT32_MIN; }
static int64_t int_max(int dt) { return dt == DT_INT8 ? 127 : dt == DT_UINT8 ? 255 : INT32_MAX; }

int lowp_quantize_attrs(const Node *n, QuantizeAttrs *a, Err *err) {
    memset(a, 0, sizeof *a);
    const Attr *t = node_attr_find(n, "T");
    if (!t || t->kind != ATTR_TYPE) return err_set(err, ERR_INPUT, "attribute T (uint8 or int8) is missing");
    if (t->type != DT_UINT8 && t->type != DT_INT8)
        return err_set(err, ERR_INPUT, "attribute T must be uint8 or int8, got %s", dtype_name(t->type));
    a->type = t->type;
    if (attr_scale(n, "scale", &a->scale, err)) return -1;
    return attr_zero_point(n, "zero_point", int_min(a->type), int_max(a->type), &a->zero_point, err);
}

int lowp_dequantize_attrs(const Node *n, int in_dtype, const Shape *in_shape, DequantizeAttrs *a, Err *err) {
    memset(a, 0, sizeof *a);
    if (in_dtype != DT_UINT8 && in_dtype != DT_INT8 && in_dtype != DT_INT32)
        return err_set(err, ERR_INPUT, "input must be uint8, int8 or int32, got %s", dtype_name(in_dtype));
    if (attr_zero_point(n, "zero_point", int_min(in_dtype), int_max(in_dtype), &a->zero_point, err)) return -1;
    a->axis = node_attr_i(n, "axis", -1);
    if (a->axis < -1) return err_set(err, ERR_INPUT, "attribute axis must be -1 (per tensor) or >= 0, got %lld", (long long)a->axis);
    if (a->axis == -1) {
        a->n_scales = 1;
        if (attr_scale(n, "scale", &a->scale, err)) return -1;
        a->scales = &a->scale;
        return 0;
    }
    int64_t count = -1;
    if (in_shape) {
        char sb[96];
        if (a->axis >= in_shape->rank)
            return err_set(err, ERR_INPUT, "axis %lld is out of range for the input %s", (long long)a->axis,
                           shape_str(in_shape, sb, sizeof sb));
        count = in_shape->dim[a->axis];
    }
    return attr_scales(n, "scales", count, &a->scales, &a->n_scales, err);
}

/* the parts GrappoQConv2D and GrappoQMatMul share */
static int qop_common(const Node *n, FusedHost host, const char *w_scales_name, int64_t n_out_c, QOpAttrs *a, Err *err) {
    memset(a, 0, sizeof *a);
    if (attr_scale(n, "x_scale", &a->x_scale, err)) return -1;
    if (attr_zero_point(n, "x_zero_point", 0, 255, &a->x_zero_point, err)) return -1;
    if (attr_scales(n, w_scales_name, n_out_c, &a->w_scales, &a->n_w_scales, err)) return -1;
    a->out_type = node_attr_type(n, "out_type", DT_FLOAT);
    a->out_scale = 1;
    if (a->out_type == DT_UINT8) {
        if (attr_scale(n, "out_scale", &a->out_scale, err)) return -1;
        if (attr_zero_point(n, "out_zero_point", 0, 255, &a->out_zero_point, err)) return -1;
    } else if (a->out_type != DT_FLOAT) {
        return err_set(err, ERR_INPUT, "attribute out_type must be float32 or uint8, got %s", dtype_name(a->out_type));
    }
    /* the fused-op grammar is _FusedConv2D's / _FusedMatMul's, restricted */
    if (nn_fused_spec(n, host, &a->spec, err)) {
        if (err) err->code = ERR_INPUT;
        return err_prefix(err, "fused_ops");
    }
    if (!a->spec.bias) return err_set(err, ERR_INPUT, "fused_ops must begin with BiasAdd (the bias input is required)");
    if (node_attr_find(n, "add_scale")) {
        if (!a->spec.add) return err_set(err, ERR_INPUT, "attribute add_scale needs Add in fused_ops (an addend)");
        if (attr_scale(n, "add_scale", &a->add_scale, err)) return -1;
        if (attr_zero_point(n, "add_zero_point", -128, 255, &a->add_zero_point, err)) return -1;
    } else if (node_attr_find(n, "add_zero_point")) {
        return err_set(err, ERR_INPUT, "attribute add_zero_point needs add_scale (an 8-bit addend)");
    }
    NnAct act = a->spec.act;
    bool act_ok = act == NN_ACT_NONE || act == NN_ACT_RELU || act == NN_ACT_RELU6 ||
                  (host == FUSED_HOST_MATMUL && act == NN_ACT_GELU_EXACT);
    if (!act_ok)
        return err_set(err, ERR_INPUT, "fused activation %s is not supported by %s (Relu, Relu6%s)", nn_act_name(act),
                       n->op_name, host == FUSED_HOST_MATMUL ? ", GeluExact" : "");
    return 0;
}

int lowp_qconv_attrs(const Node *n, int64_t n_out_c, QOpAttrs *a, Err *err) {
    const char *f = node_attr_s(n, "data_format", "NHWC");
    if (strcmp(f, "NHWC")) return err_set(err, ERR_INPUT, "data_format must be NHWC, got '%s'", f);
    if (qop_common(n, FUSED_HOST_CONV, "filter_scales", n_out_c, a, err)) return -1;
    a->depthwise = node_attr_b(n, "depthwise", false);
    return 0;
}

int lowp_qmatmul_attrs(const Node *n, int64_t n_out_c, QOpAttrs *a, Err *err) {
    if (node_attr_b(n, "transpose_a", false)) return err_set(err, ERR_INPUT, "transpose_a is not supported");
    if (qop_common(n, FUSED_HOST_MATMUL, "w_scales", n_out_c, a, err)) return -1;
    a->transpose_b = node_attr_b(n, "transpose_b", false);
    return 0;
}

int lowp_check_addend(const QOpAttrs *a, int addend_dtype, Err *err) {
    if (addend_dtype == DT_FLOAT) {
        if (a->add_scale > 0) return err_set(err, ERR_INPUT, "a float32 addend takes no add_scale (only a uint8 or int8 one does)");
        return 0;
    }
    if (addend_dtype != DT_UINT8 && addend_dtype != DT_INT8)
        return err_set(err, ERR_INPUT, "the addend must be float32, uint8 or int8, got %s", dtype_name(addend_dtype));
    if (!(a->add_scale > 0)) return err_set(err, ERR_INPUT, "attribute add_scale (a float > 0) is missing for the %s addend", dtype_name(addend_dtype));
    if (a->add_zero_point < int_min(addend_dtype) || a->add_zero_point > int_max(addend_dtype))
        return err_set(err, ERR_INPUT, "attribute add_zero_point = %d is outside the %s addend's range", (int)a->add_zero_point,
                       dtype_name(addend_dtype));
    return 0;
}

int lowp_qmatmul_dims(const Shape *x, const Shape *w, bool transpose_b, int64_t *m, int64_t *k, int64_t *nn, Err *err) {
    char sa[96], sb[96];
    if (x->rank < 2) return err_set(err, ERR_INPUT, "x must have rank >= 2, got %s", shape_str(x, sa, sizeof sa));
    if (w->rank != 2) return err_set(err, ERR_INPUT, "w must be 2-D, got %s", shape_str(w, sa, sizeof sa));
    *k = x->dim[x->rank - 1];
    int64_t wk = w->dim[transpose_b ? 1 : 0];
    *nn = w->dim[transpose_b ? 0 : 1];
    if (wk != *k)
        return err_set(err, ERR_INPUT, "inner dimensions differ: x %s, w %s%s", shape_str(x, sa, sizeof sa),
                       shape_str(w, sb, sizeof sb), transpose_b ? "^T" : "");
    *m = 1;
    for (int i = 0; i < x->rank - 1; i++) *m *= x->dim[i];
    return 0;
}

/* ---- inference ---- */

static int require_dtype(const Graph *g, const Node *n, int i, int dt, const char *what, Err *err) {
    if (in_dtype(g, n, i) != dt)
        return err_set(err, ERR_INPUT, "%s (input %d) must be %s, got %s", what, i, dtype_name(dt), dtype_name(in_dtype(g, n, i)));
    return 0;
}

int infer_quantize(Graph *g, Node *n, Err *err) {
    QuantizeAttrs a;
    if (require_dtype(g, n, 0, DT_FLOAT, "x", err) || lowp_quantize_attrs(n, &a, err)) return -1;
    return infer_set_out(n, 0, a.type, in_shape(g, n, 0), err);
}

int infer_dequantize(Graph *g, Node *n, Err *err) {
    DequantizeAttrs a;
    if (lowp_dequantize_attrs(n, in_dtype(g, n, 0), in_shape(g, n, 0), &a, err)) return -1;
    return infer_set_out(n, 0, DT_FLOAT, in_shape(g, n, 0), err);
}

/* bias [c] float32 at input 2 */
static int check_bias(const Graph *g, const Node *n, int64_t c, Err *err) {
    char sa[96];
    if (require_dtype(g, n, 2, DT_FLOAT, "bias", err)) return -1;
    const Shape *b = in_shape(g, n, 2);
    if (b->rank != 1 || b->dim[0] != c)
        return err_set(err, ERR_INPUT, "bias %s must be [%lld] (one per output channel)", shape_str(b, sa, sizeof sa), (long long)c);
    return 0;
}

/* the residual addend (fused_ops Add): float32, or uint8 / int8 with add_scale, with the
   output's shape */
static int check_addend(const Graph *g, const Node *n, const QOpAttrs *a, const Shape *out, Err *err) {
    char sa[96], sb[96];
    if (!a->spec.add) return 0;
    if (lowp_check_addend(a, in_dtype(g, n, a->spec.arg_add), err)) return -1;
    if (!shape_equal(in_shape(g, n, a->spec.arg_add), out))
        return err_set(err, ERR_INPUT, "the addend %s must have the output's shape %s",
                       shape_str(in_shape(g, n, a->spec.arg_add), sa, sizeof sa), shape_str(out, sb, sizeof sb));
    return 0;
}

int infer_qconv2d(Graph *g, Node *n, Err *err) {
    QOpAttrs a;
    ConvGeom geo;
    if (require_dtype(g, n, 0, DT_UINT8, "x", err) || require_dtype(g, n, 1, DT_INT8, "filter", err)) return -1;
    /* attributes first without the count check: depthwise decides how the geometry is read */
    if (lowp_qconv_attrs(n, -1, &a, err)) return -1;
    if (nn_conv_geom(n, a.depthwise, in_shape(g, n, 0), in_shape(g, n, 1), &geo, err)) return -1;
    if (!a.depthwise && geo.groups != 1)
        return err_set(err, ERR_INPUT, "grouped convolution is not supported: x has %lld channels, the filter expects %lld",
                       (long long)geo.in_c, (long long)geo.group_in_c);
    if (lowp_qconv_attrs(n, geo.out_c, &a, err)) return -1;
    Shape out = nn_geom_out_shape(&geo);
    if (check_bias(g, n, geo.out_c, err)) return -1;
    if (check_addend(g, n, &a, &out, err)) return -1;
    return infer_set_out(n, 0, a.out_type, &out, err);
}

int infer_qmatmul(Graph *g, Node *n, Err *err) {
    QOpAttrs a;
    int64_t m, k, nn;
    if (require_dtype(g, n, 0, DT_UINT8, "x", err) || require_dtype(g, n, 1, DT_INT8, "w", err)) return -1;
    bool tb = node_attr_b(n, "transpose_b", false);
    if (lowp_qmatmul_dims(in_shape(g, n, 0), in_shape(g, n, 1), tb, &m, &k, &nn, err)) return -1;
    if (lowp_qmatmul_attrs(n, nn, &a, err) || check_bias(g, n, nn, err)) return -1;
    Shape out = *in_shape(g, n, 0);
    out.dim[out.rank - 1] = nn;
    if (check_addend(g, n, &a, &out, err)) return -1;
    return infer_set_out(n, 0, a.out_type, &out, err);
}

/* ---- FLOPs: a multiply-add counts 2, as for the float ops; quantize/dequantize 1 per element ---- */

static int64_t out_numel(const Node *n) {
    int64_t e = n->n_outputs ? shape_numel(&n->outputs[0].shape) : 0;
    return e > 0 ? e : 0;
}

int64_t flops_quantize(const Graph *g, const Node *n) { (void)g; return out_numel(n); }
int64_t flops_dequantize(const Graph *g, const Node *n) { (void)g; return out_numel(n); }

/* epilogue per output element: bias, add, activation, and the requantization when uint8 */
static int64_t q_epilogue_flops(const Node *n, FusedHost host) {
    QOpAttrs a;
    bool ok = host == FUSED_HOST_CONV ? !lowp_qconv_attrs(n, -1, &a, NULL) : !lowp_qmatmul_attrs(n, -1, &a, NULL);
    if (!ok) return 0;
    return nn_epilogue_flops(&a.spec) + (a.out_type == DT_UINT8 ? 1 : 0);
}

int64_t flops_qconv2d(const Graph *g, const Node *n) {
    const Shape *f = in_shape(g, n, 1);
    int64_t out = out_numel(n);
    if (f->rank != 4) return 0;
    bool dw = node_attr_b(n, "depthwise", false);
    return out * (2 * f->dim[0] * f->dim[1] * (dw ? 1 : f->dim[2]) + q_epilogue_flops(n, FUSED_HOST_CONV));
}

int64_t flops_qmatmul(const Graph *g, const Node *n) {
    const Shape *x = in_shape(g, n, 0);
    int64_t out = out_numel(n);
    if (x->rank < 2) return 0;
    return out * (2 * x->dim[x->rank - 1] + q_epilogue_flops(n, FUSED_HOST_MATMUL));
}
