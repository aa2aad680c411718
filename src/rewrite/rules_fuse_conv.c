/* rules_fuse_conv.c - convolution fusions, as Grappler's remapper writes them:
 *   fuse_conv_bias_act  Conv2D | DepthwiseConv2dNative -> BiasAdd (or Add of a constant
 *                       vector) [-> activation]  =>  _FusedConv2D / _FusedDepthwiseConv2dNative
 *                       fused_ops [BiasAdd(, act)], num_args 1
 *   fuse_conv_bn_act    Conv2D -> FusedBatchNorm{,V2,V3} (inference, constant statistics)
 *                       [-> activation]  =>  _FusedConv2D fused_ops [FusedBatchNorm(, act)],
 *                       num_args 4, epsilon copied
 * NHWC float32 only (TF's CPU kernels). The fused node takes the name of the last node it
 * absorbs. Activations: what TF's kernels accept (rules_fuse_common.h, fuse_tf_allows). */
#include <string.h>

#include "edit.h"
#include "rules_fuse_common.h"

/* a Conv2D or DepthwiseConv2dNative grappo can fuse: NHWC, float32 in and out, 4-D output */
static bool conv_host(const Graph *g, const Node *n, FuseHost *h) {
    if (n->op == OP_CONV2D) *h = FUSE_CONV2D;
    else if (n->op == OP_DEPTHWISE_CONV2D) *h = FUSE_DEPTHWISE;
    else return false;
    if (n->n_inputs != 2 || n->n_outputs < 1 || n->outputs[0].shape.rank != 4) return false;
    if (strcmp(node_attr_s(n, "data_format", "NHWC"), "NHWC")) return false;
    return fuse_is_f32(g, n->inputs[0]) && fuse_is_f32(g, n->inputs[1]) && n->outputs[0].dtype == DT_FLOAT;
}

/* ---- fuse_conv_bias_act ---- */

