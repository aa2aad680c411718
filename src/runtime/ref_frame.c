/* ref_frame.c - the reference runtime's frame interpreter: TF1 while loops (Enter, Merge,
 * Switch, LoopCond, NextIteration, Exit), TF1 conditionals (dead branches: ref_dead.c) and
 * TensorArray / TensorList state (ref_tensor_array.c). ref_run hands it every graph holding an
 * OPF_DEADNESS op.
 *
 * Frames (TensorFlow's executor semantics, run one iteration after another):
 * - every node belongs to a frame: an Enter opens the child frame `frame_name` of its input's
 *   frame, an Exit's value is seen in the parent frame, every other node is in its inputs'
 *   frame (inputs from two frames: an error). Consts without inputs are seen everywhere.
 * - a frame's nodes and its child frames (each as one step) run in a topological order of the
 *   graph without the NextIteration -> Merge back edges; a child frame runs all its iterations
 *   when its step comes (one instance per iteration of its parent).
 * - in iteration 0 an Enter forwards its input; afterwards an Enter with is_constant forwards
 *   the same value again and any other Enter is dead (the Merge takes the NextIteration value).
 * - deadness: a node with a dead data or control input is dead (Merge: dead only when every
 *   input is); a Switch kills the output its predicate does not choose. So when LoopCond is
 *   false the body dies, the NextIterations are dead and the frame ends; an Exit's live value
 *   (the last one) is what the parent frame reads, dead if it never had one.
 * - a loop still going after ref_max_loop_iterations() iterations is bad input (ERR_INPUT).
 * Inside a loop a value may change shape between iterations: a node whose actual input shapes
 * differ from the inferred ones has its output shapes inferred again (ref_reinfer_eval_node).
 * Values are freed after their last reader of the iteration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ref.h"
#include "ref_tensor_array.h"

int ref_frame(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)in; (void)out;
    return err_set(err, ERR_RUNTIME, "node '%s' (%s): TF1 loop ops run only through the frame interpreter", n->name, n->op_name);
}

bool ref_frame_needed(const Graph *g, const bool *needed) {
    for (int i = 0; i < g->n_nodes; i++)
        if ((!needed || needed[i]) && g->nodes[i]->op != OP_UNKNOWN && (op_def(g->nodes[i]->op)->flags & OPF_DEADNESS)) return true;
    return false;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

typedef struct Frame {
    int parent;       /* -1 for the root */
    const char *name; /* frame_name of its Enters */
    int *items;       /* node i >= 0, child frame c as -(c + 1), in run order */
    int n_items, cap;
} Frame;

typedef struct FG {
    const Graph *g;
    int n;
    int *base;     /* value index of node i's port 0 */
    bool *needed;
    bool *global;  /* Consts without inputs: seen in every frame */
    int *frame;    /* per node */
    Frame *fr;
    int n_fr, cap_fr;
    int *uses;     /* per value: needed readers (back edges excluded) + fetches */
    TaTable *ta;
    double *node_ms;
} FG;

typedef struct Inst {
    struct Inst *parent;
    int frame;
    Tensor *vals;
    bool *vdead, *ndead;
    int *left;                 /* readers still to come in this iteration */
    Tensor *next_cur, *next_new; /* per NextIteration node: the value for this / the next iteration */
    bool *cur_live, *new_live;
    bool *keep_dead;
    Tensor *keep;              /* per constant Enter: its value for every iteration */
    bool *exit_live;
} Inst;

/* the TensorArray / TensorList table of the run in progress on this thread */
static _Thread_local TaTable *current_table;

static bool is_global(const FG *f, int i) { return f->global[i]; }

/* the frame a node's outputs are seen in */
static int vis(const FG *f, int i) { return f->g->nodes[i]->op == OP_EXIT ? f->fr[f->frame[i]].parent : f->frame[i]; }

static const char *frame_name(const FG *f, int fr) { return fr == 0 ? "(outside any loop)" : f->fr[fr].name; }

