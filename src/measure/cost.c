/* cost.c - the cost model: a graph's latency as the sum of its kernels' times, each kernel
 * timed once (COST_MEASURED, cached on disk by cost_cache.c) or computed by the roofline
 * (COST_ROOFLINE); memory as weights read + activation peak. See cost.h for the contract.
 *
 * Which nodes count mirrors plan.c exactly: the nodes the graph outputs need, walking back
 * from the outputs and stopping at values known at compile time; of those, every node that
 * is not a Placeholder, a known value or a view (cost_node_is_kernel). A node the runtime
 * cannot run (unknown op, unknown shape) is an error, as it is for plan_compile.
 *
 * Calibration against whole-plan timing (grappo cost, see cmd_cost.c): a kernel timed alone
 * is timed in the same conditions it meets inside a plan - prepacked constant weights, the
 * same thread count, warm OpenMP pool, plan step time excluding feeds and fetches - so the
 * plain sum is the estimate; the measured errors are reported by `grappo cost`. Kernels whose
 * one-node graph cannot be built or compiled are charged the roofline time instead (kept in
 * memory only, never written to the disk cache, and counted in CostStats.fallbacks). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cost_internal.h"

#define KEY_CAP 1024

struct CostModel {
    CostOpts opts; /* threads resolved (> 0) */
    CostCache *cache;
    CostStats stats;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

CostModel *cost_open(const CostOpts *opts, Err *err) {
    CostModel *cm = calloc(1, sizeof *cm);
    if (!cm) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    if (opts) cm->opts = *opts;
    if (cm->opts.threads <= 0) {
        /* 0 = all cores; resolved here so the cache file names the real count */
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cm->opts.threads = n > 0 ? (int)n : 1;
    }
    if (cm->opts.repeats <= 0) cm->opts.repeats = 15;
    /* the roofline has nothing to remember across processes */
    const char *dir = cm->opts.backend == COST_ROOFLINE ? "" : cm->opts.cache_dir;
    cm->cache = cost_cache_open(dir, cm->opts.threads, err);
    if (!cm->cache) { free(cm); return NULL; }
    cm->stats.entries = cost_cache_entries(cm->cache);
    return cm;
}

void cost_close(CostModel *cm) {
    if (!cm) return;
    cost_cache_close(cm->cache);
    free(cm);
}

void cost_stats(const CostModel *cm, CostStats *out) {
    *out = cm->stats;
    out->entries = cost_cache_entries(cm->cache);
}

const char *cost_cache_path(const CostModel *cm) { return cost_cache_file(cm->cache); }

/* needed[i]: the graph outputs need node i at run time (plan.c's mark_needed) */
static int mark_needed(const Graph *g, bool *needed, Err *err) {
    int *stack = malloc(((size_t)g->n_nodes + 1) * sizeof *stack), top = 0;
    if (!stack) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int k = 0; k < g->n_outputs; k++)
        if (!needed[g->outputs[k].node]) { needed[g->outputs[k].node] = true; stack[top++] = g->outputs[k].node; }
    while (top > 0) {
        const Node *n = g->nodes[stack[--top]];
        bool all_known = n->n_outputs > 0;
        for (int k = 0; k < n->n_outputs; k++)
            if (!tensor_has_data(&n->outputs[k].known)) all_known = false;
        if (all_known) continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (!needed[n->inputs[k].node]) { needed[n->inputs[k].node] = true; stack[top++] = n->inputs[k].node; }
        for (int k = 0; k < n->n_ctrl; k++)
            if (!needed[n->ctrl[k]]) { needed[n->ctrl[k]] = true; stack[top++] = n->ctrl[k]; }
    }
    free(stack);
    return 0;
}

