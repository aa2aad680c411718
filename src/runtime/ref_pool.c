/* ref_pool.c - reference kernels for MaxPool and AvgPool (2-D windows, NHWC or NCHW).
 * Padded positions take no part: MaxPool's padding acts as -inf, and AvgPool divides by the
 * number of window elements inside the input (TF's rule for SAME; VALID windows are always
 * fully inside). Only the in-bounds part of each window is visited, so the cost is bounded by
 * the input's size whatever ksize says. NCHW is transposed to NHWC and back around the NHWC loop. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_nn.h"

static void pool_nhwc(const ConvGeom *g, bool is_max, const float *x, float *y, double *acc) {
    const int64_t c_n = g->in_c;
    for (int64_t b = 0; b < g->batch; b++)
        for (int64_t oh = 0; oh < g->out_h; oh++)
            for (int64_t ow = 0; ow < g->out_w; ow++) {
                for (int64_t c = 0; c < c_n; c++) acc[c] = is_max ? -INFINITY : 0.0;
                int64_t count = 0;
                /* only the part of the window inside the input: a window of 2^31 over a 4x4
                   input costs 16 steps, not 2^62 */
                int64_t h0 = oh * g->stride_h - g->pad_top, w0 = ow * g->stride_w - g->pad_left;
                int64_t kh_lo = h0 < 0 ? -h0 : 0, kh_hi = g->in_h - h0 < g->k_h ? g->in_h - h0 : g->k_h;
                int64_t kw_lo = w0 < 0 ? -w0 : 0, kw_hi = g->in_w - w0 < g->k_w ? g->in_w - w0 : g->k_w;
                for (int64_t kh = kh_lo; kh < kh_hi; kh++) {
                    int64_t ih = h0 + kh;
                    for (int64_t kw = kw_lo; kw < kw_hi; kw++) {
                        int64_t iw = w0 + kw;
                        const float *xp = x + ((b * g->in_h + ih) * g->in_w + iw) * c_n;
                        count++;
                        if (is_max) {
                            for (int64_t c = 0; c < c_n; c++)
                                if (xp[c] > acc[c]) acc[c] = xp[c];
                        } else {
                            for (int64_t c = 0; c < c_n; c++) acc[c] += xp[c];
                        }
                    }
                }
                float *yp = y + ((b * g->out_h + oh) * g->out_w + ow) * c_n;
                for (int64_t c = 0; c < c_n; c++) yp[c] = (float)(is_max ? acc[c] : count ? acc[c] / (double)count : 0.0);
            }
}

int ref_pool(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    if (ref_require_f32(n, &in[0], "input", err) || ref_require_f32(n, &out[0], "output", err)) return -1;
    ConvGeom g;
    if (nn_pool_geom(n, &in[0].shape, &g, err)) return -1;
    Shape out_shape = nn_geom_out_shape(&g);
    if (ref_require_shape(&out[0], &out_shape, err)) return -1;
    if (shape_numel(&out_shape) == 0) return 0;
    bool is_max = n->op == OP_MAX_POOL;
    float *y = tensor_mut(&out[0]);
    const float *x = tensor_data(&in[0]);
    int64_t in_hw = g.in_h * g.in_w, out_hw = g.out_h * g.out_w;
    double *acc = malloc((size_t)g.in_c * sizeof *acc);
    float *x_nhwc = NULL, *y_nhwc = NULL;
    if (g.nchw) {
        x_nhwc = malloc((size_t)(g.batch * in_hw * g.in_c) * sizeof *x_nhwc);
        y_nhwc = malloc((size_t)(g.batch * out_hw * g.in_c) * sizeof *y_nhwc);
    }
    int rc = -1;
    if (!y || !acc || (g.nchw && (!x_nhwc || !y_nhwc))) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
        goto done;
    }
    if (g.nchw) {
        ref_nchw_to_nhwc(x, x_nhwc, g.batch, g.in_c, in_hw);
        pool_nhwc(&g, is_max, x_nhwc, y_nhwc, acc);
        ref_nhwc_to_nchw(y_nhwc, y, g.batch, g.in_c, out_hw);
    } else {
        pool_nhwc(&g, is_max, x, y, acc);
    }
    rc = 0;
done:
    free(acc);
    free(x_nhwc);
    free(y_nhwc);
    return rc;
}
