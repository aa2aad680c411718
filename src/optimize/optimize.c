/* optimize.c - method dispatch, calibration, evaluation inputs, measurement and the keep/refuse
 * verdict of one optimization (see optimize.h). The options' defaults are written here once. */
#include "optimize.h"
#include "candidates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../io/dataset_dir.h"
#include "../io/graphdef.h"
#include "../graph/op.h"
#include "../runtime/dnn_common.h"
#include "../runtime/plan.h"
#include "../runtime/ref.h"
#include "../search/baselines.h"
#include "../search/env.h"
#include "../search/objective.h"
#include "../search/policy.h"
#include "sensitivity.h"

static const char *const method_names[OPTIMIZE_N_METHODS] = {
    [OPTIMIZE_NONE] = "none",     [OPTIMIZE_GRAPPLER] = "grappler", [OPTIMIZE_GRAPPLER_INT8] = "grappler+int8",
    [OPTIMIZE_GREEDY] = "greedy", [OPTIMIZE_RANDOM] = "random",     [OPTIMIZE_PPO] = "ppo",
    [OPTIMIZE_PPO_BO] = "ppo+bo", [OPTIMIZE_RULES] = "rules",
    [OPTIMIZE_GRAPPLER_BF16] = "grappler+bf16",
    [OPTIMIZE_SENSITIVITY] = "sensitivity",
};

const char *optimize_method_name(OptimizeMethod m) {
    return (unsigned)m < OPTIMIZE_N_METHODS ? method_names[m] : "?";
}

int optimize_method_parse(const char *name, OptimizeMethod *m) {
    for (int k = 0; k < OPTIMIZE_N_METHODS; k++)
        if (k != OPTIMIZE_RULES && !strcmp(name, method_names[k])) { *m = (OptimizeMethod)k; return 0; }
    return -1;
}

const char *optimize_method_names(void) { return "grappler, grappler+int8, grappler+bf16, greedy, random, ppo, ppo+bo, sensitivity or rules:R1,R2,..."; }

bool optimize_method_is_search(OptimizeMethod m) {
    return m == OPTIMIZE_GREEDY || m == OPTIMIZE_RANDOM || m == OPTIMIZE_PPO || m == OPTIMIZE_PPO_BO || m == OPTIMIZE_SENSITIVITY;
}

bool optimize_method_is_seeded(OptimizeMethod m) { return m == OPTIMIZE_RANDOM || m == OPTIMIZE_PPO || m == OPTIMIZE_PPO_BO; }

OptimizeOpts optimize_opts_default(void) {
    return (OptimizeOpts){
        .method = OPTIMIZE_GRAPPLER,
        .max_accuracy_drop = 0.01,
        .min_cosine = 0.99,
        .budget = 100,
        .seed = 1,
        .threads = 0,
        .repeats = 20,
        /* a search judges candidates on every held-out batch, the ones the final check uses:
           judged on fewer (4 once), a ResNet-50 result quantized to int7 kept top-1 on them and
           lost it on 16, and the final check refused the search's answer */
        .search_repeats = 5,
        .eval_batches = 16,
        .eval_seed = 1000, /* calibration is generated from seeds 1..calib_batches: disjoint */
        .calib_batches = 8,
        .calib_method = CALIB_PERCENTILE,
        .episodes = 16,
        .trials = 12,
    };
}

