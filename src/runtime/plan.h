/* plan.h - the fast runtime: compile a Graph into a Plan (a kernel per node, oneDNN where it
 * has a primitive and the reference kernel otherwise; weights prepacked once; one static
 * arena for every activation, offsets from memplan.c), then run it as often as needed.
 *
 * The plan borrows the graph: g must stay alive and unchanged while the plan exists. Every
 * tensor crossing plan_run is in TensorFlow's plain layout. */
#ifndef GRAPPO_PLAN_H
#define GRAPPO_PLAN_H

#include "../graph/graph.h"
#include "memplan.h"
#include "ref.h"

typedef struct PlanOpts {
    int threads;    /* OpenMP threads for oneDNN; 0 = all cores */
    bool reference; /* use the reference kernel for every node (same executor and arena) */
} PlanOpts;

typedef struct PlanTiming {
    double total_ms;
    double *node_ms; /* optional: caller array of g->n_nodes, filled per executed node (others 0) */
} PlanTiming;

typedef struct Plan Plan;

/* fetch == NULL: the graph outputs. g must have been through graph_infer. */
Plan *plan_compile(const Graph *g, const ValueRef *fetch, int n_fetch, const PlanOpts *opts, Err *err);
/* Feeds every placeholder the fetches need (dtype and shape must match inference), runs, and
   returns the fetched values as new tensors in out[0..n_fetch) (caller releases). */
int plan_run(Plan *p, const RefFeed *feeds, int n_feeds, Tensor *out, PlanTiming *t, Err *err);
void plan_free(Plan *p);

/* memory: arena + weights the plan reads (prepacked copies and constants) + scratch + the
   dynamic part: the peak bytes of the values whose shapes were known only at run time (Where,
   NonMaxSuppression and what depends on them), held outside the arena and measured in the
   last plan_run (0 before the first run or when the plan has no dynamic step) */
size_t plan_peak_bytes(const Plan *p);
size_t plan_dynamic_bytes(const Plan *p);
size_t plan_arena_bytes(const Plan *p);
size_t plan_weight_bytes(const Plan *p);
size_t plan_scratch_bytes(const Plan *p);

/* what the profile shows */
typedef struct PlanInfo {
    int steps, fast_steps, ref_steps, view_steps, folded_nodes, inplace_steps;
    int dynamic_steps;         /* nodes run with run-time shapes, outside the arena */
    size_t dynamic_peak_bytes; /* their peak bytes in the last run */
    MemPlanAlgo algo;
    size_t arena_greedy, arena_first_fit, arena_lower_bound;
    int cache_hits, cache_misses;
} PlanInfo;
void plan_info(const Plan *p, PlanInfo *info);
/* implementation that runs node i: oneDNN's name (e.g. "brg:avx512_core"), "ref", "view",
   "ref (dynamic shape)",
   "const" (value known at compile time), or NULL if the node is not part of the plan */
const char *plan_node_impl(const Plan *p, int node);

/* How each node would run on the fast runtime (plan_probe.c), for `grappo ops`: works on graphs
   plan_compile refuses. */
typedef enum PlanNodeKind {
    PLAN_NODE_INPUT,       /* a Placeholder */
    PLAN_NODE_CONST,       /* value known before running (Const or folded) */
    PLAN_NODE_VIEW,        /* moves no data */
    PLAN_NODE_FAST,        /* a oneDNN or native kernel (impl names it) */
    PLAN_NODE_REF,         /* the reference kernel, inside the plan's arena */
    PLAN_NODE_DYNAMIC,     /* the reference kernel with run-time shapes, outside the arena */
    PLAN_NODE_UNSUPPORTED, /* an op grappo cannot execute */
    PLAN_NODE_BLOCKED,     /* needs the output of an unsupported op */
    PLAN_NODE_ERROR,       /* compiling it fails (impl holds the message) */
} PlanNodeKind;

typedef struct PlanNodeSupport {
    PlanNodeKind kind;
    bool reference;  /* the reference runtime has a kernel for the op */
    char impl[200];  /* PLAN_NODE_FAST: the kernel's name; PLAN_NODE_ERROR: the message */
} PlanNodeSupport;

/* g must have been through graph_infer; out has g->n_nodes entries. opts->reference: do not
   ask the fast families (every computing node is then PLAN_NODE_REF). */
int plan_probe(const Graph *g, const PlanOpts *opts, PlanNodeSupport *out, Err *err);
const char *plan_node_kind_name(PlanNodeKind k);

#endif
