/* cost_time.c - timing one kernel alone on the fast runtime.
 *
 * The node is copied into a graph of its own: each constant input becomes a Const sharing
 * the original tensor buffer (so the plan prepacks it exactly as in the full graph), each
 * other input a Placeholder with the inferred dtype and shape, and the node keeps every
 * attribute (calibration ranges included: int8 kernels read them). The graph is inferred
 * without folding, compiled with the requested threads, run twice to warm up (oneDNN's
 * primitive creation, caches, the OpenMP pool), then `repeats` times; the result is the
 * median of the plan's own step time (feeding and fetching excluded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/plan.h"
#include "cost_internal.h"
#include "measure.h"

/* the one-node graph for node i of g, inferred; NULL with err set */
static Graph *one_node_graph(const Graph *g, int node, Err *err) {
    const Node *src = g->nodes[node];
    Graph *h = graph_new();
    if (!h) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    char name[32];
    for (int k = 0; k < src->n_inputs; k++) {
        const Value *v = node_input_value(g, src, k);
        snprintf(name, sizeof name, "in%d", k);
        bool konst = cost_input_is_const(g, src, k);
        int i = graph_add_node(h, name, konst ? "Const" : "Placeholder", err);
        if (i < 0) goto fail;
        Node *n = h->nodes[i];
        if (node_set_attr_type(n, "dtype", v->dtype, err)) goto fail;
        if (konst ? node_set_attr_tensor(n, "value", &v->known, err) : node_set_attr_shape(n, "shape", &v->shape, err)) goto fail;
    }
    int i = graph_add_node(h, "kernel", src->op_name, err);
    if (i < 0) goto fail;
    Node *n = h->nodes[i];
    for (int k = 0; k < src->n_inputs; k++)
        if (node_add_input(h, i, (ValueRef){k, 0}, err)) goto fail;
    for (int a = 0; a < src->n_attrs; a++) {
        Attr *dst = node_attr_put(n, src->attrs[a].name);
        if (!dst) { err_set(err, ERR_RUNTIME, "out of memory"); goto fail; }
        char *keep = dst->name;
        if (attr_copy(dst, &src->attrs[a], err)) { dst->name = keep; goto fail; }
        free(keep);
    }
    if (graph_infer(h, NULL, 0, NULL, NULL, err)) goto fail;
    if (n->n_outputs != src->n_outputs) { err_set(err, ERR_RUNTIME, "one-node graph infers %d outputs, not %d", n->n_outputs, src->n_outputs); goto fail; }
    for (int k = 0; k < n->n_outputs; k++) {
        if (n->outputs[k].dtype != src->outputs[k].dtype || !shape_equal(&n->outputs[k].shape, &src->outputs[k].shape)) {
            err_set(err, ERR_RUNTIME, "one-node graph infers another output %d", k);
            goto fail;
        }
        if (graph_add_output(h, (ValueRef){i, k}, err)) goto fail;
    }
    return h;
fail:
    graph_free(h);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cost_time_node(const Graph *g, int node, int threads, int repeats, double *ms, Err *err) {
    if (repeats <= 0) repeats = 15;
    Graph *h = one_node_graph(g, node, err);
    if (!h) return -1;
    int rc = -1;
    Plan *p = NULL;
    InputSet in = {0};
    double *t = malloc(sizeof *t * (size_t)repeats);
    Tensor outs[64];
    if (!t) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    if (h->n_outputs > 64) { err_set(err, ERR_RUNTIME, "too many outputs"); goto done; }
    PlanOpts po = {.threads = threads};
    p = plan_compile(h, NULL, 0, &po, err);
    if (!p) goto done;
    if (inputs_generate(h, 1, 1, &in, err)) goto done;
    for (int r = -2; r < repeats; r++) { /* r < 0: warm-ups */
        PlanTiming pt = {0};
        if (plan_run(p, in.feeds[0], in.n_feeds, outs, &pt, err)) goto done;
        for (int k = 0; k < h->n_outputs; k++) tensor_release(&outs[k]);
        if (r >= 0) t[r] = pt.total_ms;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    *ms = repeats % 2 ? t[repeats / 2] : 0.5 * (t[repeats / 2 - 1] + t[repeats / 2]);
    rc = 0;
done:
    inputs_free(&in);
    plan_free(p);
    free(t);
    graph_free(h);
    return rc;
}
