/* ref_exec.c - the reference executor: runs the nodes a fetch needs, once each, in
 * topological order, freeing every value after its last consumer, timing each node. A graph
 * whose needed nodes hold TF1 control flow or TensorArray/TensorList state (OPF_DEADNESS) runs
 * through the frame interpreter instead (ref_frame.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ref.h"
#include "ref_lowp.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int ref_kernel_call(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    if (n->op == OP_UNKNOWN || !ref_kernels[n->op])
        return err_set(err, ERR_INPUT, "node '%s': op %s is not supported by the reference runtime", n->name, n->op_name);
    return ref_lowp_applies(n, in) ? ref_lowp_emulate(n, in, out, err) : ref_kernels[n->op](n, in, out, err);
}

int ref_eval_node(void *ctx, const Graph *g, int node, const Tensor *in, Tensor *out, Err *err) {
    (void)ctx;
    const Node *n = g->nodes[node];
    if (n->op == OP_UNKNOWN || !ref_kernels[n->op])
        return err_set(err, ERR_INPUT, "node '%s': op %s is not supported by the reference runtime", n->name, n->op_name);
    for (int k = 0; k < n->n_outputs; k++) {
        if (tensor_alloc(&out[k], n->outputs[k].dtype, &n->outputs[k].shape, err)) {
            for (int j = 0; j < k; j++) tensor_release(&out[j]);
            return err_prefix(err, "node '%s' (%s) output %d", n->name, n->op_name, k);
        }
    }
    if (ref_kernel_call(n, in, out, err)) {
        for (int k = 0; k < n->n_outputs; k++) tensor_release(&out[k]);
        return err_prefix(err, "node '%s' (%s)", n->name, n->op_name);
    }
    return 0;
}

typedef struct Exec {
    const Graph *g;
    int *base;     /* base[i] = index of node i's port 0 in vals/uses */
    Tensor *vals;  /* one per (node, port) */
    int *uses;     /* remaining consumers among needed nodes, +1 per fetch */
    bool *needed;
    int *order;
} Exec;

static void exec_free(Exec *x) {
    if (x->vals && x->base)
        for (int i = 0; i < x->base[x->g->n_nodes]; i++) tensor_release(&x->vals[i]);
    free(x->base); free(x->vals); free(x->uses); free(x->needed); free(x->order);
}

static int feed_index(const Graph *g, const char *name, Err *err) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", name);
    size_t len = strlen(buf);
    if (len > 2 && !strcmp(buf + len - 2, ":0")) buf[len - 2] = 0;
    int i = graph_find(g, buf);
    if (i < 0 || g->nodes[i]->op != OP_PLACEHOLDER)
        return err_set(err, ERR_INPUT, "input '%s' names no placeholder in the graph", name);
    return i;
}

