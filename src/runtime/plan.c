/* plan.c - compiling a Graph into a Plan: which nodes run (and how), tensor lifetimes,
 * in-place reuse, the arena layout. Execution lives in plan_run.c. */
#include "plan_internal.h"

#include "../graph/mem_budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the oneDNN families, asked in this order (native eltwise before oneDNN's: see dnn_eltwise.c
   on NaN) */
static const FastCompileFn families[] = {
    fast_compile_conv,    fast_compile_matmul, fast_compile_pool,   fast_compile_native_eltwise, fast_compile_eltwise, fast_compile_binary,
    fast_compile_native_binary, /* after binary: oneDNN keeps every case it can do */
    fast_compile_softmax, fast_compile_batchnorm, fast_compile_concat, fast_compile_resample, fast_compile_reduce,
    fast_compile_quant,      fast_compile_layernorm, fast_compile_gelu, fast_compile_attention, fast_compile_fused_elementwise,   fast_compile_transpose,
};

int plan_try_fast(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *out, Err *err) {
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        FastKernel k;
        memset(&k, 0, sizeof k);
        k.inplace = -1;
        int rc = families[f](ctx, g, n, &k, err);
        if (rc != 0) {
            if (rc > 0) *out = k;
            return rc;
        }
    }
    return 0;
}

bool plan_all_outputs_known(const Node *n) { return ref_all_outputs_known(n); }

int slot_root(const Plan *p, int s) {
    while (p->slots[s].kind == SLOT_ALIAS) s = p->slots[s].alias_of;
    return s;
}

void plan_free(Plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n_steps; i++)
        if (p->steps[i].kind == STEP_FAST && p->steps[i].k.destroy) p->steps[i].k.destroy(p->steps[i].k.state);
    if (p->slots)
        for (int s = 0; s < p->n_slots; s++) tensor_release(&p->slots[s].t);
    if (p->have_dnn) dnn_ctx_free(&p->dnn);
    free(p->frame_needed);
    free(p->steps);
    free(p->slots);
    free(p->base);
    free(p->fetch);
    free(p->arena);
    free(p->scratch);
    free(p);
}

/* Decides each node's step kind and each value's slot kind. */
static int build_steps(Plan *p, const bool *needed, const PlanOpts *opts, Err *err) {
    const Graph *g = p->g;
    int *order = malloc(((size_t)g->n_nodes + 1) * sizeof *order);
    if (!order) return err_set(err, ERR_RUNTIME, "out of memory");
    if (graph_topo_order(g, order, err)) { free(order); return -1; }
    p->steps = calloc((size_t)g->n_nodes + 1, sizeof *p->steps);
    if (!p->steps) { free(order); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int oi = 0; oi < g->n_nodes; oi++) {
        int i = order[oi];
        if (!needed[i]) continue;
        const Node *n = g->nodes[i];
        Slot *out = &p->slots[p->base[i]];
        if (n->op == OP_PLACEHOLDER) {
            out->kind = SLOT_FEED;
            continue;
        }
        if (plan_all_outputs_known(n)) { /* Consts, and values folded at inference */
            for (int k = 0; k < n->n_outputs; k++) { out[k].kind = SLOT_CONST; out[k].konst = &n->outputs[k].known; }
            p->folded += n->op != OP_CONST;
            continue;
        }
        if (n->op != OP_UNKNOWN && (op_def(n->op)->flags & OPF_DEADNESS)) {
            free(order);
            return err_set(err, ERR_INPUT, "node '%s' (%s): TF1 control flow (Switch/Merge) runs on the reference runtime only (--runtime ref)", n->name, n->op_name);
        }
        if (n->op == OP_UNKNOWN) {
            return err_set(err, ERR_INPUT, "node '%s': op %s is not supported by grappo's runtimes", n->name, n->op_name);
        }
        bool reads_dynamic = false;
        for (int k = 0; k < n->n_inputs; k++)
            if (p->slots[slot_root(p, p->base[n->inputs[k].node] + n->inputs[k].port)].kind == SLOT_DYNAMIC) reads_dynamic = true;
        if (ref_node_is_dynamic(n) || reads_dynamic) {
            /* shapes known only when it runs (or, reading such a value, like NMS's
               valid_outputs, its input is not in the arena): reference kernel, outputs outside
               the arena */
            p->steps[p->n_steps].node = i;
            p->steps[p->n_steps++].kind = STEP_DYNAMIC;
            for (int k = 0; k < n->n_outputs; k++) out[k].kind = SLOT_DYNAMIC;
            continue;
        }
        for (int k = 0; k < n->n_outputs; k++)
            if (!shape_is_known(&n->outputs[k].shape) || !dtype_is_supported(n->outputs[k].dtype)) {
                free(order);
                return err_set(err, ERR_INPUT, "node '%s' (%s): output %d has no static shape or a dtype grappo cannot compute with",
                               n->name, n->op_name, k);
            }
        Step *st = &p->steps[p->n_steps];
        st->node = i;
        if (n->op != OP_NO_OP && (op_def(n->op)->flags & OPF_VIEW)) {
            /* Identity, Reshape, Squeeze, ...: the output is the input's bytes under a new shape */
            st->kind = STEP_VIEW;
            for (int k = 0; k < n->n_outputs; k++) {
                out[k].kind = SLOT_ALIAS;
                out[k].alias_of = p->base[n->inputs[k < n->n_inputs ? k : 0].node] + n->inputs[k < n->n_inputs ? k : 0].port;
            }
            p->n_steps++;
            continue;
        }
        st->kind = STEP_REF;
        if (!opts->reference) {
            int rc = plan_try_fast(&p->dnn, g, n, &st->k, err);
            if (rc < 0) { free(order); return err_prefix(err, "node '%s' (%s)", n->name, n->op_name); }
            if (rc > 0) st->kind = STEP_FAST;
        }
        for (int k = 0; k < n->n_outputs; k++) out[k].kind = SLOT_ARENA;
        p->n_steps++;
    }
    free(order);
    return 0;
}

