/* ref_quant.c - reference kernels for grappo's int8 ops: GrappoQuantize, GrappoDequantize,
 * GrappoQConv2D and GrappoQMatMul. Their definitions are in docs/ops.md; these kernels are
 * that definition in code, the oracle for dnn_quant.c and for the quantization rewrites.
 *
 * The convolution and matmul compute the exact value of the float computation on dequantized
 * operands: sum((x - x_zp) * x_scale * w * w_scale) = x_scale * w_scale * sum((x - x_zp) * w),
 * where the integer sum is exact in int64 and the scale product x_scale * w_scale is exact in
 * double (24-bit mantissas), so the only rounding before the epilogue is one double multiply.
 * The epilogue (bias, addend, activation) runs in double, then the result is rounded to
 * float32; a uint8 output is that float32 value quantized exactly like GrappoQuantize, so
 * "GrappoQConv2D(out_type=uint8)" == "GrappoQuantize(GrappoQConv2D(out_type=float32))". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/lowp_attrs.h"
#include "ref_lowp.h"
#include "ref_nn.h"

int64_t lowp_quantize_one(float x, float scale, int32_t zero_point, int dtype) {
    int64_t lo = dtype == DT_INT8 ? -128 : 0, hi = dtype == DT_INT8 ? 127 : 255;
    float t = x / scale; /* the IEEE float32 quotient, by definition */
    if (isnan(t)) return zero_point;
    double r = floor((double)t), frac = (double)t - r; /* exact: t is a float */
    if (frac > 0.5 || (frac == 0.5 && fmod(r, 2.0) != 0)) r += 1; /* half to even */
    r += zero_point;
    return r < (double)lo ? lo : r > (double)hi ? hi : (int64_t)r;
}

int ref_quantize(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    QuantizeAttrs a;
    if (lowp_quantize_attrs(n, &a, err)) return -1;
    if (ref_require_f32(n, &in[0], "x", err)) return -1;
    if (out[0].dtype != a.type || tensor_numel(&out[0]) != tensor_numel(&in[0]))
        return err_set(err, ERR_RUNTIME, "%s: output must be %s with the input's size", n->op_name, dtype_name(a.type));
    int64_t count = tensor_numel(&in[0]);
    if (count == 0) return 0;
    const float *x = tensor_data(&in[0]);
    void *y = tensor_mut(&out[0]);
    if (!x || !y) return err_set(err, ERR_RUNTIME, "%s: missing input or output data", n->op_name);
    for (int64_t i = 0; i < count; i++) {
        int64_t q = lowp_quantize_one(x[i], a.scale, a.zero_point, a.type);
        if (a.type == DT_INT8) ((int8_t *)y)[i] = (int8_t)q;
        else ((uint8_t *)y)[i] = (uint8_t)q;
    }
    return 0;
}

static int64_t int_at(const void *p, int dtype, int64_t i) {
    switch (dtype) {
    case DT_INT8: return ((const int8_t *)p)[i];
    case DT_UINT8: return ((const uint8_t *)p)[i];
    default: return ((const int32_t *)p)[i];
    }
}

int ref_dequantize(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    DequantizeAttrs a;
    if (lowp_dequantize_attrs(n, in[0].dtype, &in[0].shape, &a, err)) return -1;
    if (ref_require_f32(n, &out[0], "output", err)) return -1;
    if (tensor_numel(&out[0]) != tensor_numel(&in[0]))
        return err_set(err, ERR_RUNTIME, "%s: output size differs from the input's", n->op_name);
    int64_t count = tensor_numel(&in[0]);
    if (count == 0) return 0;
    const void *q = tensor_data(&in[0]);
    float *y = tensor_mut(&out[0]);
    if (!q || !y) return err_set(err, ERR_RUNTIME, "%s: missing input or output data", n->op_name);
    /* element i belongs to channel (i / inner) % channels along axis */
    int64_t inner = 1, channels = 1;
    if (a.axis >= 0) {
        channels = in[0].shape.dim[a.axis];
        for (int d = (int)a.axis + 1; d < in[0].shape.rank; d++) inner *= in[0].shape.dim[d];
    }
    for (int64_t i = 0; i < count; i++) {
        int64_t c = a.axis >= 0 ? (i / inner) % channels : 0;
        /* (q - zp) has at most 33 bits and the scale 24: the double product is exact, so the
           float result is correctly rounded */
        y[i] = (float)((double)(int_at(q, in[0].dtype, i) - a.zero_point) * (double)a.scales[c]);
    }
    return 0;
}

