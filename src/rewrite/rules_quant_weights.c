/* rules_quant_weights.c - weights-only storage (docs/ops.md): a large float32 Const weight
 * (>= QUANT_WEIGHTS_MIN_ELEMS elements) read only as the weight operand (input 1) of a
 * convolution or matmul is stored small and widened in front of the unchanged float32 op:
 *
 *   weights_fp16:  Const(half) -> Cast(half -> float)            stock TF ops (RULE_TF)
 *   weights_int8:  Const(int8) -> GrappoDequantize(axis, scales)  symmetric per channel,
 *                  [-127, 127], channel = the op's output channel axis
 *
 * The widening node takes the Const's name. Both depend only on constants, so the runtime
 * evaluates them once; what changes is the bytes a saved model stores (and numerics: each
 * weight is rounded once - fp16: relative 2^-11 for normal values; int8: half a step of its
 * channel's scale). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "fold_util.h"
#include "rules_quant.h"

#define QUANT_WEIGHTS_MIN_ELEMS 4096
#define HALF_MAX 65504.0f

/* The per-channel axis of weight input 1 of consumer n (its output channels), or -1 when n is
   not a convolution / matmul. Depthwise [KH, KW, C, M]: axis 2 (C) - the output channel when the
   multiplier M is 1, else M output channels share a scale (one axis cannot express c*M+m). */
static int weight_axis(const Graph *g, const Node *n) {
    bool depthwise;
    const Value *w = node_input_value(g, n, 1);
    if (quant_is_conv(n, &depthwise)) return w->shape.rank == 4 ? (depthwise ? 2 : 3) : -1;
    if (quant_is_matmul(n)) return w->shape.rank == 2 ? (node_attr_b(n, "transpose_b", false) ? 0 : 1) : -1;
    if (n->op == OP_BATCH_MATMUL_V2 && w->shape.rank >= 2)
        return node_attr_b(n, "adj_y", false) ? w->shape.rank - 2 : w->shape.rank - 1;
    return -1;
}

/* a site: consumer i reads a large float Const at input 1 and is its only reader */
static bool weights_site(const Graph *g, const GraphUses *u, int i, Site *s) {
    const Node *n = g->nodes[i];
    if (n->n_inputs < 2 || !quant_node_f32(g, n)) return false;
    int axis = weight_axis(g, n);
    if (axis < 0) return false;
    ValueRef wv = n->inputs[1];
    const Tensor *w = quant_const_f32(g, wv);
    if (!w || tensor_numel(w) < QUANT_WEIGHTS_MIN_ELEMS) return false;
    int idx = -1;
    if (edit_only_reader(g, u, wv, &idx) != i || idx != 1 || fold_has_ctrl_readers(g, u, wv.node)) return false;
    *s = (Site){.n = 2, .nodes = {wv.node, i}, .param = axis};
    return true;
}

/* find is called at every step of a search: it reads shapes and the graph's structure, never
   the weight values (ResNet-50's 25 M values scanned per step cost more than the rest of the
   step together) */
static int find_weights(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        Site s;
        if (weights_site(g, u, i, &s) && sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

/* Const `c` dies; `small` (a new Const) widened by a new node of op `op` named like c takes its
   readers. Returns the widening node or -1. */
static int widen(Graph *g, int c, const Tensor *small, const char *suffix, const char *op, Err *err) {
    char old[1024], base[1100];
    if (fold_free_name(g, c, old, sizeof old, err)) return -1;
    snprintf(base, sizeof base, "%s/%s", old, suffix);
    int k = edit_add_const(g, base, small, err);
    if (k < 0) return -1;
    int w = edit_add_node(g, old, op, (ValueRef[]){{k, 0}}, 1, err);
    if (w < 0) return -1;
    const char *dev = g->nodes[c]->device;
    if (dev && (node_set_device(g->nodes[k], dev, err) || node_set_device(g->nodes[w], dev, err))) return -1;
    if (edit_replace_uses(g, (ValueRef){c, 0}, (ValueRef){w, 0}, err)) return -1;
    return w;
}

static int apply_fp16(Graph *g, const Site *s, Err *err) {
    int c = s->nodes[0];
    const Tensor *w = edit_known(g, (ValueRef){c, 0});
    Tensor h;
    if (tensor_alloc(&h, DT_HALF, &w->shape, err)) return -1;
    const float *x = tensor_data(w);
    uint16_t *y = tensor_mut(&h);
    /* a weight beyond float16's range saturates to +-65504 instead of becoming infinite (the
       accuracy measurement then charges it like any other rounding) */
    for (int64_t i = 0, n_el = tensor_numel(w); i < n_el; i++)
        y[i] = float_to_half(x[i] > HALF_MAX ? HALF_MAX : x[i] < -HALF_MAX ? -HALF_MAX : x[i]);
    int cast = widen(g, c, &h, "fp16", "Cast", err);
    tensor_release(&h);
    if (cast < 0) return -1;
    Node *n = g->nodes[cast];
    if (node_set_attr_type(n, "SrcT", DT_HALF, err) || node_set_attr_type(n, "DstT", DT_FLOAT, err) ||
        node_set_attr_b(n, "Truncate", false, err))
        return -1;
    return 0;
}

static int apply_int8(Graph *g, const Site *s, Err *err) {
    int c = s->nodes[0], axis = (int)s->param;
    const Tensor *w = edit_known(g, (ValueRef){c, 0});
    int64_t channels = w->shape.dim[axis], inner = 1;
    for (int d = axis + 1; d < w->shape.rank; d++) inner *= w->shape.dim[d];
    if (channels < 1 || inner < 1) return err_set(err, ERR_RUNTIME, "empty weight");
    float *scales = malloc((size_t)channels * sizeof *scales);
    if (!scales) return err_set(err, ERR_RUNTIME, "out of memory");
    Tensor q;
    if (quant_weights(w, channels, inner, 127, &q, scales, err)) { free(scales); return -1; }
    int dq = widen(g, c, &q, "int8", "GrappoDequantize", err);
    tensor_release(&q);
    int rc = dq < 0 ? -1 : 0;
    if (!rc) {
        Node *n = g->nodes[dq];
        rc = node_set_attr_i(n, "axis", axis, err) || node_set_attr_list_f(n, "scales", scales, (int)channels, err) ||
                     node_set_attr_i(n, "zero_point", 0, err)
                 ? -1
                 : 0;
    }
    free(scales);
    return rc;
}

const RuleDef weights_fp16 = {
    .name = "weights_fp16",
    .family = "quantize",
    .flags = RULE_PRECISION | RULE_TF,
    .doc = "float32 Const weight (>= 4096 elements) of a conv/matmul => Const float16 + Cast to float32 (halves the "
           "stored bytes; weights rounded to fp16): changes numerics",
    .find = find_weights,
    .apply = apply_fp16,
};

const RuleDef weights_int8 = {
    .name = "weights_int8",
    .family = "quantize",
    .flags = RULE_PRECISION,
    .doc = "float32 Const weight (>= 4096 elements) of a conv/matmul => Const int8 (symmetric per output channel) + "
           "GrappoDequantize (a quarter of the stored bytes): changes numerics",
    .find = find_weights,
    .apply = apply_int8,
};
