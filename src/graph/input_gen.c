/* input_gen.c - deterministic placeholder inputs (see input_gen.h). */
#include "input_gen.h"

#include "../util/rng.h"

/* Smallest table row count over the GatherV2 ops this value indexes, following ops that keep
   element values (Identity, Reshape, ExpandDims, Squeeze, Cast); 0 if it indexes none. */
static int64_t gather_bound(const Graph *g, int node, int depth) {
    if (depth > 8) return 0;
    int64_t bound = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k].node != node) continue;
            int64_t b = 0;
            if (n->op == OP_GATHER_V2 && k == 1) {
                const Shape *ps = &node_input_value(g, n, 0)->shape;
                int64_t axis = 0;
                const Value *av = node_input_value(g, n, 2);
                if (tensor_has_data(&av->known)) axis = (int64_t)tensor_get(&av->known, 0);
                if (ps->rank > 0) {
                    if (axis < 0) axis += ps->rank;
                    if (axis >= 0 && axis < ps->rank) b = ps->dim[axis];
                }
            } else if (n->op == OP_IDENTITY || n->op == OP_RESHAPE || n->op == OP_EXPAND_DIMS || n->op == OP_SQUEEZE ||
                       n->op == OP_CAST) {
                b = gather_bound(g, i, depth + 1);
            }
            if (b > 0 && (bound == 0 || b < bound)) bound = b;
        }
    }
    return bound;
}

int input_generate(const Graph *g, int node, uint64_t seed, Tensor *out, Err *err) {
    const Node *n = g->nodes[node];
    const Value *v = &n->outputs[0];
    if (tensor_alloc(out, v->dtype, &v->shape, err)) return err_prefix(err, "input '%s'", n->name);
    Rng r;
    /* mix the node name into the seed so inputs differ from each other */
    uint64_t h = seed * 0x9E3779B97F4A7C15ull;
    for (const char *c = n->name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    rng_seed(&r, h);
    int64_t count = tensor_numel(out);
    int64_t bound = dtype_is_float(v->dtype) ? 0 : gather_bound(g, node, 0);
    for (int64_t i = 0; i < count; i++) {
        double x;
        if (dtype_is_float(v->dtype)) x = rng_uniform(&r);
        else if (bound > 0) x = (double)rng_below(&r, (uint64_t)bound);
        else x = 1;
        tensor_set(out, i, x);
    }
    return 0;
}