/* Lifetimes in step units: a value is alive from its producing step to its last reader;
   values read through views stay alive as long as the views are read; fetched values live to
   the end. Then in-place grants: a fast kernel's output takes over an input buffer that dies
   at that step. */
static void plan_lifetimes(Plan *p) {
    const Graph *g = p->g;
    for (int s = 0; s < p->n_slots; s++) { p->slots[s].first = -1; p->slots[s].last = -1; }
    for (int si = 0; si < p->n_steps; si++) {
        const Step *st = &p->steps[si];
        const Node *n = g->nodes[st->node];
        for (int k = 0; k < n->n_outputs; k++) {
            Slot *o = &p->slots[p->base[st->node] + k];
            if (o->first < 0) o->first = si;
            if (o->last < si) o->last = si;
        }
        for (int k = 0; k < n->n_inputs; k++) {
            int r = slot_root(p, p->base[n->inputs[k].node] + n->inputs[k].port);
            if (p->slots[r].last < si) p->slots[r].last = si;
        }
    }
    for (int k = 0; k < p->n_fetch; k++) {
        int r = slot_root(p, p->base[p->fetch[k].node] + p->fetch[k].port);
        p->slots[r].last = p->n_steps;
    }
    /* in place: walk in order so earlier grants are visible to later decisions */
    for (int si = 0; si < p->n_steps; si++) {
        Step *st = &p->steps[si];
        if (st->kind != STEP_FAST || st->k.inplace < 0) continue;
        const Node *n = g->nodes[st->node];
        if (n->n_outputs != 1 || st->k.inplace >= n->n_inputs) continue;
        int r = slot_root(p, p->base[n->inputs[st->k.inplace].node] + n->inputs[st->k.inplace].port);
        int o = p->base[st->node];
        Slot *in = &p->slots[r], *out = &p->slots[o];
        if (in->kind != SLOT_ARENA || in->last != si || in->bytes != out->bytes) continue;
        /* the buffer must not also be read through another input of this node (y = conv(x) + x:
           writing y over x would corrupt the convolution's own source) */
        bool read_twice = false;
        for (int k = 0; k < n->n_inputs; k++)
            if (k != st->k.inplace && slot_root(p, p->base[n->inputs[k].node] + n->inputs[k].port) == r) read_twice = true;
        if (read_twice) continue;
        /* the input is read for the last time here (also counting every view of it): hand
           its buffer to the output */
        out->kind = SLOT_ALIAS;
        out->alias_of = r;
        in->last = out->last;
        st->inplace_granted = true;
        p->inplace++;
    }
}

