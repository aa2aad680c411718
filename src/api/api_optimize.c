/* api_optimize.c - grappo_options (text options onto OptimizeOpts, calibration batches, the
 * eval and progress callbacks), grappo_optimize over optimize_run, and grappo_result. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../optimize/optimize.h"
#include "../report/optimize_report.h"
#include "api_internal.h"

#define MAX_RULES 64

struct grappo_options {
    OptimizeOpts o;
    char search[1024];      /* as given (the report names it) */
    char rule_buf[1024];
    const char *rules[MAX_RULES];
    char *calibration_dir, *policy_path;
    char *eval_dir, *labels_path; /* the user's labelled data (optimize/labelled.h) */
    RefFeed **calib;        /* batches added by grappo_options_add_calibration (owned) */
    int calib_n, calib_n_feeds;
    grappo_eval_fn eval_fn;
    void *eval_user;
    grappo_progress_fn progress;
    void *progress_user;
};

struct grappo_result {
    OptimizeResult *r;
    char search[1024];
};

GRAPPO_API int grappo_options_new(grappo_options **out) {
    if (!out) return api_failf(GRAPPO_INPUT, "grappo_options_new: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return api_failf(GRAPPO_ERROR, "out of memory");
    (*out)->o = optimize_opts_default();
    snprintf((*out)->search, sizeof (*out)->search, "%s", optimize_method_name((*out)->o.method));
    return api_ok();
}

static void free_calib(grappo_options *o) {
    for (int b = 0; b < o->calib_n; b++) {
        for (int k = 0; k < o->calib_n_feeds; k++) {
            free((char *)o->calib[b][k].name);
            tensor_release(&o->calib[b][k].value);
        }
        free(o->calib[b]);
    }
    free(o->calib);
    o->calib = NULL;
    o->calib_n = 0;
}

GRAPPO_API void grappo_options_free(grappo_options *o) {
    if (!o) return;
    free_calib(o);
    free(o->calibration_dir);
    free(o->eval_dir);
    free(o->labels_path);
    free(o->policy_path);
    free(o);
}

static int parse_long(const char *key, const char *v, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return api_failf(GRAPPO_INPUT, "option %s wants an integer in [%lld, %lld], got '%s'", key, lo, hi, v);
    *out = x;
    return 0;
}

static int parse_double(const char *key, const char *v, double lo, double hi, double *out) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi)) return api_failf(GRAPPO_INPUT, "option %s wants a number in [%g, %g], got '%s'", key, lo, hi, v);
    *out = x;
    return 0;
}

static int set_search(grappo_options *o, const char *v) {
    if (!strncmp(v, "rules:", 6)) {
        snprintf(o->rule_buf, sizeof o->rule_buf, "%s", v + 6);
        int n = 0;
        char *save = NULL;
        for (char *tok = strtok_r(o->rule_buf, ",", &save); tok && n < MAX_RULES; tok = strtok_r(NULL, ",", &save)) {
            if (!rule_by_name(tok)) return api_failf(GRAPPO_INPUT, "no rule named '%s'", tok);
            o->rules[n++] = tok;
        }
        if (!n) return api_failf(GRAPPO_INPUT, "search rules: needs rule names");
        o->o.method = OPTIMIZE_RULES;
        o->o.rules = o->rules;
        o->o.n_rules = n;
    } else {
        OptimizeMethod m;
        if (optimize_method_parse(v, &m) || m == OPTIMIZE_NONE)
            return api_failf(GRAPPO_INPUT, "search '%s': choose %s", v, optimize_method_names());
        o->o.method = m;
    }
    snprintf(o->search, sizeof o->search, "%s", v);
    return 0;
}

static int set_string(char **slot, const char *v) {
    char *s = strdup(v);
    if (!s) return api_failf(GRAPPO_ERROR, "out of memory");
    free(*slot);
    *slot = s;
    return 0;
}

