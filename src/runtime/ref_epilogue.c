/* ref_epilogue.c - the fused epilogue shared by _FusedConv2D, the fused depthwise convolutions
 * and _FusedMatMul: bias or batch norm, residual add, activation. It runs as a separate pass
 * over the finished float output, so it computes the unfused composition Conv -> BiasAdd ->
 * Add -> Relu from the same float convolution result; the epilogue steps run in double and
 * round once at the end (the unfused graph rounds after each step: a few ulp apart at most). */
#include <stdlib.h>
#include <string.h>

#include "ref_nn.h"

/* binds a [channels] (or [1] when allow_one) float32 argument */
static int bind_vec(const Node *n, const Tensor *t, const char *what, int64_t channels, bool allow_one, const float **p,
                    Err *err) {
    if (ref_require_f32(n, t, what, err)) return -1;
    int64_t e = tensor_numel(t);
    if (e != channels && !(allow_one && e == 1))
        return err_set(err, ERR_RUNTIME, "%s: %s has %lld elements, expected %lld (one per output channel)", n->op_name, what,
                       (long long)e, (long long)channels);
    *p = tensor_data(t);
    return 0;
}

int ref_epilogue_init(Epilogue *ep, const Node *n, FusedHost host, const Tensor *in, const Shape *out_shape, int c_axis,
                      Err *err) {
    memset(ep, 0, sizeof *ep);
    if (nn_fused_spec(n, host, &ep->spec, err)) return -1;
    const FusedSpec *s = &ep->spec;
    int64_t c = ep->channels = out_shape->dim[c_axis];
    if (s->bias && bind_vec(n, &in[s->arg_bias], "bias", c, false, &ep->bias, err)) return -1;
    if (s->add) {
        const Tensor *a = &in[s->arg_add];
        char sa[96], sb[96];
        if (ref_require_f32(n, a, "Add operand", err)) return -1;
        if (!shape_equal(&a->shape, out_shape))
            return err_set(err, ERR_RUNTIME, "%s: the Add operand %s must have the output's shape %s", n->op_name,
                           shape_str(&a->shape, sa, sizeof sa), shape_str(out_shape, sb, sizeof sb));
        ep->addend = tensor_data(a);
    }
    if (s->act == NN_ACT_PRELU) {
        if (bind_vec(n, &in[s->arg_alpha], "Prelu alpha", c, true, &ep->alpha, err)) return -1;
        ep->n_alpha = tensor_numel(&in[s->arg_alpha]);
    }
    if (s->batchnorm) {
        const float *scale, *var;
        if (bind_vec(n, &in[s->arg_bn], "scale", c, false, &scale, err) ||
            bind_vec(n, &in[s->arg_bn + 1], "offset", c, false, &ep->bn_offset, err) ||
            bind_vec(n, &in[s->arg_bn + 2], "mean", c, false, &ep->bn_mean, err) ||
            bind_vec(n, &in[s->arg_bn + 3], "variance", c, false, &var, err))
            return -1;
        ep->bn_mul = malloc((size_t)(c > 0 ? c : 1) * sizeof *ep->bn_mul);
        if (!ep->bn_mul) return err_set(err, ERR_RUNTIME, "out of memory");
        for (int64_t k = 0; k < c; k++) ep->bn_mul[k] = scale[k] / sqrt((double)var[k] + s->epsilon);
    }
    return 0;
}

void ref_epilogue_apply(const Epilogue *ep, float *y, int64_t outer, int64_t inner) {
    const FusedSpec *s = &ep->spec;
    int64_t c_n = ep->channels;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < c_n; c++) {
            double alpha = s->act == NN_ACT_PRELU ? ep->alpha[ep->n_alpha == 1 ? 0 : c] : s->leakyrelu_alpha;
            int64_t base = (o * c_n + c) * inner;
            for (int64_t i = base; i < base + inner; i++) {
                double v = y[i];
                if (s->bias) v += ep->bias[c];
                if (s->batchnorm) v = (v - ep->bn_mean[c]) * ep->bn_mul[c] + ep->bn_offset[c];
                if (s->add) v += ep->addend[i];
                y[i] = (float)ref_act(s->act, v, alpha);
            }
        }
}

void ref_epilogue_free(Epilogue *ep) {
    free(ep->bn_mul);
    ep->bn_mul = NULL;
}