int optimize_opts_check(const OptimizeOpts *o, Err *err) {
    if ((unsigned)o->method >= OPTIMIZE_N_METHODS) return err_set(err, ERR_INPUT, "unknown optimization method %d", (int)o->method);
    if ((o->method == OPTIMIZE_GRAPPLER_INT8 || o->method == OPTIMIZE_SENSITIVITY) && o->target_tf)
        return err_set(err, ERR_INPUT, "int8 uses grappo ops: it needs --target grappo");
    if (o->method == OPTIMIZE_RULES) {
        if (o->n_rules < 1 || !o->rules) return err_set(err, ERR_INPUT, "--search rules: needs rule names");
        for (int k = 0; k < o->n_rules; k++)
            if (!rule_by_name(o->rules[k])) return err_set(err, ERR_INPUT, "no rule named '%s' (grappo rules lists them)", o->rules[k]);
    }
    if (!(o->max_accuracy_drop >= 0 && o->max_accuracy_drop <= 1)) return err_set(err, ERR_INPUT, "the accuracy drop must be in [0, 1]");
    if (o->budget < 1) return err_set(err, ERR_INPUT, "the search budget must be >= 1");
    if (o->repeats < 1 || o->search_repeats < 1) return err_set(err, ERR_INPUT, "repeats must be >= 1");
    if (!o->eval_inputs && o->eval_batches < 1) return err_set(err, ERR_INPUT, "evaluation batches must be >= 1");
    if (o->eval_inputs && o->eval_inputs->n_batches < 1) return err_set(err, ERR_INPUT, "no evaluation batches given");
    if (o->trials < 1 || o->trials > BO_MAX_TRIALS) return err_set(err, ERR_INPUT, "trials must be in [1, %d]", BO_MAX_TRIALS);
    if (o->episodes < 1) return err_set(err, ERR_INPUT, "episodes must be >= 1");
    if (!(o->time_budget_s >= 0) || !isfinite(o->time_budget_s)) return err_set(err, ERR_INPUT, "the time budget must be >= 0 seconds");
    if (dist_size(o->dist) > 1 && o->method != OPTIMIZE_PPO_BO)
        return err_set(err, ERR_INPUT, "under mpirun only --search ppo+bo spreads its work (trials) over processes");
    return labelled_opts_check(o, err);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int progress(const OptimizeOpts *o, const char *what, int done, int total, Err *err) {
    if (o->progress && o->progress(what, done, total, o->progress_user)) return err_set(err, ERR_RUNTIME, "cancelled");
    return 0;
}

/* ---- the session: evaluation inputs, calibration, policy ---- */

struct OptimizeSession {
    const Graph *orig;
    OptimizeOpts o;
    double t_open_ms;
    InputSet eval_own;
    const InputSet *eval;
    int calib_state; /* 0: not tried, 1: done, -1: failed (calib_err) */
    Graph *calibrated;
    RefFeed **calib;
    int calib_n, calib_feeds;
    Err calib_err;
    int agent_state; /* the same for the policy and cost model */
    Policy *policy;
    CostModel *cm;
    char policy_path[4096];
    Err agent_err;
    LabelledData lab;    /* the user's evaluation directory and labels (labelled.c) */
    bool calib_generated;
    Tensor *judge_ref;      /* the input's outputs on the evaluation inputs (optimize_session_judge) */
    int judge_ref_count;    /* its tensors (batches x outputs): freed without reading orig, which a
                               result's session may outlive */
    bool judge_metric_done;
    double judge_metric_before;
    bool judge_labels_done;
    LabelledScore judge_labels_before;
    LoadThreads eval_threads; /* accuracy runs: the cores others leave free (measure.h) */
};

/* Accuracy runs (not timing: any team size gives the same answer, to float rounding) use the
   threads the other processes leave free (load_threads_now): sensitivity judged 12 ResNet-50
   nodes a minute at 2 threads on a 2-core machine running two compilers, 48 this way. */
static int session_eval_threads(OptimizeSession *s) { return load_threads_now(&s->eval_threads, s->o.threads); }

/* the input's outputs on the evaluation inputs, once per session (s->judge_ref) */
static int session_reference(OptimizeSession *s, Err *err) {
    if (accuracy_reference(s->orig, s->eval, session_eval_threads(s), &s->judge_ref, err)) {
        s->judge_ref = NULL;
        return err_prefix(err, "accuracy reference");
    }
    s->judge_ref_count = s->eval->n_batches * s->orig->n_outputs;
    return 0;
}

/* g's fidelity to the input on the evaluation inputs (the input's outputs computed once per
   session, s->judge_ref); cand_outs (may be NULL) receives g's outputs for scoring labels */
static int session_accuracy(OptimizeSession *s, const Graph *g, AccuracyResult *acc, Tensor **cand_outs, Err *err) {
    int threads = session_eval_threads(s);
    if (!s->judge_ref && session_reference(s, err)) return -1;
    return accuracy_against_keep(s->orig, s->judge_ref, g, s->eval, threads, acc, cand_outs, err);
}

/* the labelled rows: the images read (>= 0), or -1 for every row of given inputs */
static int session_label_rows(const OptimizeSession *s) { return s->o.eval_inputs ? -1 : s->lab.n_rows; }

/* g's outputs on the session's evaluation inputs (accuracy_reference's layout) scored against
   the session's labels */
static int session_score_labels(const OptimizeSession *s, const Graph *g, const Tensor *outs, LabelledScore *out, Err *err) {
    return labelled_score_outputs(g, outs, s->eval->n_batches, session_label_rows(s), s->lab.labels, s->lab.n_labels, s->o.labels_path,
                                  out, err);
}

/* the input's labelled score on the evaluation inputs, once per session (from its reference
   outputs) */
static int session_labels_before(OptimizeSession *s, Err *err) {
    if (s->judge_labels_done) return 0;
    if (!s->judge_ref && session_reference(s, err)) return -1;
    if (session_score_labels(s, s->orig, s->judge_ref, &s->judge_labels_before, err)) return -1;
    s->judge_labels_done = true;
    return 0;
}

/* the options' accuracy budget: top-1 agreement and cosine floors, and the labelled drop */
static AccuracyBudget optimize_accuracy_budget(const OptimizeOpts *o) {
    return (AccuracyBudget){1.0 - o->max_accuracy_drop, o->min_cosine, o->max_accuracy_drop};
}

/* EvalContext.label_drop for the searches: the input's labelled top-1 minus g's, scored on the
   outputs the search's accuracy run produced (its inputs are the session's evaluation inputs) */
static int search_label_drop(void *user, const Graph *g, const Tensor *outs, int n_batches, double *drop, Err *err) {
    OptimizeSession *s = user;
    if (n_batches != s->eval->n_batches) return err_set(err, ERR_RUNTIME, "labels: %d batches judged, the session has %d", n_batches, s->eval->n_batches);
    if (session_labels_before(s, err)) return -1;
    LabelledScore after;
    if (session_score_labels(s, g, outs, &after, err)) return -1;
    *drop = s->judge_labels_before.top1 - after.top1;
    return 0;
}

/* NaN or Inf in calibration data gives NaN ranges, and every int8 rule would skip every site
   without a word: refused, naming the batch and the input */
static int check_finite_feeds(const RefFeed *const *b, int n, int n_feeds, Err *err) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n_feeds; k++) {
            const Tensor *t = &b[i][k].value;
            if (t->dtype != DT_FLOAT || !t->buf) continue;
            const float *p = t->buf->data;
            size_t m = t->buf->nbytes / sizeof(float);
            for (size_t j = 0; j < m; j++)
                if (!isfinite(p[j]))
                    return err_set(err, ERR_INPUT,
                                   "calibration batch %d, input '%s' holds %s at element %zu: int8 ranges need finite data", i,
                                   b[i][k].name, isnan(p[j]) ? "NaN" : "Inf", j);
        }
    return 0;
}

/* calibration's batches as progress ("calibrating", done, batches) */
static int calib_progress(void *user, int done, int total) {
    const OptimizeOpts *o = user;
    return o->progress("calibrating", done, total, o->progress_user);
}

int optimize_session_calibrate(OptimizeSession *s, Err *err) {
    if (s->calib_state == 1) return 0;
    if (s->calib_state < 0) { if (err) *err = s->calib_err; return -1; }
    Err *e = &s->calib_err;
    const OptimizeOpts *o = &s->o;
    const RefFeed *const *batches = NULL;
    int n = 0, n_feeds = 0;
    s->calib_state = -1;
    if (progress(o, "calibrating", 0, 0, e)) goto fail;
    if (o->calib_feeds) {
        batches = o->calib_feeds;
        n = o->calib_n;
        n_feeds = o->calib_n_feeds;
        if (n < 1) { err_set(e, ERR_INPUT, "no calibration batches given"); goto fail; }
    } else if (o->calibration_dir) {
        int rows;
        if (dataset_load_batches(s->orig, o->calibration_dir, &o->image_prep, "calibration", &s->calib, &s->calib_n, &s->calib_feeds,
                                 &rows, e))
            goto fail;
        batches = (const RefFeed *const *)s->calib;
        n = s->calib_n;
        n_feeds = s->calib_feeds;
    } else {
        /* generated, seeds 1..calib_batches: disjoint from the evaluation inputs */
        s->calib_generated = true;
        if (calib_batches_generate(s->orig, o->calib_batches, &s->calib, &s->calib_feeds, e)) { s->calib = NULL; goto fail; }
        s->calib_n = o->calib_batches;
        batches = (const RefFeed *const *)s->calib;
        n = s->calib_n;
        n_feeds = s->calib_feeds;
    }
    if (check_finite_feeds(batches, n, n_feeds, e)) goto fail;
    s->calibrated = graph_clone(s->orig, e);
    if (!s->calibrated) goto fail;
    CalibOpts co = {.method = o->calib_method, .percentile = CALIB_DEFAULT_PERCENTILE};
    if (calibrate_graph_progress(s->calibrated, batches, n, n_feeds, &co, o->progress ? calib_progress : NULL, (void *)o, e) < 0) goto fail;
    s->calib_state = 1;
    return 0;
fail:
    graph_free(s->calibrated);
    s->calibrated = NULL;
    if (err) *err = *e;
    return -1;
}

