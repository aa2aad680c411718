/* rules_quant_gather.c - quantize_gather_int8: int8 embedding tables (docs/ops.md, "Embedding
 * tables in int8"). A large float32 Const table T [V, D...] (>= GATHER_INT8_MIN_ELEMS elements)
 * read only as the params of GatherV2 nodes along axis 0 (batch_dims 0) is stored as
 *
 *   Tq [V, D...] int8, symmetric per row:  s_r = max_j |T[r, j]| / 127  (1 for a row of zeros,
 *                                          or one too small for a normal float scale),
 *                                          Tq[r, j] = round_half_even(T[r, j] / s_r)
 *   S  [V, 1...] float32: the row scales
 *
 * and every gather y = GatherV2(T, ids, 0) becomes, in stock TensorFlow ops only (RULE_TF),
 *
 *   y = Mul(Cast(GatherV2(Tq, ids, 0), float32), GatherV2(S, ids, 0))
 *
 * The two gathers have shapes ids.shape + [D...] and ids.shape + [1...]: the Mul broadcasts
 * over the trailing dimensions for any rank of ids. The Mul takes the gather's name.
 *
 * Error: |y - T[r, j]| <= s_r / 2 per element (q * s_r rounded once to float32 adds at most
 * 2^-24 |q s_r|); exactly 0 for a row of zeros. Only the weights change: a quarter of the
 * table's bytes (plus 4 bytes per row for S) in the saved model and in the plan's weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "fold_util.h"
#include "rules_quant.h"

/* a table smaller than this is not worth the three extra nodes per gather */
#define GATHER_INT8_MIN_ELEMS 65536
/* symmetric int8 range of the table */
#define GATHER_INT8_QMAX 127
#define STR_(x) #x
#define STR(x) STR_(x)

/* gather node n reads value `table` as params only, along axis 0, without batch dims */
static bool gather_reads_rows(const Graph *g, const Node *n, ValueRef table, int rank) {
    if (n->op != OP_GATHER_V2 || n->n_inputs != 3 || n->n_outputs != 1) return false;
    if (n->inputs[0].node != table.node || n->inputs[0].port != table.port) return false;
    for (int k = 1; k < 3; k++)
        if (n->inputs[k].node == table.node) return false;
    if (node_attr_i(n, "batch_dims", 0) != 0 || n->outputs[0].dtype != DT_FLOAT) return false;
    const Tensor *ax = edit_known(g, n->inputs[2]);
    if (!ax || tensor_numel(ax) != 1 || (ax->dtype != DT_INT32 && ax->dtype != DT_INT64)) return false;
    int64_t a = (int64_t)tensor_get(ax, 0);
    return a == 0 || a == -rank;
}

/* Const node c is a site: a large float32 table whose every reader is such a gather (at most
   SITE_MAX_NODES - 1 of them), with no control readers, not a graph output. Reads shapes and
   structure only, never the table's values (find runs at every search step). */
static bool table_site(const Graph *g, const GraphUses *u, int c, Site *s) {
    const Node *cn = g->nodes[c];
    if (cn->op != OP_CONST || cn->n_outputs != 1) return false;
    ValueRef tv = {c, 0};
    const Tensor *t = quant_const_f32(g, tv);
    if (!t || t->shape.rank < 2 || tensor_numel(t) < GATHER_INT8_MIN_ELEMS) return false;
    if (fold_is_graph_output(g, c) || fold_has_ctrl_readers(g, u, c)) return false;
    *s = (Site){.n = 1, .nodes = {c}};
    for (int k = u->use_start[c]; k < u->use_start[c + 1]; k++) {
        int r = u->use_node[k];
        bool seen = false;
        for (int j = 1; j < s->n && !seen; j++) seen = s->nodes[j] == r;
        if (seen) continue;
        if (s->n == SITE_MAX_NODES || !gather_reads_rows(g, g->nodes[r], tv, t->shape.rank)) return false;
        s->nodes[s->n++] = r;
    }
    return s->n > 1;
}

