/* ref_conv.c - reference kernels for Conv2D, DepthwiseConv2dNative and their fused forms
 * (_FusedConv2D, FusedDepthwiseConv2dNative, _FusedDepthwiseConv2dNative).
 *
 * One loop nest serves all of them: a depthwise convolution with multiplier M is a grouped
 * convolution with C groups of one input channel and M outputs each, and its [KH,KW,C,M]
 * filter has exactly the memory layout of the grouped [KH,KW,1,C*M] filter. The loop runs in
 * NHWC: for each output pixel, accumulate over (kh, kw, input channel) into a double vector
 * over output channels; HWIO weights make that innermost loop contiguous. NCHW is transposed
 * to NHWC and back around it. The fused epilogue is a pass over the finished output. */
#include <stdlib.h>
#include <string.h>

#include "ref_nn.h"

/* y[b, oh, ow, :] (NHWC) for every output pixel; acc holds out_c doubles */
static void conv_nhwc(const ConvGeom *g, const float *x, const float *w, float *y, double *acc) {
    const int64_t cout = g->out_c, gic = g->group_in_c, cog = g->out_c / g->groups;
    const bool per_channel = gic == 1 && cog == 1; /* depthwise with multiplier 1 */
    for (int64_t b = 0; b < g->batch; b++)
        for (int64_t oh = 0; oh < g->out_h; oh++)
            for (int64_t ow = 0; ow < g->out_w; ow++) {
                memset(acc, 0, (size_t)cout * sizeof *acc);
                for (int64_t kh = 0; kh < g->k_h; kh++) {
                    int64_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
                    if (ih < 0 || ih >= g->in_h) continue; /* zero padding */
                    for (int64_t kw = 0; kw < g->k_w; kw++) {
                        int64_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
                        if (iw < 0 || iw >= g->in_w) continue;
                        const float *xp = x + ((b * g->in_h + ih) * g->in_w + iw) * g->in_c;
                        const float *wp = w + (kh * g->k_w + kw) * gic * cout;
                        if (per_channel) {
                            ref_mac_vec(acc, xp, wp, cout);
                            continue;
                        }
                        /* group grp: its cog outputs += its gic inputs times filter rows [ci, grp*cog ..) */
                        for (int64_t grp = 0; grp < g->groups; grp++)
                            ref_axpy_rows(acc + grp * cog, cog, xp + grp * gic, 1, wp + grp * cog, cout, gic);
                    }
                }
                float *yp = y + ((b * g->out_h + oh) * g->out_w + ow) * cout;
                for (int64_t c = 0; c < cout; c++) yp[c] = (float)acc[c];
            }
}

static int conv_run(const Node *n, const Tensor *in, Tensor *out, bool depthwise, bool fused, Err *err) {
    ConvGeom g;
    Epilogue ep = {0};
    if (ref_require_f32(n, &in[0], "input", err) || ref_require_f32(n, &in[1], "filter", err)) return -1;
    if (nn_conv_geom(n, depthwise, &in[0].shape, &in[1].shape, &g, err)) return -1;
    Shape out_shape = nn_geom_out_shape(&g);
    if (ref_require_f32(n, &out[0], "output", err) || ref_require_shape(&out[0], &out_shape, err)) return -1;
    if (shape_numel(&out_shape) == 0) return 0; /* empty batch */
    if (fused && ref_epilogue_init(&ep, n, FUSED_HOST_CONV, in, &out_shape, g.nchw ? 1 : 3, err)) return -1;

    float *y = tensor_mut(&out[0]);
    const float *x = tensor_data(&in[0]);
    int64_t in_hw = g.in_h * g.in_w, out_hw = g.out_h * g.out_w;
    float *x_nhwc = NULL, *y_nhwc = NULL;
    double *acc = malloc((size_t)g.out_c * sizeof *acc);
    if (g.nchw) {
        x_nhwc = malloc((size_t)(g.batch * in_hw * g.in_c) * sizeof *x_nhwc);
        y_nhwc = malloc((size_t)(g.batch * out_hw * g.out_c) * sizeof *y_nhwc);
    }
    int rc = -1;
    if (!y || !acc || (g.nchw && (!x_nhwc || !y_nhwc))) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
        goto done;
    }
    if (g.nchw) {
        ref_nchw_to_nhwc(x, x_nhwc, g.batch, g.in_c, in_hw);
        conv_nhwc(&g, x_nhwc, tensor_data(&in[1]), y_nhwc, acc);
        ref_nhwc_to_nchw(y_nhwc, y, g.batch, g.out_c, out_hw);
    } else {
        conv_nhwc(&g, x, tensor_data(&in[1]), y, acc);
    }
    if (fused) {
        if (g.nchw) ref_epilogue_apply(&ep, y, g.batch, out_hw);
        else ref_epilogue_apply(&ep, y, g.batch * out_hw, 1);
    }
    rc = 0;
done:
    free(acc);
    free(x_nhwc);
    free(y_nhwc);
    ref_epilogue_free(&ep);
    return rc;
}

int ref_conv2d(const Node *n, const Tensor *in, Tensor *out, Err *err) { return conv_run(n, in, out, false, false, err); }
int ref_depthwise(const Node *n, const Tensor *in, Tensor *out, Err *err) { return conv_run(n, in, out, true, false, err); }
int ref_fused_conv2d(const Node *n, const Tensor *in, Tensor *out, Err *err) { return conv_run(n, in, out, false, true, err); }
int ref_fused_depthwise(const Node *n, const Tensor *in, Tensor *out, Err *err) { return conv_run(n, in, out, true, true, err); }
