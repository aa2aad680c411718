/* rules_einsum.c - the rule einsum_to_matmul: TensorFlow's Einsum lowered to stock ops the fast
 * runtime runs on oneDNN (what TensorFlow's own Einsum kernel does inside: transpose, reshape,
 * batched matmul, reshape, transpose), so that the other rules (fuse_attention, the matmul
 * fusions, cancel_transposes) see BERT-style SavedModels as they see graphs written with
 * BatchMatMulV2:
 *
 *   two inputs x, y, every label either
 *     batch  in x (or an ellipsis axis), y and the output     -> BatchMatMulV2 batch dims
 *     M      in x and the output only                         -> rows
 *     N      in y and the output only                         -> columns
 *     K      in x and y, not in the output                    -> contracted
 *   =>  x' = Reshape(Transpose(x, [batch, M, K] or [batch, K, M] with adj_x), [batch, ΠM, ΠK])
 *       y' = Reshape(Transpose(y, [batch, K, N] or [batch, N, K] with adj_y), [batch, ΠK, ΠN])
 *       z  = Transpose(Reshape(BatchMatMulV2(x', y', adj_x, adj_y), [batch, M, N]), output order)
 *   (MatMul with transpose_a/transpose_b when there is no batch label);
 *   one input, every label kept or summed
 *   =>  z  = Transpose(Sum(x, summed axes), output order)
 *
 * Each group keeps one order everywhere (batch, M, N: the output's; K: x's), and the adjoint
 * flags are chosen so each input is transposed as little as possible: BTNH,BSNH->BNTS becomes
 * Transpose(q, [0,2,1,3]) x Transpose(k, [0,2,1,3]) with adj_y and no output transpose, exactly
 * the scores pattern fuse_attention matches. Identity transposes and reshapes are not written. A
 * batch label missing from one input (a shorter ellipsis) becomes a size-1 dim there, which
 * BatchMatMulV2 broadcasts, as it does a broadcast ellipsis dim of size 1.
 *
 * Dims that change with a dynamic input dim (the batch) are written as -1 in a Reshape, at most
 * one per Reshape; an equation needing two is declined. Also declined (the reference kernel
 * runs them): diagonals (a label repeated in an input or the output), a label summed in only
 * one of two inputs, empty dims, two-input dtypes other than float32, unknown shapes, control
 * edges on the Einsum. The last node takes the Einsum's name. RULE_EXACT | RULE_TF: the
 * result sums the same products in float32 (the reference accumulates both in double). */
#include <stdio.h>
#include <string.h>

#include "../graph/einsum.h"
#include "edit.h"
#include "fold_util.h"
#include "rule.h"

typedef struct Lower {
    EinsumSpec s;
    bool dyn[EINSUM_MAX_LABELS]; /* the label's size changes with a dynamic input dim */
    bool in_dyn[2][MAX_RANK];    /* per input axis: its size changes with a dynamic input dim */
    int n_grp[4];                /* 0 batch, 1 M, 2 N, 3 K (2 inputs); 1 input: 0 kept, 3 summed */
    int grp[4][MAX_RANK];
    bool adj_x, adj_y;
} Lower;

enum { G_B, G_M, G_N, G_K };

static int pos_in(const int *lab, int rank, int l) {
    for (int a = 0; a < rank; a++)
        if (lab[a] == l) return a;
    return -1;
}