static int frame_find(FG *f, int parent, const char *name, Err *err) {
    for (int k = 1; k < f->n_fr; k++)
        if (f->fr[k].parent == parent && !strcmp(f->fr[k].name, name)) return k;
    if (f->n_fr == f->cap_fr) {
        int cap = f->cap_fr * 2;
        Frame *fr = realloc(f->fr, sizeof *fr * (size_t)cap);
        if (!fr) return err_set(err, ERR_RUNTIME, "out of memory");
        f->fr = fr;
        f->cap_fr = cap;
    }
    f->fr[f->n_fr] = (Frame){.parent = parent, .name = name};
    return f->n_fr++;
}

static int frame_add_item(Frame *fr, int item, Err *err) {
    if (fr->n_items == fr->cap) {
        int cap = fr->cap ? fr->cap * 2 : 16;
        int *v = realloc(fr->items, sizeof *v * (size_t)cap);
        if (!v) return err_set(err, ERR_RUNTIME, "out of memory");
        fr->items = v;
        fr->cap = cap;
    }
    fr->items[fr->n_items++] = item;
    return 0;
}

static void fg_free(FG *f) {
    for (int k = 0; k < f->n_fr; k++) free(f->fr[k].items);
    free(f->fr); free(f->base); free(f->needed); free(f->global); free(f->frame); free(f->uses);
}

/* every node's frame (in a topological order without back edges) */
static int assign_frames(FG *f, const int *order, Err *err) {
    const Graph *g = f->g;
    for (int oi = 0; oi < f->n; oi++) {
        int i = order[oi];
        const Node *nd = g->nodes[i];
        f->global[i] = nd->op == OP_CONST && nd->n_inputs == 0 && nd->n_ctrl == 0;
        int fin = -1, from = -1;
        for (int k = 0; k < nd->n_inputs + nd->n_ctrl; k++) {
            int s = k < nd->n_inputs ? nd->inputs[k].node : nd->ctrl[k - nd->n_inputs];
            if (graph_is_back_edge(g, s, nd) || is_global(f, s)) continue;
            int v = vis(f, s);
            if (fin < 0) { fin = v; from = s; }
            else if (v != fin)
                return err_set(err, ERR_INPUT, "node '%s' (%s) reads '%s' in frame '%s' and '%s' in frame '%s': mismatched TF1 loop frames",
                               nd->name, nd->op_name, g->nodes[from]->name, frame_name(f, fin), g->nodes[s]->name, frame_name(f, v));
        }
        if (fin < 0) fin = 0;
        if (nd->op == OP_ENTER) {
            const char *name = node_attr_s(nd, "frame_name", NULL);
            if (!name || !name[0]) return err_set(err, ERR_INPUT, "node '%s' (Enter) has no frame_name", nd->name);
            int c = frame_find(f, fin, name, err);
            if (c < 0) return -1;
            f->frame[i] = c;
        } else {
            if (fin == 0 && (nd->op == OP_EXIT || nd->op == OP_NEXT_ITERATION || nd->op == OP_LOOP_COND))
                return err_set(err, ERR_INPUT, "node '%s' (%s) is outside any TF1 loop frame (%s without Enter)", nd->name, nd->op_name, nd->op_name);
            f->frame[i] = fin;
        }
    }
    for (int i = 0; i < f->n; i++) { /* back edges stay inside their frame */
        const Node *nd = g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++)
            if (graph_is_back_edge(g, nd->inputs[k].node, nd) && f->frame[nd->inputs[k].node] != f->frame[i])
                return err_set(err, ERR_INPUT, "Merge '%s' (frame '%s') reads NextIteration '%s' of frame '%s': mismatched TF1 loop frames",
                               nd->name, frame_name(f, f->frame[i]), g->nodes[nd->inputs[k].node]->name, frame_name(f, f->frame[nd->inputs[k].node]));
    }
    return 0;
}

/* node x seen at frame level L: x itself, or the child frame of L holding it */
static int lift(const FG *f, int x, int level) {
    int it = x, fx = f->frame[x];
    while (fx != level) {
        if (fx <= 0) return -1;
        it = f->n + fx;
        fx = f->fr[fx].parent;
    }
    return it;
}

