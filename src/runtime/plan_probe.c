/* plan_probe.c - how each node of a graph would run, without running it: the answer behind
 * `grappo ops`. Unlike plan_compile, which refuses a graph holding an op grappo cannot execute,
 * the probe classifies every node, including the unsupported ones and those that depend on
 * them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

int plan_probe(const Graph *g, const PlanOpts *opts, PlanNodeSupport *out, Err *err) {
    int n = g->n_nodes;
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    bool *blocked = calloc((size_t)n + 1, sizeof *blocked), *dyn = calloc((size_t)n + 1, sizeof *dyn);
    DnnCtx dnn;
    bool have_dnn = false;
    int rc = -1;
    if (!order || !blocked || !dyn) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    if (graph_topo_order(g, order, err)) goto done;
    if (!(opts && opts->reference)) {
        if (dnn_ctx_init(&dnn, err)) goto done;
        have_dnn = true;
    }
    for (int oi = 0; oi < n; oi++) {
        int i = order[oi];
        const Node *nd = g->nodes[i];
        PlanNodeSupport *s = &out[i];
        memset(s, 0, sizeof *s);
        s->reference = nd->op != OP_UNKNOWN;
        bool after_unknown = false, reads_dyn = false;
        for (int k = 0; k < nd->n_inputs; k++) {
            after_unknown |= blocked[nd->inputs[k].node];
            reads_dyn |= dyn[nd->inputs[k].node];
        }
        for (int k = 0; k < nd->n_ctrl; k++) after_unknown |= blocked[nd->ctrl[k]];
        if (nd->op == OP_UNKNOWN || (op_def(nd->op)->flags & OPF_DEADNESS)) { /* Switch/Merge: reference only */
            s->kind = PLAN_NODE_UNSUPPORTED;
            blocked[i] = true;
            continue;
        }
        if (after_unknown) { s->kind = PLAN_NODE_BLOCKED; blocked[i] = true; continue; }
        if (nd->op == OP_PLACEHOLDER) { s->kind = PLAN_NODE_INPUT; continue; }
        if (plan_all_outputs_known(nd)) { s->kind = PLAN_NODE_CONST; continue; }
        if (ref_node_is_dynamic(nd) || reads_dyn) { s->kind = PLAN_NODE_DYNAMIC; dyn[i] = true; continue; }
        if (nd->op != OP_NO_OP && (op_def(nd->op)->flags & OPF_VIEW)) { s->kind = PLAN_NODE_VIEW; continue; }
        s->kind = PLAN_NODE_REF;
        if (!have_dnn) continue;
        FastKernel k;
        Err e;
        int f = plan_try_fast(&dnn, g, nd, &k, &e);
        if (f > 0) {
            s->kind = PLAN_NODE_FAST;
            snprintf(s->impl, sizeof s->impl, "%.199s", k.impl ? k.impl : "oneDNN");
            if (k.destroy) k.destroy(k.state);
        } else if (f < 0) {
            /* plan_compile would fail on this node: say why */
            s->kind = PLAN_NODE_ERROR;
            snprintf(s->impl, sizeof s->impl, "%.199s", e.msg);
        }
    }
    rc = 0;
done:
    if (have_dnn) dnn_ctx_free(&dnn);
    free(order);
    free(blocked);
    free(dyn);
    return rc;
}

const char *plan_node_kind_name(PlanNodeKind k) {
    switch (k) {
    case PLAN_NODE_INPUT: return "input";
    case PLAN_NODE_CONST: return "constant";
    case PLAN_NODE_VIEW: return "view";
    case PLAN_NODE_FAST: return "fast kernel";
    case PLAN_NODE_REF: return "reference fallback";
    case PLAN_NODE_DYNAMIC: return "reference fallback (dynamic shape)";
    case PLAN_NODE_UNSUPPORTED: return "unsupported";
    case PLAN_NODE_BLOCKED: return "after an unsupported op";
    case PLAN_NODE_ERROR: return "error";
    }
    return "?";
}