static bool plan_lower(const Graph *g, const GraphUses *u, FoldStatic *fs, int node, Lower *L) {
    const Node *n = g->nodes[node];
    if (n->op != OP_EINSUM || n->n_ctrl || fold_has_ctrl_readers(g, u, node) || n->n_outputs != 1) return false;
    int n_in = n->n_inputs;
    const Shape *in[2] = {NULL, NULL};
    int dt = graph_value(g, n->inputs[0])->dtype;
    if (n_in == 2 && dt != DT_FLOAT) return false;
    if (!shape_is_known(&n->outputs[0].shape)) return false;
    for (int k = 0; k < n_in; k++) {
        in[k] = &graph_value(g, n->inputs[k])->shape;
        if (!shape_is_known(in[k])) return false;
    }
    memset(L, 0, sizeof *L);
    Err e;
    if (einsum_parse(node_attr_s(n, "equation", ""), n_in, in, &L->s, &e)) return false;
    const EinsumSpec *s = &L->s;
    /* which label sizes follow the dynamic dims */
    for (int k = 0; k < n_in; k++) {
        if (!fold_static_dims(fs, n->inputs[k], L->in_dyn[k])) return false;
        for (int a = 0; a < s->in_rank[k]; a++)
            if (L->in_dyn[k][a]) L->dyn[s->in_lab[k][a]] = true;
    }
    for (int l = 0; l < s->n_labels; l++) {
        if (s->size[l] <= 0 || s->count[0][l] > 1 || s->count[1][l] > 1) return false;
    }
    for (int a = 0; a < s->out_rank; a++)
        if (pos_in(s->out_lab, a, s->out_lab[a]) >= 0) return false; /* repeated output label */
    /* groups: output order for the kept labels, x's order for K */
    for (int a = 0; a < s->out_rank; a++) {
        int l = s->out_lab[a];
        int g2 = n_in == 1 ? G_B
                 : (l >= s->n_named || (s->count[0][l] && s->count[1][l])) ? G_B
                 : s->count[0][l] ? G_M : G_N;
        L->grp[g2][L->n_grp[g2]++] = l;
    }
    for (int a = 0; a < s->in_rank[0]; a++) {
        int l = s->in_lab[0][a];
        if (s->in_out[l]) continue;
        if (n_in == 2 && !s->count[1][l]) return false; /* summed in x alone */
        L->grp[G_K][L->n_grp[G_K]++] = l;
    }
    if (n_in == 2)
        for (int a = 0; a < s->in_rank[1]; a++)
            if (!s->in_out[s->in_lab[1][a]] && !s->count[0][s->in_lab[1][a]]) return false; /* summed in y alone */
    if (n_in == 2 && L->n_grp[G_M] && L->n_grp[G_K]) {
        L->adj_x = pos_in(s->in_lab[0], s->in_rank[0], L->grp[G_K][0]) < pos_in(s->in_lab[0], s->in_rank[0], L->grp[G_M][0]);
    }
    if (n_in == 2 && L->n_grp[G_N] && L->n_grp[G_K]) {
        L->adj_y = pos_in(s->in_lab[1], s->in_rank[1], L->grp[G_N][0]) < pos_in(s->in_lab[1], s->in_rank[1], L->grp[G_K][0]);
    }
    return true;
}

/* ---- emitting ---- */

static int add_i32_const(Graph *g, const char *base, const int64_t *v, int n, Err *err) {
    Tensor t;
    Shape sh = shape_make(1, (int64_t[]){n});
    if (tensor_alloc(&t, DT_INT32, &sh, err)) return -1;
    int32_t *p = tensor_mut(&t);
    for (int i = 0; i < n; i++) p[i] = (int32_t)v[i];
    int c = edit_add_const(g, base, &t, err);
    tensor_release(&t);
    return c;
}

/* Transpose(x, perm) unless perm is the identity */
static int emit_transpose(Graph *g, const char *name, ValueRef *x, const int64_t *perm, int rank, int dt, Err *err) {
    bool id = true;
    for (int a = 0; a < rank; a++) id &= perm[a] == a;
    if (id) return 0;
    char base[1100];
    snprintf(base, sizeof base, "%s/perm", name);
    int c = add_i32_const(g, base, perm, rank, err);
    if (c < 0) return -1;
    ValueRef in[2] = {*x, {c, 0}};
    int t = edit_add_node(g, name, "Transpose", in, 2, err);
    if (t < 0 || node_set_attr_type(g->nodes[t], "T", dt, err) || node_set_attr_type(g->nodes[t], "Tperm", DT_INT32, err))
        return -1;
    *x = (ValueRef){t, 0};
    return 0;
}

/* Reshape(x, dims) unless `identity`; dims may hold one -1 */
static int emit_reshape(Graph *g, const char *name, ValueRef *x, const int64_t *dims, int rank, bool identity, int dt,
                        Err *err) {
    if (identity) return 0;
    char base[1100];
    snprintf(base, sizeof base, "%s/shape", name);
    int c = add_i32_const(g, base, dims, rank, err);
    if (c < 0) return -1;
    ValueRef in[2] = {*x, {c, 0}};
    int r = edit_add_node(g, name, "Reshape", in, 2, err);
    if (r < 0 || node_set_attr_type(g->nodes[r], "T", dt, err) || node_set_attr_type(g->nodes[r], "Tshape", DT_INT32, err))
        return -1;
    *x = (ValueRef){r, 0};
    return 0;
}

/* a Reshape target: one entry per label group (the product of its sizes, -1 when one of them
   is dynamic); false when more than one entry would be -1 */
typedef struct Target {
    int rank, n_dyn;
    int64_t dim[MAX_RANK];
} Target;

static void target_add(Target *t, const Lower *L, const int *labs, int n, int64_t size_if_absent) {
    int64_t p = 1;
    bool dyn = false;
    for (int i = 0; i < n; i++) {
        p *= labs[i] >= 0 ? L->s.size[labs[i]] : size_if_absent;
        dyn |= labs[i] >= 0 && L->dyn[labs[i]];
    }
    t->n_dyn += dyn;
    t->dim[t->rank++] = dyn ? -1 : p;
}

