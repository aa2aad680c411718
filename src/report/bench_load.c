/* bench_load.c - a `grappo bench` run read back from its report.json, so the Markdown and the
 * plots can be rendered again (`grappo bench --render DIR`) after the report's format
 * changes, without re-measuring an hour of benchmarks. Everything the report shows is derived
 * from what the JSON keeps: the per-run latency samples (the summary statistics are recomputed
 * from them), memory, fidelity, timings and rewrite counts. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_report.h"

static double num(const cJSON *o, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt; /* null (a NaN when written) -> dflt */
}

static void str(const cJSON *o, const char *key, char *out, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static int load_result(const cJSON *rj, BenchResult *r, Err *err) {
    str(rj, "method", r->method, sizeof r->method);
    r->ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rj, "ok"));
    str(rj, "error", r->error, sizeof r->error);
    str(rj, "note", r->note, sizeof r->note);
    if (!r->ok) return 0;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(rj, "latency_ms_samples");
    int n = cJSON_GetArraySize(s);
    if (!cJSON_IsArray(s) || n < 1) return err_set(err, ERR_INPUT, "method '%s': no latency samples", r->method);
    r->samples = malloc(sizeof *r->samples * (size_t)n);
    double *sorted = malloc(sizeof *sorted * (size_t)n);
    if (!r->samples || !sorted) { free(sorted); return err_set(err, ERR_RUNTIME, "out of memory"); }
    int k = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, s) {
        if (!cJSON_IsNumber(v)) { free(sorted); return err_set(err, ERR_INPUT, "method '%s': a latency sample is not a number", r->method); }
        r->samples[k] = sorted[k] = v->valuedouble;
        k++;
    }
    r->n_samples = n;
    r->ms = stats_summarize(sorted, n);
    free(sorted);
    r->peak_bytes = num(rj, "peak_bytes", NAN);
    r->top1 = num(rj, "top1_agreement", -1);
    r->label_top1 = num(rj, "label_top1", -1);
    r->label_top5 = num(rj, "label_top5", -1);
    r->min_cosine = num(rj, "min_cosine", NAN);
    r->max_rel_l2 = num(rj, "max_rel_l2", NAN);
    r->optimize_s = num(rj, "optimize_seconds", NAN);
    r->evaluations = (int)num(rj, "evaluations", 0);
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(rj, "search_seconds");
    if (cJSON_IsObject(js)) {
        r->has_times = true;
        r->rollout_s = num(js, "rollouts", 0);
        r->rollout_accuracy_s = num(js, "rollout_accuracy", 0);
        r->rollout_kernel_timing_s = num(js, "rollout_kernel_timing", 0);
        r->timing_s = num(js, "timing", 0);
        r->accuracy_s = num(js, "accuracy", 0);
        r->carry_s = num(js, "carried_pipelines", 0);
        r->accuracy_runs = (int)num(js, "accuracy_runs", 0);
        r->accuracy_reused = (int)num(js, "accuracy_reused", 0);
        r->evaluations_reused = (int)num(js, "evaluations_reused", 0);
    }
    r->rewrites = (int)num(rj, "rewrites", 0);
    const cJSON *fam = cJSON_GetObjectItemCaseSensitive(rj, "rewrites_by_family");
    for (int f = 0; f < BENCH_N_FAMILIES; f++) r->family[f] = (int)num(fam, bench_families[f], 0);
    str(rj, "rules", r->rules, sizeof r->rules);
    return 0;
}

int bench_run_from_json(const char *text, BenchRun *run, Err *err) {
    memset(run, 0, sizeof *run);
    cJSON *o = cJSON_Parse(text);
    if (!o) return err_set(err, ERR_INPUT, "not JSON (near '%.20s')", cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
    int rc = -1;
    const cJSON *mach = cJSON_GetObjectItemCaseSensitive(o, "machine"), *set = cJSON_GetObjectItemCaseSensitive(o, "settings");
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(o, "models");
    if (!cJSON_IsObject(mach) || !cJSON_IsObject(set) || !cJSON_IsArray(models)) {
        err_set(err, ERR_INPUT, "not a grappo bench report (machine, settings and models expected)");
        goto out;
    }
    str(mach, "cpu", run->cpu, sizeof run->cpu);
    str(mach, "date", run->date, sizeof run->date);
    run->cores = (int)num(mach, "cores", 0);
    run->threads = (int)num(mach, "threads", 0);
    str(set, "methods", run->methods, sizeof run->methods);
    run->repeats = (int)num(set, "repeats", 0);
    run->budget = (int)num(set, "budget", 0);
    run->seeds = (int)num(set, "seeds", 0);
    run->trials = (int)num(set, "trials", 0);
    run->episodes = (int)num(set, "episodes", 0);
    run->eval_batches = (int)num(set, "eval_batches", 0);
    int nm = cJSON_GetArraySize(models);
    run->models = calloc(nm > 0 ? (size_t)nm : 1, sizeof *run->models);
    if (!run->models) { err_set(err, ERR_RUNTIME, "out of memory"); goto out; }
    const cJSON *mj;
    cJSON_ArrayForEach(mj, models) {
        BenchModel *m = &run->models[run->n_models++];
        str(mj, "model", m->name, sizeof m->name);
        str(mj, "label", m->label, sizeof m->label);
        str(mj, "error", m->error, sizeof m->error);
        m->label_max_drop = num(mj, "label_max_drop", -1);
        m->judged_on_labels = m->label_max_drop >= 0;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(mj, "methods");
        int nr = cJSON_GetArraySize(arr);
        m->results = calloc(nr > 0 ? (size_t)nr : 1, sizeof *m->results);
        if (!m->results) { err_set(err, ERR_RUNTIME, "out of memory"); goto out; }
        const cJSON *rj;
        cJSON_ArrayForEach(rj, arr) {
            BenchResult *r = &m->results[m->n_results++];
            if (load_result(rj, r, err)) { err_prefix(err, "model '%s'", m->label); goto out; }
        }
    }
    rc = 0;
out:
    cJSON_Delete(o);
    if (rc) bench_run_free(run);
    return rc;
}