/* each frame's run order: its nodes and child frames (one item each), topologically */
static int order_frames(FG *f, Err *err) {
    const Graph *g = f->g;
    int items = f->n + f->n_fr, rc = -1, n_edges = 0;
    int *indeg = calloc((size_t)items + 1, sizeof *indeg), *start = calloc((size_t)items + 2, sizeof *start);
    int *ea = NULL, *eb = NULL, *adj = NULL, *queue = NULL;
    if (!indeg || !start) goto oom;
    for (int i = 0; i < f->n; i++) n_edges += g->nodes[i]->n_inputs + g->nodes[i]->n_ctrl;
    ea = malloc(sizeof *ea * ((size_t)n_edges + 1));
    eb = malloc(sizeof *eb * ((size_t)n_edges + 1));
    adj = malloc(sizeof *adj * ((size_t)n_edges + 1));
    queue = malloc(sizeof *queue * ((size_t)items + 1));
    if (!ea || !eb || !adj || !queue) goto oom;
    int m = 0;
    for (int i = 0; i < f->n; i++) {
        const Node *nd = g->nodes[i];
        for (int k = 0; k < nd->n_inputs + nd->n_ctrl; k++) {
            int s = k < nd->n_inputs ? nd->inputs[k].node : nd->ctrl[k - nd->n_inputs];
            if (graph_is_back_edge(g, s, nd) || is_global(f, s)) continue;
            int level = vis(f, s), a = lift(f, s, level), b = lift(f, i, level);
            if (a < 0 || b < 0) return err_set(err, ERR_INPUT, "node '%s' reads '%s' across TF1 loop frames without Enter/Exit", nd->name, g->nodes[s]->name);
            if (a == b) continue;
            ea[m] = a; eb[m] = b; m++;
            indeg[b]++;
            start[a + 1]++;
        }
    }
    for (int k = 0; k < items; k++) start[k + 1] += start[k];
    int *fill = calloc((size_t)items + 1, sizeof *fill);
    if (!fill) goto oom;
    for (int e = 0; e < m; e++) adj[start[ea[e]] + fill[ea[e]]++] = eb[e];
    free(fill);
    int head = 0, tail = 0;
    for (int k = 0; k < items; k++)
        if (k != f->n && indeg[k] == 0) queue[tail++] = k; /* item n is the root frame itself */
    while (head < tail) {
        int v = queue[head++];
        for (int e = start[v]; e < start[v + 1]; e++)
            if (--indeg[adj[e]] == 0) queue[tail++] = adj[e];
    }
    if (tail < items - 1) {
        err_set(err, ERR_INPUT, "the TF1 loop frames cannot be ordered: a frame both feeds and reads another part of its parent frame");
        goto done;
    }
    for (int q = 0; q < tail; q++) {
        int v = queue[q];
        if (v < f->n) { if (frame_add_item(&f->fr[f->frame[v]], v, err)) goto done; }
        else if (frame_add_item(&f->fr[f->fr[v - f->n].parent], -(v - f->n + 1), err)) goto done;
    }
    rc = 0;
    goto done;
oom:
    err_set(err, ERR_RUNTIME, "out of memory");
done:
    free(indeg); free(start); free(ea); free(eb); free(adj); free(queue);
    return rc;
}

static void inst_free(const FG *f, Inst *I) {
    int nv = f->base[f->n];
    if (I->vals) for (int v = 0; v < nv; v++) tensor_release(&I->vals[v]);
    if (I->next_cur) for (int i = 0; i < f->n; i++) { tensor_release(&I->next_cur[i]); tensor_release(&I->next_new[i]); tensor_release(&I->keep[i]); }
    free(I->vals); free(I->vdead); free(I->ndead); free(I->left); free(I->next_cur); free(I->next_new); free(I->keep);
    free(I->keep_dead); free(I->exit_live); free(I->cur_live); free(I->new_live);
    memset(I, 0, sizeof *I);
}