int optimize_agent_open(const OptimizeOpts *o, Policy **policy, CostModel **cm, char *path_used, size_t cap, Err *err) {
    *policy = NULL;
    *cm = NULL;
    const char *path = o->policy_path;
    if (!path) path = optimize_default_policy_path(path_used, cap);
    if (path != path_used) snprintf(path_used, cap, "%s", path);
    *policy = policy_load(path_used, NULL, NULL, err);
    if (!*policy) return -1;
    if (env_policy_check(*policy, err)) {
        err_prefix(err, "policy file %s", path_used);
        policy_free(*policy);
        *policy = NULL;
        return -1;
    }
    CostOpts co = {.backend = o->cost_roofline ? COST_ROOFLINE : COST_MEASURED, .threads = o->threads, .cache_dir = o->cost_cache};
    *cm = cost_open(&co, err);
    if (!*cm) {
        policy_free(*policy);
        *policy = NULL;
        return -1;
    }
    return 0;
}

static int session_agent(OptimizeSession *s, Err *err) {
    if (s->agent_state == 1) return 0;
    if (s->agent_state < 0) { if (err) *err = s->agent_err; return -1; }
    if (s->o.policy && s->o.cost_model) {
        snprintf(s->policy_path, sizeof s->policy_path, "%s", s->o.policy_path ? s->o.policy_path : "");
        s->agent_state = 1;
        return 0;
    }
    s->agent_state = -1;
    if (optimize_agent_open(&s->o, &s->policy, &s->cm, s->policy_path, sizeof s->policy_path, &s->agent_err)) {
        if (err) *err = s->agent_err;
        return -1;
    }
    s->agent_state = 1;
    return 0;
}

int optimize_session_open(const Graph *orig, const OptimizeOpts *o, OptimizeSession **out, Err *err) {
    *out = NULL;
    if (optimize_opts_check(o, err)) return -1;
    OptimizeSession *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_RUNTIME, "out of memory");
    s->orig = orig;
    s->o = *o;
    s->t_open_ms = now_ms();
    /* a missing or corrupt policy is reported before any work */
    if ((o->method == OPTIMIZE_PPO || o->method == OPTIMIZE_PPO_BO) && session_agent(s, err)) goto fail;
    if (labelled_open(orig, o, &s->lab, err)) goto fail;
    if (o->eval_inputs) {
        s->eval = o->eval_inputs;
    } else if (o->eval_dir) {
        s->eval = &s->lab.own;
    } else {
        if (inputs_generate(orig, o->eval_batches, o->eval_seed, &s->eval_own, err)) goto fail;
        s->eval = &s->eval_own;
    }
    *out = s;
    return 0;
fail:
    optimize_session_close(s);
    return -1;
}

void optimize_session_close(OptimizeSession *s) {
    if (!s) return;
    if (s->judge_ref) accuracy_reference_free(s->judge_ref, s->judge_ref_count, 1);
    inputs_free(&s->eval_own);
    labelled_close(&s->lab);
    if (s->calib) calib_batches_free(s->calib, s->calib_n, s->calib_feeds);
    graph_free(s->calibrated);
    policy_free(s->policy);
    cost_close(s->cm);
    free(s);
}

const InputSet *optimize_session_eval(const OptimizeSession *s) { return s->eval; }

void optimize_product_free(OptimizeProduct *p) {
    if (!p) return;
    graph_free(p->graph);
    free(p->trials);
    sensitivity_free(p->sensitivity);
    memset(p, 0, sizeof *p);
}

/* ppo's rollouts as progress ("rollouts", done, total) */
static int rollout_progress(void *user, int done, int total) {
    const OptimizeOpts *o = user;
    return o->progress("rollouts", done, total, o->progress_user);
}

/* a search's evaluations as progress ("search", done, budget) */
static int search_progress(void *user, int done, int total) {
    const OptimizeOpts *o = user;
    return o->progress("search", done, total, o->progress_user);
}

/* does the method need calibration ranges on its start graph? */
static bool needs_precision(const OptimizeOpts *o) {
    switch (o->method) {
    case OPTIMIZE_GRAPPLER_INT8: case OPTIMIZE_SENSITIVITY: return true;
    case OPTIMIZE_GREEDY: case OPTIMIZE_RANDOM: case OPTIMIZE_PPO: case OPTIMIZE_PPO_BO: return !o->exact_only && !o->target_tf;
    case OPTIMIZE_RULES:
        for (int k = 0; k < o->n_rules; k++) {
            const RuleDef *r = rule_by_name(o->rules[k]);
            if (r && (r->flags & RULE_PRECISION)) return true;
        }
        return false;
    default: return false;
    }
}

/* Under mpirun the kept BO trial's graph lives on the rank that ran it: it travels to every
   rank as GraphDef bytes (private attributes included: calibration ranges stay) and is read
   back with the input graph's interface. *g is the owner's graph there, NULL elsewhere. */
static int share_graph(Dist *dist, int owner, const Graph *orig, Graph **g, Err *err) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    int me = dist_rank(dist), rc = -1;
    if (me == owner) {
        if (!*g) return err_set(err, ERR_RUNTIME, "rank %d should hold the kept trial's graph", me);
        if (graphdef_serialize(*g, &bytes, &len, err)) return -1;
    }
    if (dist_bcast_bytes(dist, owner, &bytes, &len, err)) goto done;
    if (me != owner) {
        graph_free(*g);
        *g = graphdef_parse(bytes, len, "the kept trial's graph", err);
        if (!*g || optimize_adopt_interface(*g, orig, "the kept trial's graph", err)) goto done;
    }
    rc = 0;
done:
    free(bytes);
    return rc;
}

/* OPTIMIZE_PPO / OPTIMIZE_PPO_BO: the agent from start (one rollout search, or BO trials of it
   sharing the budget) into out; ctx and so are the session's search settings */
