/* dnn_resample.c - oneDNN resampling for ResizeBilinear and ResizeNearestNeighbor (NHWC).
 *
 * oneDNN maps output pixel o to the input coordinate (o + 0.5) * in / out - 0.5 (half-pixel
 * centres), so:
 *   ResizeBilinear with half_pixel_centers = true, align_corners = false is TF's rule exactly
 *   (the clamping at the borders agrees too) -> dnnl_resampling_linear. Other flag
 *   combinations use another coordinate rule: declined.
 *   ResizeNearestNeighbor: TF picks floor(o * in / out) (or floor((o + 0.5) * in / out) with
 *   half_pixel_centers); oneDNN rounds its own coordinate. The two agree for some sizes
 *   (integer upsampling) and not for others, and float rounding at exact .5 ties decides
 *   borderline pixels, so the family does not trust a formula: at compile time it runs the
 *   primitive once on a probe image whose pixels hold their own index (h * W + w) and keeps
 *   the kernel only if every output pixel came from the input pixel TF's rule names.
 *   align_corners -> declined.
 * float32 only (bilinear in the reference is float32-only; integer images decline). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn_misc_util.h"

/* TF's nearest-neighbour source index along one axis (ref_resize.c's rule, align_corners off) */
static int64_t tf_nearest(int64_t o, int64_t in, int64_t out, bool half_pixel) {
    float scale = (float)in / (float)out;
    float src = half_pixel ? ((float)o + 0.5f) * scale : (float)o * scale;
    int64_t i = (int64_t)floorf(src);
    if (i > in - 1) i = in - 1;
    if (i < 0) i = 0;
    return i;
}

/* Runs the compiled kernel on an index image; 1 when every output pixel is TF's choice, 0 when
   one differs, -1 on error. */
static int probe_nearest(const FastKernel *k, int dtype, const Shape *xs, const Shape *ys, bool half_pixel, Err *err) {
    int64_t batch = xs->dim[0], ih = xs->dim[1], iw = xs->dim[2], ch = xs->dim[3], oh = ys->dim[1], ow = ys->dim[2];
    if (ih * iw >= ((int64_t)1 << 24)) return 0; /* indices would not be exact in float */
    Tensor x = {0}, y = {0};
    void *scratch = NULL;
    int rc = -1;
    if (tensor_alloc(&x, dtype, xs, err) || tensor_alloc(&y, dtype, ys, err)) goto done;
    if (k->scratch_bytes && !(scratch = aligned_alloc(64, (k->scratch_bytes + 63) & ~(size_t)63))) {
        err_set(err, ERR_RUNTIME, "out of memory");
        goto done;
    }
    float *xp = x.buf->data;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t h = 0; h < ih; h++)
            for (int64_t w = 0; w < iw; w++)
                for (int64_t c = 0; c < ch; c++) xp[((b * ih + h) * iw + w) * ch + c] = (float)(h * iw + w);
    if (k->run(k->state, &x, &y, scratch, err)) goto done;
    const float *yp = y.buf->data;
    rc = 1;
    for (int64_t b = 0; b < batch && rc == 1; b++)
        for (int64_t h = 0; h < oh && rc == 1; h++) {
            int64_t sh = tf_nearest(h, ih, oh, half_pixel);
            for (int64_t w = 0; w < ow && rc == 1; w++) {
                float want = (float)(sh * iw + tf_nearest(w, iw, ow, half_pixel));
                for (int64_t c = 0; c < ch; c++)
                    if (yp[((b * oh + h) * ow + w) * ch + c] != want) { rc = 0; break; }
            }
        }
done:
    free(scratch);
    tensor_release(&x);
    tensor_release(&y);
    return rc;
}

int fast_compile_resample(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if ((n->op != OP_RESIZE_BILINEAR && n->op != OP_RESIZE_NEAREST) || n->n_inputs != 2 || n->n_outputs != 1) return 0;
    bool bilinear = n->op == OP_RESIZE_BILINEAR;
    bool ac = node_attr_b(n, "align_corners", false), hp = node_attr_b(n, "half_pixel_centers", false);
    if (ac || (bilinear && !hp)) return 0;
    const Value *x = node_input_value(g, n, 0), *y = &n->outputs[0];
    if (!misc_value_ok(x) || !misc_value_ok(y) || x->shape.rank != 4 || y->shape.rank != 4) return 0;
    if (x->dtype != DT_FLOAT || y->dtype != DT_FLOAT) return 0;
    const int64_t *xd = x->shape.dim, *yd = y->shape.dim;
    if (xd[0] != yd[0] || xd[3] != yd[3]) return 0;

    /* oneDNN's logical order is (N, C, H, W); acdb is NHWC in memory */
    dnnl_dims_t sd = {xd[0], xd[3], xd[1], xd[2]}, dd = {yd[0], yd[3], yd[1], yd[2]};
    dnnl_memory_desc_t src_md, dst_md;
    if (dnn_check(dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_acdb), "resample source", err) ||
        dnn_check(dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_acdb), "resample destination", err))
        return -1;
    dnnl_alg_kind_t alg = bilinear ? dnnl_resampling_linear : dnnl_resampling_nearest;
    char key[256];
    snprintf(key, sizeof key, "resample:%d:nhwc:%lldx%lldx%lldx%lld:%lldx%lld", (int)alg, (long long)xd[0],
             (long long)xd[1], (long long)xd[2], (long long)xd[3], (long long)yd[1], (long long)yd[2]);

    dnnl_resampling_desc_t desc;
    if (dnnl_resampling_forward_desc_init(&desc, dnnl_forward_inference, alg, NULL, &src_md, &dst_md) != dnnl_success)
        return 0;
    MiscKernel *mk;
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_simple(ctx, g, n, key, &desc, &src_md, &dst_md, &mk, &prim, &cpd, err);
    if (rc <= 0) return rc;
    /* the probe must read the probe image, not a constant input */
    tensor_release(&mk->held[0]);
    if (misc_finish(mk, prim, cpd, k, err) < 0) return -1;
    if (!bilinear) {
        int ok = probe_nearest(k, x->dtype, &x->shape, &y->shape, hp, err);
        if (ok != 1) {
            k->destroy(k->state);
            memset(k, 0, sizeof *k); /* leave k as the plan handed it over */
            k->inplace = -1;
            return ok;
        }
    }
    if (x->known.buf) mk->held[0] = tensor_share(&x->known);
    return 1;
}