static int inst_init(const FG *f, Inst *I, Inst *parent, int frame, Err *err) {
    size_t n = (size_t)f->n + 1, nv = (size_t)f->base[f->n] + 1;
    *I = (Inst){.parent = parent, .frame = frame};
    I->vals = calloc(nv, sizeof *I->vals);
    I->vdead = calloc(nv, sizeof *I->vdead);
    I->left = calloc(nv, sizeof *I->left);
    I->ndead = calloc(n, sizeof *I->ndead);
    I->next_cur = calloc(n, sizeof *I->next_cur);
    I->next_new = calloc(n, sizeof *I->next_new);
    I->keep = calloc(n, sizeof *I->keep);
    I->keep_dead = calloc(n, sizeof *I->keep_dead);
    I->exit_live = calloc(n, sizeof *I->exit_live);
    I->cur_live = calloc(n, sizeof *I->cur_live);
    I->new_live = calloc(n, sizeof *I->new_live);
    if (!I->vals || !I->vdead || !I->left || !I->ndead || !I->next_cur || !I->next_new || !I->keep || !I->keep_dead || !I->exit_live ||
        !I->cur_live || !I->new_live) {
        inst_free(f, I);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    return 0;
}

/* the instance holding the value node s gives to reader nd (an Enter reads its parent frame's) */
static Inst *owner(Inst *I, const Node *nd) { return nd->op == OP_ENTER && I->parent ? I->parent : I; }

/* one reader of value v in instance O is done with it */
static void consume(Inst *O, int v) {
    if (O->left[v] > 0 && --O->left[v] == 0) tensor_release(&O->vals[v]);
}

/* outputs of node i are set in instance O: as many readers to come as it has */
static void produced(const FG *f, Inst *O, int i) {
    const Node *nd = f->g->nodes[i];
    for (int k = 0; k < nd->n_outputs; k++) {
        int v = f->base[i] + k;
        O->left[v] = f->uses[v];
        if (f->uses[v] == 0) tensor_release(&O->vals[v]);
    }
}

static bool shapes_as_inferred(const Graph *g, const Node *nd, const Tensor *in) {
    for (int k = 0; k < nd->n_inputs; k++) {
        const Value *v = node_input_value(g, nd, k);
        if (v->dtype != in[k].dtype || !shape_equal(&v->shape, &in[k].shape)) return false;
    }
    return true;
}

static int run_frame(FG *f, Inst *I, Err *err);

/* one node of I's frame, in iteration it */
static int exec_node(FG *f, Inst *I, int i, long it, Err *err) {
    const Graph *g = f->g;
    const Node *nd = g->nodes[i];
    if (!f->needed[i] || f->global[i] || nd->op == OP_PLACEHOLDER) return 0;
    Tensor *out = &I->vals[f->base[i]];
    bool *odead = &I->vdead[f->base[i]];
    if (nd->op == OP_ENTER && it > 0) { /* is_constant: the same value again; else absent (dead) */
        bool keep = node_attr_b(nd, "is_constant", false);
        tensor_release(&out[0]);
        odead[0] = I->ndead[i] = !keep || I->keep_dead[i];
        if (!odead[0]) out[0] = tensor_share(&I->keep[i]);
        produced(f, I, i);
        return 0;
    }
    int ni = nd->n_inputs, rc = 0;
    Tensor in_buf[16];
    bool dead_buf[16];
    Tensor *in = ni <= 16 ? in_buf : malloc(sizeof *in * (size_t)ni);
    bool *in_dead = ni <= 16 ? dead_buf : malloc(sizeof *in_dead * (size_t)ni);
    if (!in || !in_dead) {
        if (in != in_buf) free(in);
        if (in_dead != dead_buf) free(in_dead);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    Inst *O = owner(I, nd);
    bool dead = false;
    for (int k = 0; k < nd->n_ctrl; k++) {
        int s = nd->ctrl[k];
        if (!is_global(f, s) && !graph_is_back_edge(g, s, nd)) dead |= O->ndead[s];
    }
    for (int k = 0; k < ni; k++) {
        ValueRef r = nd->inputs[k];
        if (graph_is_back_edge(g, r.node, nd)) {
            in[k] = I->next_cur[r.node];
            in_dead[k] = !I->cur_live[r.node];
        } else if (is_global(f, r.node)) {
            in[k] = g->nodes[r.node]->outputs[r.port].known;
            in_dead[k] = false;
        } else {
            in[k] = O->vals[f->base[r.node] + r.port];
            in_dead[k] = O->vdead[f->base[r.node] + r.port];
        }
        if (nd->op != OP_MERGE) dead |= in_dead[k];
    }
    for (int k = 0; k < nd->n_outputs; k++) { tensor_release(&out[k]); odead[k] = true; }
    double t0 = now_ms();
    if (!dead) {
        switch (nd->op) {
        case OP_MERGE:
        case OP_SWITCH:
        case OP_SWITCH_N: rc = ref_dead_eval(g, i, in, in_dead, out, odead, err); break;
        case OP_ENTER:
            out[0] = tensor_share(&in[0]);
            odead[0] = false;
            break;
        case OP_LOOP_COND:
        case OP_NEXT_ITERATION:
        case OP_EXIT:
            out[0] = tensor_share(&in[0]);
            odead[0] = false;
            break;
        case OP_CONST:
            out[0] = tensor_share(&nd->outputs[0].known);
            odead[0] = false;
            break;
        default:
            if (ta_is_op(nd->op)) rc = ta_eval(f->ta, nd, in, out, err);
            /* a While/If/Case runs its bodies for whatever shapes come (ref_ctrl.c) */
            else if ((op_def(nd->op)->flags & OPF_CONTROL) || shapes_as_inferred(g, nd, in)) rc = ref_dyn_eval_node(g, i, in, out, err);
            else rc = ref_reinfer_eval_node(g, i, in, out, err);
            for (int k = 0; k < nd->n_outputs; k++) odead[k] = false;
        }
    }
    if (f->node_ms) f->node_ms[i] += now_ms() - t0;
    I->ndead[i] = dead || (nd->op == OP_MERGE && odead[0]);
    if (nd->op == OP_ENTER && node_attr_b(nd, "is_constant", false)) {
        tensor_release(&I->keep[i]);
        I->keep_dead[i] = odead[0];
        if (!odead[0]) I->keep[i] = tensor_share(&out[0]);
    }
    for (int k = 0; k < ni; k++) /* inputs read */
        if (!graph_is_back_edge(g, nd->inputs[k].node, nd) && !is_global(f, nd->inputs[k].node))
            consume(O, f->base[nd->inputs[k].node] + nd->inputs[k].port);
    if (in != in_buf) free(in);
    if (in_dead != dead_buf) free(in_dead);
    if (rc) {
        for (int k = 0; k < nd->n_outputs; k++) tensor_release(&out[k]);
        return -1;
    }
    if (nd->op == OP_NEXT_ITERATION) { /* carried to the next iteration, not read in this one */
        tensor_release(&I->next_new[i]);
        I->new_live[i] = !odead[0];
        I->next_new[i] = out[0];
        out[0] = (Tensor){0};
        return 0;
    }
    if (nd->op == OP_EXIT) { /* seen in the parent frame; its last live value counts */
        if (odead[0]) return 0;
        Inst *P = I->parent;
        int v = f->base[i];
        tensor_release(&P->vals[v]);
        P->vals[v] = out[0];
        out[0] = (Tensor){0};
        P->vdead[v] = P->ndead[i] = false;
        I->exit_live[i] = true;
        produced(f, P, i);
        return 0;
    }
    produced(f, I, i);
    return 0;
}

/* frame c, child of I's frame, all its iterations */
static int run_child(FG *f, Inst *I, int c, Err *err) {
    Inst C;
    if (inst_init(f, &C, I, c, err)) return -1;
    int rc = run_frame(f, &C, err);
    if (!rc) /* Exits that never had a live value are dead in the parent */
        for (int i = 0; i < f->n; i++)
            if (f->needed[i] && f->frame[i] == c && f->g->nodes[i]->op == OP_EXIT && !C.exit_live[i]) {
                I->vdead[f->base[i]] = I->ndead[i] = true;
                tensor_release(&I->vals[f->base[i]]);
            }
    inst_free(f, &C);
    return rc;
}

static int run_frame(FG *f, Inst *I, Err *err) {
    const Frame *fr = &f->fr[I->frame];
    long max_it = ref_max_loop_iterations();
    for (long it = 0;; it++) {
        for (int q = 0; q < fr->n_items; q++) {
            int item = fr->items[q];
            if (item >= 0 ? exec_node(f, I, item, it, err) : run_child(f, I, -item - 1, err)) return -1;
        }
        if (I->frame == 0) return 0;
        bool more = false;
        for (int q = 0; q < fr->n_items; q++) {
            int i = fr->items[q];
            if (i < 0) continue;
            for (int k = 0; k < f->g->nodes[i]->n_outputs; k++) { /* what the iteration left */
                tensor_release(&I->vals[f->base[i] + k]);
                I->left[f->base[i] + k] = 0;
            }
            if (f->g->nodes[i]->op != OP_NEXT_ITERATION) continue;
            more |= I->new_live[i];
            tensor_release(&I->next_cur[i]);
            I->next_cur[i] = I->next_new[i];
            I->cur_live[i] = I->new_live[i];
            I->next_new[i] = (Tensor){0};
            I->new_live[i] = false;
        }
        if (!more) return 0;
        if (it + 1 >= max_it)
            return err_set(err, ERR_INPUT, "the TF1 while loop of frame '%s' did not end after %ld iterations (the limit; --max-loop-iterations raises it)",
                           fr->name, max_it);
    }
}

static int feed_index(const Graph *g, const char *name, Err *err) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", name);
    size_t len = strlen(buf);
    if (len > 2 && !strcmp(buf + len - 2, ":0")) buf[len - 2] = 0;
    int i = graph_find(g, buf);
    if (i < 0 || g->nodes[i]->op != OP_PLACEHOLDER) return err_set(err, ERR_INPUT, "input '%s' names no placeholder in the graph", name);
    return i;
}

int ref_frame_run(const Graph *g, const RefFeed *feeds, int n_feeds, const ValueRef *fetch, int n_fetch, Tensor *out, RefStats *stats,
                  Err *err) {
    if (!fetch) { fetch = g->outputs; n_fetch = g->n_outputs; }
    bool *needed = calloc((size_t)g->n_nodes + 1, sizeof *needed);
    if (!needed) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = ref_mark_needed(g, fetch, n_fetch, 0, needed, err) ? -1
             : ref_frame_run_needed(g, needed, feeds, n_feeds, fetch, n_fetch, out, stats, err);
    free(needed);
    return rc;
}

int ref_frame_run_needed(const Graph *g, const bool *needed, const RefFeed *feeds, int n_feeds, const ValueRef *fetch, int n_fetch,
                         Tensor *out, RefStats *stats, Err *err) {
    if (!fetch) { fetch = g->outputs; n_fetch = g->n_outputs; }
    int n = g->n_nodes, rc = -1;
    FG f = {.g = g, .n = n, .cap_fr = 8};
    Inst root = {0};
    int *order = malloc(sizeof *order * ((size_t)n + 1));
    f.base = malloc(sizeof *f.base * ((size_t)n + 1));
    f.needed = calloc((size_t)n + 1, sizeof *f.needed);
    f.global = calloc((size_t)n + 1, sizeof *f.global);
    f.frame = calloc((size_t)n + 1, sizeof *f.frame);
    f.fr = calloc((size_t)f.cap_fr, sizeof *f.fr);
    /* one table per outermost run: a handle may cross into the bodies of a TF2 While / If
       (run by nested ref_run calls), never out of the run */
    bool own_table = !current_table;
    f.ta = own_table ? (current_table = ta_table_new()) : current_table;
    if (!order || !f.base || !f.needed || !f.global || !f.frame || !f.fr || !f.ta) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    f.fr[0] = (Frame){.parent = -1, .name = ""};
    f.n_fr = 1;
    f.base[0] = 0;
    for (int i = 0; i < n; i++) f.base[i + 1] = f.base[i] + g->nodes[i]->n_outputs;
    f.uses = calloc((size_t)f.base[n] + 1, sizeof *f.uses);
    if (!f.uses) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    memcpy(f.needed, needed, (size_t)n * sizeof *f.needed);
    if (graph_check_executable(g, f.needed, err)) goto done;
    for (int i = 0; i < n; i++) {
        const Node *nd = g->nodes[i];
        if (!f.needed[i]) continue;
        for (int k = 0; k < nd->n_inputs; k++)
            if (!graph_is_back_edge(g, nd->inputs[k].node, nd)) f.uses[f.base[nd->inputs[k].node] + nd->inputs[k].port]++;
    }
    for (int k = 0; k < n_fetch; k++) f.uses[f.base[fetch[k].node] + fetch[k].port]++;
    if (graph_topo_order(g, order, err) || assign_frames(&f, order, err) || order_frames(&f, err)) goto done;
    for (int k = 0; k < n_fetch; k++)
        if (vis(&f, fetch[k].node) != 0) {
            err_set(err, ERR_INPUT, "fetch '%s' is inside the TF1 loop frame '%s': only values outside loops can be fetched",
                    g->nodes[fetch[k].node]->name, frame_name(&f, vis(&f, fetch[k].node)));
            goto done;
        }
    if (inst_init(&f, &root, NULL, 0, err)) goto done;
    for (int k = 0; k < n_feeds; k++) {
        int i = feed_index(g, feeds[k].name, err);
        if (i < 0) goto done;
        const Value *v = &g->nodes[i]->outputs[0];
        const Tensor *t = &feeds[k].value;
        char a[96], b[96];
        if (t->dtype != v->dtype) {
            err_set(err, ERR_INPUT, "input '%s' must be %s, got %s", feeds[k].name, dtype_name(v->dtype), dtype_name(t->dtype));
            goto done;
        }
        if (!shape_equal(&t->shape, &v->shape)) {
            err_set(err, ERR_INPUT, "input '%s' has shape %s but the graph was prepared for %s", feeds[k].name, shape_str(&t->shape, a, sizeof a),
                    shape_str(&v->shape, b, sizeof b));
            goto done;
        }
        tensor_release(&root.vals[f.base[i]]);
        root.vals[f.base[i]] = tensor_share(t);
        root.left[f.base[i]] = f.uses[f.base[i]];
    }
    for (int i = 0; i < n; i++)
        if (f.needed[i] && g->nodes[i]->op == OP_PLACEHOLDER && !tensor_has_data(&root.vals[f.base[i]])) {
            err_set(err, ERR_INPUT, "input '%s' was not fed", g->nodes[i]->name);
            goto done;
        }
    f.node_ms = stats ? stats->node_ms : NULL;
    if (f.node_ms) memset(f.node_ms, 0, sizeof *f.node_ms * (size_t)n);
    size_t base_live = tensor_live_bytes(), weight_bytes = 0;
    tensor_reset_peak();
    double t_start = now_ms();
    if (run_frame(&f, &root, err)) goto done;
    double total = now_ms() - t_start;
    for (int k = 0; k < n_fetch; k++) {
        ValueRef v = fetch[k];
        if (f.global[v.node]) continue;
        if (root.vdead[f.base[v.node] + v.port]) {
            err_set(err, ERR_INPUT, "fetch %d (node '%s') is dead: it is computed only on a branch of a TF1 conditional that was not taken", k,
                    g->nodes[v.node]->name);
            goto done;
        }
    }
    for (int k = 0; k < n_fetch; k++)
        out[k] = f.global[fetch[k].node] ? tensor_share(&g->nodes[fetch[k].node]->outputs[fetch[k].port].known)
                                         : tensor_share(&root.vals[f.base[fetch[k].node] + fetch[k].port]);
    for (int i = 0; i < n; i++)
        if (f.needed[i] && g->nodes[i]->op == OP_CONST) weight_bytes += tensor_nbytes(&g->nodes[i]->outputs[0].known);
    if (stats) {
        size_t peak = tensor_peak_bytes();
        stats->total_ms = total;
        stats->peak_bytes = peak > base_live ? peak - base_live : 0;
        stats->weight_bytes = weight_bytes;
    }
    rc = 0;
done:
    inst_free(&f, &root);
    if (own_table) {
        ta_table_free(f.ta);
        current_table = NULL;
    }
    fg_free(&f);
    free(order);
    return rc;
}
