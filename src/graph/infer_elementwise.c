/* infer_elementwise.c - shape/dtype inference and FLOPs for the elementwise ops: unary, binary
 * (numpy broadcasting), AddN, BiasAdd, Prelu and Cast. Reductions are in infer_reduce.c.
 *
 * dtypes accepted (matching runtime/ref_*.c):
 *   unary   float32/float16/bfloat16; Neg, Abs, Square, Relu, Relu6 also int8/int32/int64
 *   unary   Floor, Ceil, Cos, Sin, Reciprocal: float dtypes only
 *   binary  float dtypes; int8/uint8/int32/int64 for all but RealDiv and Atan2; both inputs the same
 *   AddN, BiasAdd  float and integer dtypes;  Prelu  float dtypes;  Cast  every supported dtype
 * FLOPs: one per output element for every op (transcendentals count as one too, AddN counts
 * N-1 additions per element); Cast counts none, it is a data conversion. */
#include <string.h>

#include "infer.h"

static bool is_int_dtype(int dt) { return dt == DT_INT8 || dt == DT_UINT8 || dt == DT_INT32 || dt == DT_INT64; }

static int64_t out_numel(const Node *n) {
    if (n->n_outputs < 1) return 0;
    int64_t count = shape_numel(&n->outputs[0].shape);
    return count > 0 ? count : 0;
}

/* ---- unary ---- */

static bool unary_dtype_ok(OpId op, int dt) {
    if (dtype_is_float(dt)) return true;
    bool int_op = op == OP_NEG || op == OP_ABS || op == OP_SQUARE || op == OP_RELU || op == OP_RELU6;
    return int_op && (dt == DT_INT8 || dt == DT_INT32 || dt == DT_INT64);
}

int infer_unary(Graph *g, Node *n, Err *err) {
    int dt = in_dtype(g, n, 0);
    if (!unary_dtype_ok(n->op, dt)) return err_set(err, ERR_INPUT, "dtype %s is not supported", dtype_name(dt));
    return infer_set_out(n, 0, dt, in_shape(g, n, 0), err);
}

int64_t flops_unary(const Graph *g, const Node *n) { (void)g; return out_numel(n); }

/* ---- binary ---- */

int infer_binary(Graph *g, Node *n, Err *err) {
    int a = in_dtype(g, n, 0), b = in_dtype(g, n, 1);
    if (a != b) return err_set(err, ERR_INPUT, "input dtypes differ: %s vs %s", dtype_name(a), dtype_name(b));
    if (!dtype_is_float(a) && !(is_int_dtype(a) && n->op != OP_REAL_DIV && n->op != OP_ATAN2))
        return err_set(err, ERR_INPUT, "dtype %s is not supported", dtype_name(a));
    Shape out;
    if (infer_broadcast(in_shape(g, n, 0), in_shape(g, n, 1), &out, err)) return -1;
    return infer_set_out(n, 0, a, &out, err);
}

int64_t flops_binary(const Graph *g, const Node *n) { (void)g; return out_numel(n); }

/* ---- AddN ---- */

int infer_add_n(Graph *g, Node *n, Err *err) {
    if (n->n_inputs < 1) return err_set(err, ERR_INPUT, "needs at least one input");
    Attr *attr_n = node_attr_find(n, "N");
    if (attr_n && attr_n->kind == ATTR_INT && attr_n->i != n->n_inputs)
        return err_set(err, ERR_INPUT, "attr N = %lld but %d inputs", (long long)attr_n->i, n->n_inputs);
    int dt = in_dtype(g, n, 0);
    const Shape *s0 = in_shape(g, n, 0);
    if (!dtype_is_float(dt) && !is_int_dtype(dt)) return err_set(err, ERR_INPUT, "dtype %s is not supported", dtype_name(dt));
    for (int i = 1; i < n->n_inputs; i++) {
        char sa[64], sb[64];
        if (in_dtype(g, n, i) != dt)
            return err_set(err, ERR_INPUT, "input %d has dtype %s, input 0 %s", i, dtype_name(in_dtype(g, n, i)),
                           dtype_name(dt));
        if (!shape_equal(in_shape(g, n, i), s0))
            return err_set(err, ERR_INPUT, "input %d has shape %s, input 0 %s", i,
                           shape_str(in_shape(g, n, i), sa, sizeof sa), shape_str(s0, sb, sizeof sb));
    }
    return infer_set_out(n, 0, dt, s0, err);
}

