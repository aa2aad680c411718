/* dnn_matmul_geom.c - reads a matmul node into what oneDNN's matmul needs: operand dims and
 * strides (transposes as strides, batch dims right-aligned and padded with leading 1s, which
 * oneDNN broadcasts), the post-ops a _FusedMatMul maps to, and the primitive cache key.
 * Anything that does not map exactly is reported as unsupported so the node declines. */
#include <stdio.h>
#include <string.h>

#include "../graph/nn_attrs.h"
#include "dnn_matmul.h"

/* A stored operand of shape s as a rank-r logical matrix stack: pad with leading 1s, row-major
   strides of the stored tensor, then (trans) swap the last two dims together with their
   strides, so oneDNN reads the transpose in place. */
static bool operand(const Shape *s, int r, bool trans, int64_t *dims, int64_t *str) {
    if (s->rank < 2 || s->rank > r) return false;
    int pad = r - s->rank;
    for (int d = 0; d < r; d++) dims[d] = d < pad ? 1 : s->dim[d - pad];
    int64_t st = 1;
    for (int d = r - 1; d >= 0; d--) {
        str[d] = st;
        st *= dims[d];
    }
    if (trans) {
        int64_t t = dims[r - 2];
        dims[r - 2] = dims[r - 1];
        dims[r - 1] = t;
        t = str[r - 2];
        str[r - 2] = str[r - 1];
        str[r - 1] = t;
    }
    return true;
}

static bool is_batch(const Node *n) {
    return n->op == OP_BATCH_MATMUL || n->op == OP_BATCH_MATMUL_V2 || n->op == OP_BATCH_MATMUL_V3;
}

bool mm_geom(const Graph *g, const Node *n, MmGeom *m) {
    memset(m, 0, sizeof *m);
    if (n->n_inputs < 2 || n->n_outputs < 1) return false;
    bool batch = is_batch(n);
    bool ta = node_attr_b(n, batch ? "adj_x" : "transpose_a", false);
    bool tb = node_attr_b(n, batch ? "adj_y" : "transpose_b", false);
    const Value *a = node_input_value(g, n, 0), *b = node_input_value(g, n, 1), *c = &n->outputs[0];
    m->dtype = a->dtype;
    /* BatchMatMulV3's Ta / Tb / Tout may differ (e.g. int8 x int8 -> int32): only the
       float32 and bfloat16 cases with one dtype throughout are taken */
    if (m->dtype != DT_FLOAT && m->dtype != DT_BFLOAT16) return false;
    if (b->dtype != m->dtype || c->dtype != m->dtype) return false;
    if (!shape_is_known(&a->shape) || !shape_is_known(&b->shape) || !shape_is_known(&c->shape)) return false;
    int r = m->rank = c->shape.rank;
    if (r < 2 || r > DNNL_MAX_NDIMS || (!batch && r != 2)) return false;
    if (shape_numel(&c->shape) <= 0) return false; /* nothing to compute: the reference does it */
    if (!operand(&a->shape, r, ta, m->a_dims, m->a_str) || !operand(&b->shape, r, tb, m->b_dims, m->b_str))
        return false;
    int64_t st = 1;
    for (int d = r - 1; d >= 0; d--) {
        m->c_dims[d] = c->shape.dim[d];
        m->c_str[d] = st;
        st *= m->c_dims[d];
    }
    /* M, N and K must agree (shape inference checked them; the kernel must not trust a
       graph whose shapes were set by hand), K > 0 (an empty sum is the reference's job) */
    if (m->a_dims[r - 2] != m->c_dims[r - 2] || m->b_dims[r - 1] != m->c_dims[r - 1]) return false;
    if (m->a_dims[r - 1] != m->b_dims[r - 2] || m->a_dims[r - 1] <= 0) return false;
    for (int d = 0; d < r - 2; d++) /* oneDNN broadcasts a batch dim of 1, nothing else */
        if ((m->a_dims[d] != m->c_dims[d] && m->a_dims[d] != 1) || (m->b_dims[d] != m->c_dims[d] && m->b_dims[d] != 1))
            return false;
    return true;
}

