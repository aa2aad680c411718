/* rules_fuse_matmul.c - fuse_matmul_bias_act, as Grappler's remapper writes it:
 *   MatMul -> BiasAdd (or Add of a constant [N] / [1,N]) [-> activation]  =>  _FusedMatMul
 *   fused_ops [BiasAdd(, act)], num_args 1, transpose_a/transpose_b copied.
 * Activations: Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh and the GELU subgraphs (erf form ->
 * GeluExact, tanh form -> GeluApproximate; rules_fuse_common.c), as far as TF's kernels accept
 * them (fuse_tf_allows). float32 only. The fused node takes the last absorbed node's name. */
#include "edit.h"
#include "rules_fuse_common.h"

/* a MatMul grappo can fuse: float32 in and out, 2-D */
static bool matmul_host(const Graph *g, const Node *n) {
    if (n->op != OP_MATMUL || n->n_inputs != 2 || n->n_outputs < 1 || n->outputs[0].shape.rank != 2) return false;
    return fuse_is_f32(g, n->inputs[0]) && fuse_is_f32(g, n->inputs[1]) && n->outputs[0].dtype == DT_FLOAT;
}

static int find(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        int b;
        if (!matmul_host(g, g->nodes[i]) || !fuse_match_bias(g, u, (ValueRef){i, 0}, &b)) continue;
        Site s = {.n = 2, .nodes = {i, b}, .param = NN_ACT_NONE};
        FuseActMatch m;
        bool ta = node_attr_b(g->nodes[i], "transpose_a", false);
        if (fuse_match_act(g, u, (ValueRef){b, 0}, FUSE_MATMUL, FUSE_BASE_BIAS, ta, &m)) fuse_site_add_act(&s, &m);
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply(Graph *g, const Site *s, Err *err) {
    if (s->n < 2 || !matmul_host(g, g->nodes[s->nodes[0]]))
        return err_set(err, ERR_RUNTIME, "site is not a MatMul followed by a bias");
    ValueRef bias;
    if (fuse_bias_input(g, s->nodes[1], (ValueRef){s->nodes[0], 0}, &bias, err)) return -1;
    const Node *mm = g->nodes[s->nodes[0]];
    int last = s->nodes[s->n - 1];
    NnAct act = s->n > 2 ? (NnAct)s->param : NN_ACT_NONE;
    ValueRef in[3] = {mm->inputs[0], mm->inputs[1], bias};
    int f = fuse_add_node(g, FUSE_MATMUL, mm, in, 3, last, err);
    if (f < 0) return -1;
    Node *fn = g->nodes[f];
    if (fuse_contraction_attrs(fn, FUSE_MATMUL, mm, err) ||
        fuse_set_epilogue(fn, FUSE_BASE_BIAS, act, act == NN_ACT_LEAKY_RELU ? g->nodes[last] : NULL, 1, 0.0f, false,
                          err))
        return -1;
    return fuse_finish(g, f, last, s, err);
}

const RuleDef fuse_matmul_bias_act = {
    "fuse_matmul_bias_act", "fuse", RULE_EXACT | RULE_TF,
    "MatMul + BiasAdd (or Add of a constant vector) (+ activation, GELU erf/tanh forms) -> _FusedMatMul [BiasAdd(, act)]",
    find, apply,
};