GRAPPO_API int grappo_options_set(grappo_options *o, const char *key, const char *value) {
    if (!o || !key || !value) return api_failf(GRAPPO_INPUT, "grappo_options_set: NULL argument");
    OptimizeOpts *p = &o->o;
    long long n;
    int rc = 0;
    if (!strcmp(key, "search")) rc = set_search(o, value);
    else if (!strcmp(key, "target")) {
        if (strcmp(value, "tf") && strcmp(value, "grappo")) return api_failf(GRAPPO_INPUT, "option target is tf or grappo, not '%s'", value);
        p->target_tf = !strcmp(value, "tf");
    } else if (!strcmp(key, "max_accuracy_drop")) rc = parse_double(key, value, 0, 1, &p->max_accuracy_drop);
    else if (!strcmp(key, "budget")) { if (!(rc = parse_long(key, value, 1, 1000000, &n))) p->budget = (int)n; }
    else if (!strcmp(key, "seed")) { if (!(rc = parse_long(key, value, 0, 1LL << 62, &n))) p->seed = (uint64_t)n; }
    else if (!strcmp(key, "threads")) { if (!(rc = parse_long(key, value, 0, 1024, &n))) p->threads = (int)n; }
    else if (!strcmp(key, "repeats")) { if (!(rc = parse_long(key, value, 1, 100000, &n))) p->repeats = (int)n; }
    else if (!strcmp(key, "eval_batches")) { if (!(rc = parse_long(key, value, 1, 10000, &n))) p->eval_batches = (int)n; }
    else if (!strcmp(key, "trials")) { if (!(rc = parse_long(key, value, 1, BO_MAX_TRIALS, &n))) p->trials = (int)n; }
    else if (!strcmp(key, "episodes")) { if (!(rc = parse_long(key, value, 1, 100000, &n))) p->episodes = (int)n; }
    else if (!strcmp(key, "exact_only")) { if (!(rc = parse_long(key, value, 0, 1, &n))) p->exact_only = n != 0; }
    else if (!strcmp(key, "allow_unmeasured")) { if (!(rc = parse_long(key, value, 0, 1, &n))) p->allow_unmeasured = n != 0; }
    else if (!strcmp(key, "calibration")) { if (!(rc = set_string(&o->calibration_dir, value))) p->calibration_dir = o->calibration_dir; }
    else if (!strcmp(key, "policy")) { if (!(rc = set_string(&o->policy_path, value))) p->policy_path = o->policy_path; }
    else if (!strcmp(key, "objective")) {
        if (strcmp(value, "latency") && strcmp(value, "memory")) return api_failf(GRAPPO_INPUT, "option objective is latency or memory, not '%s'", value);
        p->minimize_memory = !strcmp(value, "memory");
    } else if (!strcmp(key, "memory_budget")) rc = parse_double(key, value, 0, 1e18, &p->memory_budget_bytes);
    else if (!strcmp(key, "latency_budget")) rc = parse_double(key, value, 0, 1e12, &p->latency_budget_ms);
    else if (!strcmp(key, "time_budget")) rc = parse_double(key, value, 0, 1e9, &p->time_budget_s);
    else if (!strcmp(key, "eval")) { if (!(rc = set_string(&o->eval_dir, value))) p->eval_dir = o->eval_dir; }
    else if (!strcmp(key, "labels")) { if (!(rc = set_string(&o->labels_path, value))) p->labels_path = o->labels_path; }
    else {
        Err e;
        if (!image_prep_set(&p->image_prep, key, value, &e)) return api_ok();
        if (e.code != ERR_OK) return api_failf(GRAPPO_INPUT, "option %s: %s", key, e.msg);
        return api_failf(GRAPPO_INPUT, "unknown option '%s'", key);
    }
    return rc ? rc : api_ok();
}

GRAPPO_API int grappo_options_add_calibration(grappo_options *o, const grappo_tensor *inputs, int n_inputs) {
    if (!o || (n_inputs && !inputs) || n_inputs < 1) return api_failf(GRAPPO_INPUT, "grappo_options_add_calibration: no inputs");
    if (o->calib_n && n_inputs != o->calib_n_feeds)
        return api_failf(GRAPPO_INPUT, "calibration batch %d has %d inputs, the first had %d", o->calib_n, n_inputs, o->calib_n_feeds);
    RefFeed **grown = realloc(o->calib, sizeof *grown * (size_t)(o->calib_n + 1));
    if (!grown) return api_failf(GRAPPO_ERROR, "out of memory");
    o->calib = grown;
    RefFeed *b = calloc((size_t)n_inputs, sizeof *b);
    if (!b) return api_failf(GRAPPO_ERROR, "out of memory");
    Err err = {0};
    for (int k = 0; k < n_inputs; k++) {
        const grappo_tensor *t = &inputs[k];
        Shape sh = {.rank = t->rank};
        int bad = !t->name || t->rank < 0 || t->rank > GRAPPO_MAX_RANK;
        for (int d = 0; !bad && d < t->rank; d++) sh.dim[d] = t->shape[d];
        if (bad || !(b[k].name = strdup(t->name)) || tensor_from_data(&b[k].value, t->dtype, &sh, t->data, t->nbytes, &err)) {
            for (int j = 0; j <= k; j++) { free((char *)b[j].name); tensor_release(&b[j].value); }
            free(b);
            if (bad) return api_failf(GRAPPO_INPUT, "calibration input %d: no name or a bad rank", k);
            return err.msg[0] ? api_fail(&err) : api_failf(GRAPPO_ERROR, "out of memory");
        }
    }
    o->calib[o->calib_n++] = b;
    o->calib_n_feeds = n_inputs;
    return api_ok();
}

