/* builder.c - the graph-building API of the zoo (see builder.h): node creation with TF's
 * attributes, per-node inference, execution-as-you-build for calibration, weight drawing,
 * calibrated batch norm, and the synthetic calibration image. */
#include "builder.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/ref.h"

/* ---- life cycle and errors ---- */

int bld_init(Builder *b, uint64_t seed, bool calibrate, Err *err) {
    memset(b, 0, sizeof *b);
    b->err = err;
    b->calibrate = calibrate;
    rng_seed(&b->rng, seed);
    b->g = graph_new();
    if (!b->g) {
        b->failed = true;
        return err_set(err, ERR_RUNTIME, "out of memory creating a graph");
    }
    return 0;
}

static void release_node_values(Builder *b, int node) {
    if (node >= b->vals_cap || !b->vals[node]) return;
    int n_out = graph_node(b->g, node)->n_outputs;
    for (int p = 0; p < n_out; p++) tensor_release(&b->vals[node][p]);
    free(b->vals[node]);
    b->vals[node] = NULL;
}

Graph *bld_finish(Builder *b) {
    for (int i = 0; i < b->vals_cap && b->g; i++) release_node_values(b, i);
    free(b->vals);
    b->vals = NULL;
    b->vals_cap = 0;
    Graph *g = b->g;
    b->g = NULL;
    if (b->failed) {
        graph_free(g);
        return NULL;
    }
    return g;
}

void bld_set_scope(Builder *b, const char *scope) { snprintf(b->scope, sizeof b->scope, "%s", scope); }

