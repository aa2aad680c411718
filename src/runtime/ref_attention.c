/* ref_attention.c - reference kernel for GrappoAttention (docs/ops.md):
 *   out[b,h,i,:] = sum_j p[i,j] v[b,h,j,:],  p[i,:] = softmax_j(scale * q[b,h,i,:]·k[b,h,j,:] + mask[b,h,i,j])
 * with the mask broadcast numpy-style to [B,H,Sq,Sk] (absent: 0). Plain loops, everything in
 * double (dot products, the exponentials and their sum, the weighted sum of v), each output
 * rounded once to float32. The softmax subtracts the row maximum first (no overflow); a row
 * whose scores are all -inf gives NaN, as TensorFlow's Softmax does; no keys (Sk = 0) gives
 * zeros, as the stock-op composition does. */
#include <math.h>
#include <stdlib.h>

#include "ref_nn.h"

/* strides (in elements) of the mask seen as [B,H,Sq,Sk]: 0 along broadcast axes */
static void mask_strides(const Shape *m, int64_t st[4]) {
    int64_t s = 1;
    for (int i = 3; i >= 0; i--) {
        int mi = i - (4 - m->rank);
        int64_t d = mi >= 0 ? m->dim[mi] : 1;
        st[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

int ref_grappo_attention(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    const char *what[4] = {"q", "k", "v", "mask"};
    for (int i = 0; i < n->n_inputs; i++)
        if (ref_require_f32(n, &in[i], what[i], err)) return -1;
    if (ref_require_f32(n, &out[0], "output", err)) return -1;
    const Shape *qs = &in[0].shape, *ks = &in[1].shape, *vs = &in[2].shape;
    if (qs->rank != 4 || ks->rank != 4 || vs->rank != 4)
        return err_set(err, ERR_RUNTIME, "%s: q, k, v must have rank 4", n->op_name);
    int64_t B = qs->dim[0], H = qs->dim[1], Sq = qs->dim[2], D = qs->dim[3], Sk = ks->dim[2], Dv = vs->dim[3];
    if (ks->dim[0] != B || vs->dim[0] != B || ks->dim[1] != H || vs->dim[1] != H || ks->dim[3] != D || vs->dim[2] != Sk)
        return err_set(err, ERR_RUNTIME, "%s: q, k, v shapes disagree", n->op_name);
    Shape os = shape_make(4, (int64_t[]){B, H, Sq, Dv});
    if (ref_require_shape(&out[0], &os, err)) return -1;
    int64_t mst[4] = {0, 0, 0, 0};
    const float *mask = NULL;
    if (n->n_inputs == 4) {
        const Shape *ms = &in[3].shape;
        if (ms->rank > 4) return err_set(err, ERR_RUNTIME, "%s: mask rank above 4", n->op_name);
        const int64_t full[4] = {B, H, Sq, Sk};
        for (int i = 0; i < ms->rank; i++) {
            int64_t d = ms->dim[i];
            if (d != 1 && d != full[4 - ms->rank + i])
                return err_set(err, ERR_RUNTIME, "%s: mask not broadcastable to the scores", n->op_name);
        }
        mask_strides(ms, mst);
        mask = tensor_data(&in[3]);
    }
    /* no keys: the stock ops give an empty softmax and a matmul over an empty axis, i.e.
       zeros, which the zeroed output already holds */
    if (tensor_numel(&out[0]) == 0 || Sk == 0) return 0;
    float *o = tensor_mut(&out[0]);
    double *s = malloc((size_t)(Sk > 0 ? Sk : 1) * sizeof *s);
    double *acc = malloc((size_t)(Dv > 0 ? Dv : 1) * sizeof *acc);
    if (!o || !s || !acc) {
        free(s);
        free(acc);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
    }
    const float *q = tensor_data(&in[0]), *k = tensor_data(&in[1]), *v = tensor_data(&in[2]);
    double scale = node_attr_f(n, "scale", 1.0f);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            int64_t bh = b * H + h;
            const float *qh = q + bh * Sq * D, *kh = k + bh * Sk * D, *vh = v + bh * Sk * Dv;
            for (int64_t i = 0; i < Sq; i++) {
                double mx = -INFINITY;
                for (int64_t j = 0; j < Sk; j++) {
                    double dot = 0;
                    for (int64_t d = 0; d < D; d++) dot += (double)qh[i * D + d] * kh[j * D + d];
                    s[j] = dot * scale;
                    if (mask) s[j] += mask[b * mst[0] + h * mst[1] + i * mst[2] + j * mst[3]];
                    if (s[j] > mx) mx = s[j];
                }
                double sum = 0;
                for (int64_t j = 0; j < Sk; j++) {
                    s[j] = exp(s[j] - mx); /* all -inf: -inf - -inf = NaN, as Softmax */
                    sum += s[j];
                }
                for (int64_t d = 0; d < Dv; d++) acc[d] = 0;
                for (int64_t j = 0; j < Sk; j++)
                    for (int64_t d = 0; d < Dv; d++) acc[d] += s[j] * vh[j * Dv + d];
                float *oi = o + (bh * Sq + i) * Dv;
                for (int64_t d = 0; d < Dv; d++) oi[d] = (float)(acc[d] / sum);
            }
        }
    free(s);
    free(acc);
    return 0;
}
