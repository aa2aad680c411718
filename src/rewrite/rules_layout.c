/* rules_layout.c - layout rules: run an operation in NCHW instead of NHWC (with the two
 * transposes that makes necessary), and move transposes past elementwise operations so that
 * the transposes between neighbouring NCHW operations meet and cancel (cancel_transposes),
 * leaving a whole region in NCHW. These rules can make a graph slower - which layout a kernel
 * prefers depends on the kernel and the machine - so only measurement says when they pay. */
#include <stdio.h>
#include <string.h>

#include "../graph/nn_attrs.h"
#include "edit.h"
#include "rule.h"

static const int32_t TO_NCHW[4] = {0, 3, 1, 2}, TO_NHWC[4] = {0, 2, 3, 1};

static bool is_nhwc_window_op(const Node *n) {
    switch (n->op) {
    case OP_CONV2D: case OP_FUSED_CONV2D: case OP_DEPTHWISE_CONV2D: case OP_FUSED_DEPTHWISE_INTERNAL:
    case OP_MAX_POOL: case OP_AVG_POOL:
        break;
    default:
        return false;
    }
    const char *fmt = node_attr_s(n, "data_format", "NHWC");
    return !strcmp(fmt, "NHWC");
}

static bool has_ctrl(const Graph *g, const GraphUses *u, int node) {
    if (g->nodes[node]->n_ctrl) return true;
    for (int k = u->use_start[node]; k < u->use_start[node + 1]; k++) {
        const Node *r = g->nodes[u->use_node[k]];
        for (int i = 0; i < r->n_ctrl; i++)
            if (r->ctrl[i] == node) return true;
    }
    return false;
}

