/* rules_quant_residual.c - int8_residual_chain: a residual block's shortcut enters its last int8
 * convolution as uint8, so the residual chain stays in 8 bits.
 *
 *   r (float32, e.g. the previous block's output or a projection shortcut's conv)
 *     -> GrappoQConv2D(x, w, bias, r; fused_ops [BiasAdd, Add(, act)])
 *   =>  GrappoQuantize(r, uint8, s, zp) -> GrappoQConv2D(x, w, bias, q; add_scale s, add_zero_point zp)
 *
 * s and zp are those of a uint8 GrappoQuantize already reading r (the next block's first
 * convolution quantizes the block output: the same tensor is reused, no new node), else they
 * come from r's calibrated range (calibrate.h: residual Add operands are calibrated; rules_quant.h:
 * quant_act_params). A site needs every other reader of r to be such a quantize or another
 * int8 convolution's float addend (which this rule rewrites too): then r's producer is read
 * only by identical uint8 quantizes and dequantize_pair (form 1) makes it write uint8 itself,
 * so the block's output, its next block's input and shortcut are one uint8 tensor and the fp32
 * round trip (dequantized output + fp32 shortcut, then quantize again) is gone.
 *
 * A precision rule: the shortcut is rounded to the uint8 grid of its range (docs/ops.md,
 * GrappoQConv2D, 8-bit addend). The fast runtime runs the sum as oneDNN's sum post-op with
 * that scale and zero point on the uint8 destination (dnn_quant.c). */
#include <stdio.h>
#include <string.h>

#include "../graph/lowp_attrs.h"
#include "calibrate.h"
#include "edit.h"
#include "fold_util.h"
#include "rules_quant.h"

/* the uint8 parameters of a GrappoQuantize node, or false */
static bool u8_quantize(const Node *n, float *scale, int32_t *zp) {
    if (n->op != OP_GRAPPO_QUANTIZE || n->n_inputs != 1 || n->n_ctrl) return false;
    QuantizeAttrs a;
    if (lowp_quantize_attrs(n, &a, NULL) || a.type != DT_UINT8) return false;
    *scale = a.scale;
    *zp = a.zero_point;
    return true;
}

/* node i is a GrappoQConv2D with a fused Add whose addend is float32; *arg gets its index */
static bool f32_addend_conv(const Graph *g, int i, int *arg) {
    const Node *n = g->nodes[i];
    QOpAttrs a;
    if (n->op != OP_GRAPPO_QCONV2D || lowp_qconv_attrs(n, -1, &a, NULL) || !a.spec.add) return false;
    if (a.spec.arg_add >= n->n_inputs || node_input_value(g, n, a.spec.arg_add)->dtype != DT_FLOAT) return false;
    *arg = a.spec.arg_add;
    return true;
}

/* Site: nodes[0] = the conv, param = the quantization parameters' source: the index of an
   existing uint8 quantize of r, or -1 (calibrated range). */
static bool residual_site(const Graph *g, const GraphUses *u, int i, Site *s) {
    int arg;
    if (!f32_addend_conv(g, i, &arg)) return false;
    ValueRef r = g->nodes[i]->inputs[arg];
    const Value *rv = graph_value(g, r);
    if (tensor_has_data(&rv->known) || g->nodes[r.node]->op == OP_CONST || !shape_is_known(&rv->shape)) return false;
    if (fold_is_graph_output(g, r.node)) return false; /* its float value must stay: nothing to gain */
    /* every reader of r: a uint8 quantize with one set of parameters, or an int8 conv's float
       addend (this conv's among them) */
    int existing = -1;
    float scale = 0;
    int32_t zp = 0;
    for (int k = u->use_start[r.node]; k < u->use_start[r.node + 1]; k++) {
        int j = u->use_node[k];
        const Node *rn = g->nodes[j];
        for (int p = 0; p < rn->n_inputs; p++) {
            if (rn->inputs[p].node != r.node || rn->inputs[p].port != r.port) continue;
            float qs;
            int32_t qz;
            int a2;
            if (u8_quantize(rn, &qs, &qz)) {
                if (existing >= 0 && (memcmp(&qs, &scale, sizeof qs) || qz != zp)) return false;
                if (existing < 0) { existing = j; scale = qs; zp = qz; }
            } else if (!(f32_addend_conv(g, j, &a2) && a2 == p)) {
                return false;
            }
        }
    }
    float lo, hi;
    if (existing < 0 && !calib_range(g, r, &lo, &hi)) return false;
    *s = (Site){.n = 1, .nodes = {i}, .param = existing};
    return true;
}

static int find_residual(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        Site s;
        if (residual_site(g, u, i, &s) && sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_residual(Graph *g, const Site *s, Err *err) {
    int c = s->nodes[0], arg;
    if (!f32_addend_conv(g, c, &arg)) return err_set(err, ERR_RUNTIME, "int8_residual_chain: stale site");
    ValueRef r = g->nodes[c]->inputs[arg];
    float scale;
    int32_t zp;
    if (s->param >= 0) {
        if (!u8_quantize(g->nodes[s->param], &scale, &zp)) return err_set(err, ERR_RUNTIME, "int8_residual_chain: stale site");
    } else {
        float lo, hi;
        if (!calib_range(g, r, &lo, &hi)) return err_set(err, ERR_RUNTIME, "int8_residual_chain: the addend lost its range");
        quant_act_params(lo, hi, &scale, &zp);
    }
    char base[1100];
    snprintf(base, sizeof base, "%s/addend_quantize", g->nodes[c]->name);
    int q = quant_add_quantize(g, base, r, scale, zp, err);
    if (q < 0) return -1;
    Node *cn = g->nodes[c];
    cn->inputs[arg] = (ValueRef){q, 0};
    if (node_set_attr_f(cn, "add_scale", scale, err) || node_set_attr_i(cn, "add_zero_point", zp, err)) return -1;
    return 0;
}

const RuleDef int8_residual_chain = {
    .name = "int8_residual_chain",
    .family = "quantize",
    .flags = RULE_PRECISION,
    .doc = "GrappoQConv2D with a fused residual Add of a float32 shortcut r, where r is read only by uint8 GrappoQuantize "
           "nodes and int8 addends => the conv reads GrappoQuantize(r) as a uint8 addend (add_scale, add_zero_point: the "
           "existing quantize's, else r's calibrated range), so dequantize_pair can make r's producer write uint8",
    .find = find_residual,
    .apply = apply_residual,
};
