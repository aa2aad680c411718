/* rules_fold_const.c - fold_constants: a node computed from constants becomes a Const.
 *
 * A node folds when every input is a known value (a Const, or a value inference already
 * computed), or when inference already knows all its outputs (Shape of a static tensor); its
 * op is a known, deterministic grappo op (every op in ops.def is: no random ops), not a
 * Placeholder / Const / NoOp; it has no control edges in or out; each output has at most
 * FOLD_CONST_MAX_ELEMS elements of a supported dtype; and its value does not depend on a
 * dynamic placeholder dimension (inference resolves those to one size; see FoldStatic).
 *
 * Nodes that produce a graph output are never folded (Grappler's "nodes to preserve"): the
 * graph's interface must survive every rewrite, and a GraphDef does not count a Const as an
 * output. The Const for output 0 takes the node's name; further outputs get
 * "<name>/output_<k>". Values inference did not compute (over GRAPH_FOLD_MAX_ELEMS elements, like the
 * Transpose of a weight) are computed here with the reference kernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/ref.h"
#include "edit.h"
#include "fold_util.h"
#include "rule.h"

#define FOLD_CONST_MAX_ELEMS ((int64_t)4 << 20)

static bool outputs_known(const Node *n) {
    for (int k = 0; k < n->n_outputs; k++)
        if (!tensor_has_data(&n->outputs[k].known)) return false;
    return true;
}

static bool foldable(const Graph *g, const GraphUses *u, FoldStatic *fs, int i) {
    const Node *n = g->nodes[i];
    if (n->op == OP_UNKNOWN || n->op == OP_CONST || n->op == OP_PLACEHOLDER || n->op == OP_NO_OP) return false;
    /* a PlaceholderWithDefault stays feedable in TensorFlow (Grappler does not fold it either) */
    if (n->op == OP_PLACEHOLDER_WITH_DEFAULT) return false;
    if (n->n_outputs < 1 || n->n_ctrl || fold_has_ctrl_readers(g, u, i)) return false;
    /* a dead node goes anyway; folding it would only add a Const */
    if (fold_node_use_count(g, u, i) == 0) return false;
    for (int k = 0; k < n->n_outputs; k++) {
        const Value *v = &n->outputs[k];
        int64_t e = shape_numel(&v->shape);
        if (!dtype_is_supported(v->dtype) || e < 0 || e > FOLD_CONST_MAX_ELEMS) return false;
    }
    /* a graph output is part of the interface: it stays the node it is (as Grappler's nodes
       to preserve); a Const would stop being an output once written and read back */
    if (fold_is_graph_output(g, i)) return false;
    if (outputs_known(n)) {
        for (int k = 0; k < n->n_outputs; k++)
            if (!fold_static_value(fs, (ValueRef){i, k}, true)) return false;
        return true;
    }
    /* inference evaluates small outputs of known inputs itself: when it left one unknown, the
       kernel failed on these inputs (say an out-of-range gather), and apply would too */
    bool all_small = true;
    for (int k = 0; k < n->n_outputs; k++) all_small &= shape_numel(&n->outputs[k].shape) <= GRAPH_FOLD_MAX_ELEMS;
    if (all_small) return false;
    for (int k = 0; k < n->n_inputs; k++)
        if (!edit_known(g, n->inputs[k]) || !fold_static_value(fs, n->inputs[k], true)) return false;
    return true;
}

static int find_constants(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    FoldStatic fs;
    if (fold_static_init(&fs, g, err)) return -1;
    int rc = 0;
    for (int i = 0; i < g->n_nodes && rc == 0; i++) {
        if (!foldable(g, u, &fs, i)) continue;
        Site s = {.n = 1, .nodes = {i}};
        rc = sitelist_push(out, &s, err);
    }
    fold_static_free(&fs);
    return rc;
}

static int apply_constants(Graph *g, const Site *s, Err *err) {
    int i = s->nodes[0];
    Node *n = g->nodes[i];
    int n_out = n->n_outputs;
    Tensor *vals = calloc((size_t)n_out, sizeof *vals);
    if (!vals) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = -1;
    if (outputs_known(n)) {
        for (int k = 0; k < n_out; k++) vals[k] = tensor_share(&n->outputs[k].known);
    } else {
        Tensor *in = calloc((size_t)n->n_inputs + 1, sizeof *in);
        if (!in) { free(vals); return err_set(err, ERR_RUNTIME, "out of memory"); }
        for (int k = 0; k < n->n_inputs; k++) in[k] = *edit_known(g, n->inputs[k]);
        rc = ref_eval_node(NULL, g, i, in, vals, err);
        free(in);
        if (rc) { free(vals); return -1; }
        rc = -1;
    }
    char name[1024], base[1100];
    if (fold_free_name(g, i, name, sizeof name, err)) goto done;
    for (int k = 0; k < n_out; k++) {
        if (k == 0) snprintf(base, sizeof base, "%s", name);
        else snprintf(base, sizeof base, "%s/output_%d", name, k);
        int c = edit_add_const(g, base, &vals[k], err);
        if (c < 0) goto done;
        if (g->nodes[i]->device && node_set_device(g->nodes[c], g->nodes[i]->device, err)) goto done;
        if (edit_replace_uses(g, (ValueRef){i, k}, (ValueRef){c, 0}, err)) goto done;
    }
    rc = 0;
done:
    for (int k = 0; k < n_out; k++) tensor_release(&vals[k]);
    free(vals);
    return rc;
}

const RuleDef fold_constants = {
    .name = "fold_constants",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "a deterministic node whose inputs are all constants (<= 4M elements out, no control edges) => a Const "
           "with its value, under its name",
    .find = find_constants,
    .apply = apply_constants,
};