static int plan_memory(Plan *p, Err *err) {
    int n = 0;
    for (int s = 0; s < p->n_slots; s++) n += p->slots[s].kind == SLOT_ARENA;
    MemReq *reqs = malloc(sizeof *reqs * (size_t)(n ? n : 1));
    int *which = malloc(sizeof *which * (size_t)(n ? n : 1));
    size_t *off = malloc(sizeof *off * (size_t)(n ? n : 1));
    if (!reqs || !which || !off) { free(reqs); free(which); free(off); return err_set(err, ERR_RUNTIME, "out of memory"); }
    int j = 0;
    for (int s = 0; s < p->n_slots; s++) {
        if (p->slots[s].kind != SLOT_ARENA) continue;
        reqs[j] = (MemReq){p->slots[s].bytes, p->slots[s].first, p->slots[s].last};
        which[j++] = s;
    }
    MemPlanInfo mi;
    p->arena_bytes = memplan_choose(reqs, n, off, &mi);
    p->algo = mi.chosen;
    p->arena_greedy = mi.greedy;
    p->arena_first_fit = mi.first_fit;
    p->arena_lower_bound = memplan_lower_bound(reqs, n);
    if (p->arena_bytes == (size_t)-1) { free(reqs); free(which); free(off); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int k = 0; k < n; k++) p->slots[which[k]].offset = off[k];
    free(reqs);
    free(which);
    free(off);
    size_t scratch = (p->scratch_bytes + 63) & ~(size_t)63;
    if (!mem_budget_allows(p->arena_bytes + scratch)) {
        char what[128], a[32], b[32];
        snprintf(what, sizeof what, "the fast runtime's plan (arena %s, scratch %s)", mem_bytes_str((double)p->arena_bytes, a, sizeof a),
                 mem_bytes_str((double)scratch, b, sizeof b));
        return mem_budget_check(p->arena_bytes + scratch, what, err);
    }
    p->arena = aligned_alloc(64, p->arena_bytes ? p->arena_bytes : 64);
    if (!p->arena) return err_set(err, ERR_RUNTIME, "out of memory allocating a %zu-byte arena", p->arena_bytes);
    if (p->scratch_bytes) {
        p->scratch = aligned_alloc(64, (p->scratch_bytes + 63) & ~(size_t)63);
        if (!p->scratch) return err_set(err, ERR_RUNTIME, "out of memory allocating scratch");
    }
    return 0;
}

