/* candidates.h - what keeps every search honest, in optimize_session_produce and optimize_run:
 *   - the fixed pipelines (grappler always; grappler+int8 when the search may change
 *     precision, and then the sensitivity baseline when grappler+int8 misses the accuracy
 *     budget: `--search sensitivity`'s result with the same options) are carried as candidates of every search method: their graphs are measured
 *     side by side with the search's (optimize_measure_all, the final repeats), and the fastest
 *     (ppo+bo --objective memory: the smallest) whose accuracy passes is the product, so a
 *     search never returns a graph slower than Grappler's beyond the noise of that measurement;
 *   - the final "faster than the input?" is a sequential sign test (stats.h) that keeps timing
 *     until it decides or a cap is hit; an undecided exact result the roofline rates faster is
 *     kept (a noisy measurement does not give up Grappler's fixed point);
 *   - the machine's load is probed before the final timing: on a busy machine fewer threads. */
#ifndef GRAPPO_CANDIDATES_H
#define GRAPPO_CANDIDATES_H

#include "optimize.h"

#define OPTIMIZE_LOAD_PROBE_MS 200 /* how long the machine's load is looked at before timing */

/* After a search produced out->graph: carries the fixed pipelines (see above), replacing
   out->graph and out->log when one of them measured better (out->carried_from names it); fills
   out->carried. No-op for methods that are not searches and on ranks other than 0. */
int optimize_carry_baselines(OptimizeSession *s, const OptimizeOpts *o, OptimizeProduct *out, Err *err);

typedef struct OptimizeSpeedVerdict {
    bool faster;       /* keep on speed grounds */
    SeqDecision decision; /* SEQ_NEGATIVE: the candidate is faster, decided at level 0.05 */
    bool trusted;      /* undecided, kept as exact and faster on the roofline */
    double p;
    int rounds;        /* alternating rounds timed in all */
    bool busy;         /* the extra rounds ran on a busy machine */
} OptimizeSpeedVerdict;

/* before/after: the n alternating rounds already timed (input, candidate). */
int optimize_decide_faster(const OptimizeSession *s, const OptimizeOpts *o, const Graph *orig, const Graph *cand,
                           const RewriteLog *log, const double *before, const double *after, int n, int threads,
                           OptimizeSpeedVerdict *v, Err *err);

/* threads to time with after a load probe (machine_timing_threads); *busy: the machine is busy */
int optimize_timing_threads(const OptimizeOpts *o, bool *busy);

#endif
