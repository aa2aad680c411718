/* plan_run.c - binding a compiled plan's slots to memory and executing it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan_internal.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int plan_bind(Plan *p, Err *err) {
    const Graph *g = p->g;
    /* roots first (aliases point backwards in execution order, but not necessarily in slot
       index order), then aliases */
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_outputs; k++) {
            Slot *s = &p->slots[p->base[i] + k];
            const Value *v = &g->nodes[i]->outputs[k];
            switch (s->kind) {
            case SLOT_ARENA:
                if (tensor_wrap(&s->t, v->dtype, &v->shape, (char *)p->arena + s->offset, err)) return -1;
                break;
            case SLOT_FEED:
                if (tensor_wrap(&s->t, v->dtype, &v->shape, NULL, err)) return -1;
                break;
            case SLOT_CONST:
                s->t = tensor_share(s->konst);
                break;
            default:
                break;
            }
        }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_outputs; k++) {
            Slot *s = &p->slots[p->base[i] + k];
            if (s->kind != SLOT_ALIAS) continue;
            const Value *v = &g->nodes[i]->outputs[k];
            Slot *root = &p->slots[slot_root(p, p->base[i] + k)];
            if (!root->t.buf) return err_set(err, ERR_RUNTIME, "internal: node '%s' aliases an unbound value", g->nodes[i]->name);
            s->t = tensor_share(&root->t);
            s->t.dtype = v->dtype;
            s->t.shape = v->shape;
        }
    return 0;
}

static int feed_slot(const Plan *p, const char *name, Err *err) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", name);
    size_t len = strlen(buf);
    if (len > 2 && !strcmp(buf + len - 2, ":0")) buf[len - 2] = 0;
    int i = graph_find(p->g, buf);
    if (i < 0 || p->g->nodes[i]->op != OP_PLACEHOLDER)
        return err_set(err, ERR_INPUT, "input '%s' names no placeholder in the graph", name);
    return p->base[i];
}

static void dyn_release(Plan *p, Slot *s) {
    if (s->kind != SLOT_DYNAMIC || !s->t.buf) return;
    p->dyn_live -= tensor_nbytes(&s->t);
    tensor_release(&s->t);
}

/* a node with run-time shapes: its outputs become heap tensors owned by their slots. An output
   that shares an input's arena bytes (a Reshape's view) is copied out, since the arena slot
   may be reused while the dynamic value is still read. */
static int run_dynamic_step(Plan *p, int si, const Tensor *in, Err *err) {
    const Step *st = &p->steps[si];
    const Node *n = p->g->nodes[st->node];
    Tensor outs[64];
    if (n->n_outputs > 64) return err_set(err, ERR_INPUT, "node '%s' (%s): a node with run-time shapes and %d outputs (at most 64)", n->name, n->op_name, n->n_outputs);
    int rc = op_def(n->op)->flags & OPF_CONTROL ? plan_ctrl_eval(p, st->node, in, outs, err) : ref_dyn_eval_node(p->g, st->node, in, outs, err);
    if (rc) return -1;
    for (int k = 0; k < n->n_outputs; k++) {
        Slot *s = &p->slots[p->base[st->node] + k];
        dyn_release(p, s);
        if (outs[k].buf && !outs[k].buf->owned) {
            Tensor own;
            if (tensor_copy(&own, &outs[k], err)) {
                for (int j = k; j < n->n_outputs; j++) tensor_release(&outs[j]);
                return -1;
            }
            tensor_release(&outs[k]);
            outs[k] = own;
        }
        s->t = outs[k];
        p->dyn_live += tensor_nbytes(&s->t);
    }
    if (p->dyn_live > p->dyn_peak) p->dyn_peak = p->dyn_live;
    /* dynamic values read for the last time here are freed now */
    for (int k = 0; k < n->n_inputs; k++) {
        Slot *s = &p->slots[p->base[n->inputs[k].node] + n->inputs[k].port];
        if (s->kind == SLOT_DYNAMIC && s->last <= si) dyn_release(p, s);
    }
    for (int k = 0; k < n->n_outputs; k++) {
        Slot *s = &p->slots[p->base[st->node] + k];
        if (s->last <= si) dyn_release(p, s);
    }
    return 0;
}

/* out: scratch for n->n_outputs tensors */
static int run_ref_step(const Plan *p, const Node *n, const Tensor *in, Tensor *out_slots[], Tensor *out, Err *err) {
    for (int k = 0; k < n->n_outputs; k++) {
        /* an extra reference, so a kernel that swaps its output buffer (releasing ours) cannot
           free the slot's TensorBuf */
        out[k] = tensor_share(out_slots[k]);
        memset(out_slots[k]->buf->data, 0, out_slots[k]->buf->nbytes); /* reference kernels expect zeroed outputs */
    }
    int rc = ref_kernel_call(n, in, out, err);
    for (int k = 0; k < n->n_outputs; k++) {
        if (out[k].buf != out_slots[k]->buf && rc == 0) {
            if (tensor_nbytes(&out[k]) != out_slots[k]->buf->nbytes) {
                rc = err_set(err, ERR_RUNTIME, "node '%s': output %d has %zu bytes, planned %zu", n->name, k,
                             tensor_nbytes(&out[k]), out_slots[k]->buf->nbytes);
            } else if (tensor_data(&out[k]) != out_slots[k]->buf->data) {
                memmove(out_slots[k]->buf->data, tensor_data(&out[k]), tensor_nbytes(&out[k]));
            }
        }
        tensor_release(&out[k]);
    }
    (void)p;
    return rc;
}