/* the operand k of a two-input lowering: transposed to [its batch labels, A, B] (A, B = M, K
   or K, M for x with adj_x; K, N or N, K for y with adj_y), reshaped to [batch, ΠA, ΠB] */
static int operand(Graph *g, const char *old, const Lower *L, int k, ValueRef *x, int dt, bool check_only, Err *err) {
    const EinsumSpec *s = &L->s;
    int ga, gb;
    if (k == 0) { ga = L->adj_x ? G_K : G_M; gb = L->adj_x ? G_M : G_K; }
    else { ga = L->adj_y ? G_N : G_K; gb = L->adj_y ? G_K : G_N; }
    int64_t perm[MAX_RANK];
    int r = 0;
    bool all_batch = true;
    Target t = {0};
    for (int i = 0; i < L->n_grp[G_B]; i++) {
        int l = L->grp[G_B][i], p = pos_in(s->in_lab[k], s->in_rank[k], l);
        if (p >= 0) perm[r++] = p;
        else all_batch = false;
        /* this input's size: its own dim (1 where it broadcasts), 1 where absent */
        int64_t d = p >= 0 ? graph_value(g, *x)->shape.dim[p] : 1;
        bool dyn = p >= 0 && L->in_dyn[k][p];
        t.n_dyn += dyn;
        t.dim[t.rank++] = dyn ? -1 : d;
    }
    for (int i = 0; i < L->n_grp[ga]; i++) perm[r++] = pos_in(s->in_lab[k], s->in_rank[k], L->grp[ga][i]);
    for (int i = 0; i < L->n_grp[gb]; i++) perm[r++] = pos_in(s->in_lab[k], s->in_rank[k], L->grp[gb][i]);
    target_add(&t, L, L->grp[ga], L->n_grp[ga], 1);
    target_add(&t, L, L->grp[gb], L->n_grp[gb], 1);
    if (t.n_dyn > 1) return -1;
    if (check_only) return 0;
    char name[1100];
    snprintf(name, sizeof name, "%s/%s_transpose", old, k ? "y" : "x");
    if (emit_transpose(g, name, x, perm, r, dt, err)) return -1;
    snprintf(name, sizeof name, "%s/%s_reshape", old, k ? "y" : "x");
    return emit_reshape(g, name, x, t.dim, t.rank, all_batch && L->n_grp[ga] == 1 && L->n_grp[gb] == 1, dt, err);
}

/* the reshape after the matmul: [batch, ΠM, ΠN] -> [batch, M..., N...] */
static bool out_target(const Lower *L, Target *t) {
    memset(t, 0, sizeof *t);
    for (int gi = 0; gi < 3; gi++)
        for (int i = 0; i < L->n_grp[gi]; i++) target_add(t, L, &L->grp[gi][i], 1, 1);
    return t->n_dyn <= 1;
}

static bool feasible(const Graph *g, const Node *n, const Lower *L) {
    if (n->n_inputs == 1) return true;
    Target t;
    ValueRef x = n->inputs[0], y = n->inputs[1];
    return operand((Graph *)g, "", L, 0, &x, DT_FLOAT, true, NULL) == 0 &&
           operand((Graph *)g, "", L, 1, &y, DT_FLOAT, true, NULL) == 0 && out_target(L, &t);
}

static int find_einsum(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    FoldStatic fs;
    if (fold_static_init(&fs, g, err)) return -1;
    int rc = 0;
    for (int i = 0; i < g->n_nodes && !rc; i++) {
        Lower L;
        if (g->nodes[i]->op != OP_EINSUM || !plan_lower(g, u, &fs, i, &L) || !feasible(g, g->nodes[i], &L)) continue;
        Site s = {.n = 1, .nodes = {i}};
        rc = sitelist_push(out, &s, err);
    }
    fold_static_free(&fs);
    return rc;
}

static int lower_one_input(Graph *g, const char *old, const Lower *L, ValueRef *x, int dt, Err *err) {
    const EinsumSpec *s = &L->s;
    char name[1100];
    int rem[MAX_RANK], n_rem = 0; /* labels left after the sum, in x's order */
    if (L->n_grp[G_K]) {
        int64_t axes[MAX_RANK];
        for (int i = 0; i < L->n_grp[G_K]; i++) axes[i] = pos_in(s->in_lab[0], s->in_rank[0], L->grp[G_K][i]);
        snprintf(name, sizeof name, "%s/axes", old);
        int c = add_i32_const(g, name, axes, L->n_grp[G_K], err);
        if (c < 0) return -1;
        ValueRef in[2] = {*x, {c, 0}};
        snprintf(name, sizeof name, "%s/sum", old);
        int sn = edit_add_node(g, name, "Sum", in, 2, err);
        if (sn < 0 || node_set_attr_type(g->nodes[sn], "T", dt, err) ||
            node_set_attr_type(g->nodes[sn], "Tidx", DT_INT32, err) || node_set_attr_b(g->nodes[sn], "keep_dims", false, err))
            return -1;
        *x = (ValueRef){sn, 0};
    }
    for (int a = 0; a < s->in_rank[0]; a++)
        if (s->in_out[s->in_lab[0][a]]) rem[n_rem++] = s->in_lab[0][a];
    int64_t perm[MAX_RANK];
    for (int a = 0; a < s->out_rank; a++) perm[a] = pos_in(rem, n_rem, s->out_lab[a]);
    snprintf(name, sizeof name, "%s/transpose", old);
    return emit_transpose(g, name, x, perm, s->out_rank, dt, err);
}

