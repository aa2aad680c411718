/* graph_support.c - what of a graph grappo cannot execute, said in one place: every op outside
 * the op table with its node count (not only the first one met), and TF1 control flow
 * (Switch/Merge/Enter/Exit/NextIteration/LoopCond) named as such, with the while loop's frame,
 * instead of "unknown op" or "graph has a cycle" (Switch/Merge themselves run on the reference
 * runtime: tf.cond); function calls (PartitionedCall) and TensorArray/TensorList ops named too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_func.h"

static const char *const TF1_CONTROL_FLOW[] = {"Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond",
                                               "RefSwitch", "RefMerge", "RefEnter", "RefExit", "RefNextIteration"};

static const char *const TF2_CONTROL_FLOW[] = {"If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase",
                                               "PartitionedCall", "StatefulPartitionedCall"};

static bool in_list(const char *op, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(op, list[i])) return true;
    return false;
}

/* TensorArray* and TensorList* ops: the state of loops */
static bool op_is_loop_state(const char *op) { return !strncmp(op, "TensorArray", 11) || !strncmp(op, "TensorList", 10); }

bool op_is_tf1_control_flow(const char *op_name) {
    for (size_t i = 0; i < sizeof TF1_CONTROL_FLOW / sizeof *TF1_CONTROL_FLOW; i++)
        if (!strcmp(op_name, TF1_CONTROL_FLOW[i])) return true;
    return false;
}

typedef struct Count { const char *op; int n; int first; } Count;

static int by_count(const void *a, const void *b) {
    const Count *x = a, *y = b;
    if (x->n != y->n) return y->n - x->n;
    return strcmp(x->op, y->op);
}

/* whether g runs any control-flow node (among only), i.e. needs its function bodies */
static bool runs_bodies(const Graph *g, const bool *only) {
    if (!g->funcs) return false;
    for (int i = 0; i < g->n_nodes; i++)
        if ((!only || only[i]) && op_is_functional_control_flow(g->nodes[i]->op)) return true;
    return false;
}

/* counts the unknown ops of g (among only) and, when it runs control flow, of every function
   body it holds, recursively (bodies are bounded in number and nesting by the loader) */
static int count_unknown(const Graph *g, const bool *only, Count **c, int *nc, int *cap, int depth) {
    int nodes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op != OP_UNKNOWN || (only && !only[i])) continue;
        nodes++;
        int k = 0;
        while (k < *nc && strcmp((*c)[k].op, n->op_name)) k++;
        if (k == *nc) {
            if (*nc == *cap) {
                int ncap = *cap ? 2 * *cap : 16;
                Count *p = realloc(*c, (size_t)ncap * sizeof *p);
                if (!p) return -1;
                *c = p;
                *cap = ncap;
            }
            (*c)[(*nc)++] = (Count){n->op_name, 0, depth == 0 ? i : -1};
        }
        (*c)[k].n++;
    }
    if (depth < 64 && runs_bodies(g, only))
        for (int f = 0; f < g->funcs->n; f++) {
            int m = count_unknown(g->funcs->f[f].body, NULL, c, nc, cap, depth + 1);
            if (m < 0) return -1;
            nodes += m;
        }
    return nodes;
}

int graph_unsupported_ops(const Graph *g, const bool *only, char *buf, size_t cap, int *n_types) {
    Count *c = NULL;
    int nc = 0, ccap = 0;
    if (buf && cap) buf[0] = 0;
    if (n_types) *n_types = 0;
    int nodes = count_unknown(g, only, &c, &nc, &ccap, 0);
    if (nodes < 0) { free(c); return -1; }
    if (nc) qsort(c, (size_t)nc, sizeof *c, by_count);
    size_t len = 0;
    for (int k = 0; k < nc && buf && len + 1 < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s x%d", k ? ", " : "", c[k].op, c[k].n);
    if (buf && len >= cap && cap > 4) strcpy(buf + cap - 4, "...");
    if (n_types) *n_types = nc;
    free(c);
    return nodes;
}

const char *graph_tf1_frame(const Graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (!strcmp(n->op_name, "Enter") || !strcmp(n->op_name, "RefEnter")) return node_attr_s(n, "frame_name", "?");
    }
    return NULL;
}

