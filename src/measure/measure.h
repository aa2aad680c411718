/* measure.h - turning graphs into numbers people can trust: latency of whole-plan runs on the
 * fast runtime (candidates timed alternately in the same loop so machine noise hits both),
 * peak memory, and accuracy as fidelity to the original float32 graph. */
#ifndef GRAPPO_MEASURE_H
#define GRAPPO_MEASURE_H

#include "../graph/graph.h"
#include "../report/stats.h"
#include "../runtime/ref.h"

/* A set of input batches: batch b feeds feeds[b][0..n_feeds). */
typedef struct InputSet {
    int n_batches, n_feeds;
    RefFeed **feeds;
} InputSet;

/* n deterministic batches for g's placeholders (input_generate with seeds seed, seed+1, ...) */
int inputs_generate(const Graph *g, int n, uint64_t seed, InputSet *out, Err *err);
void inputs_free(InputSet *s);

typedef struct LatencyResult {
    Summary ms;          /* per-run wall time, after one warm-up run each */
    size_t peak_bytes;   /* plan_peak_bytes */
    size_t arena_bytes, weight_bytes;
} LatencyResult;

/* Times graphs g[0..n) on the fast runtime with `threads`: one warm-up run each, then
   `repeats` rounds, each round running every graph once in turn (alternating). */
int latency_measure(const Graph *const *g, int n, const InputSet *in, int repeats, int threads, LatencyResult *out, Err *err);
/* The same loop, keeping what reports need: graphs with ok[i] false are skipped; a graph whose
   plan fails to compile or run gets ok[i] = false and its error in errs[i] while the others go
   on; samples[i] receives its `repeats` per-run times in run order (malloc'd; NULL when !ok[i]).
   Fails only when the loop itself cannot run (out of memory, repeats < 1). */
int latency_measure_samples(const Graph *const *g, int n, const InputSet *in, int repeats, int threads, bool *ok, Err *errs,
                            double **samples, LatencyResult *out, Err *err);

typedef struct AccuracyResult {
    int outputs;          /* graph outputs compared */
    int samples;          /* batches x rows compared for top-1 */
    double top1_agreement; /* fraction of rows whose argmax agrees, over classifier outputs (-1: none) */
    double min_cosine;     /* worst cosine similarity over outputs and batches */
    double max_rel_l2;     /* worst ||cand - orig|| / ||orig|| */
    double max_abs_err;
} AccuracyResult;

/* Runs orig and cand on the fast runtime over every batch and compares their outputs (same
   count and shapes). Classifier outputs ([rows, classes] float tensors that are a Softmax's
   result or input, through Identity nodes) count for top-1 agreement. */
int accuracy_measure(const Graph *orig, const Graph *cand, const InputSet *in, int threads, AccuracyResult *out, Err *err);

/* The same in two halves, for callers that compare many candidates with one original: the
   original's outputs on every batch (ref[b * n_outputs + k]; free with accuracy_reference_free),
   then each candidate against them. */
int accuracy_reference(const Graph *orig, const InputSet *in, int threads, Tensor **ref, Err *err);
void accuracy_reference_free(Tensor *ref, int n_batches, int n_outputs);
int accuracy_against(const Graph *orig, const Tensor *ref, const Graph *cand, const InputSet *in, int threads,
                     AccuracyResult *out, Err *err);

/* The default accuracy budget: top-1 agreement >= 0.99 (when defined) and cosine >= 0.99. */
typedef struct AccuracyBudget { double min_top1, min_cosine; } AccuracyBudget;
bool accuracy_ok(const AccuracyResult *a, const AccuracyBudget *b);

#endif
