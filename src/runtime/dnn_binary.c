/* dnn_binary.c - oneDNN binary kernels for TensorFlow's broadcasting binary ops: Add, AddV2,
 * Sub, Mul, RealDiv, Maximum, Minimum, SquaredDifference (binary sub + an eltwise_square
 * post-op) and BiasAdd (the [C] bias viewed as [1,..,C] or, for NC.. formats, [1,C,1,..]).
 *
 * oneDNN 2.6 broadcasts src1 only: src0 must have the output's shape. When input 0 is the
 * broadcast one, commutative ops (Add, Mul, Maximum, Minimum, SquaredDifference) swap the
 * operands; Sub and RealDiv decline, as do patterns where both inputs broadcast
 * ([2,1,4] + [2,3,1]). Shapes are collapsed first (size-1 dims dropped, neighbouring dims of
 * the same broadcast kind merged), so BiasAdd NHWC becomes [NHW,C] + [1,C], NCHW becomes
 * [N,C,HW] + [1,C,1], any rank fits oneDNN's 6 dims and similar layers share primitives.
 * A constant operand is read from the graph's value (no copy). float32 only, plus bfloat16
 * for Maximum / Minimum, which are exact in any precision. The output may overwrite the
 * full-shape operand (k->inplace), which oneDNN's binary supports.
 * NaN (measured): Maximum / Minimum return the other operand when oneDNN's src0 is NaN, where
 * the reference returns NaN; so those two are left to native_binary.c (found by
 * fuzz_graph_struct, issue 11). The arithmetic ops propagate NaN like the reference. */
#include <stdio.h>
#include <string.h>

#include "dnn_misc_util.h"

typedef struct BinSpec {
    dnnl_alg_kind_t alg, post;
    bool commutative, bf16_exact;
} BinSpec;

static int bin_spec(OpId op, BinSpec *s) {
    *s = (BinSpec){.alg = 0, .post = 0, .commutative = true, .bf16_exact = false};
    switch (op) {
    case OP_ADD: case OP_ADD_V2: case OP_BIAS_ADD: s->alg = dnnl_binary_add; break;
    case OP_MUL: s->alg = dnnl_binary_mul; break;
    /* Maximum / Minimum: not oneDNN, whose max/min drop a NaN in src0 (see the top); the
       native kernels (native_binary.c) propagate NaN as the reference and TensorFlow do */
    case OP_SQUARED_DIFFERENCE: s->alg = dnnl_binary_sub; s->post = dnnl_eltwise_square; break;
    case OP_SUB: s->alg = dnnl_binary_sub; s->commutative = false; break;
    case OP_REAL_DIV: s->alg = dnnl_binary_div; s->commutative = false; break;
    default: return 0; /* Pow and every non-binary op */
    }
    return 1;
}

/* s right-aligned to rank dims (leading 1s) */
static void pad_dims(const Shape *s, int rank, int64_t *dims) {
    for (int d = 0; d < rank; d++) {
        int j = d - (rank - s->rank);
        dims[d] = j >= 0 ? s->dim[j] : 1;
    }
}

/* BiasAdd's bias as a rank-`rank` shape: C on dim 1 for NC.. formats, else on the last dim */
static int bias_dims(const Node *n, const Shape *x, const Shape *bias, int64_t *dims) {
    if (bias->rank != 1 || x->rank < 1) return 0;
    bool first = !strncmp(node_attr_s(n, "data_format", "NHWC"), "NC", 2) && x->rank >= 2;
    for (int d = 0; d < x->rank; d++) dims[d] = 1;
    dims[first ? 1 : x->rank - 1] = bias->dim[0];
    return 1;
}

int fast_compile_binary(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    BinSpec s;
    if (!bin_spec(n->op, &s) || n->n_inputs != 2 || n->n_outputs != 1) return 0;
    const Value *v[2] = {node_input_value(g, n, 0), node_input_value(g, n, 1)};
    const Value *y = &n->outputs[0];
    if (!misc_value_ok(v[0]) || !misc_value_ok(v[1]) || !misc_value_ok(y)) return 0;
    int dt = y->dtype;
    if (v[0]->dtype != dt || v[1]->dtype != dt || !misc_dtype_ok(dt, s.bf16_exact)) return 0;

    /* both operands at the output's rank */
    int rank = y->shape.rank;
    int64_t od[MAX_RANK] = {0}, d0[MAX_RANK] = {0}, d1[MAX_RANK] = {0};
    pad_dims(&y->shape, rank, od);
    pad_dims(&v[0]->shape, rank, d0);
    if (n->op == OP_BIAS_ADD) {
        if (!bias_dims(n, &v[0]->shape, &v[1]->shape, d1) || v[0]->shape.rank != rank) return 0;
    } else {
        if (v[0]->shape.rank > rank || v[1]->shape.rank > rank) return 0;
        pad_dims(&v[1]->shape, rank, d1);
    }
    /* full = the operand with the output's shape (oneDNN's src0), other = src1 */
    int full;
    if (!memcmp(d0, od, (size_t)rank * sizeof *od)) full = 0;
    else if (!memcmp(d1, od, (size_t)rank * sizeof *od) && s.commutative) full = 1;
    else return 0; /* both broadcast, or a non-commutative op with a broadcast src0 */
    const int64_t *dother = full ? d0 : d1;
    int kind[MAX_RANK];
    for (int d = 0; d < rank; d++) {
        if (dother[d] != od[d] && dother[d] != 1) return 0;
        kind[d] = dother[d] == 1 && od[d] != 1; /* 1 = src1 broadcast along d */
    }
    int64_t cd[MAX_RANK], c1[MAX_RANK];
    int ck[MAX_RANK];
    int cr = misc_collapse(rank, od, kind, cd, ck);
    if (cr == 0) { cd[0] = 1; ck[0] = 0; cr = 1; }
    if (cr > 6) return 0;
    for (int d = 0; d < cr; d++) c1[d] = ck[d] ? 1 : cd[d];

    dnnl_memory_desc_t md0, md1;
    if (dnn_md_plain_dims(&md0, cr, cd, dt, err) || dnn_md_plain_dims(&md1, cr, c1, dt, err)) return -1;
    char key[512];
    snprintf(key, sizeof key, "binary:%d:%d:%s", (int)s.alg, (int)s.post, dtype_name(dt));
    misc_key_dims(key, sizeof key, cr, cd);
    misc_key_dims(key, sizeof key, cr, c1);

    dnnl_binary_desc_t desc;
    if (dnnl_binary_desc_init(&desc, s.alg, &md0, &md1, &md0) != dnnl_success) return 0;
    dnnl_primitive_attr_t attr;
    if (misc_attr(&attr, s.post, 0, 0, err)) return -1;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, &desc, attr, ctx->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_primitive(ctx, key, st, pd, &prim, &cpd, err);
    if (rc <= 0) return rc;

    MiscKernel *mk = misc_new(ctx, g, n, err);
    if (!mk) return -1;
    if (misc_arg(mk, DNNL_ARG_SRC_0, MISC_IN, full, &md0, err) ||
        misc_arg(mk, DNNL_ARG_SRC_1, MISC_IN, 1 - full, &md1, err) || misc_arg(mk, DNNL_ARG_DST, MISC_OUT, 0, &md0, err)) {
        misc_free(mk);
        return -1;
    }
    if (misc_finish(mk, prim, cpd, k, err) < 0) return -1;
    k->inplace = v[full]->known.buf ? -1 : full; /* dst may alias src0; constants are never overwritten */
    return 1;
}