int ref_run(const Graph *g, const RefFeed *feeds, int n_feeds, const ValueRef *fetch, int n_fetch,
            Tensor *out, RefStats *stats, Err *err) {
    int n = g->n_nodes, rc = -1;
    if (!fetch) { fetch = g->outputs; n_fetch = g->n_outputs; }
    Exec x = {.g = g};
    x.base = malloc(((size_t)n + 1) * sizeof *x.base);
    x.needed = calloc((size_t)n + 1, sizeof *x.needed);
    x.order = malloc(((size_t)n + 1) * sizeof *x.order);
    if (!x.base || !x.needed || !x.order) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    x.base[0] = 0;
    for (int i = 0; i < n; i++) x.base[i + 1] = x.base[i] + g->nodes[i]->n_outputs;
    x.vals = calloc((size_t)x.base[n] + 1, sizeof *x.vals);
    x.uses = calloc((size_t)x.base[n] + 1, sizeof *x.uses);
    if (!x.vals || !x.uses) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    /* what the fetches need; Shape reads the inferred shape, not the data */
    if (ref_mark_needed(g, fetch, n_fetch, REF_NEEDED_SKIP_SHAPE_ONLY, x.needed, err)) goto done;
    if (graph_check_executable(g, x.needed, err)) goto done; /* every unsupported op, with counts */
    if (ref_frame_needed(g, x.needed)) { /* the frame interpreter runs Shapes' inputs too */
        if (ref_needed_add_shape_inputs(g, x.needed, err)) goto done;
        rc = ref_frame_run_needed(g, x.needed, feeds, n_feeds, fetch, n_fetch, out, stats, err);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (!x.needed[i]) continue;
        const Node *nd = g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) x.uses[x.base[nd->inputs[k].node] + nd->inputs[k].port]++;
    }
    for (int k = 0; k < n_fetch; k++) x.uses[x.base[fetch[k].node] + fetch[k].port]++;
    /* feeds */
    for (int f = 0; f < n_feeds; f++) {
        int i = feed_index(g, feeds[f].name, err);
        if (i < 0) goto done;
        const Value *v = &g->nodes[i]->outputs[0];
        const Tensor *t = &feeds[f].value;
        char a[96], b[96];
        if (t->dtype != v->dtype) {
            err_set(err, ERR_INPUT, "input '%s' must be %s, got %s", feeds[f].name, dtype_name(v->dtype), dtype_name(t->dtype));
            goto done;
        }
        if (!shape_equal(&t->shape, &v->shape)) {
            err_set(err, ERR_INPUT, "input '%s' has shape %s but the graph was prepared for %s", feeds[f].name,
                    shape_str(&t->shape, a, sizeof a), shape_str(&v->shape, b, sizeof b));
            goto done;
        }
        tensor_release(&x.vals[x.base[i]]);
        x.vals[x.base[i]] = tensor_share(t);
    }
    if (graph_topo_order(g, x.order, err)) goto done;

    size_t base_live = tensor_live_bytes();
    tensor_reset_peak();
    size_t weight_bytes = 0;
    double t_start = now_ms();
    Tensor in_buf[16];
    for (int oi = 0; oi < n; oi++) {
        int i = x.order[oi];
        if (!x.needed[i]) continue;
        const Node *nd = g->nodes[i];
        if (nd->op == OP_PLACEHOLDER) {
            if (!tensor_has_data(&x.vals[x.base[i]])) {
                err_set(err, ERR_INPUT, "input '%s' was not fed", nd->name);
                goto done;
            }
            continue;
        }
        Tensor *in = nd->n_inputs <= 16 ? in_buf : malloc((size_t)nd->n_inputs * sizeof *in);
        if (!in) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
        for (int k = 0; k < nd->n_inputs; k++) {
            in[k] = x.vals[x.base[nd->inputs[k].node] + nd->inputs[k].port];
            if (!tensor_has_data(&in[k]) && ref_shape_only_input(g, nd, k)) { /* dtype and shape, no data */
                const Value *v = node_input_value(g, nd, k);
                in[k] = (Tensor){.dtype = v->dtype, .shape = v->shape, .buf = NULL};
            }
        }
        double t0 = now_ms();
        int krc = ref_dyn_eval_node(g, i, in, &x.vals[x.base[i]], err);
        double dt = now_ms() - t0;
        if (in != in_buf) free(in);
        if (krc) goto done;
        if (stats && stats->node_ms) stats->node_ms[i] = dt;
        if (nd->op == OP_CONST) weight_bytes += tensor_nbytes(&x.vals[x.base[i]]);
        /* inputs whose last consumer this was are freed now */
        for (int k = 0; k < nd->n_inputs; k++) {
            int vi = x.base[nd->inputs[k].node] + nd->inputs[k].port;
            if (--x.uses[vi] == 0) tensor_release(&x.vals[vi]);
        }
        /* outputs nobody needs are freed at once */
        for (int k = 0; k < nd->n_outputs; k++)
            if (x.uses[x.base[i] + k] == 0) tensor_release(&x.vals[x.base[i] + k]);
    }
    double total = now_ms() - t_start;
    for (int k = 0; k < n_fetch; k++) out[k] = tensor_share(&x.vals[x.base[fetch[k].node] + fetch[k].port]);
    if (stats) {
        stats->total_ms = total;
        size_t peak = tensor_peak_bytes();
        /* Const buffers are shared with the graph, so they never show up as new bytes */
        stats->peak_bytes = peak > base_live ? peak - base_live : 0;
        stats->weight_bytes = weight_bytes;
    }
    rc = 0;
done:
    exec_free(&x);
    return rc;
}
