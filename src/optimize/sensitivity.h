/* sensitivity.h - per-node int8 sensitivity, and the `sensitivity` search built on it.
 *
 * The start graph is the calibrated input after the grappler pipeline (fusions first, as
 * grappler+int8 does); its quantizable nodes are the sites of the int8 rules it would apply
 * (quantize_conv_* and quantize_matmul_*: the *_int8 rules on CPUs with VNNI, *_int7 without,
 * the same choice as grappler+int8; and quantize_gather_int8's embedding tables, named by the
 * table Const).
 *
 * Ranking: each quantizable node is quantized ALONE and the graph judged by the one accuracy
 * judge (optimize_session_judge: fidelity to the input - top-1 agreement and cosine - on the
 * evaluation inputs, or the user's metric). Its latency gain is the kernel cost model's
 * estimate (sum of per-kernel times, src/measure/cost.h; measured or roofline as the options
 * say) of the fp32 start graph minus that of the graph with this node quantized: the node's
 * fp32 kernel against its int8 kernel plus the GrappoQuantize it needs - cheaper and far less
 * noisy than timing whole graphs. Nodes are ranked most sensitive first: larger accuracy drop,
 * then lower worst cosine, then smaller gain, then name (deterministic).
 *
 * Search: every node int8 first (the graph grappler+int8 makes). When that misses the accuracy
 * budget, the k most sensitive nodes stay fp32, k the smallest found by bisection over [0, n]
 * (k = n is the fp32 start graph itself): at most 1 + n + ceil(log2 n) judgements, none timed.
 * It stops early at --budget judgements, the time budget or a cancel request, keeping the best
 * graph that met the budget so far (the fp32 start graph when none did). */
#ifndef GRAPPO_SENSITIVITY_H
#define GRAPPO_SENSITIVITY_H

#include "../search/objective.h"
#include "optimize.h"

typedef struct SensitivityNode {
    char *name;             /* the node's name in the start graph (its quantized form keeps it) */
    const char *op;         /* its op type in the start graph ("_FusedConv2D", "MatMul", ...) */
    const char *rule;       /* the rule that quantizes it */
    bool judged;            /* false: the run stopped before judging it (ranked first, as if worst) */
    OptimizeJudgement judge; /* the start graph with this node alone quantized */
    double quant_ms;        /* cost model: that graph's latency */
    double gain_ms;         /* cost model: the fp32 start graph's latency minus quant_ms */
    bool kept_fp32;         /* the search left this node in fp32 */
} SensitivityNode;

typedef struct Sensitivity {
    int n;
    SensitivityNode *nodes; /* most sensitive first */
    const char *variant;    /* "int8" or "int7" (7-bit weights: no VNNI) */
    const char *cost;       /* "measured" or "roofline": what gain_ms comes from */
    double fp32_ms;         /* cost model: the fp32 start graph */
    int judged;             /* nodes judged */
    bool searched;          /* the search ran (all_int8, reverted meaningful) */
    bool all_int8_ok;       /* every node int8 met the accuracy budget */
    OptimizeJudgement all_int8;
    int reverted;           /* nodes the search left fp32 */
} Sensitivity;

/* The ranking alone (`grappo sensitivity`): calibrates the session, judges every quantizable
   node. The session's time budget and progress callback apply (a stop leaves the rest
   unjudged, ranked first). *out is freed with sensitivity_free. */
int sensitivity_rank(OptimizeSession *s, Sensitivity **out, Err *err);

/* OPTIMIZE_SENSITIVITY: ranks and searches as above from `calibrated` (the session's
   calibrated input); fills out's graph, log, note and planned evaluation count and
   out->sensitivity. ctx counts the judgements and carries the deadline and the cancel
   callback (ctx->stopped). */
int search_sensitivity(OptimizeSession *s, EvalContext *ctx, const Graph *calibrated, OptimizeProduct *out, Err *err);

void sensitivity_free(Sensitivity *x);

/* Per-node scores for other searches (the agent's features or prior): score[i] for node i of
   g, matched by name, is that node's accuracy drop when quantized alone (>= 0 when it was
   judged; -1 for nodes that are not ranked or not judged). score has g->n_nodes entries.
   Returns how many nodes got a score. */
int sensitivity_scores(const Sensitivity *x, const Graph *g, double *score);

#endif
