/* dnn_eltwise.c - oneDNN eltwise kernels for TensorFlow's unary ops: Relu, Relu6, Elu,
 * LeakyRelu, Sigmoid, Tanh, Exp, Log, Sqrt, Rsqrt, Square, Abs, Neg.
 *
 * The tensor is viewed as one flat vector (an eltwise op does not care about shape), so every
 * layer with the same element count shares one primitive. Mapping to oneDNN algorithms:
 *   Relu relu(0)  Relu6 clip_v2(0,6)  LeakyRelu relu(alpha)  Elu elu(1)  Neg linear(-1,0)
 *   Rsqrt pow(1,-0.5)
 * Declined: Erf (no plain erf eltwise in oneDNN 2.6) and Selu (elu(1.6733) with a linear
 * post-op would be exact, but oneDNN 2.6 sends eltwise-with-post-ops to its ref:any
 * implementation, which was measured to leave dst unwritten). float32 only, except the ops that
 * are exact in any precision (Relu, Relu6, Abs, Neg), which also take bfloat16 where oneDNN
 * has a bf16 kernel for this CPU (none without AVX-512: then they decline).
 * Output may overwrite the input (k->inplace = 0): oneDNN eltwise works in place.
 * NaN inputs (measured): Relu and Relu6 give 0 and Exp gives +inf where the reference gives
 * NaN (oneDNN's max/clamp-based kernels), and Rsqrt as pow(x, -0.5) gives NaN for 0 where the
 * reference (and TensorFlow) give inf; every other op propagates NaN like the reference. So the
 * plan asks native_eltwise.c first, which computes those four in float32 exactly as the
 * reference does (found by fuzz_graph_struct, issue 11); bfloat16 ones still come here. */
#include <stdio.h>

#include "dnn_misc_util.h"

typedef struct EltSpec {
    dnnl_alg_kind_t alg;
    float alpha, beta;
    bool bf16_exact; /* computing in f32 and rounding to bf16 equals the reference's result */
} EltSpec;

/* 1 and *s filled when oneDNN computes op n exactly as the reference does, else 0 */
static int elt_spec(const Node *n, EltSpec *s) {
    *s = (EltSpec){.alg = 0, .alpha = 0, .beta = 0, .bf16_exact = false};
    switch (n->op) {
    case OP_RELU: s->alg = dnnl_eltwise_relu; s->bf16_exact = true; break;
    case OP_RELU6: s->alg = dnnl_eltwise_clip_v2; s->beta = 6; s->bf16_exact = true; break;
    case OP_LEAKY_RELU: s->alg = dnnl_eltwise_relu; s->alpha = node_attr_f(n, "alpha", 0.2f); break;
    case OP_ELU: s->alg = dnnl_eltwise_elu; s->alpha = 1; break;
    case OP_SIGMOID: s->alg = dnnl_eltwise_logistic; break;
    case OP_TANH: s->alg = dnnl_eltwise_tanh; break;
    case OP_EXP: s->alg = dnnl_eltwise_exp; break;
    case OP_LOG: s->alg = dnnl_eltwise_log; break;
    case OP_SQRT: s->alg = dnnl_eltwise_sqrt; break;
    case OP_RSQRT: s->alg = dnnl_eltwise_pow; s->alpha = 1; s->beta = -0.5f; break;
    case OP_SQUARE: s->alg = dnnl_eltwise_square; break;
    case OP_ABS: s->alg = dnnl_eltwise_abs; s->bf16_exact = true; break;
    case OP_NEG: s->alg = dnnl_eltwise_linear; s->alpha = -1; s->bf16_exact = true; break;
    default: return 0; /* Erf, Selu and every non-unary op */
    }
    return 1;
}

int fast_compile_eltwise(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    EltSpec s;
    if (!elt_spec(n, &s) || n->n_inputs != 1 || n->n_outputs != 1) return 0;
    const Value *x = node_input_value(g, n, 0), *y = &n->outputs[0];
    if (!misc_value_ok(x) || !shape_equal(&x->shape, &y->shape) || x->dtype != y->dtype) return 0;
    if (!misc_dtype_ok(x->dtype, s.bf16_exact)) return 0;

    int64_t count = shape_numel(&x->shape);
    dnnl_memory_desc_t md;
    if (dnn_md_plain_dims(&md, 1, &count, x->dtype, err)) return -1;
    char key[256];
    snprintf(key, sizeof key, "eltwise:%d:%.9g:%.9g:%s:%lld", (int)s.alg, s.alpha, s.beta, dtype_name(x->dtype),
             (long long)count);

    dnnl_eltwise_desc_t desc;
    if (dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, s.alg, &md, s.alpha, s.beta) != dnnl_success) return 0;
    MiscKernel *mk;
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_simple(ctx, g, n, key, &desc, &md, &md, &mk, &prim, &cpd, err);
    if (rc <= 0) return rc;
    if (misc_finish(mk, prim, cpd, k, err) < 0) return -1;
    k->inplace = x->known.buf ? -1 : 0; /* a constant input is never overwritten */
    return 1;
}