static int agent_search(OptimizeSession *s, const OptimizeOpts *o, EvalContext *ctx, const Graph *start, SearchOpts *so,
                        OptimizeProduct *out, Evaluation *ev, Err *err) {
    if (session_agent(s, err)) return -1;
    Policy *pol = s->o.policy ? s->o.policy : s->policy;
    CostModel *cm = s->o.cost_model ? s->o.cost_model : s->cm;
    AgentOpts ao = agent_opts_default();
    ao.episodes = o->episodes;
    ao.tune_episodes = o->tune_episodes;
    if (o->method == OPTIMIZE_PPO) return search_ppo(ctx, start, so, pol, cm, &ao, &out->graph, ev, &out->log, &out->agent, err);
    BoTarget bt = {.objective = o->minimize_memory ? BO_OBJECTIVE_MEMORY : BO_OBJECTIVE_LATENCY,
                   .max_accuracy_drop = o->max_accuracy_drop, .memory_budget_bytes = o->memory_budget_bytes,
                   .latency_budget_ms = o->latency_budget_ms};
    out->n_constraints = bo_target_constraints(&bt, out->constraint_names);
    if (!(out->trials = calloc((size_t)o->trials, sizeof *out->trials))) return err_set(err, ERR_RUNTIME, "out of memory");
    out->n_trials = o->trials;
    out->best_trial = -1;
    /* the budget is shared by the trials: each searches with max(2, budget/trials - 1) graph
       evaluations, plus one to measure */
    int per = o->budget / o->trials - 1;
    so->budget = per > 2 ? per : 2;
    ctx->progress_budget = o->trials * (so->budget + 1);
    BoParallel par = {.batch = o->bo_batch, .comm = dist_comm(o->dist)};
    if (search_ppo_bo(ctx, start, so, pol, cm, &ao, &bt, o->trials, &par, &out->graph, ev, &out->log, out->trials, &out->best_trial,
                      err))
        return -1;
    if (o->dist) {
        int kept = out->best_trial >= 0 ? out->best_trial : -1 - out->best_trial;
        if (share_graph(o->dist, out->trials[kept].rank, s->orig, &out->graph, err)) return -1;
    }
    if (out->best_trial < 0) snprintf(out->note, sizeof out->note, "no BO trial met every budget: the closest one kept");
    /* stopped early (time budget, cancel): the trials that ran, each spent evaluations */
    while (out->n_trials > 1 && out->trials[out->n_trials - 1].evaluations == 0) out->n_trials--;
    return 0;
}

int optimize_session_produce(OptimizeSession *s, const OptimizeOpts *o, OptimizeProduct *out, Err *err) {
    memset(out, 0, sizeof *out);
    out->root = dist_rank(o->dist) == 0;
    out->pipeline = optimize_method_name(o->method);
    if (optimize_opts_check(o, err)) return -1;
    bool precision = needs_precision(o);
    if (precision && optimize_session_calibrate(s, err)) return -1;
    const Graph *start = precision ? s->calibrated : s->orig;
    unsigned required = o->target_tf ? RULE_TF : 0;
    if (progress(o, optimize_method_name(o->method), 0, 0, err)) return -1;
    switch (o->method) {
    case OPTIMIZE_NONE:
        out->graph = graph_clone(s->orig, err);
        return out->graph ? 0 : -1;
    case OPTIMIZE_GRAPPLER_BF16:
        if (!dnn_cpu_has_bf16()) { /* bf16 nodes would run on reference kernels */
            out->pipeline = "grappler";
            snprintf(out->note, sizeof out->note, "no bf16: this CPU has no bf16 kernels, exact grappler only");
        }
        if (!(out->graph = graph_clone(start, err))) return -1;
        return pipeline_run(out->pipeline, out->graph, required, &out->log, err);
    case OPTIMIZE_GRAPPLER:
    case OPTIMIZE_GRAPPLER_INT8:
    case OPTIMIZE_RULES:
        if (o->method == OPTIMIZE_GRAPPLER_INT8 && !dnn_cpu_has_vnni()) {
            out->pipeline = pipeline_int8_name(false);
            snprintf(out->note, sizeof out->note, "7-bit weights: this CPU has no VNNI");
        }
        if (!(out->graph = graph_clone(start, err))) return -1;
        if (o->method == OPTIMIZE_RULES) return pipeline_fixed_point(o->rules, o->n_rules, out->graph, required, 8, &out->log, err);
        return pipeline_run(out->pipeline, out->graph, required, &out->log, err);
    default: break;
    }
    EvalContext ctx = {.original = s->orig, .inputs = s->eval,
                       .budget = optimize_accuracy_budget(o),
                       .w = objective_default_weights(), .repeats = o->search_repeats, .threads = o->threads,
                       .deadline_ms = o->time_budget_s > 0 ? s->t_open_ms + 1e3 * o->time_budget_s : 0};
    /* with labels, the searches judge every candidate as the result will be judged: on them
       (a user metric is another judgement: the searches keep fidelity then) */
    if (s->lab.labels && !o->metric) {
        ctx.label_drop = search_label_drop;
        ctx.label_user = s;
    }
    /* accuracy by precision assignment for every search (ppo and ppo+bo would open their own):
       the input's outputs computed once, not at each judgement */
    if (!(ctx.acc_cache = objective_accuracy_cache_new())) return err_set(err, ERR_RUNTIME, "out of memory");
    if (o->progress) {
        ctx.progress = search_progress;
        ctx.rollout_progress = rollout_progress;
        ctx.progress_user = (void *)o;
        ctx.progress_budget = o->budget;
    }
    SearchOpts so = {.budget = o->budget, .required_flags = required, .allow_precision = precision, .min_gain = 0, .seed = o->seed,
                     .forbidden_flags = dnn_cpu_has_bf16() ? 0 : RULE_BF16};
    Evaluation ev;
    int rc;
    out->planned = o->budget;
    if (o->method == OPTIMIZE_SENSITIVITY) {
        rc = search_sensitivity(s, &ctx, start, out, err);
    } else if (o->method == OPTIMIZE_PPO || o->method == OPTIMIZE_PPO_BO) {
        rc = agent_search(s, o, &ctx, start, &so, out, &ev, err);
    } else if (o->method == OPTIMIZE_GREEDY) {
        rc = search_greedy(&ctx, start, &so, &out->graph, &ev, &out->log, err);
    } else {
        rc = search_random(&ctx, start, &so, &out->graph, &ev, &out->log, err);
    }
    objective_accuracy_cache_free(ctx.acc_cache);
    ctx.acc_cache = NULL;
    out->evaluations = ctx.evaluations;
    out->stopped = ctx.stopped;
    if (rc) {
        graph_free(out->graph);
        out->graph = NULL;
        return -1;
    }
    out->busy_comparisons = ctx.busy_comparisons;
    out->times = ctx.times;
    /* the searches carry the fixed pipelines; sensitivity is itself such a baseline (its
       all-int8 start is grappler+int8's graph) and returns its own graph */
    if (o->method == OPTIMIZE_SENSITIVITY) return 0;
    /* a cancel request (Ctrl-C) means stop now with the best so far: no further candidates,
       and the callback is not asked again (it would keep answering "stop") */
    if (out->stopped == OBJECTIVE_STOP_CANCELLED) return 0;
    double t_carry = now_ms();
    int crc = optimize_carry_baselines(s, o, out, err);
    out->carry_s = (now_ms() - t_carry) / 1e3;
    return crc;
}

const char *optimize_session_policy_path(const OptimizeSession *s) { return s->policy_path; }

void optimize_measured_free(OptimizeMeasured *m, int n) {
    for (int i = 0; m && i < n; i++) {
        free(m[i].samples);
        m[i].samples = NULL;
    }
}

