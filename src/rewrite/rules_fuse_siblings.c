/* rules_fuse_siblings.c - the fuse-family rule fuse_sibling_matmul: matmuls that read the same
 * input with constant weights (attention's Q, K and V projections) become one matmul over the
 * concatenated weights, followed by a SplitV of its columns:
 *
 *   y_i = MatMul(x, W_i)                         i = 1..n, n >= 2, W_i Const [K, N_i]
 *   or y_i = _FusedMatMul(x, W_i, b_i) [BiasAdd(, act)]          b_i Const [N_i]
 *   =>  y = MatMul(x, [W_1 .. W_n])  (or _FusedMatMul(x, [W_1 .. W_n], [b_1 .. b_n]) [same ops])
 *       y_1, .., y_n = SplitV(y, [N_1 .. N_n], axis 1)
 *
 * Exact: column j of x·W depends only on column j of W, and BiasAdd and the activations are
 * per element (the bias per column), so every column of y is bit for bit what the sibling that
 * owns it computed, provided the kernel computes each output element the same way whatever N
 * is (true of the reference kernels; a blocked kernel may sum in another order: float
 * rounding, as every RULE_EXACT rule allows).
 *
 * Siblings: same op, same input value (node and port), float32, 2-D output, equal
 * transpose_a and transpose_b, weights Consts of equal K (the shared dimension: rows, or
 * columns with transpose_b); fused siblings have fused_ops [BiasAdd] or [BiasAdd, act] (no
 * residual Add, no Prelu: their extra operands are not per-column vectors) with the same act
 * and leakyrelu_alpha and a Const bias. A sibling must not be a graph output (its name would
 * be lost), have control inputs or control readers. Up to SITE_MAX_NODES siblings per site,
 * ordered by node index; the first sibling's attributes and device are copied.
 * RULE_TF: MatMul, _FusedMatMul and SplitV are stock TensorFlow ops. */
#include <stdio.h>
#include <string.h>

#include "../graph/nn_attrs.h"
#include "edit.h"
#include "fold_util.h"
#include "rule.h"

/* what the siblings of a group must share */
typedef struct SibKey {
    ValueRef x;
    OpId op;
    bool ta, tb;
    int64_t k;  /* the contracted dimension of the weights */
    NnAct act;  /* fused only */
    float alpha;
} SibKey;

static bool const_f32(const Graph *g, ValueRef v, int rank) {
    const Tensor *t = edit_known(g, v);
    return edit_is_const(g, v) && t && t->dtype == DT_FLOAT && t->shape.rank == rank;
}

/* a matmul this rule can merge, and its key; the weights' column count in *n_cols */
static bool sibling(const Graph *g, const GraphUses *u, int i, SibKey *key, int64_t *n_cols) {
    const Node *n = g->nodes[i];
    if (n->op != OP_MATMUL && n->op != OP_FUSED_MATMUL) return false;
    if (n->n_inputs < 2 || n->n_outputs != 1 || n->n_ctrl != 0 || n->outputs[0].dtype != DT_FLOAT ||
        n->outputs[0].shape.rank != 2)
        return false;
    if (!fold_is_f32(g, n->inputs[0]) || !const_f32(g, n->inputs[1], 2)) return false;
    if (fold_is_graph_output(g, i) || fold_has_ctrl_readers(g, u, i)) return false;
    SibKey k = {.x = n->inputs[0], .op = n->op, .act = NN_ACT_NONE, .alpha = 0.0f};
    k.ta = node_attr_b(n, "transpose_a", false);
    k.tb = node_attr_b(n, "transpose_b", false);
    const Shape *w = &edit_known(g, n->inputs[1])->shape;
    k.k = w->dim[k.tb ? 1 : 0];
    *n_cols = w->dim[k.tb ? 0 : 1];
    if (n->op == OP_MATMUL) {
        if (n->n_inputs != 2) return false;
    } else {
        FusedSpec s;
        Err e = {0};
        if (nn_fused_spec(n, FUSED_HOST_MATMUL, &s, &e)) return false;
        if (!s.bias || s.batchnorm || s.add || s.act == NN_ACT_PRELU || s.n_args != 1 || n->n_inputs != 3) return false;
        if (!const_f32(g, n->inputs[s.arg_bias], 1) || edit_known(g, n->inputs[s.arg_bias])->shape.dim[0] != *n_cols)
            return false;
        k.act = s.act;
        k.alpha = s.act == NN_ACT_LEAKY_RELU ? s.leakyrelu_alpha : 0.0f;
    }
    *key = k;
    return true;
}