int plan_run(Plan *p, const RefFeed *feeds, int n_feeds, Tensor *out, PlanTiming *t, Err *err) {
    const Graph *g = p->g;
    if (p->whole_ref) return plan_ctrl_run_whole(p, feeds, n_feeds, out, t, err);
    if (p->have_dnn) dnn_set_threads(p->threads);
    /* point placeholder slots (and so their aliases, which share the TensorBuf) at the feeds */
    for (int s = 0; s < p->n_slots; s++)
        if (p->slots[s].kind == SLOT_FEED) p->slots[s].t.buf->data = NULL;
    for (int f = 0; f < n_feeds; f++) {
        int s = feed_slot(p, feeds[f].name, err);
        if (s < 0) return -1;
        Slot *sl = &p->slots[s];
        const Tensor *v = &feeds[f].value;
        if (sl->kind != SLOT_FEED) continue; /* fed but not needed */
        char a[96], b[96];
        if (v->dtype != sl->t.dtype)
            return err_set(err, ERR_INPUT, "input '%s' must be %s, got %s", feeds[f].name, dtype_name(sl->t.dtype), dtype_name(v->dtype));
        if (!shape_equal(&v->shape, &sl->t.shape))
            return err_set(err, ERR_INPUT, "input '%s' has shape %s but the graph was prepared for %s", feeds[f].name,
                           shape_str(&v->shape, a, sizeof a), shape_str(&sl->t.shape, b, sizeof b));
        sl->t.buf->data = (void *)tensor_data(v);
    }
    for (int s = 0; s < p->n_slots; s++)
        if (p->slots[s].kind == SLOT_FEED && !p->slots[s].t.buf->data && p->slots[s].bytes)
            for (int i = 0; i < g->n_nodes; i++)
                if (p->base[i] == s) return err_set(err, ERR_INPUT, "input '%s' was not fed", g->nodes[i]->name);

    if (t && t->node_ms) memset(t->node_ms, 0, sizeof(double) * (size_t)g->n_nodes);
    for (int s = 0; s < p->n_slots; s++) dyn_release(p, &p->slots[s]);
    p->dyn_live = p->dyn_peak = 0;
    double t_start = now_ms();
    /* argument arrays as wide as the widest step (a Split may have 65,536 outputs) */
    int arity = 1;
    for (int si = 0; si < p->n_steps; si++) {
        const Node *n = g->nodes[p->steps[si].node];
        if (n->n_inputs > arity) arity = n->n_inputs;
        if (n->n_outputs > arity) arity = n->n_outputs;
    }
    Tensor *in_buf = malloc(sizeof(Tensor) * (size_t)arity), *outs = malloc(sizeof(Tensor) * (size_t)arity);
    Tensor **out_ptr = malloc(sizeof(Tensor *) * (size_t)arity);
    if (!in_buf || !outs || !out_ptr) { free(in_buf); free(outs); free(out_ptr); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int si = 0; si < p->n_steps; si++) {
        const Step *st = &p->steps[si];
        if (st->kind == STEP_VIEW) continue;
        const Node *n = g->nodes[st->node];
        for (int k = 0; k < n->n_inputs; k++) in_buf[k] = p->slots[p->base[n->inputs[k].node] + n->inputs[k].port].t;
        for (int k = 0; k < n->n_outputs; k++) out_ptr[k] = &p->slots[p->base[st->node] + k].t;
        double t0 = now_ms();
        int rc;
        if (st->kind == STEP_DYNAMIC) {
            rc = run_dynamic_step(p, si, in_buf, err);
        } else if (st->kind == STEP_FAST) {
            for (int k = 0; k < n->n_outputs; k++) outs[k] = *out_ptr[k];
            rc = st->k.run(st->k.state, in_buf, outs, p->scratch, err);
        } else {
            rc = run_ref_step(p, n, in_buf, out_ptr, outs, err);
        }
        if (rc) {
            free(in_buf); free(outs); free(out_ptr);
            return st->kind == STEP_DYNAMIC ? -1 : err_prefix(err, "node '%s' (%s)", n->name, n->op_name); /* dynamic steps name the node already */
        }
        if (t && t->node_ms) t->node_ms[st->node] = now_ms() - t0;
    }
    double total = now_ms() - t_start;
    free(in_buf);
    free(outs);
    free(out_ptr);
    for (int k = 0; k < p->n_fetch; k++) {
        const Slot *s = &p->slots[p->base[p->fetch[k].node] + p->fetch[k].port];
        if (s->kind == SLOT_DYNAMIC) {
            out[k] = tensor_share(&s->t); /* already a heap tensor of its own */
            continue;
        }
        if (tensor_from_data(&out[k], s->t.dtype, &s->t.shape, tensor_data(&s->t), tensor_nbytes(&s->t), err)) {
            for (int j = 0; j < k; j++) tensor_release(&out[j]);
            return -1;
        }
    }
    for (int s = 0; s < p->n_slots; s++) dyn_release(p, &p->slots[s]);
    if (t) t->total_ms = total;
    return 0;
}
