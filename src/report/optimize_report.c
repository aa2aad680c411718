/* optimize_report.c - the JSON report of one optimization (see optimize_report.h). */
#include "optimize_report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../measure/cost_internal.h"
#include "../runtime/dnn_common.h"
#include "../search/objective.h"
#include "grappo.h"
#include "sensitivity_report.h"

static void add_bo_json(cJSON *o, const OptimizeResult *res) {
    const OptimizeProduct *p = &res->product;
    const OptimizeOpts *op = &res->opts;
    cJSON *bj = cJSON_AddObjectToObject(o, "bayesian_optimization");
    cJSON_AddStringToObject(bj, "objective", op->minimize_memory ? "memory" : "latency");
    cJSON_AddNumberToObject(bj, "max_accuracy_drop", op->max_accuracy_drop);
    if (op->memory_budget_bytes > 0) cJSON_AddNumberToObject(bj, "memory_budget_bytes", op->memory_budget_bytes);
    if (op->latency_budget_ms > 0) cJSON_AddNumberToObject(bj, "latency_budget_ms", op->latency_budget_ms);
    cJSON_AddNumberToObject(bj, "best_trial", p->best_trial >= 0 ? p->best_trial : -1 - p->best_trial);
    cJSON_AddBoolToObject(bj, "best_trial_feasible", p->best_trial >= 0);
    cJSON *arr = cJSON_AddArrayToObject(bj, "trials");
    for (int i = 0; i < p->n_trials; i++) {
        const BoAgentTrial *t = &p->trials[i];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "trial", i);
        cJSON_AddNumberToObject(r, "rank", t->rank);
        cJSON_AddNumberToObject(r, "w_lat", t->bo.w[0]);
        cJSON_AddNumberToObject(r, "w_mem", t->bo.w[1]);
        cJSON_AddNumberToObject(r, "w_acc", t->bo.w[2]);
        cJSON_AddNumberToObject(r, "latency_ms", t->eval.latency_ms);
        cJSON_AddNumberToObject(r, "peak_bytes", t->eval.peak_bytes);
        if (t->eval.acc.top1_agreement >= 0) cJSON_AddNumberToObject(r, "top1_agreement", t->eval.acc.top1_agreement);
        cJSON_AddNumberToObject(r, "min_cosine", t->eval.acc.min_cosine);
        cJSON_AddNumberToObject(r, "f", t->bo.f);
        cJSON *c = cJSON_AddObjectToObject(r, "constraints");
        for (int k = 0; k < p->n_constraints; k++) cJSON_AddNumberToObject(c, p->constraint_names[k], t->bo.c[k]);
        cJSON_AddBoolToObject(r, "feasible", t->bo.ok);
        if (isnan(t->bo.ei)) cJSON_AddNullToObject(r, "ei");
        else cJSON_AddNumberToObject(r, "ei", t->bo.ei);
        cJSON_AddNumberToObject(r, "rewrites", t->rewrites);
        cJSON_AddNumberToObject(r, "evaluations", t->evaluations);
        cJSON_AddNumberToObject(r, "seconds", t->seconds);
        cJSON_AddItemToArray(arr, r);
    }
}