static int find_nchw(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (!is_nhwc_window_op(n) || n->n_outputs < 1 || has_ctrl(g, u, i)) continue;
        const Value *x = node_input_value(g, n, 0);
        if (x->dtype != DT_FLOAT || x->shape.rank != 4 || n->outputs[0].dtype != DT_FLOAT) continue;
        if (n->op == OP_FUSED_CONV2D || n->op == OP_FUSED_DEPTHWISE_INTERNAL) {
            FusedSpec s;
            Err e2;
            if (nn_fused_spec(n, FUSED_HOST_CONV, &s, &e2)) continue;
            if (s.act == NN_ACT_PRELU) continue; /* its alpha is laid out per channel last */
        }
        Site s = {.n = 1, .nodes = {i}};
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int add_perm(Graph *g, const char *base, const int32_t *perm, Err *err) {
    Tensor t;
    Shape s = shape_make(1, (int64_t[]){4});
    if (tensor_from_data(&t, DT_INT32, &s, perm, 4 * sizeof(int32_t), err)) return -1;
    int c = edit_add_const(g, base, &t, err);
    tensor_release(&t);
    return c;
}

static int add_transpose(Graph *g, const char *base, ValueRef x, const int32_t *perm, Err *err) {
    char pname[1024];
    snprintf(pname, sizeof pname, "%s/perm", base);
    int p = add_perm(g, pname, perm, err);
    if (p < 0) return -1;
    int t = edit_add_node(g, base, "Transpose", (ValueRef[]){x, {p, 0}}, 2, err);
    if (t < 0) return -1;
    Node *tn = g->nodes[t];
    /* float32 only: find_nchw checked the op reads and writes float32 (and the new node has no
       inferred outputs yet) */
    if (node_set_attr_type(tn, "T", DT_FLOAT, err) || node_set_attr_type(tn, "Tperm", DT_INT32, err)) return -1;
    return t;
}

/* NHWC-ordered 4-int list attribute -> NCHW order (8 ints: pairs per dimension) */
static int permute_list_attr(Node *n, const char *name, int per_dim, Err *err) {
    const AttrList *l = node_attr_list(n, name);
    if (!l || l->kind != ATTR_INT || l->n != 4 * per_dim) return 0;
    int64_t v[8];
    static const int from[4] = {0, 3, 1, 2}; /* NCHW dim d comes from NHWC dim from[d] */
    for (int d = 0; d < 4; d++)
        for (int k = 0; k < per_dim; k++) v[d * per_dim + k] = l->i[from[d] * per_dim + k];
    return node_set_attr_list_i(n, name, v, 4 * per_dim, err);
}

static int apply_nchw(Graph *g, const Site *s, Err *err) {
    int old = s->nodes[0];
    char base[1024];
    snprintf(base, sizeof base, "%s", g->nodes[old]->name);
    char nm[1100];
    snprintf(nm, sizeof nm, "%s/to_nchw", base);
    int tin = add_transpose(g, nm, g->nodes[old]->inputs[0], TO_NCHW, err);
    if (tin < 0) return -1;
    /* the same op, every attribute copied, then switched to NCHW */
    snprintf(nm, sizeof nm, "%s/nchw", base);
    int nn = edit_add_node(g, nm, g->nodes[old]->op_name, NULL, 0, err);
    if (nn < 0) return -1;
    const Node *o = g->nodes[old];
    for (int a = 0; a < o->n_attrs; a++)
        if (edit_copy_attr(g->nodes[nn], o, o->attrs[a].name, err)) return -1;
    if (node_set_device(g->nodes[nn], o->device, err)) return -1;
    int addend = -1;
    if (o->op == OP_FUSED_CONV2D || o->op == OP_FUSED_DEPTHWISE_INTERNAL) {
        FusedSpec fs;
        if (nn_fused_spec(o, FUSED_HOST_CONV, &fs, err)) return -1;
        if (fs.add) addend = fs.arg_add;
    }
    for (int k = 0; k < o->n_inputs; k++) {
        ValueRef in = o->inputs[k];
        if (k == 0) in = (ValueRef){tin, 0};
        else if (k == addend) {
            snprintf(nm, sizeof nm, "%s/addend_to_nchw", base);
            int ta = add_transpose(g, nm, o->inputs[k], TO_NCHW, err);
            if (ta < 0) return -1;
            in = (ValueRef){ta, 0};
        }
        if (node_add_input(g, nn, in, err)) return -1;
    }
    Node *n = g->nodes[nn];
    if (node_set_attr_s(n, "data_format", "NCHW", err) || permute_list_attr(n, "strides", 1, err) ||
        permute_list_attr(n, "dilations", 1, err) || permute_list_attr(n, "ksize", 1, err) ||
        permute_list_attr(n, "explicit_paddings", 2, err))
        return -1;
    snprintf(nm, sizeof nm, "%s/to_nhwc", base);
    int tout = add_transpose(g, nm, (ValueRef){nn, 0}, TO_NHWC, err);
    if (tout < 0) return -1;
    if (edit_replace_uses(g, (ValueRef){old, 0}, (ValueRef){tout, 0}, err)) return -1;
    /* the transpose back computes what the old node computed: it takes the old name */
    return graph_swap_names(g, old, tout, err);
}

const RuleDef layout_nchw = {
    .name = "layout_nchw",
    .family = "layout",
    .flags = RULE_EXACT,
    .doc = "NHWC Conv2D/_FusedConv2D/depthwise/MaxPool/AvgPool => Transpose to NCHW, the op in NCHW, Transpose back "
           "(stock TF runs NCHW convolutions on GPU only, hence not --target tf); may be slower: measured",
    .find = find_nchw,
    .apply = apply_nchw,
};

/* ---- moving transposes down past elementwise ops ---- */

static bool unary_elementwise(OpId op) {
    switch (op) {
    case OP_RELU: case OP_RELU6: case OP_ELU: case OP_SELU: case OP_LEAKY_RELU: case OP_SIGMOID: case OP_TANH:
    case OP_NEG: case OP_ABS: case OP_SQUARE: case OP_SQRT: case OP_RSQRT: case OP_EXP: case OP_LOG: case OP_ERF:
        return true;
    default:
        return false;
    }
}

static bool binary_elementwise(OpId op) {
    switch (op) {
    case OP_ADD: case OP_ADD_V2: case OP_SUB: case OP_MUL: case OP_REAL_DIV: case OP_MAXIMUM: case OP_MINIMUM:
    case OP_SQUARED_DIFFERENCE:
        return true;
    default:
        return false;
    }
}

/* the transposed value read by input k of node n, if it is a single-use Transpose output
   with a known permutation of rank 4; returns the Transpose node or -1 */
static int single_use_transpose(const Graph *g, const GraphUses *u, const Node *n, int k, int64_t *perm) {
    ValueRef v = n->inputs[k];
    const Node *t = g->nodes[v.node];
    if (t->op != OP_TRANSPOSE || !edit_single_use(g, u, v) || t->n_ctrl || has_ctrl(g, u, v.node)) return -1;
    const Tensor *p = edit_known(g, t->inputs[1]);
    if (!p) return -1;
    Err e;
    if (tensor_to_i64(p, perm, 8, &e) != graph_value(g, t->inputs[0])->shape.rank) return -1;
    return v.node;
}

static bool is_scalar_const(const Graph *g, ValueRef v) {
    const Tensor *t = edit_known(g, v);
    return t && tensor_numel(t) == 1 && t->shape.rank <= 1;
}

static int find_sink(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->n_ctrl || n->n_outputs != 1 || !dtype_is_float(n->outputs[0].dtype)) continue;
        int64_t p0[8], p1[8];
        Site s = {.n = 2, .nodes = {i}};
        if (unary_elementwise(n->op)) {
            s.nodes[1] = single_use_transpose(g, u, n, 0, p0);
            if (s.nodes[1] < 0) continue;
        } else if (binary_elementwise(n->op)) {
            int t0 = single_use_transpose(g, u, n, 0, p0), t1 = single_use_transpose(g, u, n, 1, p1);
            int r = graph_value(g, n->inputs[0])->shape.rank;
            if (t0 >= 0 && t1 >= 0 && t0 != t1 && !memcmp(p0, p1, sizeof(int64_t) * (size_t)r)) {
                s.n = 3;
                s.nodes[1] = t0;
                s.nodes[2] = t1;
            } else if (t0 >= 0 && is_scalar_const(g, n->inputs[1])) {
                s.nodes[1] = t0;
            } else if (t1 >= 0 && is_scalar_const(g, n->inputs[0])) {
                s.nodes[1] = t1;
            } else {
                continue;
            }
        } else if (n->op == OP_BIAS_ADD && !strcmp(node_attr_s(n, "data_format", "NHWC"), "NHWC")) {
            /* an NCHW value transposed to NHWC, then BiasAdd: the BiasAdd can run in NCHW */
            s.nodes[1] = single_use_transpose(g, u, n, 0, p0);
            if (s.nodes[1] < 0 || graph_value(g, n->inputs[0])->shape.rank != 4 || p0[0] != 0 || p0[1] != 2 || p0[2] != 3 ||
                p0[3] != 1)
                continue;
        } else {
            continue;
        }
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_sink(Graph *g, const Site *s, Err *err) {
    int op_node = s->nodes[0];
    Node *n = g->nodes[op_node];
    ValueRef perm = g->nodes[s->nodes[1]]->inputs[1];
    /* the op reads the untransposed values... */
    for (int k = 0; k < n->n_inputs; k++)
        for (int j = 1; j < s->n; j++)
            if (n->inputs[k].node == s->nodes[j]) n->inputs[k] = g->nodes[s->nodes[j]]->inputs[0];
    if (n->op == OP_BIAS_ADD && node_set_attr_s(n, "data_format", "NCHW", err)) return -1;
    /* ...and one transpose after it hands its readers what they read before */
    char nm[1100];
    snprintf(nm, sizeof nm, "%s/transpose", n->name);
    int t = edit_add_node(g, nm, "Transpose", (ValueRef[]){{op_node, 0}, perm}, 2, err);
    if (t < 0) return -1;
    if (node_set_attr_type(g->nodes[t], "T", n->outputs[0].dtype, err) || node_set_attr_type(g->nodes[t], "Tperm", graph_value(g, perm)->dtype, err))
        return -1;
    if (edit_replace_uses(g, (ValueRef){op_node, 0}, (ValueRef){t, 0}, err)) return -1;
    return graph_swap_names(g, op_node, t, err);
}

const RuleDef sink_transpose = {
    .name = "sink_transpose",
    .family = "layout",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Transpose -> elementwise op (unary; binary with both operands transposed alike, or with a scalar; BiasAdd of "
           "an NCHW value, made NCHW) => the op -> Transpose, so transposes meet and cancel",
    .find = find_sink,
    .apply = apply_sink,
};
