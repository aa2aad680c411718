/* cost_time.c - timing one kernel alone on the fast runtime.
 *
 * The node is copied into a graph of its own: each constant input becomes a Const sharing
 * the original tensor buffer (so the plan prepacks it exactly as in the full graph), each
 * other input a Placeholder with the inferred dtype and shape, and the node keeps every
 * attribute (calibration ranges included: int8 kernels read them). The graph is inferred
 * without folding and compiled with the requested threads. Several kernels are timed together
 * in rounds (2 warm-up rounds, then `repeats`), each round running every kernel twice back to
 * back and timing the second run (its input warm in cache, as after its producer in a plan);
 * a kernel's time is the median of its rounds' plan step times (feeding and fetching
 * excluded). Why rounds and warm inputs: see the top of cost.c. */
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

typedef struct Timed {
    Graph *h;
    Plan *p;
    InputSet in;
    double *t;
} Timed;

static void timed_free(Timed *k) {
    inputs_free(&k->in);
    plan_free(k->p);
    graph_free(k->h);
    free(k->t);
    memset(k, 0, sizeof *k);
}

/* one run of a timed kernel; its step time goes to *ms */
static int run_once(Timed *k, double *ms, Err *err) {
    Tensor *outs = calloc((size_t)k->h->n_outputs + 1, sizeof *outs); /* a Split may have thousands */
    if (!outs) return err_set(err, ERR_RUNTIME, "out of memory");
    PlanTiming pt = {0};
    int rc = plan_run(k->p, k->in.feeds[0], k->in.n_feeds, outs, &pt, err);
    if (!rc)
        for (int j = 0; j < k->h->n_outputs; j++) tensor_release(&outs[j]);
    free(outs);
    *ms = latency_clock_ms(k->h, pt.total_ms);
    return rc;
}

int cost_time_nodes(const Graph *g, const int *nodes, int n, int threads, int repeats, double *ms, bool *ok, bool *noisy, Err *err) {
    if (repeats <= 0) repeats = 15;
    Timed *k = calloc((size_t)(n ? n : 1), sizeof *k);
    if (!k) return err_set(err, ERR_RUNTIME, "out of memory");
    PlanOpts po = {.threads = threads};
    for (int j = 0; j < n; j++) {
        Err e = {0}; /* a kernel that cannot be built or run alone is the caller's fallback */
        ok[j] = false;
        if (noisy) noisy[j] = false;
        ms[j] = 0;
        k[j].h = one_node_graph(g, nodes[j], &e);
        if (!k[j].h || k[j].h->n_outputs > 64) { timed_free(&k[j]); continue; }
        k[j].t = malloc(sizeof *k[j].t * (size_t)repeats);
        k[j].p = plan_compile(k[j].h, NULL, 0, &po, &e);
        if (!k[j].t || !k[j].p || inputs_generate(k[j].h, 1, 1, &k[j].in, &e)) { timed_free(&k[j]); continue; }
        ok[j] = true;
    }
    /* rounds: every kernel once per round, so a burst of load from another process lands
       on one or two samples of every kernel, which the median discards, instead of on all
       the samples of the kernels timed during the burst */
    for (int r = -2; r < repeats; r++) { /* r < 0: warm-ups */
        for (int j = 0; j < n; j++) {
            if (!ok[j]) continue;
            Err e = {0};
            double t;
            /* two runs back to back, the second one timed: inside a whole plan a kernel's
               input was just written by its producer and sits in cache; the first run
               brings it there after the other kernels of the round evicted it */
            if (run_once(&k[j], &t, &e) || run_once(&k[j], &t, &e)) { ok[j] = false; timed_free(&k[j]); continue; }
            if (r >= 0) k[j].t[r] = t;
        }
    }
    for (int j = 0; j < n; j++) {
        if (!ok[j]) continue;
        qsort(k[j].t, (size_t)repeats, sizeof *k[j].t, cmp_double);
        ms[j] = repeats % 2 ? k[j].t[repeats / 2] : 0.5 * (k[j].t[repeats / 2 - 1] + k[j].t[repeats / 2]);
        if (noisy) noisy[j] = repeats >= 4 && k[j].t[(3 * repeats) / 4] > 1.5 * k[j].t[repeats / 4];
        timed_free(&k[j]);
    }
    free(k);
    return 0;
}
