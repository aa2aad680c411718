/* plan_ctrl.c - TF2 control flow on the fast runtime: a While / If / Case step runs through
 * ref_ctrl.c's loop and branch logic, with each function body compiled as a plan of its own
 * (oneDNN kernels, its own arena) for the argument shapes of the call, reused for every
 * iteration while those shapes stay the same, with the outer plan's options (threads,
 * reference-only). The body plans' arenas are not part of the outer plan's memory report.
 *
 * TF1 control flow (Switch/Merge, Enter/Exit/NextIteration/LoopCond) and TensorArray/TensorList
 * state make the whole graph run through the reference runtime's frame interpreter
 * (ref_frame.c): the plan has no steps, and its memory report is that run's peak, all of it
 * dynamic. Correct rather than fast: a fast-runtime region per frame is not built. */
#include "plan_internal.h"

static void *body_prepare(void *ctx, const Graph *body, Err *err) { return plan_compile(body, NULL, 0, (const PlanOpts *)ctx, err); }

static int body_run(void *state, const RefFeed *feeds, int n_feeds, Tensor *out, Err *err) {
    return plan_run((Plan *)state, feeds, n_feeds, out, NULL, err);
}

static void body_release(void *state) { plan_free((Plan *)state); }

int plan_ctrl_eval(const Plan *p, int node, const Tensor *in, Tensor *out, Err *err) {
    PlanOpts o = {.threads = p->threads, .reference = !p->have_dnn};
    CtrlRunner r = {.ctx = &o, .prepare = body_prepare, .run = body_run, .release = body_release};
    return ref_ctrl_eval_with(p->g, node, in, out, &r, err);
}

int plan_ctrl_run_whole(Plan *p, const RefFeed *feeds, int n_feeds, Tensor *out, PlanTiming *t, Err *err) {
    RefStats st = {.node_ms = t ? t->node_ms : NULL};
    if (ref_frame_run_needed(p->g, p->frame_needed, feeds, n_feeds, p->fetch, p->n_fetch, out, &st, err)) return -1;
    p->dyn_peak = st.peak_bytes;
    if (t) t->total_ms = st.total_ms;
    return 0;
}