int optimize_measure_all(OptimizeSession *s, const Graph *const *g, int n, OptimizeMeasured *out, Err *err) {
    const OptimizeOpts *o = &s->o;
    bool *ok = calloc((size_t)n + 1, sizeof *ok);
    Err *errs = calloc((size_t)n + 1, sizeof *errs);
    double **samples = calloc((size_t)n + 1, sizeof *samples);
    LatencyResult *lat = calloc((size_t)n + 1, sizeof *lat);
    int rc = -1;
    if (!ok || !errs || !samples || !lat) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    for (int i = 0; i < n; i++) ok[i] = out[i].ok && g[i];
    if (progress(o, "timing", 0, 0, err)) goto done;
    if (latency_measure_samples(g, n, s->eval, o->repeats, o->threads, ok, errs, samples, lat, err)) goto done;
    for (int i = 0; i < n; i++) {
        if (out[i].ok && !ok[i]) { out[i].ok = false; out[i].err = errs[i]; }
        if (!out[i].ok) continue;
        out[i].samples = samples[i];
        samples[i] = NULL;
        out[i].lat = lat[i];
    }
    /* fidelity to the input graph: its outputs once per session, every graph against them */
    if (progress(o, "accuracy", 0, 0, err)) goto done;
    if (!s->judge_ref && session_reference(s, err)) goto done;
    /* and top-1/top-5 against the user's labels, scored on the same outputs; a labels file that
       does not fit fails them all */
    for (int i = 0; i < n; i++) {
        if (!out[i].ok) continue;
        Tensor *outs = NULL;
        if (session_accuracy(s, g[i], &out[i].acc, s->lab.labels ? &outs : NULL, &out[i].err)) {
            out[i].ok = false;
            err_prefix(&out[i].err, "accuracy");
            continue;
        }
        if (!s->lab.labels) continue;
        int r = session_score_labels(s, g[i], outs, &out[i].labels, err);
        accuracy_reference_free(outs, s->eval->n_batches, g[i]->n_outputs);
        if (r) goto done;
        out[i].has_labels = true;
    }
    rc = 0;
done:
    for (int i = 0; samples && i < n; i++) free(samples[i]);
    free(samples);
    free(lat);
    free(ok);
    free(errs);
    return rc;
}

/* ---- the whole run ---- */

/* The runs alternate (input, candidate, input, ...): round i is a pair. Two-sided sign test of
   "the candidate is faster in a pair" against a coin: robust to the preempted runs a shared
   machine produces, where a t-test of means is swamped by one outlier. NaN below 2 pairs. */
static double paired_sign_p(const double *before, const double *after, int n) {
    int k = 0, m = 0;
    for (int i = 0; i < n; i++)
        if (after[i] != before[i]) { m++; k += after[i] < before[i]; }
    if (m < 2) return NAN;
    int lo = k < m - k ? k : m - k;
    double tail = 0, c = 1; /* C(m, j) / 2^m summed for j <= lo, in logs to stay finite */
    for (int j = 0; j <= lo; j++) {
        tail += exp(log(c) - m * log(2.0));
        c = c * (m - j) / (j + 1);
    }
    double p = 2 * tail;
    return p < 1 ? p : 1;
}

/* attributes grappo adds for its own bookkeeping (calibration ranges) are not written out */
static void strip_private_attrs(Graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        for (int k = n->n_attrs - 1; k >= 0; k--)
            if (!strncmp(n->attrs[k].name, "_grappo_", 8)) node_attr_remove(n, n->attrs[k].name);
    }
}

static void count_nodes(const Graph *g, OptimizeMeasure *m) {
    m->nodes = g->n_nodes;
    m->ops = 0;
    for (int i = 0; i < g->n_nodes; i++) m->ops += g->nodes[i]->op != OP_CONST;
    graph_param_count(g, &m->weight_bytes);
}

struct OptimizeResultPriv {
    OptimizeResult pub;
    OptimizeSession *session;
};

void optimize_result_free(OptimizeResult *r) {
    if (!r) return;
    struct OptimizeResultPriv *p = (struct OptimizeResultPriv *)r;
    optimize_product_free(&r->product);
    free(r->before.samples);
    free(r->after.samples);
    graph_free(r->graph);
    optimize_session_close(p->session);
    free(p);
}

/* every node of orig whose op grappo cannot execute is in g unchanged: the same op, attributes
   (count), inputs (count) and control inputs (count) under the same name. The grappler rules
   match known ops only; this is the check that none of them reached such a node. */
static bool unsupported_nodes_untouched(const Graph *orig, const Graph *g) {
    for (int i = 0; i < orig->n_nodes; i++) {
        const Node *a = orig->nodes[i];
        if (a->op != OP_UNKNOWN) continue;
        int j = graph_find(g, a->name);
        if (j < 0) return false;
        const Node *b = g->nodes[j];
        if (b->op != OP_UNKNOWN || strcmp(a->op_name, b->op_name) || a->n_inputs != b->n_inputs || a->n_ctrl != b->n_ctrl ||
            a->n_attrs != b->n_attrs)
            return false;
    }
    return true;
}

/* optimize_run for a graph holding ops grappo cannot execute (allow_unmeasured): the exact
   grappler pipeline, nothing run, nothing measured; why: the executability error */
static int optimize_run_unmeasured(const Graph *orig, const OptimizeOpts *o, OptimizeResult *r, const char *why, double t0,
                                   Err *err) {
    if (o->method != OPTIMIZE_GRAPPLER)
        return err_set(err, ERR_INPUT, "--allow-unmeasured applies the exact grappler rewrites only (--search grappler), "
                                       "and this graph cannot be measured: %s", why);
    r->unmeasured = true;
    int types = 0;
    graph_unsupported_ops(orig, NULL, r->unmeasured_why, sizeof r->unmeasured_why, &types);
    if (!r->unmeasured_why[0]) snprintf(r->unmeasured_why, sizeof r->unmeasured_why, "%.400s", why);
    OptimizeProduct *pr = &r->product;
    pr->root = true;
    pr->pipeline = optimize_method_name(o->method);
    pr->search_median_ms = NAN;
    if (!(pr->graph = graph_clone(orig, err))) return -1;
    if (pipeline_run(pr->pipeline, pr->graph, o->target_tf ? RULE_TF : 0, &pr->log, err)) return -1;
    r->speed_p = NAN;
    r->acc.top1_agreement = -1;
    r->acc.min_cosine = NAN;
    r->acc.max_rel_l2 = NAN;
    r->acc.max_abs_err = NAN;
    count_nodes(orig, &r->before);
    count_nodes(pr->graph, &r->after);
    r->keep = false;
    if (pr->log.total == 0)
        r->verdict = graph_has_tf1_control_flow(orig)
                         ? "no rewrite was applied (not measured): the graph holds TF1 control flow, which rewrites leave "
                           "untouched; the input graph was written unchanged"
                         : "no rewrite was applied (not measured): the input graph was written unchanged";
    else if (!unsupported_nodes_untouched(orig, pr->graph))
        r->verdict = "a rewrite reached a node grappo cannot execute, so the result cannot be trusted unmeasured: the input "
                     "graph was written unchanged";
    else {
        r->keep = true;
        r->verdict = "optimized graph written, NOT MEASURED (speed and accuracy unknown): the graph holds ops grappo cannot "
                     "execute; only exact rewrites were applied, none to those nodes";
    }
    r->graph = graph_clone(r->keep ? pr->graph : orig, err);
    if (!r->graph) return -1;
    strip_private_attrs(r->graph);
    r->grappo_nodes = optimize_grappo_ops(r->graph, r->grappo_ops, sizeof r->grappo_ops);
    r->wall_s = (now_ms() - t0) / 1e3;
    return 0;
}

