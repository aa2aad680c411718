/* inputs.c - deterministic input batches for measurements. */
#include <stdlib.h>

#include "../graph/input_gen.h"
#include "measure.h"

void inputs_free(InputSet *s) {
    if (!s->feeds) return;
    for (int b = 0; b < s->n_batches; b++) {
        if (!s->feeds[b]) continue;
        for (int k = 0; k < s->n_feeds; k++) tensor_release(&s->feeds[b][k].value);
        free(s->feeds[b]);
    }
    free(s->feeds);
    s->feeds = NULL;
    s->n_batches = 0;
}

int inputs_generate(const Graph *g, int n, uint64_t seed, InputSet *out, Err *err) {
    out->n_batches = n;
    out->n_feeds = 0;
    for (int i = 0; i < g->n_nodes; i++) out->n_feeds += g->nodes[i]->op == OP_PLACEHOLDER;
    out->feeds = calloc((size_t)n + 1, sizeof *out->feeds);
    if (!out->feeds) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int b = 0; b < n; b++) {
        out->feeds[b] = calloc((size_t)out->n_feeds + 1, sizeof **out->feeds);
        if (!out->feeds[b]) { inputs_free(out); return err_set(err, ERR_RUNTIME, "out of memory"); }
        int k = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
            out->feeds[b][k].name = g->nodes[i]->name; /* borrowed: g outlives the set */
            if (input_generate(g, i, seed + (uint64_t)b, &out->feeds[b][k].value, err)) { inputs_free(out); return -1; }
            k++;
        }
    }
    return 0;
}
