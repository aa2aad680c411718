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
    Summary ms;          /* per-run wall time (latency_measure: warm-up and settling runs not counted) */
    size_t peak_bytes;   /* plan_peak_bytes */
    size_t arena_bytes, weight_bytes;
} LatencyResult;

/* Times graphs g[0..n) on the fast runtime with `threads`: one warm-up run each, then
   `repeats` rounds, each round running every graph in turn (alternating). With two or more
   graphs each timed run follows an untimed settling run of the same graph, so a graph is timed
   in its own steady state, not in the cache its predecessor in the loop left: without it a
   small graph timed right after a large one was charged for it (bench/RESULTS.md, 2026-12-08:
   one int8 graph as three plans after two float32 graphs, the copy right after them 10-19%
   slower than the other two; settled, no copy systematically slower). */
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
    /* the user's labels, when a search was given them (EvalContext.label_drop; accuracy_* never
       set these): the input's labelled top-1 minus this graph's, a fraction (may be negative) */
    bool labelled;
    double label_drop;
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
/* accuracy_against that also hands back the candidate's outputs (accuracy_reference's layout;
   free with accuracy_reference_free), so labels can be scored without running it again;
   cand_outs NULL: as accuracy_against */
int accuracy_against_keep(const Graph *orig, const Tensor *ref, const Graph *cand, const InputSet *in, int threads,
                          AccuracyResult *out, Tensor **cand_outs, Err *err);

/* The default accuracy budget: top-1 agreement >= 0.99 (when defined) and cosine >= 0.99.
   A labelled result (AccuracyResult.labelled) is judged on its labels alone: label_drop <=
   max_label_drop (accuracy_label_kept), as optimize judges its result when given labels. */
typedef struct AccuracyBudget { double min_top1, min_cosine, max_label_drop; } AccuracyBudget;
bool accuracy_ok(const AccuracyResult *a, const AccuracyBudget *b);
/* labelled top-1 kept: after >= before - max_drop, with 1e-9 of slack so that a drop of exactly
   max_drop (91.50% -> 91.00% at 0.005) passes whatever the binary fractions round to */
bool accuracy_label_kept(double top1_before, double top1_after, double max_drop);

/* ---- a busy machine (contention.c) ---- */

/* What other processes did while we looked: others_cores = CPU-seconds per second that this
   process did not use (0.9: another program held most of a core), steal = share of CPU time
   the hypervisor took, run_queue = runnable tasks at the end (ours included). Negative fields:
   unknown (no /proc). */
typedef struct MachineLoad { int cores; double others_cores, steal; int run_queue; } MachineLoad;
typedef struct MachineLoadProbe { int cores, running; bool ok; double busy, total, steal, wall_s, own_s; } MachineLoadProbe;
#define MACHINE_BUSY_CORES 0.5 /* others' cores that make the machine busy */
#define MACHINE_BUSY_STEAL 0.1 /* or the hypervisor's share */
void machine_load_begin(MachineLoadProbe *p);
MachineLoad machine_load_end(const MachineLoadProbe *p);
/* a probe over `ms` milliseconds of this process sleeping */
MachineLoad machine_load_sample(int ms);
bool machine_load_busy(const MachineLoad *l);
/* threads to time with: `threads` (0 = all cores) on a quiet machine, else at most the cores
   the other processes leave free (at least 1): an OpenMP team larger than the free cores waits
   at every barrier for a descheduled thread */
int machine_timing_threads(const MachineLoad *l, int threads);

/* Threads for runs whose answer does not depend on the team size (accuracy runs: the same
   outputs to float rounding): `want` (0 = all cores) while the machine is quiet, else the cores
   the other processes leave free (machine_timing_threads), judged over the work done since the
   last look (no sleeping probe; a new look at most every LOAD_THREADS_WINDOW_S). Zero-initialize
   a LoadThreads and pass it to every call. Measured on 2 cores next to two compilers: libgomp's
   spinning held 82-90% of a perf profile of a sensitivity search and of ppo's rollouts. */
#define LOAD_THREADS_WINDOW_S 2.0
typedef struct LoadThreads {
    MachineLoadProbe probe;
    bool looking;
    int threads;
} LoadThreads;
int load_threads_now(LoadThreads *t, int want);


/* ---- the memory floor (bandwidth.c) ---- */

/* A streaming read measured now: `bytes` (a multiple of 8) read by `threads` threads, each a
   contiguous share, median over `passes` passes after one warm-up pass. */
typedef struct ReadBandwidth { double bytes, gb_per_s; int threads, passes; } ReadBandwidth;
int bandwidth_read_measure(size_t bytes, int threads, int passes, ReadBandwidth *out, Err *err);
/* the team size a read with `threads` uses (0: all of OpenMP's default; 1 without OpenMP) */
int bandwidth_threads(int threads);
/* the time reading `bytes` at `gb_per_s` takes, in ms: a run that must read its weights once
   cannot be faster (0 when the rate is unknown) */
double bandwidth_floor_ms(double bytes, double gb_per_s);

/* ---- tests only: a fake clock ----
   When set, every timed run of a graph (latency_measure*, latency_compare_seq) reports
   fn(graph, user) ms instead of the wall time (the graph is still compiled and run). Process
   global, not thread safe: set it in a test's setup, clear it (NULL) after. */
typedef double (*LatencyFakeTimer)(const Graph *g, void *user);
void latency_set_fake_timer(LatencyFakeTimer fn, void *user);
/* measured_ms, or the fake clock's time for g when one is set (cost_time.c times kernels with it) */
double latency_clock_ms(const Graph *g, double measured_ms);

/* Sequential comparison of graphs a and b (latency_compare_seq): timed alternately (a b, b a,
   ...) after one warm-up each, every timed run right after an untimed settling run of the same
   graph (as latency_measure), the paired differences d_i = ln(b_i / a_i) + shift go through
   the group-sequential sign test `seq` (stats.h) until a look decides or seq.max rounds are
   run. decision SEQ_NEGATIVE: b is better (d < 0: b faster by more than shift says it must be),
   SEQ_POSITIVE: a is. shift lets a caller compare objectives that add terms to ln(latency):
   shift_fn (optional) is called once after both plans compiled, with their peak bytes. */
typedef struct SeqCompare {
    SeqDecision decision;
    double p;                 /* the sign test's p at the last look */
    int rounds;               /* rounds timed */
    LatencyResult lat[2];     /* a's and b's summaries (peak bytes from their plans) */
    bool busy;                /* the machine was busy while timing (machine_load_busy), or the
                                 samples spread (stats_unstable) */
    MachineLoad load;         /* what other processes did while the rounds ran */
    int threads;              /* threads the plans were timed with */
} SeqCompare;
typedef double (*SeqShiftFn)(const LatencyResult lat[2], void *user);
int latency_compare_seq(const Graph *a, const Graph *b, const InputSet *in, int threads, const SeqSignOpts *seq,
                        SeqShiftFn shift_fn, void *shift_user, SeqCompare *out, Err *err);

#endif