/* the eltwise post-op computing act exactly as ref_act does */
static bool act_alg(NnAct act, float leaky_alpha, MmPost *p) {
    p->act = true;
    p->alpha = p->beta = 0;
    switch (act) {
    case NN_ACT_NONE: p->act = false; return true;
    case NN_ACT_RELU: p->alg = dnnl_eltwise_relu; return true;
    case NN_ACT_RELU6: p->alg = dnnl_eltwise_clip; p->beta = 6; return true; /* clip(x, 0, 6) */
    case NN_ACT_ELU: p->alg = dnnl_eltwise_elu; p->alpha = 1; return true;
    case NN_ACT_LEAKY_RELU: p->alg = dnnl_eltwise_relu; p->alpha = leaky_alpha; return true;
    case NN_ACT_SIGMOID: p->alg = dnnl_eltwise_logistic; return true;
    case NN_ACT_TANH: p->alg = dnnl_eltwise_tanh; return true;
    case NN_ACT_HARD_SWISH: p->alg = dnnl_eltwise_hardswish; return true; /* x * relu6(x + 3) / 6 */
    case NN_ACT_GELU_EXACT: p->alg = dnnl_eltwise_gelu_erf; return true;
    case NN_ACT_GELU_APPROX: p->alg = dnnl_eltwise_gelu_tanh; return true;
    case NN_ACT_PRELU: return false; /* per-channel alpha from an input: not mapped */
    }
    return false;
}

bool mm_post(const Graph *g, const Node *n, const MmGeom *m, MmPost *p) {
    memset(p, 0, sizeof *p);
    p->arg_bias = p->arg_add = -1;
    if (n->op != OP_FUSED_MATMUL) return true;
    FusedSpec s;
    if (nn_fused_spec(n, FUSED_HOST_MATMUL, &s, NULL)) return false; /* unknown fused op */
    if (s.batchnorm || !s.bias || m->rank != 2) return false;
    const Value *bias = node_input_value(g, n, s.arg_bias);
    if (bias->shape.rank != 1 || bias->shape.dim[0] != m->c_dims[1]) return false;
    if (bias->dtype != DT_FLOAT && bias->dtype != m->dtype) return false;
    p->bias = true;
    p->arg_bias = s.arg_bias;
    p->bias_dtype = bias->dtype;
    if (bias->dtype == DT_BFLOAT16 && bias->known.buf) { /* f32 bias: what every bf16 kernel takes */
        p->bias_dtype = DT_FLOAT;
        p->bias_widen = true;
    }
    if (s.add) {
        const Value *add = node_input_value(g, n, s.arg_add);
        if (add->dtype != m->dtype || !shape_equal(&add->shape, &n->outputs[0].shape)) return false;
        p->sum = true;
        p->arg_add = s.arg_add;
    }
    return act_alg(s.act, s.leakyrelu_alpha, p);
}

static size_t put(char *key, size_t cap, size_t at, const char *what, int r, const int64_t *v) {
    if (at >= cap) return at;
    at += (size_t)snprintf(key + at, cap - at, "%s", what);
    for (int d = 0; d < r && at < cap; d++)
        at += (size_t)snprintf(key + at, cap - at, "%s%lld", d ? "," : "", (long long)v[d]);
    return at;
}

void mm_key(const MmGeom *m, const MmPost *p, bool const_b, char *key, size_t cap) {
    size_t at = (size_t)snprintf(key, cap, "matmul %s", dtype_name(m->dtype));
    at = put(key, cap, at, " a=", m->rank, m->a_dims);
    at = put(key, cap, at, "/", m->rank, m->a_str);
    at = put(key, cap, at, " b=", m->rank, m->b_dims);
    at = const_b ? put(key, cap, at, "/any", 0, NULL) : put(key, cap, at, "/", m->rank, m->b_str);
    at = put(key, cap, at, " c=", m->rank, m->c_dims);
    if (at < cap)
        snprintf(key + at, cap - at, " bias=%s sum=%d act=%d:%a:%a", p->bias ? dtype_name(p->bias_dtype) : "-", p->sum,
                 p->act ? (int)p->alg : 0, (double)p->alpha, (double)p->beta);
}