int optimize_run(const Graph *orig, const OptimizeOpts *o, OptimizeResult **out, Err *err) {
    *out = NULL;
    double t0 = now_ms();
    struct OptimizeResultPriv *p = calloc(1, sizeof *p);
    if (!p) return err_set(err, ERR_RUNTIME, "out of memory");
    OptimizeResult *r = &p->pub;
    r->opts = *o;
    if (o->allow_unmeasured && dist_size(o->dist) <= 1) {
        Err why = {0};
        if (graph_check_executable(orig, NULL, &why)) {
            if (optimize_opts_check(o, err) || optimize_run_unmeasured(orig, o, r, why.msg, t0, err)) goto fail;
            *out = r;
            return 0;
        }
    }
    if (optimize_session_open(orig, o, &p->session, err)) goto fail;
    r->eval = optimize_session_eval(p->session);
    r->policy_path = optimize_session_policy_path(p->session);
    if (optimize_session_produce(p->session, o, &r->product, err)) goto fail;
    CostModel *cm = o->cost_model ? o->cost_model : p->session->cm;
    if (cm && cost_cache_is_new(cm)) r->new_cost_cache = cost_cache_path(cm);
    if (!r->product.root) {
        /* rank 0 measures, writes and reports the kept graph; the others wait asleep rather than
           spinning in MPI_Finalize next to its timing runs */
        if (dist_idle_barrier(o->dist, err)) goto fail;
        *out = r;
        return 0;
    }
    const Graph *cand = r->product.graph;
    /* a search stopped by a cancel request: its best graph is measured and judged without
       asking the callback again (it would keep answering "stop") */
    bool asked_to_stop = r->product.stopped == OBJECTIVE_STOP_CANCELLED;
    if (!asked_to_stop && progress(o, "measuring", 0, 0, err)) goto fail;
    Tensor *cand_outs = NULL;
    if (session_accuracy(p->session, cand, &r->acc, p->session->lab.labels ? &cand_outs : NULL, err)) goto fail;
    if (p->session->lab.labels) {
        /* scored on the outputs the accuracy comparison produced (the input's: once per
           session): no further runs */
        int rc = session_labels_before(p->session, err);
        if (!rc) rc = session_score_labels(p->session, cand, cand_outs, &r->labels_after, err);
        accuracy_reference_free(cand_outs, r->eval->n_batches, cand->n_outputs);
        if (rc) goto fail;
        r->labels_before = p->session->judge_labels_before;
        r->has_labels = true;
        r->labelled_images = session_label_rows(p->session) >= 0; /* rows read from images */
    }
    if (o->metric) {
        r->has_metric = true;
        if (o->metric(orig, o->metric_user, &r->metric_before, err)) goto fail;
        if (o->metric(cand, o->metric_user, &r->metric_after, err)) goto fail;
        if (!isfinite(r->metric_before) || !isfinite(r->metric_after)) {
            err_set(err, ERR_INPUT, "the evaluation function returned %g for the input and %g for the result: scores must be finite",
                    r->metric_before, r->metric_after);
            goto fail;
        }
    }
    r->calib_generated = p->session->calib_generated && p->session->calib_state == 1;
    const Graph *both[2] = {orig, cand};
    LatencyResult lat[2];
    bool ok[2] = {true, true};
    Err errs[2] = {{0}};
    double *samples[2] = {NULL, NULL};
    r->timing_threads = optimize_timing_threads(o, &r->busy);
    if (latency_measure_samples(both, 2, r->eval, o->repeats, r->timing_threads, ok, errs, samples, lat, err)) goto fail;
    r->before.samples = samples[0];
    r->after.samples = samples[1];
    for (int k = 0; k < 2; k++)
        if (!ok[k]) { *err = errs[k]; goto fail; }
    r->before.lat = lat[0];
    r->after.lat = lat[1];
    r->before.n_samples = r->after.n_samples = o->repeats;
    count_nodes(orig, &r->before);
    count_nodes(cand, &r->after);
    r->speed_p = paired_sign_p(r->before.samples, r->after.samples, o->repeats);
    for (int k = 0; k < 2; k++) r->unstable |= stats_unstable(&lat[k].ms);

    bool acc_ok = r->has_labels ? accuracy_label_kept(r->labels_before.top1, r->labels_after.top1, o->max_accuracy_drop)
                                : optimize_accuracy_kept(o, &r->acc, r->has_metric, r->metric_before, r->metric_after);
    bool is_bo = o->method == OPTIMIZE_PPO_BO;
    r->keep = true;
    r->verdict = "optimized graph written";
    if (r->product.log.total == 0) {
        r->keep = false;
        /* rule_sites matches nothing in a graph holding TF1 control flow (rule.c) */
        r->verdict = graph_has_tf1_control_flow(orig)
                         ? "no rewrite was applied: the graph holds TF1 control flow or TensorArray/TensorList state "
                           "(Switch/Merge/Enter/Exit/...), which rewrites leave untouched; the input graph was written unchanged"
                         : "no rewrite was applied: the input graph was written unchanged";
    }
    else if (!acc_ok) { r->keep = false; r->verdict = "accuracy budget violated: the input graph was written unchanged"; }
    else if (o->minimize_memory && is_bo) {
        if (!(lat[1].peak_bytes < lat[0].peak_bytes)) { r->keep = false; r->verdict = "not smaller than the input: the input graph was written unchanged"; }
    } else {
        OptimizeSpeedVerdict sv;
        if (optimize_decide_faster(p->session, o, orig, cand, &r->product.log, r->before.samples, r->after.samples, o->repeats,
                                   r->timing_threads, &sv, err))
            goto fail;
        r->speed_rounds = sv.rounds;
        if (sv.rounds > o->repeats) r->speed_p = sv.p; /* the sequential test's rounds decided */
        r->speed_trusted = sv.trusted;
        r->unstable |= sv.busy;
        if (!sv.faster) {
            r->keep = false;
            r->verdict = sv.decision == SEQ_POSITIVE ? "not faster than the input: the input graph was written unchanged"
                                                     : "not faster than the input beyond noise: the input graph was written unchanged";
        }
    }
    if (r->keep && is_bo && r->product.best_trial < 0)
        r->verdict = "optimized graph written, but no trial met every budget (the closest one was kept)";
    r->graph = graph_clone(r->keep ? cand : orig, err);
    if (!r->graph) goto fail;
    strip_private_attrs(r->graph);
    r->grappo_nodes = optimize_grappo_ops(r->graph, r->grappo_ops, sizeof r->grappo_ops);
    r->wall_s = (now_ms() - t0) / 1e3;
    /* rank 0, done measuring: release the ranks sleeping in the barrier */
    if (o->dist && dist_idle_barrier(o->dist, err)) goto fail;
    *out = r;
    return 0;
fail:
    optimize_result_free(r);
    return -1;
}

