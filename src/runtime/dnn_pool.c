/* dnn_pool.c - oneDNN pooling kernels for MaxPool and AvgPool (NHWC or NCHW; SAME, VALID and,
 * for MaxPool, EXPLICIT padding).
 *
 * Geometry comes from nn_pool_geom, the function the reference kernel and shape inference use,
 * so all three agree on output size and padding. TensorFlow's semantics map exactly:
 * MaxPool ignores padded positions (oneDNN's max pooling never reads padding), AvgPool divides
 * by the number of in-bounds window elements (dnnl_pooling_avg_exclude_padding). oneDNN wants
 * out = (in + pad_l + pad_r - k) / stride + 1, so the right/bottom padding is what makes TF's
 * output size come out (never negative: VALID may leave trailing input rows unread, as TF does).
 * float32 only (the reference pools are float32-only).
 * MaxPool over a window holding nothing above -FLT_MAX (all -inf): oneDNN starts its maximum at
 * -FLT_MAX and returns that, where TensorFlow and the reference give -inf; such outputs are
 * recomputed from the input after the primitive (found by fuzz_graph_struct, issue 11). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../graph/nn_attrs.h"
#include "dnn_misc_util.h"

/* padding after, given TF's output size and the padding before */
static int64_t pad_after(int64_t in, int64_t k, int64_t stride, int64_t out, int64_t before) {
    int64_t p = (out - 1) * stride + k - in - before;
    return p > 0 ? p : 0;
}

/* the oneDNN kernel, then the -FLT_MAX outputs of MaxPool recomputed as the reference does */
typedef struct MaxFix {
    FastKernel inner;
    ConvGeom geo;
} MaxFix;

static float window_max(const ConvGeom *g, const float *x, int64_t i) {
    int64_t c, ow, oh, b;
    if (g->nchw) { ow = i % g->out_w; oh = (i / g->out_w) % g->out_h; c = (i / (g->out_w * g->out_h)) % g->in_c; b = i / (g->out_w * g->out_h * g->in_c); }
    else { c = i % g->in_c; ow = (i / g->in_c) % g->out_w; oh = (i / (g->in_c * g->out_w)) % g->out_h; b = i / (g->in_c * g->out_w * g->out_h); }
    float acc = -INFINITY;
    for (int64_t kh = 0; kh < g->k_h; kh++) {
        int64_t ih = oh * g->stride_h - g->pad_top + kh;
        if (ih < 0 || ih >= g->in_h) continue;
        for (int64_t kw = 0; kw < g->k_w; kw++) {
            int64_t iw = ow * g->stride_w - g->pad_left + kw;
            if (iw < 0 || iw >= g->in_w) continue;
            int64_t at = g->nchw ? ((b * g->in_c + c) * g->in_h + ih) * g->in_w + iw : ((b * g->in_h + ih) * g->in_w + iw) * g->in_c + c;
            if (x[at] > acc) acc = x[at];
        }
    }
    return acc;
}

static int maxfix_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    MaxFix *f = state;
    if (f->inner.run(f->inner.state, in, out, scratch, err)) return -1;
    float *y = out[0].buf ? out[0].buf->data : NULL;
    const float *x = tensor_data(&in[0]);
    if (!y || !x) return 0;
    int64_t n = f->geo.batch * f->geo.out_h * f->geo.out_w * f->geo.in_c;
    for (int64_t i = 0; i < n; i++)
        if (y[i] == -FLT_MAX) y[i] = window_max(&f->geo, x, i);
    return 0;
}

static void maxfix_destroy(void *state) {
    MaxFix *f = state;
    if (f->inner.destroy) f->inner.destroy(f->inner.state);
    free(f);
}

int fast_compile_pool(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if ((n->op != OP_MAX_POOL && n->op != OP_AVG_POOL) || n->n_inputs != 1 || n->n_outputs != 1) return 0;
    const Value *x = node_input_value(g, n, 0), *y = &n->outputs[0];
    if (!misc_value_ok(x) || !misc_value_ok(y) || x->dtype != DT_FLOAT || y->dtype != DT_FLOAT) return 0;
    ConvGeom geo;
    Err ignored;
    if (nn_pool_geom(n, &x->shape, &geo, &ignored)) return 0; /* the reference reports the error */
    Shape want = nn_geom_out_shape(&geo);
    if (!shape_equal(&want, &y->shape)) return 0;
    if (nn_geom_exceeds_input(&geo)) return 0; /* huge windows: the reference kernel */

    bool is_max = n->op == OP_MAX_POOL;
    dnnl_dims_t src = {geo.batch, geo.in_c, geo.in_h, geo.in_w}, dst = {geo.batch, geo.in_c, geo.out_h, geo.out_w};
    dnnl_dims_t strides = {geo.stride_h, geo.stride_w}, kernel = {geo.k_h, geo.k_w};
    dnnl_dims_t pad_l = {geo.pad_top, geo.pad_left};
    dnnl_dims_t pad_r = {pad_after(geo.in_h, geo.k_h, geo.stride_h, geo.out_h, geo.pad_top),
                         pad_after(geo.in_w, geo.k_w, geo.stride_w, geo.out_w, geo.pad_left)};
    dnnl_format_tag_t tag = geo.nchw ? dnnl_nchw : dnnl_nhwc;
    dnnl_memory_desc_t src_md, dst_md;
    if (dnn_check(dnnl_memory_desc_init_by_tag(&src_md, 4, src, dnnl_f32, tag), "pool source", err) ||
        dnn_check(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst, dnnl_f32, tag), "pool destination", err))
        return -1;

    dnnl_alg_kind_t alg = is_max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
    char key[512];
    snprintf(key, sizeof key, "pool:%d:%s:%lldx%lldx%lldx%lld:k%lldx%lld:s%lldx%lld:p%lld,%lld,%lld,%lld", (int)alg,
             geo.nchw ? "nchw" : "nhwc", (long long)geo.batch, (long long)geo.in_c, (long long)geo.in_h,
             (long long)geo.in_w, (long long)geo.k_h, (long long)geo.k_w, (long long)geo.stride_h,
             (long long)geo.stride_w, (long long)pad_l[0], (long long)pad_l[1], (long long)pad_r[0], (long long)pad_r[1]);

    dnnl_pooling_desc_t desc;
    if (dnnl_pooling_forward_desc_init(&desc, dnnl_forward_inference, alg, &src_md, &dst_md, strides, kernel, pad_l, pad_r) !=
        dnnl_success)
        return 0;
    MiscKernel *mk;
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_simple(ctx, g, n, key, &desc, &src_md, &dst_md, &mk, &prim, &cpd, err);
    if (rc <= 0) return rc;
    if (misc_finish(mk, prim, cpd, k, err) < 0) return -1;
    if (!is_max) return 1;
    MaxFix *f = malloc(sizeof *f);
    if (!f) {
        if (k->destroy) k->destroy(k->state);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    f->inner = *k;
    f->geo = geo;
    k->state = f;
    k->run = maxfix_run;
    k->destroy = maxfix_destroy;
    k->inplace = -1; /* the input is read again after the primitive */
    return 1;
}