/* ---- GrappoQConv2D / GrappoQMatMul ---- */

/* The epilogue of one output row: y[c] = act(acc[c] * x_scale * w_scale[c] + bias[c]
   (+ addend[c])), stored as float32 or quantized to uint8. An 8-bit addend's real value
   (a - add_zero_point) * add_scale is exact in double (a 9-bit integer times a float). */
typedef struct QEpilogue {
    const QOpAttrs *a;
    const float *bias;
    int64_t channels;
    int add_dtype; /* the addend's dtype (float32, uint8, int8) */
} QEpilogue;

static double addend_at(const QEpilogue *ep, const void *addend, int64_t c) {
    const QOpAttrs *a = ep->a;
    switch (ep->add_dtype) {
    case DT_UINT8: return (double)(((const uint8_t *)addend)[c] - a->add_zero_point) * (double)a->add_scale;
    case DT_INT8: return (double)(((const int8_t *)addend)[c] - a->add_zero_point) * (double)a->add_scale;
    default: return ((const float *)addend)[c];
    }
}

static void q_epilogue_row(const QEpilogue *ep, const int64_t *acc, const void *addend, void *dst) {
    const QOpAttrs *a = ep->a;
    for (int64_t c = 0; c < ep->channels; c++) {
        double v = (double)acc[c] * ((double)a->x_scale * (double)a->w_scales[c]) + ep->bias[c];
        if (addend) v += addend_at(ep, addend, c);
        float y = (float)ref_act(a->spec.act, v, 0);
        if (a->out_type == DT_UINT8) ((uint8_t *)dst)[c] = (uint8_t)lowp_quantize_one(y, a->out_scale, a->out_zero_point, DT_UINT8);
        else ((float *)dst)[c] = y;
    }
}

/* the addend (input a->spec.arg_add), when fused: its dtype against the attributes, its size;
   *dtype gets its dtype (float32 when there is none) */
static int require_addend(const Node *n, const Tensor *in, const QOpAttrs *a, int64_t numel, int *dtype, Err *err) {
    *dtype = DT_FLOAT;
    if (!a->spec.add) return 0;
    const Tensor *t = &in[a->spec.arg_add];
    if (lowp_check_addend(a, t->dtype, err)) return err_prefix(err, "%s", n->op_name);
    *dtype = t->dtype;
    if (tensor_numel(t) != numel)
        return err_set(err, ERR_RUNTIME, "%s: addend has %lld elements, expected %lld", n->op_name, (long long)tensor_numel(t),
                       (long long)numel);
    if (numel > 0 && !tensor_data(t)) return err_set(err, ERR_RUNTIME, "%s: addend has no data", n->op_name);
    return 0;
}

/* input i must be dtype with numel elements (the kernels index raw data) */
static int require(const Node *n, const Tensor *t, int dtype, int64_t numel, const char *what, Err *err) {
    if (t->dtype != dtype) return err_set(err, ERR_RUNTIME, "%s: %s must be %s, got %s", n->op_name, what, dtype_name(dtype), dtype_name(t->dtype));
    if (tensor_numel(t) != numel)
        return err_set(err, ERR_RUNTIME, "%s: %s has %lld elements, expected %lld", n->op_name, what, (long long)tensor_numel(t),
                       (long long)numel);
    if (numel > 0 && !tensor_data(t)) return err_set(err, ERR_RUNTIME, "%s: %s has no data", n->op_name, what);
    return 0;
}