int optimize_adopt_interface(Graph *g, const Graph *like, const char *what, Err *err) {
    InputSpec *specs = calloc((size_t)like->n_nodes + 1, sizeof *specs);
    if (!specs) return err_set(err, ERR_RUNTIME, "out of memory");
    int ns = 0, rc = -1;
    for (int i = 0; i < like->n_nodes; i++)
        if (like->nodes[i]->op == OP_PLACEHOLDER) specs[ns++] = (InputSpec){like->nodes[i]->name, like->nodes[i]->outputs[0].shape, DT_INVALID};
    g->n_outputs = 0;
    for (int k = 0; k < like->n_outputs; k++) {
        int i = graph_find(g, like->nodes[like->outputs[k].node]->name);
        if (i < 0) { err_set(err, ERR_RUNTIME, "%s lost output '%s'", what, like->nodes[like->outputs[k].node]->name); goto done; }
        if (graph_add_output(g, (ValueRef){i, like->outputs[k].port}, err)) goto done;
    }
    rc = graph_infer(g, specs, ns, ref_eval_node, NULL, err);
done:
    free(specs);
    return rc;
}

/* equal bit for bit, NaN where NaN (any NaN payload) */
static bool same_values(const Tensor *a, const Tensor *b) {
    if (a->dtype != b->dtype || !shape_equal(&a->shape, &b->shape)) return false;
    size_t na = a->buf ? a->buf->nbytes : 0, nb = b->buf ? b->buf->nbytes : 0;
    if (na != nb) return false;
    if (!na) return true;
    if (a->dtype == DT_FLOAT) {
        const float *x = a->buf->data, *y = b->buf->data;
        for (size_t i = 0; i < na / sizeof(float); i++)
            if (!(x[i] == y[i] || (isnan(x[i]) && isnan(y[i])))) return false;
        return true;
    }
    if (a->dtype == DT_DOUBLE) {
        const double *x = a->buf->data, *y = b->buf->data;
        for (size_t i = 0; i < na / sizeof(double); i++)
            if (!(x[i] == y[i] || (isnan(x[i]) && isnan(y[i])))) return false;
        return true;
    }
    return !memcmp(a->buf->data, b->buf->data, na);
}

/* runs g and r on one batch on the fast runtime: the same outputs, NaN positions included */
static int outputs_identical(const Graph *g, const Graph *r, const InputSet *in, int threads, const char *what, Err *err) {
    if (g->n_outputs != r->n_outputs) return err_set(err, ERR_RUNTIME, "%s has %d outputs, not %d", what, r->n_outputs, g->n_outputs);
    int n = g->n_outputs;
    Tensor *out = calloc((size_t)(2 * n + 1), sizeof *out);
    if (!out) return err_set(err, ERR_RUNTIME, "out of memory");
    PlanOpts po = {.threads = threads};
    Plan *pg = plan_compile(g, NULL, 0, &po, err), *pr = pg ? plan_compile(r, NULL, 0, &po, err) : NULL;
    int rc = -1, ran = 0;
    if (!pg || !pr) goto done;
    if (plan_run(pg, in->feeds[0], in->n_feeds, out, NULL, err)) goto done;
    ran = 1;
    if (plan_run(pr, in->feeds[0], in->n_feeds, out + n, NULL, err)) goto done;
    ran = 2;
    for (int k = 0; k < n; k++)
        if (!same_values(&out[k], &out[n + k])) {
            err_set(err, ERR_RUNTIME, "%s does not reproduce the optimized graph (output %d differs)", what, k);
            goto done;
        }
    rc = 0;
done:
    for (int k = 0; k < n * ran; k++) tensor_release(&out[k]);
    free(out);
    plan_free(pg);
    plan_free(pr);
    return rc;
}

int optimize_result_serialize(const OptimizeResult *r, uint8_t **bytes, size_t *len, Err *err) {
    *bytes = NULL;
    *len = 0;
    if (!r->graph) return err_set(err, ERR_RUNTIME, "this process holds no result (not rank 0)");
    if (graphdef_serialize(r->graph, bytes, len, err)) return -1;
    Graph *back = graphdef_parse(*bytes, *len, "the written graph", err);
    int rc = -1;
    if (!back || optimize_adopt_interface(back, r->graph, "the written graph", err)) goto done;
    /* unmeasured (ops grappo cannot execute): the same nodes read back, since it cannot run */
    if (r->unmeasured ? back->n_nodes != r->graph->n_nodes && err_set(err, ERR_RUNTIME, "the written graph does not read back")
                      : outputs_identical(r->graph, back, r->eval, r->opts.threads, "the written graph", err))
        goto done;
    rc = 0;
done:
    graph_free(back);
    if (rc) {
        free(*bytes);
        *bytes = NULL;
        *len = 0;
    }
    return rc;
}

int optimize_grappo_ops(const Graph *g, char *buf, size_t cap) {
    int count[OP_COUNT] = {0}, total = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        int op = (int)g->nodes[i]->op;
        if (op >= 0 && op < OP_COUNT && !strncmp(op_def(op)->tf_name, "Grappo", 6)) { count[op]++; total++; }
    }
    size_t len = 0;
    if (cap) buf[0] = 0;
    for (int op = 0; op < OP_COUNT; op++)
        if (count[op] && len < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s\u00d7%d", len ? ", " : "", op_def(op)->tf_name, count[op]);
    return total;
}

