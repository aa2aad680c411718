/* ref_needed.c - which nodes the fetches need: the one walk the reference executor (ref_exec.c),
 * the frame interpreter (ref_frame.c) and the fast runtime's plan (plan.c) share. It goes back
 * from the fetched nodes over data and control inputs, TF1 back edges (NextIteration -> Merge)
 * included; the flags say where it stops (ref.h). */
#include <stdlib.h>

#include "ref.h"

bool ref_shape_only_input(const Graph *g, const Node *nd, int k) {
    return nd->op != OP_UNKNOWN && (op_def(nd->op)->flags & OPF_SHAPE_ONLY) && shape_is_known(&node_input_value(g, nd, k)->shape);
}

bool ref_all_outputs_known(const Node *n) {
    if (n->n_outputs == 0) return false;
    for (int k = 0; k < n->n_outputs; k++)
        if (!tensor_has_data(&n->outputs[k].known)) return false;
    return true;
}

/* marks s and pushes it, once */
static void visit(bool *needed, int *stack, int *top, int s) {
    if (!needed[s]) { needed[s] = true; stack[(*top)++] = s; }
}

static void walk(const Graph *g, unsigned flags, bool *needed, int *stack, int top) {
    while (top > 0) {
        const Node *nd = g->nodes[stack[--top]];
        if ((flags & REF_NEEDED_STOP_AT_KNOWN) && ref_all_outputs_known(nd)) continue; /* folded: its inputs do not run */
        for (int k = 0; k < nd->n_inputs; k++)
            if (!((flags & REF_NEEDED_SKIP_SHAPE_ONLY) && ref_shape_only_input(g, nd, k))) visit(needed, stack, &top, nd->inputs[k].node);
        for (int k = 0; k < nd->n_ctrl; k++) visit(needed, stack, &top, nd->ctrl[k]);
    }
}

int ref_mark_needed(const Graph *g, const ValueRef *fetch, int n_fetch, unsigned flags, bool *needed, Err *err) {
    int n = g->n_nodes, top = 0;
    for (int k = 0; k < n_fetch; k++) {
        ValueRef v = fetch[k];
        if (v.node < 0 || v.node >= n || v.port < 0 || v.port >= g->nodes[v.node]->n_outputs)
            return err_set(err, ERR_INPUT, "fetch %d is not a tensor of the graph", k);
    }
    int *stack = malloc(((size_t)n + 1) * sizeof *stack);
    if (!stack) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int k = 0; k < n_fetch; k++) visit(needed, stack, &top, fetch[k].node);
    walk(g, flags, needed, stack, top);
    free(stack);
    return 0;
}

int ref_needed_add_shape_inputs(const Graph *g, bool *needed, Err *err) {
    int n = g->n_nodes, top = 0;
    int *stack = malloc(((size_t)n + 1) * sizeof *stack);
    if (!stack) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int i = 0; i < n; i++) {
        if (!needed[i]) continue;
        const Node *nd = g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++)
            if (ref_shape_only_input(g, nd, k)) visit(needed, stack, &top, nd->inputs[k].node);
    }
    walk(g, 0, needed, stack, top);
    free(stack);
    return 0;
}