static int lower_two_inputs(Graph *g, const char *old, const Lower *L, ValueRef *z, Err *err) {
    const EinsumSpec *s = &L->s;
    ValueRef x = *z, y = z[1];
    if (operand(g, old, L, 0, &x, DT_FLOAT, false, err) || operand(g, old, L, 1, &y, DT_FLOAT, false, err)) return -1;
    char name[1100];
    snprintf(name, sizeof name, "%s/matmul", old);
    ValueRef in[2] = {x, y};
    bool batch = L->n_grp[G_B] > 0;
    int m = edit_add_node(g, name, batch ? "BatchMatMulV2" : "MatMul", in, 2, err);
    if (m < 0) return -1;
    Node *mn = g->nodes[m];
    if (node_set_attr_type(mn, "T", DT_FLOAT, err) ||
        node_set_attr_b(mn, batch ? "adj_x" : "transpose_a", L->adj_x, err) ||
        node_set_attr_b(mn, batch ? "adj_y" : "transpose_b", L->adj_y, err))
        return -1;
    ValueRef v = {m, 0};
    Target t;
    if (!out_target(L, &t)) return err_set(err, ERR_RUNTIME, "einsum_to_matmul: output reshape needs two -1 dims");
    snprintf(name, sizeof name, "%s/reshape", old);
    if (emit_reshape(g, name, &v, t.dim, t.rank, L->n_grp[G_M] == 1 && L->n_grp[G_N] == 1, DT_FLOAT, err)) return -1;
    int pre[MAX_RANK], r = 0;
    for (int gi = 0; gi < 3; gi++)
        for (int i = 0; i < L->n_grp[gi]; i++) pre[r++] = L->grp[gi][i];
    int64_t perm[MAX_RANK];
    for (int a = 0; a < s->out_rank; a++) perm[a] = pos_in(pre, r, s->out_lab[a]);
    snprintf(name, sizeof name, "%s/transpose", old);
    if (emit_transpose(g, name, &v, perm, s->out_rank, DT_FLOAT, err)) return -1;
    *z = v;
    return 0;
}

static int apply_einsum(Graph *g, const Site *site, Err *err) {
    int node = site->nodes[0];
    GraphUses u;
    FoldStatic fs;
    if (graph_uses(g, &u, err)) return -1;
    if (fold_static_init(&fs, g, err)) {
        graph_uses_free(&u);
        return -1;
    }
    Lower L;
    bool ok = plan_lower(g, &u, &fs, node, &L) && feasible(g, g->nodes[node], &L);
    fold_static_free(&fs);
    graph_uses_free(&u);
    if (!ok) return err_set(err, ERR_RUNTIME, "einsum_to_matmul: the Einsum no longer lowers");
    int dt = graph_value(g, g->nodes[node]->inputs[0])->dtype;
    ValueRef v[2] = {g->nodes[node]->inputs[0], g->nodes[node]->n_inputs == 2 ? g->nodes[node]->inputs[1] : (ValueRef){-1, 0}};
    char old[1024];
    if (fold_free_name(g, node, old, sizeof old, err)) return -1;
    int first_new = g->n_nodes;
    if (g->nodes[node]->n_inputs == 1 ? lower_one_input(g, old, &L, &v[0], dt, err) : lower_two_inputs(g, old, &L, v, err))
        return -1;
    /* the last node takes the Einsum's name (an Identity when nothing was written) */
    if (v[0].node < first_new) {
        int id = edit_add_node(g, old, "Identity", &v[0], 1, err);
        if (id < 0 || node_set_attr_type(g->nodes[id], "T", dt, err)) return -1;
        v[0] = (ValueRef){id, 0};
    } else if (graph_rename_node(g, v[0].node, old, err) < 0) {
        return -1;
    }
    return edit_replace_uses(g, (ValueRef){node, 0}, v[0], err);
}

const RuleDef einsum_to_matmul = {
    .name = "einsum_to_matmul",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Einsum (no diagonals) => Transpose/Reshape/BatchMatMulV2 (or MatMul), or Sum/Transpose for one input",
    .find = find_einsum,
    .apply = apply_einsum,
};
