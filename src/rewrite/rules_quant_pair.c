/* rules_quant_pair.c - dequantize_pair: removes float round trips between int8 nodes, exactly.
 *
 * Two forms (Site.param says which):
 *   0  GrappoQuantize(GrappoDequantize(q)) with the same per-tensor scale and zero point and
 *      T equal to q's dtype  =>  q. Exact: (q - zp) * scale is an 8-bit integer times a float
 *      (rounded once to float32), dividing by the same scale gives back q - zp within far less
 *      than half a unit, and q is already within T's range.
 *   1  GrappoQConv2D / GrappoQMatMul (out_type float32) whose output is read only by
 *      GrappoQuantize nodes (T uint8) that all have the same scale and zero point  =>  the
 *      producer writes uint8 itself (out_type uint8, out_scale, out_zero_point) and the
 *      quantize nodes' readers read it. Exact by the ops' definition (docs/ops.md:
 *      GrappoQConv2D(out_type=uint8) == GrappoQuantize(GrappoQConv2D(out_type=float32))).
 * So chains of int8 convolutions stay in uint8 between layers. */
#include <string.h>

#include "calibrate.h"
#include "edit.h"
#include "fold_util.h"
#include "rules_quant.h"

static bool is_graph_output_value(const Graph *g, ValueRef v) {
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k].node == v.node && g->outputs[k].port == v.port) return true;
    return false;
}

typedef struct QuantizeAttrsLite {
    int type;
    float scale;
    int64_t zero_point;
} QuantizeAttrsLite;

/* a GrappoQuantize with plausible attributes, and its parameters */
static bool quantize_node(const Node *n, QuantizeAttrsLite *a) {
    if (n->op != OP_GRAPPO_QUANTIZE) return false;
    a->type = node_attr_type(n, "T", DT_INVALID);
    a->scale = node_attr_f(n, "scale", 0);
    a->zero_point = node_attr_i(n, "zero_point", 0);
    return (a->type == DT_UINT8 || a->type == DT_INT8) && a->scale > 0;
}

static bool same_params(const QuantizeAttrsLite *a, const QuantizeAttrsLite *b) {
    return a->type == b->type && memcmp(&a->scale, &b->scale, sizeof a->scale) == 0 && a->zero_point == b->zero_point;
}

/* form 0: Quantize node i reading a matching per-tensor Dequantize */
static bool round_trip_site(const Graph *g, const GraphUses *u, int i) {
    const Node *q = g->nodes[i];
    QuantizeAttrsLite qa;
    if (!quantize_node(q, &qa) || q->n_inputs != 1) return false;
    const Node *d = g->nodes[q->inputs[0].node];
    if (d->op != OP_GRAPPO_DEQUANTIZE || d->n_inputs != 1) return false;
    if (node_attr_i(d, "axis", -1) != -1) return false;
    float ds = node_attr_f(d, "scale", 0);
    QuantizeAttrsLite da = {node_input_value(g, d, 0)->dtype, ds, node_attr_i(d, "zero_point", 0)};
    if (!same_params(&qa, &da)) return false;
    /* q's output disappears: it must not be fetched by name or be a control dependency */
    return !is_graph_output_value(g, (ValueRef){i, 0}) && !fold_has_ctrl_readers(g, u, i);
}

/* form 1: int8 producer i (float output) read only by identical uint8 Quantize nodes; their
   indices into s->nodes[1..] */
static bool requant_site(const Graph *g, const GraphUses *u, int i, Site *s) {
    const Node *p = g->nodes[i];
    if ((p->op != OP_GRAPPO_QCONV2D && p->op != OP_GRAPPO_QMATMUL) || p->n_outputs != 1) return false;
    if (node_attr_type(p, "out_type", DT_FLOAT) != DT_FLOAT || p->outputs[0].dtype != DT_FLOAT) return false;
    ValueRef v = {i, 0};
    if (is_graph_output_value(g, v)) return false;
    int uses = edit_use_count(g, u, v);
    s->n = 1;
    s->nodes[0] = i;
    QuantizeAttrsLite first = {0};
    /* graph_uses lists a reader once per edge: visit each reader once */
    for (int k = u->use_start[i]; k < u->use_start[i + 1]; k++) {
        int r = u->use_node[k];
        bool seen = false;
        for (int j = 1; j < s->n && !seen; j++) seen = s->nodes[j] == r;
        if (seen) continue;
        const Node *q = g->nodes[r];
        QuantizeAttrsLite qa;
        if (!quantize_node(q, &qa) || qa.type != DT_UINT8 || qa.zero_point < 0 || qa.zero_point > 255) return false;
        if (s->n > 1 && !same_params(&qa, &first)) return false;
        if (s->n == SITE_MAX_NODES) return false;
        if (is_graph_output_value(g, (ValueRef){r, 0}) || fold_has_ctrl_readers(g, u, r)) return false;
        first = qa;
        s->nodes[s->n++] = r;
    }
    /* every use is a quantize's data input (a control reader of p is fine: p stays) */
    return s->n > 1 && uses == s->n - 1;
}

static int find_pair(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        Site s = {0};
        if (round_trip_site(g, u, i)) {
            s.n = 1;
            s.nodes[0] = i;
            s.param = 0;
        } else if (requant_site(g, u, i, &s)) {
            s.param = 1;
        } else {
            continue;
        }
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_pair(Graph *g, const Site *s, Err *err) {
    if (s->param == 0) {
        int q = s->nodes[0];
        ValueRef src = g->nodes[g->nodes[q]->inputs[0].node]->inputs[0];
        return edit_replace_uses(g, (ValueRef){q, 0}, src, err);
    }
    int p = s->nodes[0];
    const Node *q0 = g->nodes[s->nodes[1]];
    Node *pn = g->nodes[p];
    if (node_set_attr_type(pn, "out_type", DT_UINT8, err) || node_set_attr_f(pn, "out_scale", node_attr_f(q0, "scale", 0), err) ||
        node_set_attr_i(pn, "out_zero_point", node_attr_i(q0, "zero_point", 0), err))
        return -1;
    /* the float output the calibration described no longer exists */
    node_attr_remove(pn, CALIB_ATTR_MIN);
    node_attr_remove(pn, CALIB_ATTR_MAX);
    for (int k = 1; k < s->n; k++)
        if (edit_replace_uses(g, (ValueRef){s->nodes[k], 0}, (ValueRef){p, 0}, err)) return -1;
    return 0;
}

const RuleDef dequantize_pair = {
    .name = "dequantize_pair",
    .family = "simplify",
    .flags = RULE_EXACT,
    .doc = "GrappoQuantize(GrappoDequantize(q)) with identical parameters => q; GrappoQConv2D/GrappoQMatMul read only by "
           "identical uint8 GrappoQuantize nodes => the producer writes uint8 (out_scale, out_zero_point) itself",
    .find = find_pair,
    .apply = apply_pair,
};