GRAPPO_API int grappo_options_set_eval_fn(grappo_options *o, grappo_eval_fn fn, void *user) {
    if (!o) return api_failf(GRAPPO_INPUT, "grappo_options_set_eval_fn: options are NULL");
    o->eval_fn = fn;
    o->eval_user = user;
    return api_ok();
}

GRAPPO_API int grappo_options_set_progress(grappo_options *o, grappo_progress_fn fn, void *user) {
    if (!o) return api_failf(GRAPPO_INPUT, "grappo_options_set_progress: options are NULL");
    o->progress = fn;
    o->progress_user = user;
    return api_ok();
}

/* the user's metric, through a borrowed model handle */
static int call_eval(const Graph *g, void *user, double *score, Err *err) {
    const grappo_options *o = user;
    grappo_model *m = api_model_wrap((Graph *)g, true);
    if (!m) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = o->eval_fn(m, o->eval_user, score);
    grappo_model_free(m);
    if (rc) {
        const char *msg = grappo_errmsg();
        return err_set(err, ERR_RUNTIME, "the evaluation function failed%s%s", msg[0] ? ": " : "", msg);
    }
    return 0;
}

static int call_progress(const char *what, int done, int total, void *user) {
    const grappo_options *o = user;
    return o->progress(what, done, total, o->progress_user);
}

GRAPPO_API int grappo_optimize(const grappo_model *m, const grappo_options *opts, grappo_result **out) {
    if (!m || !out) return api_failf(GRAPPO_INPUT, "grappo_optimize: NULL argument");
    *out = NULL;
    grappo_options *mine = NULL;
    if (!opts) {
        int rc = grappo_options_new(&mine);
        if (rc) return rc;
        opts = mine;
    }
    OptimizeOpts o = opts->o;
    if (opts->calib_n) {
        o.calib_feeds = (const RefFeed *const *)opts->calib;
        o.calib_n = opts->calib_n;
        o.calib_n_feeds = opts->calib_n_feeds;
    }
    if (opts->eval_fn) { o.metric = call_eval; o.metric_user = (void *)opts; }
    if (opts->progress) { o.progress = call_progress; o.progress_user = (void *)opts; }
    grappo_result *r = calloc(1, sizeof *r);
    Err err = {0};
    int rc = GRAPPO_OK;
    if (!r) rc = api_failf(GRAPPO_ERROR, "out of memory");
    else if (optimize_run(m->g, &o, &r->r, &err)) rc = !strcmp(err.msg, "cancelled") ? api_failf(GRAPPO_CANCELLED, "cancelled") : api_fail(&err);
    else snprintf(r->search, sizeof r->search, "%s", opts->search);
    grappo_options_free(mine);
    if (rc) { free(r); return rc; }
    *out = r;
    return api_ok();
}

GRAPPO_API void grappo_result_free(grappo_result *r) {
    if (!r) return;
    optimize_result_free(r->r);
    free(r);
}

GRAPPO_API int grappo_result_kept(const grappo_result *r) { return r && r->r && r->r->keep; }

GRAPPO_API int grappo_result_model(const grappo_result *r, grappo_model **out) {
    if (!r || !out) return api_failf(GRAPPO_INPUT, "grappo_result_model: NULL argument");
    *out = NULL;
    Err err = {0};
    Graph *g = graph_clone(r->r->graph, &err);
    if (!g) return api_fail(&err);
    if (!(*out = api_model_wrap(g, false))) { graph_free(g); return api_failf(GRAPPO_ERROR, "out of memory"); }
    return api_ok();
}

GRAPPO_API int grappo_result_json(const grappo_result *r, char **json) {
    if (!r || !json) return api_failf(GRAPPO_INPUT, "grappo_result_json: NULL argument");
    OptimizeReportNames names = {NULL, NULL, r->search};
    *json = optimize_result_to_json(r->r, &names);
    return *json ? api_ok() : api_failf(GRAPPO_ERROR, "out of memory");
}

GRAPPO_API int grappo_result_save(const grappo_result *r, const char *path) {
    if (!r || !path) return api_failf(GRAPPO_INPUT, "grappo_result_save: NULL argument");
    Err err = {0};
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (output_check(path, &err) || optimize_result_serialize(r->r, &bytes, &len, &err) || atomic_write_file(path, bytes, len, &err)) {
        free(bytes);
        return api_fail(&err);
    }
    free(bytes);
    return api_ok();
}