static int bias_find(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        FuseHost h;
        int b;
        if (!conv_host(g, g->nodes[i], &h) || !fuse_match_bias(g, u, (ValueRef){i, 0}, &b)) continue;
        Site s = {.n = 2, .nodes = {i, b}, .param = NN_ACT_NONE};
        FuseActMatch m;
        if (fuse_match_act(g, u, (ValueRef){b, 0}, h, FUSE_BASE_BIAS, false, &m)) fuse_site_add_act(&s, &m);
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

/* Writes the fused node for a site {contraction, bias or batch norm, activation nodes...}:
   inputs x, filter, args[]; shared by both conv rules. */
static int write_fused(Graph *g, const Site *s, FuseHost h, FuseBase base, const ValueRef *args, int n_args,
                       float epsilon, Err *err) {
    const Node *c = g->nodes[s->nodes[0]];
    int last = s->nodes[s->n - 1];
    NnAct act = s->n > 2 ? (NnAct)s->param : NN_ACT_NONE;
    ValueRef in[6] = {c->inputs[0], c->inputs[1]};
    for (int k = 0; k < n_args; k++) in[2 + k] = args[k];
    int f = fuse_add_node(g, h, c, in, 2 + n_args, last, err);
    if (f < 0) return -1;
    Node *fn = g->nodes[f];
    if (fuse_contraction_attrs(fn, h, c, err) ||
        fuse_set_epilogue(fn, base, act, act == NN_ACT_LEAKY_RELU ? g->nodes[last] : NULL, n_args, epsilon,
                          h == FUSE_CONV2D, err))
        return -1;
    return fuse_finish(g, f, last, s, err);
}

static int bias_apply(Graph *g, const Site *s, Err *err) {
    FuseHost h;
    if (s->n < 2 || !conv_host(g, g->nodes[s->nodes[0]], &h))
        return err_set(err, ERR_RUNTIME, "site is not a convolution followed by a bias");
    ValueRef bias;
    if (fuse_bias_input(g, s->nodes[1], (ValueRef){s->nodes[0], 0}, &bias, err)) return -1;
    /* TF's remapper writes epsilon 0 when no batch norm is fused */
    return write_fused(g, s, h, FUSE_BASE_BIAS, &bias, 1, 0.0f, err);
}

const RuleDef fuse_conv_bias_act = {
    "fuse_conv_bias_act", "fuse", RULE_EXACT | RULE_TF,
    "Conv2D/DepthwiseConv2dNative + BiasAdd (or Add of a constant vector) (+ activation) -> _FusedConv2D / "
    "_FusedDepthwiseConv2dNative [BiasAdd(, act)]",
    bias_find, bias_apply,
};

/* ---- fuse_conv_bn_act ---- */

static bool is_batchnorm(const Node *n) {
    return n->op == OP_FUSED_BATCH_NORM || n->op == OP_FUSED_BATCH_NORM_V2 || n->op == OP_FUSED_BATCH_NORM_V3;
}

/* the batch norm that alone reads conv output x, in inference mode with known [C] statistics
   and nothing reading its outputs other than y */
static int bn_reader(const Graph *g, const GraphUses *u, ValueRef x) {
    int idx = -1;
    int r = edit_only_reader(g, u, x, &idx);
    if (r < 0 || idx != 0) return -1;
    const Node *bn = g->nodes[r];
    if (!is_batchnorm(bn) || bn->n_inputs != 5 || bn->n_outputs < 1 || bn->outputs[0].dtype != DT_FLOAT) return -1;
    /* is_training defaults to true in TF: only an explicit false is inference */
    const Attr *t = node_attr_find(bn, "is_training");
    if (!t || t->kind != ATTR_BOOL || t->b) return -1;
    if (strcmp(node_attr_s(bn, "data_format", "NHWC"), "NHWC")) return -1;
    int64_t c = graph_value(g, x)->shape.dim[3];
    for (int k = 1; k < 5; k++) {
        const Tensor *v = edit_known(g, bn->inputs[k]);
        if (!v || v->dtype != DT_FLOAT || v->shape.rank != 1 || v->shape.dim[0] != c) return -1;
    }
    for (int p = 1; p < bn->n_outputs; p++)
        if (edit_use_count(g, u, (ValueRef){r, p}) != 0) return -1;
    return r;
}

static int bn_find(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        FuseHost h;
        /* TF's remapper and kernels fuse batch norm into Conv2D only, not into depthwise */
        if (g->nodes[i]->op != OP_CONV2D || !conv_host(g, g->nodes[i], &h)) continue;
        int r = bn_reader(g, u, (ValueRef){i, 0});
        if (r < 0) continue;
        Site s = {.n = 2, .nodes = {i, r}, .param = NN_ACT_NONE};
        FuseActMatch m;
        if (fuse_match_act(g, u, (ValueRef){r, 0}, h, FUSE_BASE_BN, false, &m)) fuse_site_add_act(&s, &m);
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int bn_apply(Graph *g, const Site *s, Err *err) {
    FuseHost h;
    if (s->n < 2 || !conv_host(g, g->nodes[s->nodes[0]], &h) || !is_batchnorm(g->nodes[s->nodes[1]]))
        return err_set(err, ERR_RUNTIME, "site is not a convolution followed by a batch norm");
    const Node *bn = g->nodes[s->nodes[1]];
    ValueRef args[4] = {bn->inputs[1], bn->inputs[2], bn->inputs[3], bn->inputs[4]}; /* scale offset mean variance */
    return write_fused(g, s, h, FUSE_BASE_BN, args, 4, node_attr_f(bn, "epsilon", 1e-4f), err);
}

const RuleDef fuse_conv_bn_act = {
    "fuse_conv_bn_act", "fuse", RULE_EXACT | RULE_TF,
    "Conv2D + FusedBatchNorm (inference, constant statistics) (+ activation) -> _FusedConv2D [FusedBatchNorm(, act)]",
    bn_find, bn_apply,
};