void optimize_result_line(const OptimizeResult *r, char *buf, size_t cap) {
    if (!r->keep) {
        /* the verdict's reason, before ": the input graph was written unchanged" */
        const char *cut = strstr(r->verdict, ": the input graph");
        int n = cut ? (int)(cut - r->verdict) : (int)strlen(r->verdict);
        char lab[160] = "";
        if (r->has_labels) {
            labelled_summary(&r->labels_before, &r->labels_after, r->labelled_images, lab + 2, sizeof lab - 3);
            lab[0] = ' ';
            lab[1] = '(';
            strcat(lab, ")");
        }
        char stop[160];
        optimize_stop_text(&r->product, stop, sizeof stop);
        snprintf(buf, cap, "RESULT: unchanged \u2014 %.*s%s%s%s%s", n, r->verdict, lab, labelled_calib_note(r->calib_generated),
                 stop[0] ? "; " : "", stop);
        return;
    }
    if (r->unmeasured) {
        snprintf(buf, cap, "RESULT: %d exact rewrite%s applied, NOT MEASURED (grappo cannot execute %s): speed and accuracy "
                 "unknown, runs in stock TensorFlow: %s", r->product.log.total, r->product.log.total == 1 ? "" : "s",
                 r->unmeasured_why, r->grappo_nodes ? "no" : "yes");
        return;
    }
    const LatencyResult *l0 = &r->before.lat, *l1 = &r->after.lat;
    char acc[160];
    if (r->has_labels) labelled_summary(&r->labels_before, &r->labels_after, r->labelled_images, acc, sizeof acc);
    else if (r->has_metric) snprintf(acc, sizeof acc, "your metric %.4g (input %.4g)", r->metric_after, r->metric_before);
    else if (r->acc.top1_agreement >= 0) snprintf(acc, sizeof acc, "top-1 %.2f%%, cosine %.4f", 100 * r->acc.top1_agreement, r->acc.min_cosine);
    else snprintf(acc, sizeof acc, "cosine %.4f", r->acc.min_cosine);
    char tf[300];
    if (r->grappo_nodes) snprintf(tf, sizeof tf, "no (%s)", r->grappo_ops);
    else snprintf(tf, sizeof tf, "yes");
    char speed[96];
    double x = l0->ms.median / l1->ms.median;
    if (r->speed_p < 0.05) snprintf(speed, sizeof speed, "%.2fx faster", x);
    else snprintf(speed, sizeof speed, "%.2fx faster, not significant (p = %.2g)", x, r->speed_p);
    char noisy[160] = "";
    if (r->busy)
        snprintf(noisy, sizeof noisy, "; machine was busy (other processes held cores): timed with %d thread%s, rerun on an idle machine",
                 r->timing_threads, r->timing_threads == 1 ? "" : "s");
    else if (r->unstable)
        snprintf(noisy, sizeof noisy, "; timings unstable (runs far from their median): rerun with more --repeats on an idle machine");
    char stop[160], stop_sep[164] = "";
    optimize_stop_text(&r->product, stop, sizeof stop);
    if (stop[0]) snprintf(stop_sep, sizeof stop_sep, "; %s", stop);
    snprintf(buf, cap, "RESULT: %s, %.2fx smaller (peak memory), accuracy kept (%s), runs in stock TensorFlow: %s%s%s%s", speed,
             (double)l0->peak_bytes / (double)l1->peak_bytes, acc, tf, noisy, labelled_calib_note(r->calib_generated), stop_sep);
}

void optimize_stop_text(const OptimizeProduct *p, char *buf, size_t cap) {
    if (cap) buf[0] = 0;
    if (!p->stopped) return;
    snprintf(buf, cap, "stopped by %s after %d of %d evaluations; best so far kept",
             p->stopped == OBJECTIVE_STOP_TIME ? "the time budget" : "a cancel request", p->evaluations, p->planned);
}

/* ---- the accuracy judge ---- */

bool optimize_accuracy_kept(const OptimizeOpts *o, const AccuracyResult *acc, bool has_metric, double before, double after) {
    if (has_metric) return after >= before - o->max_accuracy_drop;
    AccuracyBudget budget = optimize_accuracy_budget(o);
    return accuracy_ok(acc, &budget);
}

const Graph *optimize_session_calibrated(const OptimizeSession *s) { return s->calib_state == 1 ? s->calibrated : NULL; }
const Graph *optimize_session_input(const OptimizeSession *s) { return s->orig; }
const OptimizeOpts *optimize_session_opts(const OptimizeSession *s) { return &s->o; }

static int judge_scores(OptimizeSession *s, const Graph *g, const Tensor *outs, OptimizeJudgement *out, Err *err);

int optimize_measured_kept(OptimizeSession *s, const OptimizeMeasured *m, bool *kept, Err *err) {
    const OptimizeOpts *o = &s->o;
    *kept = false;
    if (!m->ok) return 0;
    if (m->has_labels && s->lab.labels) {
        if (session_labels_before(s, err)) return -1;
        *kept = accuracy_label_kept(s->judge_labels_before.top1, m->labels.top1, o->max_accuracy_drop);
        return 0;
    }
    AccuracyBudget budget = optimize_accuracy_budget(o);
    *kept = accuracy_ok(&m->acc, &budget);
    return 0;
}


int optimize_session_judge(OptimizeSession *s, const Graph *g, OptimizeJudgement *out, Err *err) {
    memset(out, 0, sizeof *out);
    Tensor *outs = NULL; /* the candidate's outputs, kept for the labels below */
    if (session_accuracy(s, g, &out->acc, s->lab.labels ? &outs : NULL, err)) return -1;
    int rc = judge_scores(s, g, outs, out, err);
    if (outs) accuracy_reference_free(outs, s->eval->n_batches, g->n_outputs);
    return rc;
}

/* the rest of optimize_session_judge: the metric, the accuracy budget, the labels (scored on
   the candidate's outputs already computed, and on the reference outputs for the input) */
static int judge_scores(OptimizeSession *s, const Graph *g, const Tensor *outs, OptimizeJudgement *out, Err *err) {
    const OptimizeOpts *o = &s->o;
    out->drop = objective_accuracy_drop(&out->acc);
    if (o->metric) {
        out->has_metric = true;
        if (!s->judge_metric_done) {
            if (o->metric(s->orig, o->metric_user, &s->judge_metric_before, err)) return -1;
            s->judge_metric_done = true;
        }
        out->metric_before = s->judge_metric_before;
        if (o->metric(g, o->metric_user, &out->metric_after, err)) return -1;
        if (!isfinite(out->metric_before) || !isfinite(out->metric_after))
            return err_set(err, ERR_INPUT, "the evaluation function returned %g for the input and %g for the result: scores must be finite",
                           out->metric_before, out->metric_after);
        out->drop = out->metric_before - out->metric_after;
    }
    out->ok = optimize_accuracy_kept(o, &out->acc, out->has_metric, out->metric_before, out->metric_after);
    if (s->lab.labels) { /* labelled top-1 decides, as in optimize_run */
        LabelledScore after;
        if (session_labels_before(s, err)) return -1;
        if (session_score_labels(s, g, outs, &after, err)) return -1;
        out->has_labels = true;
        out->labels_before = s->judge_labels_before.top1;
        out->labels_after = after.top1;
        out->drop = out->labels_before - out->labels_after;
        out->ok = accuracy_label_kept(out->labels_before, out->labels_after, o->max_accuracy_drop);
    }
    return 0;
}
