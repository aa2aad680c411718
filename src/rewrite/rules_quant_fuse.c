/* rules_quant_fuse.c - int8_fuse_add: a residual Add (and the Relu / Relu6 after it) moves into
 * the int8 convolution or matmul that produces one of its operands:
 *
 *   GrappoQConv2D / GrappoQMatMul(fused_ops [BiasAdd], out float32) -> Add/AddV2(y, r) [-> Relu | Relu6]
 *     =>  GrappoQConv2D / GrappoQMatMul(x, w, bias, r; fused_ops [BiasAdd, Add [, Relu | Relu6]])
 *
 * In ResNets the batch norm of a block's last convolution is folded into its weights (so the
 * float fuse_residual_add, which wants a BiasAdd epilogue, never sees that Add), and the int8
 * rewrite then leaves Add and Relu as float ops after the int8 node; in BERT quantize_matmul_*
 * writes a dense layer's fused residual Add as an AddV2 after the GrappoQMatMul. Fused, the
 * fast runtime runs them as oneDNN post-ops (sum into the addend's buffer, then eltwise;
 * docs/ops.md).
 *
 * Exact in real arithmetic: the same function of the same inputs. Rounding: the int8 node's
 * epilogue is computed in double and rounded to float32 once, where the unfused chain rounds
 * the convolution's output to float32 first and the sum again - at most one float32 rounding
 * of the sum's terms apart, as every exact float fusion (a sum post-op) is. */
#include <string.h>

#include "calibrate.h"
#include "edit.h"
#include "fold_util.h"
#include "rules_quant.h"

static bool is_f32_node(const Node *n) { return node_attr_type(n, "T", DT_FLOAT) == DT_FLOAT; }

/* the one node reading node i's output 0 (none of them a control reader, node i not fetched),
   or -1 */
static int only_reader(const Graph *g, const GraphUses *u, int i, int *idx) {
    if (fold_is_graph_output(g, i) || fold_has_ctrl_readers(g, u, i)) return -1;
    return edit_only_reader(g, u, (ValueRef){i, 0}, idx);
}

/* a GrappoQMatMul or dense GrappoQConv2D with a float32 output and only BiasAdd fused */
static bool bare_int8_node(const Graph *g, int i) {
    const Node *p = g->nodes[i];
    if ((p->op != OP_GRAPPO_QCONV2D && p->op != OP_GRAPPO_QMATMUL) || p->n_outputs != 1 || p->n_inputs != 3) return false;
    if (node_attr_b(p, "depthwise", false) || node_attr_type(p, "out_type", DT_FLOAT) != DT_FLOAT) return false;
    if (p->outputs[0].dtype != DT_FLOAT || !shape_is_known(&p->outputs[0].shape)) return false;
    const AttrList *ops = node_attr_list(p, "fused_ops");
    return ops && ops->kind == ATTR_STRING && ops->n == 1 && !strcmp(ops->s[0].data, "BiasAdd");
}

static bool add_site(const Graph *g, const GraphUses *u, int i, Site *s) {
    if (!bare_int8_node(g, i)) return false;
    int idx = -1;
    int a = only_reader(g, u, i, &idx);
    if (a < 0) return false;
    const Node *add = g->nodes[a];
    if ((add->op != OP_ADD && add->op != OP_ADD_V2) || add->n_inputs != 2 || add->n_ctrl || !is_f32_node(add)) return false;
    ValueRef r = add->inputs[1 - idx];
    const Shape *ys = &g->nodes[i]->outputs[0].shape;
    if (r.node == i || !quant_is_f32(g, r, -1) || !shape_equal(&graph_value(g, r)->shape, ys) ||
        !shape_equal(&add->outputs[0].shape, ys) || add->outputs[0].dtype != DT_FLOAT)
        return false;
    *s = (Site){.n = 2, .nodes = {i, a}};
    /* an activation alone reading the sum joins it */
    int act = only_reader(g, u, a, &idx);
    if (act >= 0) {
        const Node *an = g->nodes[act];
        if ((an->op == OP_RELU || an->op == OP_RELU6) && an->n_inputs == 1 && !an->n_ctrl && is_f32_node(an))
            s->nodes[s->n++] = act;
    }
    /* the last node's value survives under the conv; the others disappear */
    int last = s->nodes[s->n - 1];
    for (int k = 1; k < s->n - 1; k++)
        if (fold_is_graph_output(g, s->nodes[k])) return false;
    return !fold_has_ctrl_readers(g, u, last);
}

static int find_add(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        Site s;
        if (add_site(g, u, i, &s) && sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_add(Graph *g, const Site *s, Err *err) {
    int p = s->nodes[0], a = s->nodes[1], last = s->nodes[s->n - 1];
    const Node *add = g->nodes[a];
    ValueRef r = add->inputs[add->inputs[0].node == p ? 1 : 0];
    const char *ops[3] = {"BiasAdd", "Add", NULL};
    int n_ops = 2;
    if (s->n == 3) ops[n_ops++] = g->nodes[last]->op == OP_RELU ? "Relu" : "Relu6";
    if (node_add_input(g, p, r, err) || node_set_attr_list_s(g->nodes[p], "fused_ops", ops, n_ops, err)) return -1;
    if (node_attr_find(g->nodes[p], "num_args") && node_set_attr_i(g->nodes[p], "num_args", 2, err)) return -1;
    /* the conv now produces the last node's value: it takes its name and calibration range */
    node_attr_remove(g->nodes[p], CALIB_ATTR_MIN);
    node_attr_remove(g->nodes[p], CALIB_ATTR_MAX);
    if (quant_take_over(g, last, p, err)) return -1;
    return edit_replace_uses(g, (ValueRef){last, 0}, (ValueRef){p, 0}, err);
}

const RuleDef int8_fuse_add = {
    .name = "int8_fuse_add",
    .family = "fuse",
    .flags = RULE_EXACT,
    .doc = "GrappoQConv2D/GrappoQMatMul([BiasAdd], float out) + Add/AddV2 of a same-shaped float tensor (+ Relu/Relu6) "
           "=> the same node with fused_ops [BiasAdd, Add(, act)] (oneDNN's sum post-op; one float32 rounding instead of two)",
    .find = find_add,
    .apply = apply_add,
};
