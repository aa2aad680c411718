/* rules_quant_util.c - helpers shared by the precision rules (see rules_quant.h). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "edit.h"
#include "fold_util.h"
#include "rules_quant.h"

bool quant_is_conv(const Node *n, bool *depthwise) {
    switch (n->op) {
    case OP_CONV2D:
    case OP_FUSED_CONV2D: *depthwise = false; return true;
    case OP_DEPTHWISE_CONV2D:
    case OP_FUSED_DEPTHWISE:
    case OP_FUSED_DEPTHWISE_INTERNAL: *depthwise = true; return true;
    default: return false;
    }
}

bool quant_is_matmul(const Node *n) { return n->op == OP_MATMUL || n->op == OP_FUSED_MATMUL; }

bool quant_is_fused(const Node *n) {
    return n->op == OP_FUSED_CONV2D || n->op == OP_FUSED_DEPTHWISE || n->op == OP_FUSED_DEPTHWISE_INTERNAL ||
           n->op == OP_FUSED_MATMUL;
}

bool quant_is_f32(const Graph *g, ValueRef v, int rank) {
    const Value *val = graph_value(g, v);
    return val->dtype == DT_FLOAT && shape_is_known(&val->shape) && (rank < 0 || val->shape.rank == rank);
}

const Tensor *quant_const_f32(const Graph *g, ValueRef v) {
    if (!edit_is_const(g, v)) return NULL;
    const Tensor *t = edit_known(g, v);
    return t && t->dtype == DT_FLOAT ? t : NULL;
}

bool quant_node_f32(const Graph *g, const Node *n) {
    return node_attr_type(n, "T", DT_FLOAT) == DT_FLOAT && n->n_outputs >= 1 && n->outputs[0].dtype == DT_FLOAT;
}

/* nearest integer, ties to even, independent of the FPU rounding mode */
static double round_half_even(double t) {
    double r = floor(t), frac = t - r;
    if (frac > 0.5 || (frac == 0.5 && fmod(r, 2.0) != 0)) r += 1;
    return r;
}

int quant_weights(const Tensor *w, int64_t channels, int64_t inner, int qmax, Tensor *q, float *scales, Err *err) {
    if (w->dtype != DT_FLOAT || channels < 1 || inner < 1 || qmax < 1 || qmax > 127)
        return err_set(err, ERR_RUNTIME, "quantize weights: bad arguments");
    int64_t count = tensor_numel(w), outer = count / (channels * inner);
    if (outer * channels * inner != count)
        return err_set(err, ERR_RUNTIME, "quantize weights: %lld elements are not whole channels", (long long)count);
    const float *x = tensor_data(w);
    if (count > 0 && !x) return err_set(err, ERR_RUNTIME, "quantize weights: no data");
    double *amax = calloc((size_t)channels, sizeof *amax);
    if (!amax) return err_set(err, ERR_RUNTIME, "out of memory");
    /* element i = (b * channels + c) * inner + j belongs to channel c */
    for (int64_t b = 0, i = 0; b < outer; b++)
        for (int64_t c = 0; c < channels; c++)
            for (int64_t j = 0; j < inner; j++, i++)
                if (fabs((double)x[i]) > amax[c]) amax[c] = fabs((double)x[i]);
    for (int64_t c = 0; c < channels; c++) {
        float s = (float)(amax[c] / qmax);
        /* an all-zero channel (or one too small for a normal float scale) quantizes to zeros
           with any scale; 1 keeps GrappoDequantize/QConv's "finite, > 0" contract */
        scales[c] = isfinite(s) && s >= FLT_MIN ? s : 1.0f;
    }
    free(amax);
    if (tensor_alloc(q, DT_INT8, &w->shape, err)) return -1;
    int8_t *y = tensor_mut(q);
    if (count > 0 && !y) { tensor_release(q); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int64_t b = 0, i = 0; b < outer; b++)
        for (int64_t c = 0; c < channels; c++) {
            double s = scales[c];
            for (int64_t j = 0; j < inner; j++, i++) {
                double r = isfinite(x[i]) ? round_half_even((double)x[i] / s) : 0;
                y[i] = (int8_t)(r < -qmax ? -qmax : r > qmax ? qmax : r);
            }
        }
    return 0;
}

void quant_act_params(float lo, float hi, float *scale, int32_t *zero_point) {
    if (lo >= 0) {
        float s = (float)((double)hi / 255.0);
        *scale = isfinite(s) && s >= FLT_MIN ? s : 1.0f / 255;
        *zero_point = 0;
        return;
    }
    double l = fmin(lo, 0), h = fmax(hi, 0);
    float s = (float)((h - l) / 255.0);
    if (!(isfinite(s) && s >= FLT_MIN)) s = 1.0f / 255;
    double z = round_half_even(-l / (double)s);
    *scale = s;
    *zero_point = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
}

int quant_take_over(Graph *g, int from, int to, Err *err) {
    char old[1024];
    if (fold_free_name(g, from, old, sizeof old, err) || graph_rename_node(g, to, old, err)) return -1;
    Node *f = g->nodes[from], *t = g->nodes[to];
    if (f->device && node_set_device(t, f->device, err)) return -1;
    for (int k = 0; k < f->n_ctrl; k++)
        if (node_add_ctrl(g, to, f->ctrl[k], err)) return -1;
    if (edit_copy_attr(t, f, CALIB_ATTR_MIN, err) || edit_copy_attr(t, f, CALIB_ATTR_MAX, err) ||
        edit_copy_attr(t, f, CALIB_ATTR_CHMIN, err) || edit_copy_attr(t, f, CALIB_ATTR_CHMAX, err))
        return -1;
    return 0;
}

int quant_add_quantize(Graph *g, const char *base, ValueRef x, float scale, int32_t zero_point, Err *err) {
    /* a value read by several int8 nodes (a block input feeding a conv and the projection
       shortcut) is quantized once: reuse an identical GrappoQuantize of x */
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op != OP_GRAPPO_QUANTIZE || n->n_inputs != 1 || n->inputs[0].node != x.node || n->inputs[0].port != x.port ||
            n->n_ctrl != 0)
            continue;
        float s = node_attr_f(n, "scale", 0);
        if (node_attr_type(n, "T", DT_INVALID) == DT_UINT8 && memcmp(&s, &scale, sizeof s) == 0 &&
            node_attr_i(n, "zero_point", 0) == zero_point)
            return i;
    }
    int q = edit_add_node(g, base, "GrappoQuantize", &x, 1, err);
    if (q < 0) return -1;
    Node *n = g->nodes[q];
    if (node_set_attr_type(n, "T", DT_UINT8, err) || node_set_attr_f(n, "scale", scale, err) ||
        node_set_attr_i(n, "zero_point", zero_point, err))
        return -1;
    return q;
}