static bool same_key(const SibKey *a, const SibKey *b) {
    return a->x.node == b->x.node && a->x.port == b->x.port && a->op == b->op && a->ta == b->ta && a->tb == b->tb &&
           a->k == b->k && a->act == b->act && a->alpha == b->alpha;
}

static int find(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        SibKey ki;
        int64_t cols;
        if (!sibling(g, u, i, &ki, &cols)) continue;
        /* i anchors the group only when no earlier node is its sibling */
        bool first = true;
        Site s = {.n = 1, .nodes = {i}};
        for (int k = u->use_start[ki.x.node]; k < u->use_start[ki.x.node + 1] && first; k++) {
            int j = u->use_node[k];
            SibKey kj;
            if (j == i || !sibling(g, u, j, &kj, &cols) || !same_key(&ki, &kj)) continue;
            if (j < i) { first = false; break; }
            bool dup = false;
            for (int m = 0; m < s.n; m++) dup |= s.nodes[m] == j;
            if (!dup && s.n < SITE_MAX_NODES) s.nodes[s.n++] = j;
        }
        if (!first || s.n < 2) continue;
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

/* [K, N_1] .. [K, N_n] side by side (tb false), or [N_1, K] .. [N_n, K] stacked (tb true) */
static int concat_weights(Graph *g, const Site *s, bool tb, int64_t k, int64_t total, int64_t *cols, Err *err) {
    Shape sh = tb ? shape_make(2, (int64_t[]){total, k}) : shape_make(2, (int64_t[]){k, total});
    Tensor w;
    if (tensor_alloc(&w, DT_FLOAT, &sh, err)) return -1;
    float *dst = tensor_mut(&w);
    int64_t off = 0;
    for (int m = 0; m < s->n; m++) {
        const float *src = tensor_data(edit_known(g, g->nodes[s->nodes[m]]->inputs[1]));
        if (tb)
            memcpy(dst + off * k, src, (size_t)(cols[m] * k) * sizeof *dst);
        else
            for (int64_t r = 0; r < k; r++) memcpy(dst + r * total + off, src + r * cols[m], (size_t)cols[m] * sizeof *dst);
        off += cols[m];
    }
    char base[1100];
    snprintf(base, sizeof base, "%s/sibling_kernel", g->nodes[s->nodes[0]]->name);
    int c = edit_add_const(g, base, &w, err);
    tensor_release(&w);
    return c;
}

static int concat_biases(Graph *g, const Site *s, int64_t total, const int64_t *cols, Err *err) {
    Shape sh = shape_make(1, (int64_t[]){total});
    Tensor b;
    if (tensor_alloc(&b, DT_FLOAT, &sh, err)) return -1;
    float *dst = tensor_mut(&b);
    int64_t off = 0;
    for (int m = 0; m < s->n; m++) {
        memcpy(dst + off, tensor_data(edit_known(g, g->nodes[s->nodes[m]]->inputs[2])), (size_t)cols[m] * sizeof *dst);
        off += cols[m];
    }
    char base[1100];
    snprintf(base, sizeof base, "%s/sibling_bias", g->nodes[s->nodes[0]]->name);
    int c = edit_add_const(g, base, &b, err);
    tensor_release(&b);
    return c;
}

static int i32_const(Graph *g, const char *base, const int64_t *v, int n, bool scalar, Err *err) {
    Shape sh = scalar ? shape_make(0, NULL) : shape_make(1, (int64_t[]){n});
    Tensor t;
    if (tensor_alloc(&t, DT_INT32, &sh, err)) return -1;
    int32_t *p = tensor_mut(&t);
    for (int i = 0; i < n; i++) p[i] = (int32_t)v[i];
    int c = edit_add_const(g, base, &t, err);
    tensor_release(&t);
    return c;
}

static int apply(Graph *g, const Site *s, Err *err) {
    if (s->n < 2) return err_set(err, ERR_RUNTIME, "site has fewer than two sibling matmuls");
    GraphUses u;
    if (graph_uses(g, &u, err)) return -1;
    SibKey k0 = {.op = OP_UNKNOWN};
    int64_t cols[SITE_MAX_NODES], total = 0;
    bool ok = true;
    for (int m = 0; m < s->n && ok; m++) {
        SibKey km;
        ok = sibling(g, &u, s->nodes[m], &km, &cols[m]) && (m == 0 ? (k0 = km, true) : same_key(&k0, &km));
        if (ok) total += cols[m];
    }
    graph_uses_free(&u);
    if (!ok) return err_set(err, ERR_RUNTIME, "site is not a group of sibling matmuls");
    if (total > INT32_MAX) return err_set(err, ERR_RUNTIME, "sibling matmuls too wide to split with int32 sizes");

    int w = concat_weights(g, s, k0.tb, k0.k, total, cols, err);
    if (w < 0) return -1;
    bool fused = k0.op == OP_FUSED_MATMUL;
    int b = fused ? concat_biases(g, s, total, cols, err) : -1;
    if (fused && b < 0) return -1;

    const Node *first = g->nodes[s->nodes[0]];
    char base[1100];
    snprintf(base, sizeof base, "%s/siblings", first->name);
    ValueRef in[3] = {k0.x, {w, 0}, {b, 0}};
    int f = edit_add_node(g, base, first->op_name, in, fused ? 3 : 2, err);
    if (f < 0) return -1;
    first = g->nodes[s->nodes[0]];
    Node *fn = g->nodes[f];
    for (int a = 0; a < first->n_attrs; a++)
        if (edit_copy_attr(fn, first, first->attrs[a].name, err)) return -1;
    if (first->device && node_set_device(fn, first->device, err)) return -1;

    char sb[1200], ab[1200];
    snprintf(sb, sizeof sb, "%s/split_sizes", base);
    snprintf(ab, sizeof ab, "%s/split_axis", base);
    int sizes = i32_const(g, sb, cols, s->n, false, err);
    int axis = sizes < 0 ? -1 : i32_const(g, ab, (int64_t[]){1}, 1, true, err);
    if (axis < 0) return -1;
    snprintf(sb, sizeof sb, "%s/split", base);
    int sp = edit_add_node(g, sb, "SplitV", (ValueRef[]){{f, 0}, {sizes, 0}, {axis, 0}}, 3, err);
    if (sp < 0) return -1;
    Node *spn = g->nodes[sp];
    if (node_set_attr_type(spn, "T", DT_FLOAT, err) || node_set_attr_type(spn, "Tlen", DT_INT32, err) ||
        node_set_attr_i(spn, "num_split", s->n, err))
        return -1;
    if (g->nodes[f]->device && node_set_device(spn, g->nodes[f]->device, err)) return -1;
    for (int m = 0; m < s->n; m++)
        if (edit_replace_uses(g, (ValueRef){s->nodes[m], 0}, (ValueRef){sp, m}, err)) return -1;
    return 0;
}

const RuleDef fuse_sibling_matmul = {
    "fuse_sibling_matmul", "fuse", RULE_EXACT | RULE_TF,
    "MatMuls (or _FusedMatMul [BiasAdd(, act)]) of one input with Const weights (Q, K, V) -> one matmul over the "
    "concatenated weights + SplitV",
    find, apply,
};
