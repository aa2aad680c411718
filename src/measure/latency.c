/* latency.c - whole-plan timing of one or more graphs, alternating between them so a noisy
 * machine disturbs every candidate alike (the only fair way to compare on shared cores). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/plan.h"
#include "measure.h"

static LatencyFakeTimer fake_timer;
static void *fake_timer_user;

void latency_set_fake_timer(LatencyFakeTimer fn, void *user) {
    fake_timer = fn;
    fake_timer_user = user;
}

/* one run of plan p (graph g) on feed f; its time (or the fake clock's) to *ms */
static int timed_run(Plan *p, const Graph *g, const RefFeed *f, int n_feeds, Tensor *outs, double *ms, Err *err) {
    PlanTiming t = {0};
    if (plan_run(p, f, n_feeds, outs, &t, err)) return -1;
    for (int k = 0; k < g->n_outputs; k++) tensor_release(&outs[k]);
    *ms = fake_timer ? fake_timer(g, fake_timer_user) : t.total_ms;
    return 0;
}

double latency_clock_ms(const Graph *g, double measured_ms) { return fake_timer ? fake_timer(g, fake_timer_user) : measured_ms; }


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
    int timing = 0; /* graphs timed: one needs no settling runs (its runs follow each other) */
    for (int i = 0; i < n; i++) timing += ok[i];
    for (int r = -1; r < repeats; r++) { /* r = -1: warm-up */
        for (int i = 0; i < n; i++) {
            if (!ok[i]) continue;
            const RefFeed *f = in->feeds[(r < 0 ? 0 : r) % in->n_batches];
            double t; /* after the settling run (rounds with two or more graphs), not kept */
            if ((r >= 0 && timing > 1 && timed_run(plans[i], g[i], f, in->n_feeds, outs, &t, &errs[i])) ||
                timed_run(plans[i], g[i], f, in->n_feeds, outs, &t, &errs[i])) {
                ok[i] = false;
                err_prefix(&errs[i], "run");
                continue;
            }
            if (r >= 0) samples[i][r] = t;
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

/* Sequential comparison (measure.h): rounds alternate the order (a b, then b a) against drift,
   each timed run right after an untimed settling run of the same graph (not warm or cold from
   the other's traffic); a look of the sign test after the rounds stats_seq_sign_is_look names. */
int latency_compare_seq(const Graph *a, const Graph *b, const InputSet *in, int threads, const SeqSignOpts *seq,
                        SeqShiftFn shift_fn, void *shift_user, SeqCompare *out, Err *err) {
    memset(out, 0, sizeof *out);
    SeqSignOpts so = seq ? *seq : stats_seq_sign_default();
    if (so.max < 1) return err_set(err, ERR_INPUT, "sequential timing: at most %d rounds", so.max);
    const Graph *g[2] = {a, b};
    Plan *plans[2] = {NULL, NULL};
    int max_outputs = a->n_outputs > b->n_outputs ? a->n_outputs : b->n_outputs;
    Tensor *outs = calloc((size_t)max_outputs + 1, sizeof *outs);
    double *t[2] = {malloc(sizeof(double) * (size_t)so.max), malloc(sizeof(double) * (size_t)so.max)};
    double *d = malloc(sizeof(double) * (size_t)so.max), *copy = malloc(sizeof(double) * (size_t)so.max);
    int rc = -1;
    if (!outs || !t[0] || !t[1] || !d || !copy) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    PlanOpts po = {.threads = threads};
    for (int i = 0; i < 2; i++)
        if (!(plans[i] = plan_compile(g[i], NULL, 0, &po, err))) { err_prefix(err, "plan"); goto done; }
    for (int i = 0; i < 2; i++) {
        out->lat[i].peak_bytes = plan_peak_bytes(plans[i]);
        out->lat[i].arena_bytes = plan_arena_bytes(plans[i]);
        out->lat[i].weight_bytes = plan_weight_bytes(plans[i]);
    }
    double shift = shift_fn ? shift_fn(out->lat, shift_user) : 0;
    double warm;
    for (int i = 0; i < 2; i++)
        if (timed_run(plans[i], g[i], in->feeds[0], in->n_feeds, outs, &warm, err)) { err_prefix(err, "run"); goto done; }
    MachineLoadProbe probe;
    machine_load_begin(&probe);
    int r = 0;
    out->decision = SEQ_UNDECIDED;
    out->p = 1;
    while (r < so.max) {
        const RefFeed *f = in->feeds[r % in->n_batches];
        for (int j = 0; j < 2; j++) {
            int i = (r % 2) ? 1 - j : j;
            double settle; /* as in latency_measure_samples: timed in its own steady state */
            if (timed_run(plans[i], g[i], f, in->n_feeds, outs, &settle, err) ||
                timed_run(plans[i], g[i], f, in->n_feeds, outs, &t[i][r], err)) { err_prefix(err, "run"); goto done; }
        }
        d[r] = log(t[1][r] / t[0][r]) + shift;
        r++;
        if (stats_seq_sign_is_look(&so, r) && (out->decision = stats_seq_sign_decide(&so, d, r, &out->p)) != SEQ_UNDECIDED) break;
    }
    out->load = machine_load_end(&probe);
    out->busy = machine_load_busy(&out->load);
    out->rounds = r;
    out->threads = threads;
    for (int i = 0; i < 2; i++) {
        memcpy(copy, t[i], sizeof(double) * (size_t)r);
        out->lat[i].ms = stats_summarize(copy, r);
        out->busy |= stats_unstable(&out->lat[i].ms);
    }
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        plan_free(plans[i]);
        free(t[i]);
    }
    free(outs);
    free(d);
    free(copy);
    return rc;
}
