/* rules_reassociate.c - reassociate_bias_add: a constant bias added after a residual sum moves
 * onto the contraction inside that sum, so the bias and the residual Add fuse into it.
 *
 *   y = (x + s) + b      x: Conv2D | DepthwiseConv2dNative | MatMul, read only by the sum
 *                        (x + s): AddN of two, Add or AddV2, no broadcasting, read only by
 *                        the bias add; b: a known float32 vector over the last dimension
 *                        (BiasAdd, or Add / AddV2 of a constant)
 *   =>  y = BiasAdd(x, b) + s
 *
 * Where it comes from: TensorFlow's arithmetic optimizer (AddOpsRewrite) rewrites a block's
 * conv + bias + shortcut as AddN(conv, shortcut) + bias, which leaves the convolution bare and
 * two adds behind it (handlandmark-lite: 9 such blocks, 11% of its time in those adds). After
 * this rule fuse_conv_bias_act and fuse_residual_add take all three into one fused conv.
 * Grappler's own order (pipeline_grappler) does not undo its arithmetic optimizer, so this rule
 * is not in it; the searches reach it.
 *
 * Exact up to float rounding: the same three terms are summed, (x + b) + s instead of
 * (x + s) + b. The result keeps y's name. */
#include <stdio.h>
#include <string.h>

#include "edit.h"
#include "fold_util.h"
#include "rule.h"
#include "rules_fuse_common.h"

/* a bare contraction a bias fusion can take */
static bool is_contraction(const Node *n) {
    return n->op == OP_CONV2D || n->op == OP_DEPTHWISE_CONV2D || n->op == OP_MATMUL;
}

static bool is_sum_of_two(const Node *n) {
    return n->n_inputs == 2 && n->n_outputs >= 1 && n->n_ctrl == 0 &&
           (n->op == OP_ADD_N || n->op == OP_ADD || n->op == OP_ADD_V2);
}

/* which input of the sum (0 or 1) is a contraction read by nothing else; -1 if neither */
static int contraction_operand(const Graph *g, const GraphUses *u, const Node *sum) {
    const Shape *ys = &sum->outputs[0].shape;
    for (int k = 0; k < 2; k++)
        if (!shape_equal(&graph_value(g, sum->inputs[k])->shape, ys) || !fuse_is_f32(g, sum->inputs[k])) return -1;
    for (int k = 0; k < 2; k++) {
        ValueRef x = sum->inputs[k];
        const Node *c = g->nodes[x.node];
        if (x.port == 0 && is_contraction(c) && edit_single_use(g, u, x)) return k;
    }
    return -1;
}

static int find(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *sum = g->nodes[i];
        if (!is_sum_of_two(sum) || !fuse_is_f32(g, (ValueRef){i, 0}) || fold_has_ctrl_readers(g, u, i)) continue;
        int b;
        if (!fuse_match_bias(g, u, (ValueRef){i, 0}, &b) || g->nodes[b]->n_ctrl || fold_has_ctrl_readers(g, u, b)) continue;
        int k = contraction_operand(g, u, sum);
        if (k < 0) continue;
        Site s = {.n = 2, .nodes = {i, b}, .param = k};
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply(Graph *g, const Site *s, Err *err) {
    int sum = s->nodes[0], b = s->nodes[1], k = (int)s->param;
    if (s->n != 2 || k < 0 || k > 1 || !is_sum_of_two(g->nodes[sum]))
        return err_set(err, ERR_RUNTIME, "site is not a residual sum followed by a bias");
    ValueRef sum_out = {sum, 0};
    ValueRef bias;
    if (fuse_bias_input(g, b, sum_out, &bias, err)) return -1;
    ValueRef x = g->nodes[sum]->inputs[k], shortcut = g->nodes[sum]->inputs[1 - k];
    const char *device = g->nodes[b]->device;

    char name[1024], base[1100];
    if (fold_free_name(g, b, name, sizeof name, err)) return -1;
    snprintf(base, sizeof base, "%s/bias_first", name);
    int ba = edit_add_node(g, base, "BiasAdd", (ValueRef[]){x, bias}, 2, err);
    if (ba < 0) return -1;
    if (node_set_attr_type(g->nodes[ba], "T", DT_FLOAT, err) || node_set_attr_s(g->nodes[ba], "data_format", "NHWC", err) ||
        (device && node_set_device(g->nodes[ba], device, err)))
        return -1;
    int add = edit_add_node(g, name, "AddV2", (ValueRef[]){{ba, 0}, shortcut}, 2, err);
    if (add < 0) return -1;
    if (node_set_attr_type(g->nodes[add], "T", DT_FLOAT, err) || (device && node_set_device(g->nodes[add], device, err)))
        return -1;
    return edit_replace_uses(g, (ValueRef){b, 0}, (ValueRef){add, 0}, err);
}

const RuleDef reassociate_bias_add = {
    .name = "reassociate_bias_add",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "(Conv2D/DepthwiseConv2dNative/MatMul + s) + constant bias (AddN of two, Add, AddV2; TF's AddOpsRewrite) => "
           "BiasAdd(contraction, bias) + s, so the bias and the residual Add fuse into the contraction",
    .find = find,
    .apply = apply,
};
