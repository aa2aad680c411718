/* plan_internal.h - the Plan's insides, shared by plan.c (compile) and plan_run.c (bind, run). */
#ifndef GRAPPO_PLAN_INTERNAL_H
#define GRAPPO_PLAN_INTERNAL_H

#include "dnn_common.h"
#include "fast.h"
#include "plan.h"

typedef enum SlotKind {
    SLOT_NONE = 0, /* not needed by the fetches */
    SLOT_CONST,    /* value known at compile time (Const or folded) */
    SLOT_FEED,     /* a placeholder: points at the caller's tensor during a run */
    SLOT_ARENA,    /* computed: lives at `offset` in the arena */
    SLOT_ALIAS,    /* same bytes as slot alias_of (views, in-place outputs) */
    SLOT_DYNAMIC,  /* shape known only at run time: a heap tensor outside the arena, made by its
                      step and released after its last reader (plan_run.c) */
} SlotKind;

typedef struct Slot {
    SlotKind kind;
    int alias_of;
    const Tensor *konst;
    size_t bytes, offset;
    int first, last; /* lifetime in steps (root slots) */
    bool counted;    /* constant already counted in weight_bytes */
    Tensor t;        /* bound view of the slot's memory; aliases share their root's TensorBuf */
} Slot;

/* STEP_DYNAMIC: a node whose output shapes are known only at run time (ref_dyn.c) */
typedef enum StepKind { STEP_FAST, STEP_REF, STEP_VIEW, STEP_DYNAMIC } StepKind;

typedef struct Step {
    int node;
    StepKind kind;
    FastKernel k;
    bool inplace_granted;
} Step;

struct Plan {
    const Graph *g;
    DnnCtx dnn;
    bool have_dnn;
    int threads;
    int n_steps;
    Step *steps;
    int n_slots;
    Slot *slots;
    int *base; /* slots of node i: base[i] .. base[i+1] */
    int n_fetch;
    ValueRef *fetch;
    void *arena, *scratch;
    size_t arena_bytes, scratch_bytes, weight_bytes;
    size_t arena_greedy, arena_first_fit, arena_lower_bound;
    MemPlanAlgo algo;
    int folded, inplace;
    size_t dyn_live, dyn_peak; /* bytes of dynamic slots held now / at most in the last run */
    bool whole_ref; /* TF1 control flow / TensorArray: the whole graph runs on the reference runtime (plan_ctrl.c) */
    bool *frame_needed; /* whole_ref: the nodes the frame interpreter runs, marked once at compile */
};

int slot_root(const Plan *p, int s);
/* a While / If / Case step: bodies compiled as plans of their own (plan_ctrl.c) */
int plan_ctrl_eval(const Plan *p, int node, const Tensor *in, Tensor *out, Err *err);
/* a plan whose needed nodes hold TF1 control flow or TensorArray/TensorList state (OPF_DEADNESS)
   runs the whole graph through the reference runtime's frame interpreter */
int plan_ctrl_run_whole(Plan *p, const RefFeed *feeds, int n_feeds, Tensor *out, PlanTiming *t, Err *err);
/* asks the fast kernel families in order: 1 with *k filled (a fast kernel), 0 (none: the
   reference kernel runs), -1 on error */
int plan_try_fast(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
/* every output has a value known at compile time (Consts, folded values) */
bool plan_all_outputs_known(const Node *n);
int plan_bind(Plan *p, Err *err); /* creates every slot's Tensor over the arena/constants */

#endif