static int find_gather(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        Site s;
        if (table_site(g, u, i, &s) && sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

/* a node named after `base`/`suffix` (made unique) with n->device of node `like` */
static int add_like(Graph *g, int like, const char *suffix, const char *op, const ValueRef *in, int n_in, Err *err) {
    char base[1100];
    snprintf(base, sizeof base, "%s/%s", g->nodes[like]->name, suffix);
    int k = edit_add_node(g, base, op, in, n_in, err);
    if (k < 0) return -1;
    const char *dev = g->nodes[like]->device;
    if (dev && node_set_device(g->nodes[k], dev, err)) return -1;
    return k;
}

static int add_gather(Graph *g, int like, const char *suffix, ValueRef params, int tparams, Err *err) {
    const Node *o = g->nodes[like];
    ValueRef ids = o->inputs[1], axis = o->inputs[2];
    int k = add_like(g, like, suffix, "GatherV2", (ValueRef[]){params, ids, axis}, 3, err);
    if (k < 0) return -1;
    Node *n = g->nodes[k];
    if (node_set_attr_type(n, "Tparams", tparams, err) ||
        node_set_attr_type(n, "Tindices", graph_value(g, ids)->dtype, err) ||
        node_set_attr_type(n, "Taxis", graph_value(g, axis)->dtype, err) || node_set_attr_i(n, "batch_dims", 0, err))
        return -1;
    return k;
}

/* gather `gi` (reading the table) rewritten onto the int8 table qc and the scales sc */
static int rewrite_gather(Graph *g, int gi, int qc, int sc, Err *err) {
    int gq = add_gather(g, gi, "int8_rows", (ValueRef){qc, 0}, DT_INT8, err);
    if (gq < 0) return -1;
    int cast = add_like(g, gi, "to_float", "Cast", (ValueRef[]){{gq, 0}}, 1, err);
    if (cast < 0) return -1;
    Node *cn = g->nodes[cast];
    if (node_set_attr_type(cn, "SrcT", DT_INT8, err) || node_set_attr_type(cn, "DstT", DT_FLOAT, err) ||
        node_set_attr_b(cn, "Truncate", false, err))
        return -1;
    int gs = add_gather(g, gi, "row_scales", (ValueRef){sc, 0}, DT_FLOAT, err);
    if (gs < 0) return -1;
    int mul = add_like(g, gi, "dequantize", "Mul", (ValueRef[]){{cast, 0}, {gs, 0}}, 2, err);
    if (mul < 0 || node_set_attr_type(g->nodes[mul], "T", DT_FLOAT, err)) return -1;
    if (quant_take_over(g, gi, mul, err)) return -1;
    return edit_replace_uses(g, (ValueRef){gi, 0}, (ValueRef){mul, 0}, err);
}

static int apply_gather(Graph *g, const Site *s, Err *err) {
    int c = s->nodes[0];
    const Tensor *w = edit_known(g, (ValueRef){c, 0});
    if (!w || w->dtype != DT_FLOAT || w->shape.rank < 2) return err_set(err, ERR_RUNTIME, "quantize_gather_int8: not a float table");
    int64_t rows = w->shape.dim[0], numel = tensor_numel(w);
    if (rows < 1 || numel < rows) return err_set(err, ERR_RUNTIME, "quantize_gather_int8: empty table");
    Shape ss = {.rank = w->shape.rank};
    ss.dim[0] = rows;
    for (int d = 1; d < ss.rank; d++) ss.dim[d] = 1;
    Tensor q = {0}, st = {0};
    if (tensor_alloc(&st, DT_FLOAT, &ss, err)) return -1;
    int rc = -1;
    /* one channel per row: element i belongs to row i / (numel / rows) */
    if (quant_weights(w, rows, numel / rows, GATHER_INT8_QMAX, &q, tensor_mut(&st), err)) goto out;
    char base[1100];
    snprintf(base, sizeof base, "%s/int8", g->nodes[c]->name);
    int qc = edit_add_const(g, base, &q, err);
    if (qc < 0) goto out;
    snprintf(base, sizeof base, "%s/row_scales", g->nodes[c]->name);
    int sc = edit_add_const(g, base, &st, err);
    if (sc < 0) goto out;
    const char *dev = g->nodes[c]->device;
    if (dev && (node_set_device(g->nodes[qc], dev, err) || node_set_device(g->nodes[sc], dev, err))) goto out;
    for (int k = 1; k < s->n; k++)
        if (rewrite_gather(g, s->nodes[k], qc, sc, err)) goto out;
    rc = 0;
out:
    tensor_release(&q);
    tensor_release(&st);
    return rc;
}

const RuleDef quantize_gather_int8 = {
    .name = "quantize_gather_int8",
    .family = "quantize",
    .flags = RULE_PRECISION | RULE_TF,
    .doc = "float32 Const embedding table (>= " STR(GATHER_INT8_MIN_ELEMS) " elements) read only by GatherV2 on axis 0 => int8 table + per-row "
           "scales: Mul(Cast(GatherV2(int8)), GatherV2(scales)), stock TF ops (a quarter of the table's bytes; "
           "|error| <= row scale / 2): changes numerics",
    .find = find_gather,
    .apply = apply_gather,
};