/* one kernel's time: cache, else timing (or roofline) */
static int kernel_ms(CostModel *cm, const Graph *g, int i, const char *key, double *ms, bool *miss, Err *err) {
    *miss = false;
    cm->stats.lookups++;
    if (cm->opts.backend == COST_ROOFLINE) {
        *ms = cost_roofline_ms(g, i, &cm->opts);
        return 0;
    }
    if (cost_cache_get(cm->cache, key, ms)) { cm->stats.hits++; return 0; }
    *miss = true;
    double t0 = now_ms();
    Err terr = {0};
    bool timed = cost_time_node(g, i, cm->opts.threads, cm->opts.repeats, ms, &terr) == 0;
    cm->stats.timing_ms += now_ms() - t0;
    if (timed) cm->stats.timed++;
    else {
        *ms = cost_roofline_ms(g, i, &cm->opts);
        cm->stats.fallbacks++;
    }
    return cost_cache_put(cm->cache, key, *ms, timed, err);
}

typedef struct WeightRef { const void *buf; size_t bytes; } WeightRef;

static int cmp_weight(const void *a, const void *b) {
    const WeightRef *x = a, *y = b;
    return (x->buf > y->buf) - (x->buf < y->buf);
}

int cost_estimate(CostModel *cm, const Graph *g, CostEstimate *out, double *node_ms, Err *err) {
    memset(out, 0, sizeof *out);
    if (node_ms) memset(node_ms, 0, sizeof *node_ms * (size_t)g->n_nodes);
    bool *needed = calloc((size_t)g->n_nodes + 1, sizeof *needed);
    int *order = malloc(sizeof *order * ((size_t)g->n_nodes + 1));
    char *key = malloc(KEY_CAP);
    size_t n_w = 0, cap_w = 64;
    WeightRef *w = malloc(sizeof *w * cap_w);
    int rc = -1;
    if (!needed || !order || !key || !w) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    if (mark_needed(g, needed, err) || graph_topo_order(g, order, err)) goto done;
    for (int oi = 0; oi < g->n_nodes; oi++) {
        int i = order[oi]; /* execution order: timing (and so the disk cache) is deterministic */
        const Node *n = g->nodes[i];
        if (!needed[i] || !cost_node_is_kernel(g, i)) continue;
        if (n->op == OP_UNKNOWN) {
            err_set(err, ERR_RUNTIME, "node '%s': op %s is not supported by grappo's runtimes", n->name, n->op_name);
            goto done;
        }
        for (int k = 0; k < n->n_outputs; k++)
            if (!shape_is_known(&n->outputs[k].shape) || !dtype_is_supported(n->outputs[k].dtype)) {
                err_set(err, ERR_RUNTIME, "node '%s' (%s): output %d has no static shape or a dtype grappo cannot compute with",
                        n->name, n->op_name, k);
                goto done;
            }
        cost_kernel_key(g, i, key, KEY_CAP);
        double ms;
        bool miss;
        if (kernel_ms(cm, g, i, key, &ms, &miss, err)) goto done;
        out->latency_ms += ms;
        out->kernels++;
        out->misses += miss;
        if (node_ms) node_ms[i] = ms;
        /* constants this kernel reads; a constant shared by several kernels (or reached
           through a view) shares its buffer, counted once below */
        for (int k = 0; k < n->n_inputs; k++) {
            if (!cost_input_is_const(g, n, k)) continue;
            const Tensor *t = &node_input_value(g, n, k)->known;
            if (n_w == cap_w) {
                cap_w *= 2;
                WeightRef *nw = realloc(w, sizeof *w * cap_w);
                if (!nw) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
                w = nw;
            }
            w[n_w++] = (WeightRef){t->buf->data, tensor_nbytes(t)};
        }
    }
    qsort(w, n_w, sizeof *w, cmp_weight);
    for (size_t k = 0; k < n_w; k++)
        if (k == 0 || w[k].buf != w[k - 1].buf) out->weight_bytes += (double)w[k].bytes;
    int64_t act = graph_activation_peak(g, err);
    if (act < 0) goto done;
    out->peak_bytes = out->weight_bytes + (double)act;
    rc = 0;
done:
    free(needed);
    free(order);
    free(key);
    free(w);
    return rc;
}
