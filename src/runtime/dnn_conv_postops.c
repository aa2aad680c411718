/* dnn_conv_postops.c - the fused ops of _FusedConv2D and the fused depthwise convolutions as
 * oneDNN sees them: bias argument, sum post-op for the residual Add, eltwise post-op for the
 * activation. Only exact equivalents are mapped; anything else makes the family decline. */
#include <stdio.h>

#include "dnn_conv_internal.h"

bool conv_epi_from_spec(const FusedSpec *s, ConvEpi *e) {
    e->bias = s->bias || s->batchnorm; /* batch norm is folded into weights and bias */
    e->sum = s->add;
    e->act = dnnl_alg_kind_undef;
    e->alpha = e->beta = 0;
    switch (s->act) {
    case NN_ACT_NONE: return true;
    case NN_ACT_RELU: e->act = dnnl_eltwise_relu; return true;
    case NN_ACT_LEAKY_RELU: /* relu with a negative slope: x > 0 ? x : alpha * x, as TF */
        e->act = dnnl_eltwise_relu;
        e->alpha = s->leakyrelu_alpha;
        return true;
    case NN_ACT_RELU6: /* min(max(x, 0), 6) */
        e->act = dnnl_eltwise_clip;
        e->alpha = 0;
        e->beta = 6;
        return true;
    case NN_ACT_ELU: e->act = dnnl_eltwise_elu; e->alpha = 1; return true; /* TF's Elu has alpha 1 */
    case NN_ACT_SIGMOID: e->act = dnnl_eltwise_logistic; return true;
    case NN_ACT_TANH: e->act = dnnl_eltwise_tanh; return true;
    case NN_ACT_HARD_SWISH: e->act = dnnl_eltwise_hardswish; return true; /* x * relu6(x + 3) / 6 in 2.6 */
    case NN_ACT_PRELU:      /* per-channel alpha: no eltwise post-op takes a vector */
    case NN_ACT_GELU_EXACT: /* matmul only */
    case NN_ACT_GELU_APPROX: return false;
    }
    return false;
}

int conv_epi_attr(const ConvEpi *e, dnnl_primitive_attr_t attr, Err *err) {
    if (!e->sum && e->act == dnnl_alg_kind_undef) return 0;
    dnnl_post_ops_t po;
    if (dnn_check(dnnl_post_ops_create(&po), "post-ops", err)) return -1;
    int rc = 0;
    /* dst = act(conv + bias + dst_before): the sum must come before the activation */
    if (e->sum) rc = dnn_check(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op", err);
    if (!rc && e->act != dnnl_alg_kind_undef)
        rc = dnn_check(dnnl_post_ops_append_eltwise(po, 1.0f, e->act, e->alpha, e->beta), "eltwise post-op", err);
    if (!rc) rc = dnn_check(dnnl_primitive_attr_set_post_ops(attr, po), "setting post-ops", err);
    dnnl_post_ops_destroy(po);
    return rc;
}

void conv_epi_key(const ConvEpi *e, char *buf, size_t cap) {
    /* %a prints floats exactly, so two alphas never share a key */
    snprintf(buf, cap, "bias%d|sum%d|act%d(%a,%a)", e->bias, e->sum, (int)e->act, (double)e->alpha, (double)e->beta);
}