ValueRef bld_fail(Builder *b, ErrCode code, const char *fmt, ...) {
    if (b->failed) return BLD_NONE; /* keep the first error: it is the cause */
    char msg[sizeof b->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(b->err, code, "%s", msg);
    b->failed = true;
    return BLD_NONE;
}

/* marks the builder failed after a callee already filled *err */
static ValueRef failed_with_err(Builder *b) {
    b->failed = true;
    return BLD_NONE;
}

/* ---- low level ---- */

int bld_begin(Builder *b, const char *name, const char *op, const ValueRef *in, int n_in) {
    if (b->failed) return -1;
    char full[512];
    if (b->scope[0]) snprintf(full, sizeof full, "%s/%s", b->scope, name);
    else snprintf(full, sizeof full, "%s", name);
    for (int i = 0; i < n_in; i++)
        if (in[i].node < 0 || in[i].node >= b->g->n_nodes) {
            bld_fail(b, ERR_INPUT, "%s: input %d is not a built value", full, i);
            return -1;
        }
    int node = graph_add_node(b->g, full, op, b->err);
    if (node < 0) { failed_with_err(b); return -1; }
    for (int i = 0; i < n_in; i++)
        if (node_add_input(b->g, node, in[i], b->err)) { failed_with_err(b); return -1; }
    return node;
}

#define ATTR_SETTER(fn, type, setter)                                                     \
    void fn(Builder *b, int node, const char *attr, type v) {                            \
        if (b->failed || node < 0) return;                                                \
        if (setter(graph_node(b->g, node), attr, v, b->err)) failed_with_err(b);          \
    }
ATTR_SETTER(bld_attr_type, int, node_set_attr_type)
ATTR_SETTER(bld_attr_i, int64_t, node_set_attr_i)
ATTR_SETTER(bld_attr_f, float, node_set_attr_f)
ATTR_SETTER(bld_attr_b, bool, node_set_attr_b)
ATTR_SETTER(bld_attr_s, const char *, node_set_attr_s)
#undef ATTR_SETTER

void bld_attr_ints(Builder *b, int node, const char *attr, const int64_t *v, int count) {
    if (b->failed || node < 0) return;
    if (node_set_attr_list_i(graph_node(b->g, node), attr, v, count, b->err)) failed_with_err(b);
}

static int ensure_vals(Builder *b, int node) {
    if (node < b->vals_cap) return 0;
    int cap = b->vals_cap ? b->vals_cap : 256;
    while (cap <= node) cap *= 2;
    Tensor **v = realloc(b->vals, (size_t)cap * sizeof *v);
    if (!v) return err_set(b->err, ERR_RUNTIME, "out of memory");
    memset(v + b->vals_cap, 0, (size_t)(cap - b->vals_cap) * sizeof *v);
    b->vals = v;
    b->vals_cap = cap;
    return 0;
}

/* Executes `node` on the calibration values of its inputs and stores its outputs. */
static int calibrate_node(Builder *b, int node) {
    Node *n = graph_node(b->g, node);
    if (ensure_vals(b, node)) return -1;
    Tensor *out = calloc((size_t)(n->n_outputs ? n->n_outputs : 1), sizeof *out);
    if (!out) return err_set(b->err, ERR_RUNTIME, "out of memory");
    if (n->op == OP_CONST) {
        const Tensor *t = node_attr_tensor(n, "value");
        if (!t) { free(out); return err_set(b->err, ERR_INPUT, "%s: Const without a value", n->name); }
        out[0] = tensor_share(t);
        b->vals[node] = out;
        return 0;
    }
    Tensor in[64];
    if (n->n_inputs > 64) { free(out); return err_set(b->err, ERR_INPUT, "%s: too many inputs", n->name); }
    for (int i = 0; i < n->n_inputs; i++) {
        const Tensor *t = bld_value(b, n->inputs[i]);
        if (!t) {
            free(out);
            return err_set(b->err, ERR_RUNTIME, "%s: calibration value of input %d was released", n->name, i);
        }
        in[i] = *t; /* borrowed: the kernel only reads */
    }
    if (ref_eval_node(NULL, b->g, node, in, out, b->err)) {
        for (int p = 0; p < n->n_outputs; p++) tensor_release(&out[p]);
        free(out);
        return err_prefix(b->err, "calibrating %s", n->name);
    }
    b->vals[node] = out;
    return 0;
}

ValueRef bld_end(Builder *b, int node) {
    if (b->failed || node < 0) return BLD_NONE;
    if (graph_infer_node(b->g, node, ref_eval_node, NULL, b->err)) return failed_with_err(b);
    /* Placeholders get their calibration value from bld_placeholder */
    if (b->calibrate && graph_node(b->g, node)->op != OP_PLACEHOLDER && calibrate_node(b, node))
        return failed_with_err(b);
    return (ValueRef){node, 0};
}

/* ---- values ---- */

const Shape *bld_shape(const Builder *b, ValueRef v) {
    if (b->failed || v.node < 0) return NULL;
    return &graph_value(b->g, v)->shape;
}

int64_t bld_dim(const Builder *b, ValueRef v, int axis) {
    const Shape *s = bld_shape(b, v);
    if (!s || s->rank <= 0) return -1;
    if (axis < 0) axis += s->rank;
    if (axis < 0 || axis >= s->rank) return -1;
    return s->dim[axis];
}

const Tensor *bld_value(const Builder *b, ValueRef v) {
    if (b->failed || !b->calibrate || v.node < 0 || v.node >= b->vals_cap || !b->vals[v.node]) return NULL;
    if (v.port >= graph_node(b->g, v.node)->n_outputs) return NULL;
    const Tensor *t = &b->vals[v.node][v.port];
    return tensor_has_data(t) ? t : NULL;
}

void bld_keep_only(Builder *b, const ValueRef *keep, int n_keep) {
    for (int i = 0; i < b->vals_cap && i < b->g->n_nodes; i++) {
        if (!b->vals[i] || graph_node(b->g, i)->op == OP_CONST) continue;
        bool kept = false;
        for (int k = 0; k < n_keep; k++) kept |= keep[k].node == i;
        if (!kept) release_node_values(b, i);
    }
}

int bld_add_output(Builder *b, ValueRef v) {
    if (b->failed) return -1;
    if (graph_add_output(b->g, v, b->err)) { failed_with_err(b); return -1; }
    return 0;
}

/* ---- random tensors ---- */

double bld_randn(Builder *b) {
    /* Marsaglia's polar method: both values of a pair are used, and it needs one log and
       one sqrt per pair instead of a log, a sqrt and a cos per value (BERT-base draws 110M) */
    if (b->has_spare) {
        b->has_spare = false;
        return b->spare;
    }
    double u, v, s;
    do {
        u = (double)(rng_u64(&b->rng) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
        v = (double)(rng_u64(&b->rng) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    b->spare = v * m;
    b->has_spare = true;
    return u * m;
}

static Tensor alloc_f32(Builder *b, Shape s, float **data) {
    Tensor t = {0};
    *data = NULL;
    if (b->failed) return t;
    if (tensor_alloc(&t, DT_FLOAT, &s, b->err)) { failed_with_err(b); return (Tensor){0}; }
    *data = tensor_mut(&t);
    return t;
}

Tensor bld_normal(Builder *b, Shape s, double mean, double std) {
    float *d;
    Tensor t = alloc_f32(b, s, &d);
    for (int64_t i = 0; d && i < tensor_numel(&t); i++) d[i] = (float)(mean + std * bld_randn(b));
    return t;
}

Tensor bld_truncated_normal(Builder *b, Shape s, double std) {
    float *d;
    Tensor t = alloc_f32(b, s, &d);
    for (int64_t i = 0; d && i < tensor_numel(&t); i++) {
        double z;
        do z = bld_randn(b); while (fabs(z) > 2.0);
        d[i] = (float)(std * z);
    }
    return t;
}

Tensor bld_filled(Builder *b, Shape s, float v) {
    float *d;
    Tensor t = alloc_f32(b, s, &d);
    for (int64_t i = 0; d && i < tensor_numel(&t); i++) d[i] = v;
    return t;
}

/* ---- constants and inputs ---- */

ValueRef bld_placeholder(Builder *b, const char *name, int dtype, Shape shape, const Tensor *calib) {
    int n = bld_begin(b, name, "Placeholder", NULL, 0);
    bld_attr_type(b, n, "dtype", dtype);
    if (!b->failed && node_set_attr_shape(graph_node(b->g, n), "shape", &shape, b->err)) failed_with_err(b);
    ValueRef v = bld_end(b, n);
    if (b->failed || !b->calibrate) return v;
    const Value *val = graph_value(b->g, v);
    char want[64], got[64];
    if (!calib || calib->dtype != val->dtype || !shape_equal(&calib->shape, &val->shape))
        return bld_fail(b, ERR_INPUT, "%s: calibration input %s does not match the placeholder's %s",
                        graph_node(b->g, n)->name, calib ? shape_str(&calib->shape, got, sizeof got) : "(none)",
                        shape_str(&val->shape, want, sizeof want));
    if (ensure_vals(b, n)) return failed_with_err(b);
    b->vals[n] = calloc(1, sizeof(Tensor));
    if (!b->vals[n]) return bld_fail(b, ERR_RUNTIME, "out of memory");
    b->vals[n][0] = tensor_share(calib);
    return v;
}

ValueRef bld_const(Builder *b, const char *name, Tensor *t) {
    int n = bld_begin(b, name, "Const", NULL, 0);
    if (!b->failed && !tensor_has_data(t)) bld_fail(b, ERR_RUNTIME, "Const %s has no value", name);
    bld_attr_type(b, n, "dtype", t->dtype);
    if (!b->failed && node_set_attr_tensor(graph_node(b->g, n), "value", t, b->err)) failed_with_err(b);
    tensor_release(t);
    return bld_end(b, n);
}

ValueRef bld_const_i32(Builder *b, const char *name, int n, const int32_t *v) {
    if (b->failed) return BLD_NONE;
    Tensor t;
    Shape s = shape_make(1, (int64_t[]){n});
    if (tensor_from_data(&t, DT_INT32, &s, v, (size_t)n * sizeof(int32_t), b->err)) return failed_with_err(b);
    return bld_const(b, name, &t);
}

ValueRef bld_scalar_i32(Builder *b, const char *name, int32_t v) {
    if (b->failed) return BLD_NONE;
    Tensor t;
    Shape s = shape_scalar();
    if (tensor_from_data(&t, DT_INT32, &s, &v, sizeof v, b->err)) return failed_with_err(b);
    return bld_const(b, name, &t);
}

ValueRef bld_scalar_f32(Builder *b, const char *name, float v) {
    Tensor t = bld_filled(b, shape_scalar(), v);
    return bld_const(b, name, &t);
}

/* ---- ops ---- */

static ValueRef op1_T(Builder *b, const char *name, const char *op, ValueRef x) {
    int n = bld_begin(b, name, op, &x, 1);
    bld_attr_type(b, n, "T", DT_FLOAT);
    return bld_end(b, n);
}

ValueRef bld_unary(Builder *b, const char *name, const char *op, ValueRef x) { return op1_T(b, name, op, x); }
ValueRef bld_identity(Builder *b, const char *name, ValueRef x) { return op1_T(b, name, "Identity", x); }
ValueRef bld_softmax(Builder *b, const char *name, ValueRef x) { return op1_T(b, name, "Softmax", x); }

ValueRef bld_binary(Builder *b, const char *name, const char *op, ValueRef x, ValueRef y) {
    int n = bld_begin(b, name, op, (ValueRef[]){x, y}, 2);
    bld_attr_type(b, n, "T", DT_FLOAT);
    return bld_end(b, n);
}

/* "<name>/<suffix>" */
static const char *sub_name(char *buf, size_t cap, const char *name, const char *suffix) {
    snprintf(buf, cap, "%s/%s", name, suffix);
    return buf;
}

ValueRef bld_mean(Builder *b, const char *name, ValueRef x, const int32_t *axes, int n_axes, bool keep_dims) {
    char cn[512];
    ValueRef ax = bld_const_i32(b, sub_name(cn, sizeof cn, name, "reduction_indices"), n_axes, axes);
    int n = bld_begin(b, name, "Mean", (ValueRef[]){x, ax}, 2);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_type(b, n, "Tidx", DT_INT32);
    bld_attr_b(b, n, "keep_dims", keep_dims);
    return bld_end(b, n);
}

ValueRef bld_reshape(Builder *b, const char *name, ValueRef x, const int32_t *shape, int rank) {
    char cn[512];
    ValueRef s = bld_const_i32(b, sub_name(cn, sizeof cn, name, "shape"), rank, shape);
    int n = bld_begin(b, name, "Reshape", (ValueRef[]){x, s}, 2);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_type(b, n, "Tshape", DT_INT32);
    return bld_end(b, n);
}

ValueRef bld_transpose(Builder *b, const char *name, ValueRef x, const int32_t *perm, int rank) {
    char cn[512];
    ValueRef p = bld_const_i32(b, sub_name(cn, sizeof cn, name, "perm"), rank, perm);
    int n = bld_begin(b, name, "Transpose", (ValueRef[]){x, p}, 2);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_type(b, n, "Tperm", DT_INT32);
    return bld_end(b, n);
}

ValueRef bld_pad(Builder *b, const char *name, ValueRef x, const int32_t *pads, int rank) {
    if (b->failed) return BLD_NONE;
    char cn[512];
    Tensor t;
    Shape s = shape_make(2, (int64_t[]){rank, 2});
    if (tensor_from_data(&t, DT_INT32, &s, pads, (size_t)rank * 2 * sizeof(int32_t), b->err)) return failed_with_err(b);
    ValueRef p = bld_const(b, sub_name(cn, sizeof cn, name, "paddings"), &t);
    int n = bld_begin(b, name, "Pad", (ValueRef[]){x, p}, 2);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_type(b, n, "Tpaddings", DT_INT32);
    return bld_end(b, n);
}

ValueRef bld_pool(Builder *b, const char *name, const char *op, ValueRef x, int k, int stride, const char *padding) {
    int n = bld_begin(b, name, op, &x, 1);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_ints(b, n, "ksize", (int64_t[]){1, k, k, 1}, 4);
    bld_attr_ints(b, n, "strides", (int64_t[]){1, stride, stride, 1}, 4);
    bld_attr_s(b, n, "padding", padding);
    bld_attr_s(b, n, "data_format", "NHWC");
    if (!strcmp(op, "MaxPool")) bld_attr_ints(b, n, "explicit_paddings", NULL, 0);
    return bld_end(b, n);
}

ValueRef bld_concat(Builder *b, const char *name, const ValueRef *xs, int count, int axis) {
    if (b->failed) return BLD_NONE;
    if (count < 1 || count > 63) return bld_fail(b, ERR_INPUT, "%s: concat of %d values", name, count);
    char cn[512];
    ValueRef in[64];
    for (int i = 0; i < count; i++) in[i] = xs[i];
    in[count] = bld_scalar_i32(b, sub_name(cn, sizeof cn, name, "axis"), axis);
    int n = bld_begin(b, name, "ConcatV2", in, count + 1);
    bld_attr_i(b, n, "N", count);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_type(b, n, "Tidx", DT_INT32);
    return bld_end(b, n);
}

ValueRef bld_cast(Builder *b, const char *name, ValueRef x, int dst_dtype) {
    int n = bld_begin(b, name, "Cast", &x, 1);
    bld_attr_type(b, n, "SrcT", b->failed ? DT_INVALID : graph_value(b->g, x)->dtype);
    bld_attr_type(b, n, "DstT", dst_dtype);
    bld_attr_b(b, n, "Truncate", false);
    return bld_end(b, n);
}

ValueRef bld_gather(Builder *b, const char *name, ValueRef params, ValueRef indices, int axis) {
    char cn[512];
    ValueRef a = bld_scalar_i32(b, sub_name(cn, sizeof cn, name, "axis"), axis);
    int n = bld_begin(b, name, "GatherV2", (ValueRef[]){params, indices, a}, 3);
    bld_attr_type(b, n, "Tparams", DT_FLOAT);
    bld_attr_type(b, n, "Tindices", b->failed ? DT_INVALID : graph_value(b->g, indices)->dtype);
    bld_attr_type(b, n, "Taxis", DT_INT32);
    bld_attr_i(b, n, "batch_dims", 0);
    return bld_end(b, n);
}

ValueRef bld_slice(Builder *b, const char *name, ValueRef x, const int32_t *begin, const int32_t *size, int rank) {
    char cn[512];
    ValueRef vb = bld_const_i32(b, sub_name(cn, sizeof cn, name, "begin"), rank, begin);
    ValueRef vs = bld_const_i32(b, sub_name(cn, sizeof cn, name, "size"), rank, size);
    int n = bld_begin(b, name, "Slice", (ValueRef[]){x, vb, vs}, 3);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_type(b, n, "Index", DT_INT32);
    return bld_end(b, n);
}

ValueRef bld_strided_slice(Builder *b, const char *name, ValueRef x, const int32_t *begin, const int32_t *end,
                           const int32_t *strides, int rank, int begin_mask, int end_mask, int shrink_axis_mask) {
    char cn[512];
    ValueRef vb = bld_const_i32(b, sub_name(cn, sizeof cn, name, "stack"), rank, begin);
    ValueRef ve = bld_const_i32(b, sub_name(cn, sizeof cn, name, "stack_1"), rank, end);
    ValueRef vs = bld_const_i32(b, sub_name(cn, sizeof cn, name, "stack_2"), rank, strides);
    int n = bld_begin(b, name, "StridedSlice", (ValueRef[]){x, vb, ve, vs}, 4);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_type(b, n, "Index", DT_INT32);
    bld_attr_i(b, n, "begin_mask", begin_mask);
    bld_attr_i(b, n, "end_mask", end_mask);
    bld_attr_i(b, n, "ellipsis_mask", 0);
    bld_attr_i(b, n, "new_axis_mask", 0);
    bld_attr_i(b, n, "shrink_axis_mask", shrink_axis_mask);
    return bld_end(b, n);
}

ValueRef bld_batch_matmul(Builder *b, const char *name, ValueRef x, ValueRef y, bool adj_x, bool adj_y) {
    int n = bld_begin(b, name, "BatchMatMulV2", (ValueRef[]){x, y}, 2);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_b(b, n, "adj_x", adj_x);
    bld_attr_b(b, n, "adj_y", adj_y);
    return bld_end(b, n);
}

ValueRef bld_matmul(Builder *b, const char *name, ValueRef x, ValueRef w, bool transpose_a, bool transpose_b) {
    int n = bld_begin(b, name, "MatMul", (ValueRef[]){x, w}, 2);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_b(b, n, "transpose_a", transpose_a);
    bld_attr_b(b, n, "transpose_b", transpose_b);
    return bld_end(b, n);
}

ValueRef bld_bias_add(Builder *b, const char *name, ValueRef x, ValueRef bias) {
    int n = bld_begin(b, name, "BiasAdd", (ValueRef[]){x, bias}, 2);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_s(b, n, "data_format", "NHWC");
    return bld_end(b, n);
}

/* ---- layers ---- */

static void conv_attrs(Builder *b, int n, int stride, const char *padding) {
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_ints(b, n, "strides", (int64_t[]){1, stride, stride, 1}, 4);
    bld_attr_s(b, n, "padding", padding);
    bld_attr_s(b, n, "data_format", "NHWC");
    bld_attr_ints(b, n, "dilations", (int64_t[]){1, 1, 1, 1}, 4);
    bld_attr_ints(b, n, "explicit_paddings", NULL, 0);
}

ValueRef bld_conv2d(Builder *b, const char *layer, ValueRef x, int k, int cout, int stride, const char *padding, double std) {
    char wn[512], cn[512];
    int64_t cin = bld_dim(b, x, -1);
    if (b->failed) return BLD_NONE;
    Tensor w = bld_normal(b, shape_make(4, (int64_t[]){k, k, cin, cout}), 0.0, std);
    ValueRef wv = bld_const(b, sub_name(wn, sizeof wn, layer, "Conv2D/ReadVariableOp"), &w);
    int n = bld_begin(b, sub_name(cn, sizeof cn, layer, "Conv2D"), "Conv2D", (ValueRef[]){x, wv}, 2);
    conv_attrs(b, n, stride, padding);
    bld_attr_b(b, n, "use_cudnn_on_gpu", true);
    return bld_end(b, n);
}

ValueRef bld_depthwise(Builder *b, const char *layer, ValueRef x, int k, int stride, const char *padding, double std) {
    char wn[512], cn[512];
    int64_t cin = bld_dim(b, x, -1);
    if (b->failed) return BLD_NONE;
    Tensor w = bld_normal(b, shape_make(4, (int64_t[]){k, k, cin, 1}), 0.0, std);
    ValueRef wv = bld_const(b, sub_name(wn, sizeof wn, layer, "depthwise/ReadVariableOp"), &w);
    int n = bld_begin(b, sub_name(cn, sizeof cn, layer, "depthwise"), "DepthwiseConv2dNative", (ValueRef[]){x, wv}, 2);
    conv_attrs(b, n, stride, padding);
    return bld_end(b, n);
}

/* per-channel (last axis) mean and variance of a float tensor, two passes in double */
static void channel_stats(const Tensor *t, int64_t c, double *mean, double *var) {
    const float *d = tensor_data(t);
    int64_t rows = tensor_numel(t) / c;
    for (int64_t j = 0; j < c; j++) mean[j] = var[j] = 0.0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < c; j++) mean[j] += d[r * c + j];
    for (int64_t j = 0; j < c; j++) mean[j] /= (double)rows;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < c; j++) {
            double e = d[r * c + j] - mean[j];
            var[j] += e * e;
        }
    for (int64_t j = 0; j < c; j++) var[j] /= (double)rows;
}

ValueRef bld_batchnorm_scaled(Builder *b, const char *layer, ValueRef x, float epsilon, double gamma_scale) {
    char nm[4][512], bn[512];
    int64_t c = bld_dim(b, x, -1);
    if (b->failed) return BLD_NONE;
    if (c <= 0) return bld_fail(b, ERR_INPUT, "%s: batch norm over %lld channels", layer, (long long)c);
    const Tensor *xv = bld_value(b, x);
    if (b->calibrate && !xv) return bld_fail(b, ERR_RUNTIME, "%s: no calibration value for the input", layer);
    Shape s = shape_make(1, (int64_t[]){c});
    float *gamma, *beta, *mean, *var;
    Tensor tg = alloc_f32(b, s, &gamma), tb = alloc_f32(b, s, &beta);
    Tensor tm = alloc_f32(b, s, &mean), tv = alloc_f32(b, s, &var);
    double *cm = calloc((size_t)c, sizeof *cm), *cv = calloc((size_t)c, sizeof *cv);
    if (b->failed || !cm || !cv) {
        free(cm); free(cv);
        tensor_release(&tg); tensor_release(&tb); tensor_release(&tm); tensor_release(&tv);
        return bld_fail(b, ERR_RUNTIME, "out of memory");
    }
    if (xv) channel_stats(xv, c, cm, cv);
    for (int64_t j = 0; j < c; j++) {
        double zg = bld_randn(b), zb = bld_randn(b);
        double zm = bld_randn(b), zv = bld_randn(b);
        gamma[j] = (float)(gamma_scale * (1.0 + 0.1 * zg));
        beta[j] = (float)(0.1 * zb);
        if (xv) {
            /* a channel that is (almost) constant on the calibration image would amplify
               any other input enormously: keep its variance away from zero */
            double v = cv[j] > 1e-4 ? cv[j] : 1e-4;
            mean[j] = (float)(cm[j] + 0.1 * sqrt(v) * zm);
            var[j] = (float)(v * exp(0.2 * zv));
        } else {
            mean[j] = (float)(0.1 * zm);
            var[j] = (float)exp(0.2 * zv);
        }
    }
    free(cm);
    free(cv);
    ValueRef vg = bld_const(b, sub_name(nm[0], sizeof nm[0], layer, "ReadVariableOp"), &tg);
    ValueRef vb = bld_const(b, sub_name(nm[1], sizeof nm[1], layer, "ReadVariableOp_1"), &tb);
    ValueRef vm = bld_const(b, sub_name(nm[2], sizeof nm[2], layer, "FusedBatchNormV3/ReadVariableOp"), &tm);
    ValueRef vv = bld_const(b, sub_name(nm[3], sizeof nm[3], layer, "FusedBatchNormV3/ReadVariableOp_1"), &tv);
    int n = bld_begin(b, sub_name(bn, sizeof bn, layer, "FusedBatchNormV3"), "FusedBatchNormV3",
                      (ValueRef[]){x, vg, vb, vm, vv}, 5);
    bld_attr_type(b, n, "T", DT_FLOAT);
    bld_attr_type(b, n, "U", DT_FLOAT);
    bld_attr_f(b, n, "epsilon", epsilon);
    bld_attr_s(b, n, "data_format", "NHWC");
    bld_attr_b(b, n, "is_training", false);
    bld_attr_f(b, n, "exponential_avg_factor", 1.0f);
    return bld_end(b, n);
}

ValueRef bld_dense(Builder *b, const char *layer, ValueRef x, int units, double std, double bias_std) {
    char wn[512], bn[512], mn[512], an[512];
    int64_t in = bld_dim(b, x, -1);
    if (b->failed) return BLD_NONE;
    Shape ws = shape_make(2, (int64_t[]){in, units}), bs = shape_make(1, (int64_t[]){units});
    Tensor w = b->tf1_names ? bld_truncated_normal(b, ws, std) : bld_normal(b, ws, 0.0, std);
    Tensor bias = bias_std > 0 ? bld_normal(b, bs, 0.0, bias_std) : bld_filled(b, bs, 0.0f);
    ValueRef wv = bld_const(b, sub_name(wn, sizeof wn, layer, b->tf1_names ? "kernel" : "MatMul/ReadVariableOp"), &w);
    ValueRef y = bld_matmul(b, sub_name(mn, sizeof mn, layer, "MatMul"), x, wv, false, false);
    ValueRef bv = bld_const(b, sub_name(bn, sizeof bn, layer, b->tf1_names ? "bias" : "BiasAdd/ReadVariableOp"), &bias);
    return bld_bias_add(b, sub_name(an, sizeof an, layer, "BiasAdd"), y, bv);
}

/* ---- calibration input ---- */

int bld_synthetic_image(Tensor *t, int64_t n, int64_t h, int64_t w, int64_t c, uint64_t seed, Err *err) {
    Shape s = shape_make(4, (int64_t[]){n, h, w, c});
    if (tensor_alloc(t, DT_FLOAT, &s, err)) return -1;
    float *d = tensor_mut(t);
    Rng r;
    rng_seed(&r, seed ^ 0x5EEDC0DEull);
    const double two_pi = 6.283185307179586;
    enum { WAVES = 4 };
    for (int64_t img = 0; img < n; img++)
        for (int64_t ch = 0; ch < c; ch++) {
            /* a few plane waves of low spatial frequency (0.5..3.5 cycles per image) */
            double amp[WAVES], fy[WAVES], fx[WAVES], phase[WAVES];
            for (int k = 0; k < WAVES; k++) {
                amp[k] = 0.5 + 0.5 * rng_uniform(&r);
                fy[k] = (0.5 + 3.0 * rng_uniform(&r)) * (rng_uniform(&r) < 0.5 ? -1 : 1);
                fx[k] = 0.5 + 3.0 * rng_uniform(&r);
                phase[k] = two_pi * rng_uniform(&r);
            }
            double sum = 0, sq = 0;
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) {
                    double v = 0.1 * rng_normal(&r);
                    for (int k = 0; k < WAVES; k++)
                        v += amp[k] * sin(two_pi * (fy[k] * (double)y / (double)h + fx[k] * (double)x / (double)w) + phase[k]);
                    d[((img * h + y) * w + x) * c + ch] = (float)v;
                    sum += v;
                    sq += v * v;
                }
            /* normalize the channel to zero mean and unit variance, like a preprocessed image */
            double cnt = (double)(h * w), mean = sum / cnt;
            double var = sq / cnt - mean * mean, inv = var > 1e-12 ? 1.0 / sqrt(var) : 1.0;
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) {
                    float *p = &d[((img * h + y) * w + x) * c + ch];
                    *p = (float)((*p - mean) * inv);
                }
        }
    return 0;
}

