/* latency.c - whole-plan timing of one or more graphs, alternating between them so a noisy
 * machine disturbs every candidate alike (the only fair way to compare on shared cores). */
#include <stdlib.h>
#include <string.h>

#include "../runtime/plan.h"
#include "measure.h"

int latency_measure_samples(const Graph *const *g, int n, const InputSet *in, int repeats, int threads, bool *ok, Err *errs,
                            double **samples, LatencyResult *out, Err *err) {
    if (repeats < 1) return err_set(err, ERR_INPUT, "latency: repeats must be >= 1, got %d", repeats);
    Plan **plans = calloc((size_t)n + 1, sizeof *plans);
    Tensor *outs = NULL;
    int max_outputs = 1;
    for (int i = 0; i < n; i++)
        if (ok[i] && g[i]->n_outputs > max_outputs) max_outputs = g[i]->n_outputs;
    outs = calloc((size_t)max_outputs, sizeof *outs);
    if (!plans || !outs) {
        free(plans);
        free(outs);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    PlanOpts opts = {.threads = threads};
    for (int i = 0; i < n; i++) {
        samples[i] = NULL;
        if (!ok[i]) continue;
        err_clear(&errs[i]);
        samples[i] = malloc(sizeof **samples * (size_t)repeats);
        plans[i] = samples[i] ? plan_compile(g[i], NULL, 0, &opts, &errs[i]) : NULL;
        if (!samples[i]) err_set(&errs[i], ERR_RUNTIME, "out of memory");
        if (!plans[i]) { ok[i] = false; err_prefix(&errs[i], "plan"); }
    }
    for (int r = -1; r < repeats; r++) { /* r = -1: warm-up */
        for (int i = 0; i < n; i++) {
            if (!ok[i]) continue;
            const RefFeed *f = in->feeds[(r < 0 ? 0 : r) % in->n_batches];
            PlanTiming t = {0};
            if (plan_run(plans[i], f, in->n_feeds, outs, &t, &errs[i])) {
                ok[i] = false;
                err_prefix(&errs[i], "run");
                continue;
            }
            for (int k = 0; k < g[i]->n_outputs; k++) tensor_release(&outs[k]);
            if (r >= 0) samples[i][r] = t.total_ms;
        }
    }
    for (int i = 0; i < n; i++) {
        if (!ok[i]) { free(samples[i]); samples[i] = NULL; continue; }
        /* stats_summarize sorts: summarize a copy, keep the run order */
        double *copy = malloc(sizeof *copy * (size_t)repeats);
        if (!copy) { ok[i] = false; err_set(&errs[i], ERR_RUNTIME, "out of memory"); free(samples[i]); samples[i] = NULL; continue; }
        memcpy(copy, samples[i], sizeof *copy * (size_t)repeats);
        out[i].ms = stats_summarize(copy, repeats);
        free(copy);
        out[i].peak_bytes = plan_peak_bytes(plans[i]);
        out[i].arena_bytes = plan_arena_bytes(plans[i]);
        out[i].weight_bytes = plan_weight_bytes(plans[i]);
    }
    for (int i = 0; i < n; i++) plan_free(plans[i]);
    free(plans);
    free(outs);
    return 0;
}

int latency_measure(const Graph *const *g, int n, const InputSet *in, int repeats, int threads, LatencyResult *out, Err *err) {
    bool *ok = malloc(sizeof *ok * (size_t)(n + 1));
    Err *errs = calloc((size_t)n + 1, sizeof *errs);
    double **samples = calloc((size_t)n + 1, sizeof *samples);
    int rc = -1;
    if (!ok || !errs || !samples) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    for (int i = 0; i < n; i++) ok[i] = true;
    if (latency_measure_samples(g, n, in, repeats, threads, ok, errs, samples, out, err)) goto done;
    rc = 0;
    for (int i = 0; i < n; i++) {
        free(samples[i]);
        if (!ok[i] && rc == 0) {
            if (err) *err = errs[i];
            rc = -1;
        }
    }
done:
    free(ok);
    free(errs);
    free(samples);
    return rc;
}