char *optimize_result_to_json(const OptimizeResult *res, const OptimizeReportNames *names) {
    const OptimizeOpts *op = &res->opts;
    const OptimizeProduct *p = &res->product;
    OptimizeMethod m = op->method;
    bool is_search = optimize_method_is_search(m), is_bo = m == OPTIMIZE_PPO_BO, is_ppo = m == OPTIMIZE_PPO;
    const char *search = names && names->search ? names->search : optimize_method_name(m);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "input", names && names->input ? names->input : "");
    if (names && names->output) cJSON_AddStringToObject(o, "output", names->output);
    else cJSON_AddNullToObject(o, "output");
    cJSON_AddStringToObject(o, "search", search);
    cJSON_AddStringToObject(o, "pipeline", m == OPTIMIZE_RULES ? search : p->pipeline);
    cJSON_AddStringToObject(o, "target", op->target_tf ? "tf" : "grappo");
    cJSON_AddBoolToObject(o, "optimized_graph_returned", res->keep);
    cJSON_AddStringToObject(o, "verdict", res->verdict);
    /* false: --allow-unmeasured on a graph holding ops grappo cannot execute (the numbers below are
       empty: nothing ran) */
    cJSON_AddBoolToObject(o, "measured", !res->unmeasured);
    if (res->unmeasured) cJSON_AddStringToObject(o, "unsupported_ops", res->unmeasured_why);
    const char *side[2] = {"before", "after"};
    const OptimizeMeasure *ms[2] = {&res->before, &res->after};
    for (int s = 0; s < 2; s++) {
        cJSON *j = cJSON_AddObjectToObject(o, side[s]);
        const LatencyResult *l = &ms[s]->lat;
        cJSON_AddNumberToObject(j, "latency_ms_median", l->ms.median);
        cJSON_AddNumberToObject(j, "latency_ms_min", l->ms.min);
        cJSON_AddNumberToObject(j, "latency_ms_max", l->ms.max);
        cJSON_AddNumberToObject(j, "latency_ms_ci95", l->ms.ci95);
        cJSON_AddNumberToObject(j, "peak_bytes", (double)l->peak_bytes);
        cJSON_AddNumberToObject(j, "weight_bytes", (double)ms[s]->weight_bytes);
        cJSON_AddNumberToObject(j, "nodes", ms[s]->nodes);
        cJSON_AddNumberToObject(j, "nodes_non_const", ms[s]->ops);
        cJSON *arr = cJSON_AddArrayToObject(j, "latency_ms_samples");
        for (int k = 0; k < ms[s]->n_samples && ms[s]->samples; k++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(ms[s]->samples[k]));
    }
    const AccuracyResult *acc = &res->acc;
    cJSON *ac = cJSON_AddObjectToObject(o, "accuracy");
    if (acc->top1_agreement >= 0) cJSON_AddNumberToObject(ac, "top1_agreement", acc->top1_agreement);
    cJSON_AddNumberToObject(ac, "min_cosine", acc->min_cosine);
    cJSON_AddNumberToObject(ac, "max_rel_l2", acc->max_rel_l2);
    cJSON_AddNumberToObject(ac, "max_abs_err", acc->max_abs_err);
    cJSON_AddNumberToObject(ac, "eval_batches", res->eval ? res->eval->n_batches : 0);
    cJSON_AddBoolToObject(ac, "calibration_generated", res->calib_generated);
    if (res->has_labels) {
        cJSON *lj = cJSON_AddObjectToObject(ac, "labels");
        cJSON_AddStringToObject(lj, "file", res->opts.labels_path ? res->opts.labels_path : "");
        cJSON_AddStringToObject(lj, "rows_are", res->labelled_images ? "images" : "npy_rows");
        cJSON_AddNumberToObject(lj, "rows", res->labels_after.rows);
        cJSON_AddNumberToObject(lj, "classes", res->labels_after.classes);
        cJSON_AddNumberToObject(lj, "top1_before", res->labels_before.top1);
        cJSON_AddNumberToObject(lj, "top1_after", res->labels_after.top1);
        if (res->labels_after.top5 >= 0) {
            cJSON_AddNumberToObject(lj, "top5_before", res->labels_before.top5);
            cJSON_AddNumberToObject(lj, "top5_after", res->labels_after.top5);
        }
        cJSON_AddStringToObject(lj, "judged_on", "top1");
    }
    if (res->has_metric) {
        cJSON_AddNumberToObject(ac, "metric_before", res->metric_before);
        cJSON_AddNumberToObject(ac, "metric_after", res->metric_after);
    }
    cJSON *rules = cJSON_AddObjectToObject(o, "rules_applied");
    for (int k = 0; k < p->log.n; k++) cJSON_AddNumberToObject(rules, p->log.v[k].rule, p->log.v[k].count);
    /* the default objective's change, from the final side-by-side measurement (lower is better) */
    double drop = acc->top1_agreement >= 0 ? 1 - acc->top1_agreement : 1 - acc->min_cosine;
    ObjectiveWeights dw = objective_default_weights();
    const LatencyResult *l0 = &res->before.lat, *l1 = &res->after.lat;
    cJSON_AddNumberToObject(o, "objective_delta",
                            dw.w_lat * log(l1->ms.median / l0->ms.median) +
                                dw.w_mem * log((double)l1->peak_bytes / (double)l0->peak_bytes) + dw.w_acc * (drop > 0 ? drop : 0));
    cJSON_AddNumberToObject(o, "repeats", op->repeats);
    cJSON_AddNumberToObject(o, "wall_seconds", res->wall_s);
    if (is_search) {
        cJSON_AddNumberToObject(o, "evaluations", p->evaluations);
        cJSON_AddNumberToObject(o, "budget", op->budget);
        cJSON_AddNumberToObject(o, "seed", (double)op->seed);
    }
    if (is_search && p->stopped) {
        char stop[160];
        optimize_stop_text(p, stop, sizeof stop);
        cJSON_AddStringToObject(o, "stopped", stop);
    }
    if (p->sensitivity) cJSON_AddItemToObject(o, "sensitivity", sensitivity_to_json(p->sensitivity));
    if (is_bo) add_bo_json(o, res);
    if (is_ppo) {
        cJSON *pj = cJSON_AddObjectToObject(o, "policy");
        cJSON_AddStringToObject(pj, "file", res->policy_path ? res->policy_path : "");
        cJSON_AddNumberToObject(pj, "episodes", p->agent.episodes);
        cJSON_AddNumberToObject(pj, "tune_episodes", op->tune_episodes);
        cJSON_AddNumberToObject(pj, "env_steps", p->agent.env_steps);
        cJSON_AddNumberToObject(pj, "candidates", p->agent.candidates);
        cJSON_AddNumberToObject(pj, "measured", p->agent.evaluated);
        cJSON_AddNumberToObject(pj, "refused_on_accuracy", p->agent.refused);
        cJSON_AddNumberToObject(pj, "estimated_objective_gain", p->agent.best_estimate_gain);
        cJSON_AddNumberToObject(pj, "rollout_seconds", p->agent.rollout_s);
        cJSON_AddNumberToObject(pj, "tune_seconds", p->agent.tune_s);
    }
    /* what the output needs, and where it was measured */
    cJSON_AddBoolToObject(o, "runs_in_stock_tensorflow", res->grappo_nodes == 0);
    cJSON_AddStringToObject(o, "grappo_ops", res->grappo_ops);
    char line[512];
    optimize_result_line(res, line, sizeof line);
    cJSON_AddStringToObject(o, "result", line);
    if (isnan(res->speed_p)) cJSON_AddNullToObject(o, "latency_sign_test_p");
    else cJSON_AddNumberToObject(o, "latency_sign_test_p", res->speed_p);
    cJSON_AddBoolToObject(o, "timings_unstable", res->unstable);
    cJSON_AddBoolToObject(o, "machine_busy", res->busy);
    cJSON_AddNumberToObject(o, "timing_threads", res->timing_threads);
    cJSON_AddNumberToObject(o, "speed_rounds", res->speed_rounds);
    cJSON_AddBoolToObject(o, "speed_kept_as_trusted_exact", res->speed_trusted);
    if (optimize_method_is_search(res->opts.method)) {
        /* where the search's time went (issue 16 item 3) */
        const SearchTimes *t = &res->product.times;
        cJSON *js = cJSON_AddObjectToObject(o, "search_seconds");
        cJSON_AddNumberToObject(js, "evaluations", res->product.evaluations);
        cJSON_AddNumberToObject(js, "timing", t->timing_s);
        cJSON_AddNumberToObject(js, "accuracy", t->accuracy_s);
        cJSON_AddNumberToObject(js, "rollouts", t->rollout_s);
        cJSON_AddNumberToObject(js, "rollout_accuracy", t->env_accuracy_s);
        cJSON_AddNumberToObject(js, "rollout_kernel_timing", t->cost_timing_s);
        cJSON_AddNumberToObject(js, "accuracy_runs", t->accuracy_runs);
        cJSON_AddNumberToObject(js, "accuracy_reused", t->accuracy_hits);
        cJSON_AddNumberToObject(js, "evaluations_reused", t->evaluations_reused);
        cJSON_AddNumberToObject(js, "fine_tuning", t->tune_s);
        cJSON_AddNumberToObject(js, "bayesian_optimization", t->bo_s);
        cJSON_AddNumberToObject(js, "carried_pipelines", res->product.carry_s);
        cJSON_AddNumberToObject(js, "busy_comparisons", res->product.busy_comparisons);
    }
    if (res->product.n_carried) {
        /* the fixed pipelines measured side by side with the search's result (candidates.h) */
        cJSON *jc = cJSON_AddArrayToObject(o, "carried_candidates");
        for (int k = 0; k < res->product.n_carried; k++) {
            const OptimizeCarried *c = &res->product.carried[k];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToArray(jc, e);
            cJSON_AddStringToObject(e, "method", c->pipeline ? c->pipeline : c->method);
            if (isnan(c->median_ms)) cJSON_AddNullToObject(e, "median_ms");
            else cJSON_AddNumberToObject(e, "median_ms", c->median_ms);
            cJSON_AddBoolToObject(e, "accuracy_ok", c->accuracy_ok);
            cJSON_AddBoolToObject(e, "kept", c->kept);
        }
        if (isnan(res->product.search_median_ms)) cJSON_AddNullToObject(o, "search_result_median_ms");
        else cJSON_AddNumberToObject(o, "search_result_median_ms", res->product.search_median_ms);
    }
    cJSON *tool = cJSON_AddObjectToObject(o, "tool");
    cJSON_AddStringToObject(tool, "name", "grappo");
    cJSON_AddStringToObject(tool, "version", GRAPPO_VERSION);
    cJSON *mach = cJSON_AddObjectToObject(o, "machine");
    char cpu[256];
    cJSON_AddStringToObject(mach, "cpu", cost_cpu_model(cpu, sizeof cpu));
    cJSON_AddNumberToObject(mach, "threads", op->threads); /* 0: all cores */
    cJSON *isa = cJSON_AddObjectToObject(mach, "isa");
    cJSON_AddBoolToObject(isa, "vnni", dnn_cpu_has_vnni());
    cJSON_AddBoolToObject(isa, "bf16", dnn_cpu_has_bf16());
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return NULL;
    /* cJSON's allocator is malloc: the text is the caller's to free() */
    return s;
}