int64_t flops_add_n(const Graph *g, const Node *n) {
    (void)g;
    return n->n_inputs > 1 ? out_numel(n) * (n->n_inputs - 1) : 0;
}

/* ---- BiasAdd ---- */

int infer_bias_add(Graph *g, Node *n, Err *err) {
    int dt = in_dtype(g, n, 0), bdt = in_dtype(g, n, 1);
    const Shape *xs = in_shape(g, n, 0), *bs = in_shape(g, n, 1);
    if (dt != bdt) return err_set(err, ERR_INPUT, "input dtypes differ: %s vs %s", dtype_name(dt), dtype_name(bdt));
    if (!dtype_is_float(dt) && !is_int_dtype(dt)) return err_set(err, ERR_INPUT, "dtype %s is not supported", dtype_name(dt));
    const char *fmt = node_attr_s(n, "data_format", "NHWC");
    bool channels_first;
    if (!strcmp(fmt, "NHWC") || !strcmp(fmt, "NDHWC")) channels_first = false;
    else if (!strcmp(fmt, "NCHW") || !strcmp(fmt, "NCDHW")) channels_first = true;
    else return err_set(err, ERR_INPUT, "data_format '%s' is not NHWC or NCHW", fmt);
    if (xs->rank < 2) return err_set(err, ERR_INPUT, "value must be at least 2-D, got rank %d", xs->rank);
    if (bs->rank != 1) return err_set(err, ERR_INPUT, "bias must be 1-D, got rank %d", bs->rank);
    int c_dim = channels_first ? 1 : xs->rank - 1;
    if (bs->dim[0] != xs->dim[c_dim])
        return err_set(err, ERR_INPUT, "bias length %lld does not match %lld channels (dim %d, %s)",
                       (long long)bs->dim[0], (long long)xs->dim[c_dim], c_dim, fmt);
    return infer_set_out(n, 0, dt, xs, err);
}

int64_t flops_bias_add(const Graph *g, const Node *n) { (void)g; return out_numel(n); }

/* ---- Prelu ---- */

int infer_prelu(Graph *g, Node *n, Err *err) {
    int dt = in_dtype(g, n, 0), adt = in_dtype(g, n, 1);
    if (dt != adt) return err_set(err, ERR_INPUT, "input dtypes differ: %s vs %s", dtype_name(dt), dtype_name(adt));
    if (!dtype_is_float(dt)) return err_set(err, ERR_INPUT, "dtype %s is not supported", dtype_name(dt));
    Shape out;
    if (infer_broadcast(in_shape(g, n, 0), in_shape(g, n, 1), &out, err)) return err_prefix(err, "alpha");
    return infer_set_out(n, 0, dt, &out, err);
}

int64_t flops_prelu(const Graph *g, const Node *n) { (void)g; return out_numel(n); }

/* ---- Cast ---- */

int infer_cast(Graph *g, Node *n, Err *err) {
    int src = in_dtype(g, n, 0);
    Attr *dst_attr = node_attr_find(n, "DstT");
    if (!dst_attr || dst_attr->kind != ATTR_TYPE) return err_set(err, ERR_INPUT, "missing DstT attribute");
    int dst = dst_attr->type;
    int src_attr = node_attr_type(n, "SrcT", src);
    if (src_attr != src)
        return err_set(err, ERR_INPUT, "SrcT is %s but the input is %s", dtype_name(src_attr), dtype_name(src));
    if (!dtype_is_supported(src) || !dtype_is_supported(dst))
        return err_set(err, ERR_INPUT, "cast from %s to %s is not supported", dtype_name(src), dtype_name(dst));
    return infer_set_out(n, 0, dst, in_shape(g, n, 0), err);
}

int64_t flops_cast(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
