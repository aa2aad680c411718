/* ref_conv_backprop.c - reference kernel for Conv2DBackpropInput (the transposed convolution):
 *   dx[b, ih, iw, ci] = sum over (kh, kw, co) with ih = oh*stride - pad_top + kh*dilation
 *                       (and likewise for w) of dy[b, oh, ow, co] * filter[kh, kw, ci, co].
 * Written as a gather over result pixels (each dx element is written once, accumulated in
 * double): for a result row ih and tap kh, the contributing oh is (ih + pad_top - kh*dil) /
 * stride when that division is exact. The filter is first transposed to [KH, KW, Cout, Cin]
 * so that each (tap, co) adds dy * a contiguous row into the Cin accumulators. NCHW is
 * transposed to NHWC and back. */
#include <stdlib.h>
#include <string.h>

#include "ref_nn.h"

/* the output position that tap k reads at input position i, or -1 */
static int64_t source_pos(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t dil, int64_t out_size) {
    int64_t t = i + pad - k * dil;
    if (t < 0 || t % stride) return -1;
    t /= stride;
    return t < out_size ? t : -1;
}

/* w_t is the filter as [KH, KW, Cout, Cin] */
static void backprop_nhwc(const ConvGeom *g, const float *w_t, const float *dy, float *dx, double *acc) {
    const int64_t cin = g->in_c, cout = g->out_c;
    for (int64_t b = 0; b < g->batch; b++)
        for (int64_t ih = 0; ih < g->in_h; ih++)
            for (int64_t iw = 0; iw < g->in_w; iw++) {
                memset(acc, 0, (size_t)cin * sizeof *acc);
                for (int64_t kh = 0; kh < g->k_h; kh++) {
                    int64_t oh = source_pos(ih, kh, g->stride_h, g->pad_top, g->dil_h, g->out_h);
                    if (oh < 0) continue;
                    for (int64_t kw = 0; kw < g->k_w; kw++) {
                        int64_t ow = source_pos(iw, kw, g->stride_w, g->pad_left, g->dil_w, g->out_w);
                        if (ow < 0) continue;
                        const float *dyp = dy + ((b * g->out_h + oh) * g->out_w + ow) * cout;
                        /* acc[ci] += sum over co of dy[co] * filter[kh, kw, ci, co] */
                        ref_axpy_rows(acc, cin, dyp, 1, w_t + (kh * g->k_w + kw) * cout * cin, cin, cout);
                    }
                }
                float *dxp = dx + ((b * g->in_h + ih) * g->in_w + iw) * cin;
                for (int64_t ci = 0; ci < cin; ci++) dxp[ci] = (float)acc[ci];
            }
}

int ref_conv2d_backprop_input(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int64_t sizes[4];
    int count = tensor_to_i64(&in[0], sizes, 4, err);
    if (count < 0) return err_prefix(err, "%s: input_sizes", n->op_name);
    if (ref_require_f32(n, &in[1], "filter", err) || ref_require_f32(n, &in[2], "out_backprop", err)) return -1;
    ConvGeom g;
    if (nn_backprop_input_geom(n, sizes, count, &in[1].shape, &in[2].shape, &g, err)) return -1;
    Shape dx_shape = nn_geom_in_shape(&g);
    if (ref_require_f32(n, &out[0], "output", err) || ref_require_shape(&out[0], &dx_shape, err)) return -1;
    if (shape_numel(&dx_shape) == 0) return 0; /* empty batch */

    float *dx = tensor_mut(&out[0]);
    const float *dy = tensor_data(&in[2]);
    int64_t in_hw = g.in_h * g.in_w, out_hw = g.out_h * g.out_w;
    double *acc = malloc((size_t)g.in_c * sizeof *acc);
    int64_t taps = g.k_h * g.k_w;
    float *w_t = malloc((size_t)(taps * g.in_c * g.out_c) * sizeof *w_t);
    float *dy_nhwc = NULL, *dx_nhwc = NULL;
    if (g.nchw) {
        dy_nhwc = malloc((size_t)(g.batch * out_hw * g.out_c) * sizeof *dy_nhwc);
        dx_nhwc = malloc((size_t)(g.batch * in_hw * g.in_c) * sizeof *dx_nhwc);
    }
    int rc = -1;
    if (!dx || !acc || !w_t || (g.nchw && (!dy_nhwc || !dx_nhwc))) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
        goto done;
    }
    const float *w = tensor_data(&in[1]);
    for (int64_t t = 0; t < taps; t++) /* [ci, co] -> [co, ci] per tap */
        for (int64_t ci = 0; ci < g.in_c; ci++)
            for (int64_t co = 0; co < g.out_c; co++)
                w_t[(t * g.out_c + co) * g.in_c + ci] = w[(t * g.in_c + ci) * g.out_c + co];
    if (g.nchw) {
        ref_nchw_to_nhwc(dy, dy_nhwc, g.batch, g.out_c, out_hw);
        backprop_nhwc(&g, w_t, dy_nhwc, dx_nhwc, acc);
        ref_nhwc_to_nchw(dx_nhwc, dx, g.batch, g.in_c, in_hw);
    } else {
        backprop_nhwc(&g, w_t, dy, dx, acc);
    }
    rc = 0;
done:
    free(acc);
    free(w_t);
    free(dy_nhwc);
    free(dx_nhwc);
    return rc;
}