int ref_qconv2d(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    ConvGeom g;
    QOpAttrs a;
    if (lowp_qconv_attrs(n, -1, &a, err) || nn_conv_geom(n, a.depthwise, &in[0].shape, &in[1].shape, &g, err)) return -1;
    if (lowp_qconv_attrs(n, g.out_c, &a, err)) return -1;
    if (!a.depthwise && g.groups != 1) return err_set(err, ERR_RUNTIME, "%s: grouped convolution is not supported", n->op_name);
    Shape os = nn_geom_out_shape(&g);
    int64_t out_n = shape_numel(&os);
    int add_dt;
    if (require(n, &in[0], DT_UINT8, tensor_numel(&in[0]), "x", err) ||
        require(n, &in[1], DT_INT8, tensor_numel(&in[1]), "filter", err) ||
        require(n, &in[2], DT_FLOAT, g.out_c, "bias", err) || require_addend(n, in, &a, out_n, &add_dt, err) ||
        require(n, &out[0], a.out_type, out_n, "output", err) || ref_require_shape(&out[0], &os, err))
        return -1;
    if (out_n == 0) return 0;
    const uint8_t *x = tensor_data(&in[0]);
    const int8_t *w = tensor_data(&in[1]);
    const char *addend = a.spec.add ? tensor_data(&in[a.spec.arg_add]) : NULL;
    const size_t add_elem = dtype_size(add_dt);
    uint8_t *y = tensor_mut(&out[0]);
    int64_t *acc = malloc((size_t)g.out_c * sizeof *acc);
    if (!y || !acc) {
        free(acc);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
    }
    QEpilogue ep = {&a, tensor_data(&in[2]), g.out_c, add_dt};
    const int64_t cout = g.out_c, gic = g.group_in_c, cog = g.out_c / g.groups;
    const size_t out_elem = dtype_size(a.out_type);
    for (int64_t b = 0; b < g.batch; b++)
        for (int64_t oh = 0; oh < g.out_h; oh++)
            for (int64_t ow = 0; ow < g.out_w; ow++) {
                memset(acc, 0, (size_t)cout * sizeof *acc);
                for (int64_t kh = 0; kh < g.k_h; kh++) {
                    int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
                    if (ih < 0 || ih >= g.in_h) continue; /* padding is 0 in the real domain: q = x_zp */
                    for (int64_t kw = 0; kw < g.k_w; kw++) {
                        int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
                        if (iw < 0 || iw >= g.in_w) continue;
                        const uint8_t *xp = x + ((b * g.in_h + ih) * g.in_w + iw) * g.in_c;
                        const int8_t *wp = w + (kh * g.k_w + kw) * gic * cout;
                        /* output channel oc of group grp = oc / cog reads input channels grp*gic .. +gic */
                        for (int64_t oc = 0; oc < cout; oc++) {
                            int64_t grp = oc / cog, s = 0;
                            for (int64_t ci = 0; ci < gic; ci++)
                                s += (int64_t)(xp[grp * gic + ci] - a.x_zero_point) * wp[ci * cout + oc];
                            acc[oc] += s;
                        }
                    }
                }
                int64_t pix = (b * g.out_h + oh) * g.out_w + ow;
                q_epilogue_row(&ep, acc, addend ? addend + (size_t)(pix * cout) * add_elem : NULL, y + (size_t)(pix * cout) * out_elem);
            }
    free(acc);
    return 0;
}

int ref_qmatmul(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    QOpAttrs a;
    int64_t m, k, nn;
    bool tb = node_attr_b(n, "transpose_b", false);
    if (lowp_qmatmul_dims(&in[0].shape, &in[1].shape, tb, &m, &k, &nn, err) || lowp_qmatmul_attrs(n, nn, &a, err)) return -1;
    int add_dt;
    if (require(n, &in[0], DT_UINT8, m * k, "x", err) || require(n, &in[1], DT_INT8, k * nn, "w", err) ||
        require(n, &in[2], DT_FLOAT, nn, "bias", err) || require(n, &out[0], a.out_type, m * nn, "output", err) ||
        require_addend(n, in, &a, m * nn, &add_dt, err))
        return -1;
    if (m * nn == 0) return 0;
    const uint8_t *x = tensor_data(&in[0]);
    const int8_t *w = tensor_data(&in[1]);
    uint8_t *y = tensor_mut(&out[0]);
    int64_t *acc = malloc((size_t)nn * sizeof *acc);
    if (!y || !acc) {
        free(acc);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
    }
    QEpilogue ep = {&a, tensor_data(&in[2]), nn, add_dt};
    const char *addend = a.spec.add ? tensor_data(&in[a.spec.arg_add]) : NULL;
    const size_t add_elem = dtype_size(add_dt);
    /* w(p, j): row-major [K, N], or [N, K] when transposed */
    int64_t w_row = tb ? 1 : nn, w_col = tb ? k : 1;
    const size_t out_elem = dtype_size(a.out_type);
    for (int64_t i = 0; i < m; i++) {
        memset(acc, 0, (size_t)nn * sizeof *acc);
        for (int64_t p = 0; p < k; p++) {
            int64_t xv = (int64_t)x[i * k + p] - a.x_zero_point;
            if (!xv) continue;
            for (int64_t j = 0; j < nn; j++) acc[j] += xv * w[p * w_row + j * w_col];
        }
        q_epilogue_row(&ep, acc, addend ? addend + (size_t)(i * nn) * add_elem : NULL, y + (size_t)(i * nn) * out_elem);
    }
    free(acc);
    return 0;
}
