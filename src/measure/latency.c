/* latency.c - whole-plan timing of one or more graphs, alternating between them so a noisy
 * machine disturbs every candidate alike (the only fair way to compare on shared cores). */
#include <stdlib.h>

#include "../runtime/plan.h"
#include "measure.h"

int latency_measure(const Graph *const *g, int n, const InputSet *in, int repeats, int threads, LatencyResult *out, Err *err) {
    Plan **plans = calloc((size_t)n + 1, sizeof *plans);
    double *ms = malloc(sizeof *ms * (size_t)n * (size_t)(repeats > 0 ? repeats : 1));
    int rc = -1;
    if (!plans || !ms) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    PlanOpts opts = {.threads = threads};
    for (int i = 0; i < n; i++) {
        plans[i] = plan_compile(g[i], NULL, 0, &opts, err);
        if (!plans[i]) goto done;
    }
    Tensor outs[64];
    for (int r = -1; r < repeats; r++) { /* r = -1: warm-up */
        for (int i = 0; i < n; i++) {
            const RefFeed *f = in->feeds[(r < 0 ? 0 : r) % in->n_batches];
            PlanTiming t = {0};
            if (g[i]->n_outputs > 64) { err_set(err, ERR_RUNTIME, "too many outputs"); goto done; }
            if (plan_run(plans[i], f, in->n_feeds, outs, &t, err)) goto done;
            for (int k = 0; k < g[i]->n_outputs; k++) tensor_release(&outs[k]);
            if (r >= 0) ms[(size_t)i * (size_t)repeats + (size_t)r] = t.total_ms;
        }
    }
    for (int i = 0; i < n; i++) {
        out[i].ms = stats_summarize(ms + (size_t)i * (size_t)repeats, repeats);
        out[i].peak_bytes = plan_peak_bytes(plans[i]);
        out[i].arena_bytes = plan_arena_bytes(plans[i]);
        out[i].weight_bytes = plan_weight_bytes(plans[i]);
    }
    rc = 0;
done:
    if (plans)
        for (int i = 0; i < n; i++) plan_free(plans[i]);
    free(plans);
    free(ms);
    return rc;
}