/* nodes outside the op table (among only) whose op pred names */
static int count_where(const Graph *g, const bool *only, bool (*pred)(const char *)) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) k += (!only || only[i]) && g->nodes[i]->op == OP_UNKNOWN && pred(g->nodes[i]->op_name);
    return k;
}

static bool op_is_tf2_control_flow(const char *op) { return in_list(op, TF2_CONTROL_FLOW, sizeof TF2_CONTROL_FLOW / sizeof *TF2_CONTROL_FLOW); }

static int count_tf1(const Graph *g, const bool *only) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) k += (!only || only[i]) && op_is_tf1_control_flow(g->nodes[i]->op_name);
    return k;
}

int graph_check_executable(const Graph *g, const bool *only, Err *err) {
    char list[400];
    int types = 0, nodes = graph_unsupported_ops(g, only, list, sizeof list, &types);
    if (nodes < 0) return err_set(err, ERR_RUNTIME, "out of memory");
    if (nodes == 0) return 0;
    int tf1 = count_where(g, only, op_is_tf1_control_flow); /* Switch/Merge run (reference runtime): loops do not */
    const char *frame = tf1 ? graph_tf1_frame(g) : NULL;
    char hint[400] = "";
    if (frame)
        snprintf(hint, sizeof hint, "; the Enter/Exit/NextIteration nodes are a TF1 while loop (frame '%s'), not supported yet", frame);
    else if (tf1)
        snprintf(hint, sizeof hint, "; Ref* control-flow ops are TF1 control flow on reference variables, not supported");
    size_t len = strlen(hint);
    if (count_where(g, only, op_is_tf2_control_flow))
        len += (size_t)snprintf(hint + len, sizeof hint - len, "; PartitionedCall/StatefulPartitionedCall are function calls, inlined only when a SavedModel is read");
    if (len < sizeof hint && count_where(g, only, op_is_loop_state))
        snprintf(hint + len, sizeof hint - len, "; TensorArray/TensorList ops (loop state) are not supported yet");
    const char *first = NULL;
    for (int i = 0; i < g->n_nodes && !first; i++)
        if (g->nodes[i]->op == OP_UNKNOWN && (!only || only[i])) first = g->nodes[i]->name;
    char in_body[GRAPH_MAX_NAME + 300];
    if (!first && runs_bodies(g, only)) /* only inside a function body: name it */
        for (int f = 0; f < g->funcs->n && !first; f++) {
            const Graph *b = g->funcs->f[f].body;
            for (int i = 0; i < b->n_nodes && !first; i++)
                if (b->nodes[i]->op == OP_UNKNOWN) {
                    snprintf(in_body, sizeof in_body, "%.1023s' in function '%.200s", b->nodes[i]->name, g->funcs->f[f].name);
                    first = in_body;
                }
        }
    if (!first) first = "?";
    /* an op grappo does not know is a property of the input: bad input (exit 2), like every other
       graph grappo cannot take */
    return err_set(err, ERR_INPUT, "%d node%s of %d op type%s grappo cannot execute: %s (first: node '%s')%s (grappo ops FILE lists what runs where)",
                   nodes, nodes == 1 ? "" : "s", types, types == 1 ? "" : "s", list, first, hint);
}

int graph_tf1_loop_error(const Graph *g, Err *err) {
    const char *frame = graph_tf1_frame(g);
    int back = 0;
    for (int i = 0; i < g->n_nodes; i++) back += !strcmp(g->nodes[i]->op_name, "NextIteration") || !strcmp(g->nodes[i]->op_name, "RefNextIteration");
    if (!back) return 0;
    char list[300];
    int types = 0, nodes = graph_unsupported_ops(g, NULL, list, sizeof list, &types);
    return err_set(err, ERR_INPUT, "graph holds a TF1 while loop (frame '%s', %d control-flow nodes: Enter, Merge, Switch, "
                                   "NextIteration, Exit, LoopCond): TF1 while loops are not supported yet; %d node%s of %d op type%s "
                                   "grappo cannot execute: %s",
                   frame ? frame : "?", count_tf1(g, NULL), nodes, nodes == 1 ? "" : "s", types, types == 1 ? "" : "s", list);
}