Plan *plan_compile(const Graph *g, const ValueRef *fetch, int n_fetch, const PlanOpts *opts, Err *err) {
    PlanOpts defaults = {0};
    if (!opts) opts = &defaults;
    if (!fetch) { fetch = g->outputs; n_fetch = g->n_outputs; }
    Plan *p = calloc(1, sizeof *p);
    bool *needed = calloc((size_t)g->n_nodes + 1, sizeof *needed);
    if (!p || !needed) { free(p); free(needed); err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    p->g = g;
    p->threads = opts->threads;
    p->n_fetch = n_fetch;
    p->fetch = malloc(sizeof *p->fetch * (size_t)(n_fetch ? n_fetch : 1));
    p->base = malloc(sizeof *p->base * ((size_t)g->n_nodes + 1));
    if (!p->fetch || !p->base) goto oom;
    for (int k = 0; k < n_fetch; k++) {
        if (fetch[k].node < 0 || fetch[k].node >= g->n_nodes || fetch[k].port < 0 || fetch[k].port >= g->nodes[fetch[k].node]->n_outputs) {
            err_set(err, ERR_INPUT, "fetch %d is not a tensor of the graph", k);
            goto fail;
        }
        p->fetch[k] = fetch[k];
    }
    p->base[0] = 0;
    for (int i = 0; i < g->n_nodes; i++) p->base[i + 1] = p->base[i] + g->nodes[i]->n_outputs;
    p->n_slots = p->base[g->n_nodes];
    p->slots = calloc((size_t)p->n_slots + 1, sizeof *p->slots);
    if (!p->slots) goto oom;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_outputs; k++) {
            Slot *s = &p->slots[p->base[i] + k];
            const Value *v = &g->nodes[i]->outputs[k];
            int64_t e = shape_numel(&v->shape);
            s->bytes = e > 0 ? (size_t)e * dtype_size(v->dtype) : 0;
        }
    if (!opts->reference) {
        if (dnn_ctx_init(&p->dnn, err)) goto fail;
        p->have_dnn = true;
        dnn_set_threads(opts->threads);
    }
    if (ref_mark_needed(g, p->fetch, n_fetch, REF_NEEDED_STOP_AT_KNOWN, needed, err)) goto fail;
    if (graph_check_executable(g, needed, err)) goto fail; /* names every unsupported op, not the first */
    if (ref_frame_needed(g, needed)) { /* TF1 control flow: the whole graph on the reference runtime */
        p->whole_ref = true;
        /* what ref_run would mark on every run, marked once: the frame interpreter's nodes */
        memset(needed, 0, (size_t)g->n_nodes * sizeof *needed);
        if (ref_mark_needed(g, p->fetch, n_fetch, REF_NEEDED_SKIP_SHAPE_ONLY, needed, err) || graph_check_executable(g, needed, err) ||
            ref_needed_add_shape_inputs(g, needed, err))
            goto fail;
        p->frame_needed = needed;
        return p;
    }
    if (build_steps(p, needed, opts, err)) goto fail;
    for (int si = 0; si < p->n_steps; si++) {
        const Step *st = &p->steps[si];
        if (st->kind != STEP_FAST) continue;
        if (st->k.scratch_bytes > p->scratch_bytes) p->scratch_bytes = st->k.scratch_bytes;
        p->weight_bytes += st->k.weight_bytes;
    }
    /* constants read at run time by steps that did not prepack them */
    for (int si = 0; si < p->n_steps; si++) {
        const Step *st = &p->steps[si];
        if (st->kind == STEP_VIEW || (st->kind == STEP_FAST && st->k.weight_bytes)) continue;
        const Node *n = g->nodes[st->node];
        for (int k = 0; k < n->n_inputs; k++) {
            Slot *s = &p->slots[slot_root(p, p->base[n->inputs[k].node] + n->inputs[k].port)];
            if (s->kind == SLOT_CONST && !s->counted) { s->counted = true; p->weight_bytes += tensor_nbytes(s->konst); }
        }
    }
    plan_lifetimes(p);
    if (plan_memory(p, err)) goto fail;
    if (plan_bind(p, err)) goto fail;
    free(needed);
    return p;
oom:
    err_set(err, ERR_RUNTIME, "out of memory compiling a plan");
fail:
    free(needed);
    plan_free(p);
    return NULL;
}

size_t plan_arena_bytes(const Plan *p) { return p->arena_bytes; }
size_t plan_weight_bytes(const Plan *p) { return p->weight_bytes; }
size_t plan_scratch_bytes(const Plan *p) { return p->scratch_bytes; }
size_t plan_peak_bytes(const Plan *p) { return p->arena_bytes + p->weight_bytes + p->scratch_bytes + p->dyn_peak; }
size_t plan_dynamic_bytes(const Plan *p) { return p->dyn_peak; }

void plan_info(const Plan *p, PlanInfo *info) {
    memset(info, 0, sizeof *info);
    info->steps = p->n_steps;
    for (int i = 0; i < p->n_steps; i++) {
        info->fast_steps += p->steps[i].kind == STEP_FAST;
        info->ref_steps += p->steps[i].kind == STEP_REF;
        info->view_steps += p->steps[i].kind == STEP_VIEW;
        info->dynamic_steps += p->steps[i].kind == STEP_DYNAMIC;
    }
    info->folded_nodes = p->folded;
    info->inplace_steps = p->inplace;
    info->algo = p->algo;
    info->arena_greedy = p->arena_greedy;
    info->arena_first_fit = p->arena_first_fit;
    info->arena_lower_bound = p->arena_lower_bound;
    info->cache_hits = p->dnn.cache_hits;
    info->cache_misses = p->dnn.cache_misses;
    info->dynamic_peak_bytes = p->dyn_peak;
}

const char *plan_node_impl(const Plan *p, int node) {
    for (int i = 0; i < p->n_steps; i++) {
        if (p->steps[i].node != node) continue;
        switch (p->steps[i].kind) {
        case STEP_FAST: return p->steps[i].k.impl ? p->steps[i].k.impl : "oneDNN";
        case STEP_REF: return "ref";
        case STEP_VIEW: return "view";
        case STEP_DYNAMIC: return "ref (dynamic shape)";
        }
    }
    const Node *n = p->g->nodes[node];
    if (n->n_outputs && p->slots[p->base[node]].kind == SLOT_CONST) return "const";
    if (n->n_outputs && p->slots[p->base[node]].kind == SLOT_FEED) return "input";
    return NULL;
}
