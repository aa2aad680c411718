/* graph_hash.c - graph_structure_hash: a fingerprint of a graph's structure (graph.h). */
#include "graph.h"

#include "../util/hash.h"

uint64_t graph_structure_hash(const Graph *g) {
    uint64_t h = hash_mix64(FNV1A_OFFSET, (uint64_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        h = hash_mix64(h, fnv1a64_str(fnv1a64_str(FNV1A_OFFSET, n->name), n->op_name));
        h = hash_mix64(h, (uint64_t)n->n_attrs);
        h = hash_mix64(h, (uint64_t)n->n_ctrl);
        for (int k = 0; k < n->n_inputs; k++) h = hash_mix64(h, (uint64_t)n->inputs[k].node << 8 ^ (uint64_t)n->inputs[k].port);
        for (int k = 0; k < n->n_outputs; k++) {
            h = hash_mix64(h, (uint64_t)n->outputs[k].dtype);
            const Shape *sh = &n->outputs[k].shape;
            h = hash_mix64(h, (uint64_t)sh->rank);
            for (int d = 0; d < sh->rank && d < MAX_RANK; d++) h = hash_mix64(h, (uint64_t)sh->dim[d]);
        }
    }
    return h;
}