/* ---- pieces shared by the CNNs ---- */

ValueRef bld_image_input(Builder *b, const char *name, const ZooOpts *opts, int size, int channels) {
    if (b->failed) return BLD_NONE;
    Shape s = shape_make(4, (int64_t[]){opts->batch > 0 ? opts->batch : -1, size, size, channels});
    Tensor img = {0};
    if (b->calibrate &&
        bld_synthetic_image(&img, opts->batch > 0 ? opts->batch : 1, size, size, channels, opts->seed, b->err))
        return failed_with_err(b);
    ValueRef x = bld_placeholder(b, name, DT_FLOAT, s, b->calibrate ? &img : NULL);
    tensor_release(&img);
    return x;
}

void bld_classifier_head(Builder *b, ValueRef x, const char *pool_layer, const char *dense_layer, int classes, double gain) {
    char pn[512], sn[512];
    ValueRef pooled = bld_mean(b, sub_name(pn, sizeof pn, pool_layer, "Mean"), x, (int32_t[]){1, 2}, 2, false);
    int64_t features = bld_dim(b, pooled, -1);
    if (b->failed) return;
    /* An untrained classifier on ReLU features mostly sees their positive mean, the same for
       every input, so its top-1 class would hardly depend on the input and top-1 agreement
       would measure nothing. So every class's weight column sums to zero (blind to a shift
       common to all features). The weights are N(0, gain^2 / features) before centering; the
       model picks gain so logits come out with a standard deviation around 2 (measured on
       synthetic images), as a trained ImageNet classifier's roughly do. Biases are zero. */
    Tensor w = bld_normal(b, shape_make(2, (int64_t[]){features, classes}), 0.0, gain * sqrt(1.0 / (double)features));
    float *wd = tensor_mut(&w);
    if (b->failed || !wd) { tensor_release(&w); return; }
    for (int j = 0; j < classes; j++) {
        double m = 0;
        for (int64_t f = 0; f < features; f++) m += wd[f * classes + j];
        m /= (double)features;
        for (int64_t f = 0; f < features; f++) wd[f * classes + j] = (float)(wd[f * classes + j] - m);
    }
    Tensor bias = bld_filled(b, shape_make(1, (int64_t[]){classes}), 0.0f);
    char wn[512], mn[512], bn[512], an[512];
    ValueRef wv = bld_const(b, sub_name(wn, sizeof wn, dense_layer, "MatMul/ReadVariableOp"), &w);
    ValueRef y = bld_matmul(b, sub_name(mn, sizeof mn, dense_layer, "MatMul"), pooled, wv, false, false);
    ValueRef bv = bld_const(b, sub_name(bn, sizeof bn, dense_layer, "BiasAdd/ReadVariableOp"), &bias);
    ValueRef logits = bld_bias_add(b, sub_name(an, sizeof an, dense_layer, "BiasAdd"), y, bv);
    ValueRef probs = bld_softmax(b, sub_name(sn, sizeof sn, dense_layer, "Softmax"), logits);
    char scope[sizeof b->scope];
    memcpy(scope, b->scope, sizeof scope);
    b->scope[0] = 0;
    ValueRef out_logits = bld_identity(b, "logits", logits);
    ValueRef out_probs = bld_identity(b, "probs", probs);
    memcpy(b->scope, scope, sizeof scope);
    bld_add_output(b, out_logits);
    bld_add_output(b, out_probs);
}

ValueRef bld_batchnorm(Builder *b, const char *layer, ValueRef x, float epsilon) {
    return bld_batchnorm_scaled(b, layer, x, epsilon, 1.0);
}
