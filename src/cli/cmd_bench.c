/* cmd_bench.c - `grappo bench MODEL ... --methods ...`: every method's graph of each model,
 * produced with the same library calls `grappo optimize` uses, then all of a model's graphs
 * timed together in one alternating loop (ratios side by side), their planned peak memory and
 * fidelity to the input graph measured; report.md, report.json and Pareto SVGs written by
 * src/report/bench_report.c. A method that fails is a line in the report, not an abort. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../io/atomic_file.h"
#include "../measure/measure.h"
#include "../report/bench_report.h"
#include "../rewrite/calibrate.h"
#include "../rewrite/pipeline.h"
#include "../runtime/dnn_common.h"
#include "../runtime/plan.h"
#include "../search/agent.h"
#include "../search/baselines.h"
#include "../search/bo.h"
#include "cli.h"

#define MAX_MODELS 64
#define MAX_METHODS 16

static const char *const all_methods[] = {"none", "grappler", "grappler+int8", "greedy", "random", "ppo", "ppo+bo"};
#define N_ALL_METHODS ((int)(sizeof all_methods / sizeof all_methods[0]))

static void help(void) {
    printf("usage: grappo bench MODEL.pb|zoo:NAME ... [--methods none,grappler,grappler+int8,greedy,random,ppo,ppo+bo]\n"
           "                    [--repeats N] [--budget N] [--seeds N] [--threads N] [--policy FILE] [--trials N]\n"
           "                    [--episodes N] [--eval-batches N] [--out DIR] [--cost-cache DIR]\n"
           "       grappo bench --render DIR\n"
           "\n"
           "For each model, produces each method's graph (as grappo optimize --search METHOD would;\n"
           "none = the input graph), then times all of them together: --repeats (default 20) rounds,\n"
           "each running every graph once in turn, after one warm-up each. Reports per model and\n"
           "method: latency median with its 95%% CI, min, max, speedup vs none, planned peak memory and its\n"
           "reduction, fidelity to the input (top-1 agreement, worst cosine, relative L2) on\n"
           "--eval-batches generated inputs (default 16), optimization wall time, rewrites by family,\n"
           "and Welch t-test p-values of ppo+bo (else ppo) against each method; over all results a\n"
           "regression of ln(speedup) on rewrites per family. Searches (greedy, random, ppo, ppo+bo)\n"
           "spend --budget graph evaluations (default 8); random, ppo and ppo+bo run once per seed\n"
           "1..--seeds (default 1), seeds after the first as rows METHOD@seed=S;\n"
           "ppo and each ppo+bo trial roll the policy out --episodes times (default 16);\n"
           "ppo+bo runs --trials BO trials (default 4). Writes DIR/report.md, DIR/report.json and\n"
           "DIR/<model>-pareto.svg (--out, default bench/). Methods that fail are listed, not fatal.\n"
           "--render DIR writes DIR/report.md and the plots again from DIR/report.json (nothing is\n"
           "measured; for a report whose format changed).\n");
}

/* progress on stderr: rewritten in place on a terminal, one line each otherwise */
typedef struct Progress { bool tty; int last_len; } Progress;

static void progress(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(Progress *p, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (p->tty) {
        fprintf(stderr, "\r%s%*s", line, p->last_len > n ? p->last_len - n : 0, "");
        p->last_len = n;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

static void progress_done(Progress *p) {
    if (p->tty && p->last_len) fprintf(stderr, "\n");
    p->last_len = 0;
}

static void machine_info(BenchRun *run) {
    snprintf(run->cpu, sizeof run->cpu, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10)) continue;
            char *colon = strchr(line, ':');
            if (!colon) continue;
            colon++;
            while (*colon == ' ' || *colon == '\t') colon++;
            colon[strcspn(colon, "\n")] = 0;
            snprintf(run->cpu, sizeof run->cpu, "%s", colon);
            break;
        }
        fclose(f);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    run->cores = cores > 0 ? (int)cores : 1;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(run->date, sizeof run->date, "%Y-%m-%d %H:%M UTC", &tm);
}

/* Times every graph with ok[i] set, alternating in one loop like latency_measure (one warm-up
   each, then `repeats` rounds running each graph once), but keeps the per-run samples the
   t-tests need. A graph whose plan fails to compile or run gets ok[i] = false and its error
   in errs[i]; the others go on. samples[i] receives `repeats` values (malloc'd). */
static int time_alternating(const Graph *const *g, int n, bool *ok, char (*errs)[256], const InputSet *in, int repeats,
                            int threads, double **samples, double *peak, Err *err) {
    Plan **plans = calloc((size_t)n, sizeof *plans);
    if (!plans) return err_set(err, ERR_RUNTIME, "out of memory");
    PlanOpts opts = {.threads = threads};
    for (int i = 0; i < n; i++) {
        if (!ok[i]) continue;
        Err e = {0};
        samples[i] = malloc(sizeof **samples * (size_t)repeats);
        plans[i] = samples[i] ? plan_compile(g[i], NULL, 0, &opts, &e) : NULL;
        if (!plans[i]) { ok[i] = false; snprintf(errs[i], 256, "plan: %.240s", samples[i] ? e.msg : "out of memory"); continue; }
        peak[i] = (double)plan_peak_bytes(plans[i]);
    }
    Tensor outs[64];
    for (int r = -1; r < repeats; r++) { /* r = -1: warm-up */
        for (int i = 0; i < n; i++) {
            if (!ok[i]) continue;
            Err e = {0};
            PlanTiming t = {0};
            if (g[i]->n_outputs > 64) { ok[i] = false; snprintf(errs[i], 256, "more than 64 outputs"); continue; }
            if (plan_run(plans[i], in->feeds[(r < 0 ? 0 : r) % in->n_batches], in->n_feeds, outs, &t, &e)) {
                ok[i] = false;
                snprintf(errs[i], 256, "run: %.240s", e.msg);
                continue;
            }
            for (int k = 0; k < g[i]->n_outputs; k++) tensor_release(&outs[k]);
            if (r >= 0) samples[i][r] = t.total_ms;
        }
    }
    for (int i = 0; i < n; i++) plan_free(plans[i]);
    free(plans);
    return 0;
}

/* the methods that draw random numbers: one result per seed (greedy is deterministic) */
static bool is_seeded_method(const char *m) { return !strcmp(m, "random") || !strncmp(m, "ppo", 3); }

typedef struct BenchSetup {
    int repeats, budget, seeds, trials, episodes, threads, eval_batches;
    Policy *policy;
    CostModel *cm;
    char policy_error[256]; /* why ppo methods cannot run, "" when they can */
} BenchSetup;

/* Produces method's graph from orig (or the calibrated copy for precision methods) into *out,
   recording rewrites into r. Returns 0, or -1 with err set. */
static int run_method(const BenchSetup *s, const char *method, uint64_t seed, const Graph *orig, const Graph *calibrated,
                      const InputSet *eval, BenchResult *r, Graph **out, Err *err) {
    RewriteLog log = {0};
    Graph *g = NULL;
    if (!strcmp(method, "none")) {
        g = graph_clone(orig, err);
        if (!g) return -1;
    } else if (!strcmp(method, "grappler") || !strcmp(method, "grappler+int8")) {
        const char *pipeline = method;
        if (!strcmp(method, "grappler+int8") && !dnn_cpu_has_vnni()) {
            pipeline = "grappler+int7";
            snprintf(r->note, sizeof r->note, "7-bit weights: this CPU has no VNNI");
        }
        g = graph_clone(strcmp(method, "grappler") ? calibrated : orig, err);
        if (!g) return -1;
        if (pipeline_run(pipeline, g, 0, &log, err)) { graph_free(g); return -1; }
    } else {
        bool ppo = !strcmp(method, "ppo"), bo = !strcmp(method, "ppo+bo");
        if ((ppo || bo) && s->policy_error[0]) return err_set(err, ERR_INPUT, "%s", s->policy_error);
        /* as cmd_optimize: the search judges candidates on every held-out batch, the same ones the
           report's accuracy comes from */
        EvalContext ctx = {.original = orig, .inputs = eval, .budget = {0.99, 0.99}, .w = objective_default_weights(),
                           .repeats = 5, .threads = s->threads};
        SearchOpts so = {.budget = s->budget, .allow_precision = true, .min_gain = 0, .seed = seed,
                         .forbidden_flags = dnn_cpu_has_bf16() ? 0 : RULE_BF16};
        Evaluation ev;
        int rc;
        if (bo) {
            AgentOpts ao = agent_opts_default();
            ao.episodes = s->episodes;
            BoTarget bt = {.objective = BO_OBJECTIVE_LATENCY, .max_accuracy_drop = 0.01};
            BoAgentTrial *table = calloc((size_t)s->trials, sizeof *table);
            if (!table) return err_set(err, ERR_RUNTIME, "out of memory");
            int per = s->budget / s->trials - 1, best_trial = -1;
            so.budget = per > 2 ? per : 2;
            rc = search_ppo_bo(&ctx, calibrated, &so, s->policy, s->cm, &ao, &bt, s->trials, NULL, &g, &ev, &log, table, &best_trial, err);
            if (!rc && best_trial < 0) snprintf(r->note, sizeof r->note, "no BO trial met the accuracy budget: the closest one kept");
            free(table);
        } else if (ppo) {
            AgentOpts ao = agent_opts_default();
            ao.episodes = s->episodes;
            AgentStats st = {0};
            rc = search_ppo(&ctx, calibrated, &so, s->policy, s->cm, &ao, &g, &ev, &log, &st, err);
        } else if (!strcmp(method, "greedy")) {
            rc = search_greedy(&ctx, calibrated, &so, &g, &ev, &log, err);
        } else if (!strcmp(method, "random")) {
            rc = search_random(&ctx, calibrated, &so, &g, &ev, &log, err);
        } else {
            return err_set(err, ERR_INPUT, "unknown method '%s'", method);
        }
        if (rc) return -1;
        r->evaluations = ctx.evaluations;
    }
    r->rewrites = log.total;
    size_t len = 0;
    for (int k = 0; k < log.n; k++) {
        const RuleDef *rd = rule_by_name(log.v[k].rule);
        int f = rd ? bench_family_index(rd->family) : -1;
        if (f >= 0) r->family[f] += log.v[k].count;
        if (len < sizeof r->rules)
            len += (size_t)snprintf(r->rules + len, sizeof r->rules - len, "%s%s x%d", k ? ", " : "", log.v[k].rule, log.v[k].count);
    }
    *out = g;
    return 0;
}

/* one model: every method's graph, then all measured together */
static void bench_model(const BenchSetup *s, const char *const *methods, int n_methods, BenchModel *m, Progress *pr) {
    Err err = {0};
    Graph *orig = NULL, *calibrated = NULL;
    InputSet eval = {0};
    RefFeed **calib = NULL;
    int calib_n = 0, calib_feeds = 0;
    Graph **graphs = NULL;
    Tensor *ref = NULL;
    int n_runs = 0;
    for (int j = 0; j < n_methods; j++) n_runs += is_seeded_method(methods[j]) ? s->seeds : 1;
    m->results = calloc((size_t)n_runs, sizeof *m->results);
    graphs = calloc((size_t)n_runs, sizeof *graphs);
    if (!m->results || !graphs) { snprintf(m->error, sizeof m->error, "out of memory"); goto done; }
    progress(pr, "bench %s: loading", m->label);
    orig = cli_load_model(m->name, &err);
    if (!orig || cli_prepare(orig, NULL, 0, &err) || inputs_generate(orig, s->eval_batches, 1000, &eval, &err)) {
        snprintf(m->error, sizeof m->error, "%.250s", err.msg);
        goto done;
    }
    /* the precision methods start from a calibrated copy, as in grappo optimize */
    bool need_calib = false;
    for (int j = 0; j < n_methods; j++) need_calib |= strcmp(methods[j], "none") && strcmp(methods[j], "grappler");
    char calib_error[256] = "";
    if (need_calib) {
        /* generated, seeds 1..8: disjoint from the evaluation inputs (seeds 1000+). Without
           calibration only the exact methods can run: each precision one says why not. */
        Err e = {0};
        calibrated = graph_clone(orig, &e);
        if (calibrated && calib_batches_generate(orig, 8, &calib, &calib_feeds, &e) == 0) {
            calib_n = 8;
            if (calibrate_graph(calibrated, (const RefFeed *const *)calib, calib_n, calib_feeds, CALIB_PERCENTILE, &e) >= 0) e.msg[0] = 0;
        } else {
            calib = NULL;
        }
        if (e.msg[0]) {
            snprintf(calib_error, sizeof calib_error, "calibration failed: %.230s", e.msg);
            graph_free(calibrated);
            calibrated = NULL;
        }
    }
    for (int j = 0; j < n_methods; j++) {
        int seeds = is_seeded_method(methods[j]) ? s->seeds : 1;
        for (int sd = 1; sd <= seeds; sd++) {
            BenchResult *r = &m->results[m->n_results++];
            if (sd > 1) snprintf(r->method, sizeof r->method, "%s@seed=%d", methods[j], sd);
            else snprintf(r->method, sizeof r->method, "%s", methods[j]);
            r->top1 = -1;
            progress(pr, "bench %s: %s", m->label, r->method);
            bool precision = strcmp(methods[j], "none") && strcmp(methods[j], "grappler");
            if (precision && !calibrated) { snprintf(r->error, sizeof r->error, "%s", calib_error); continue; }
            double t0 = cli_now_ms();
            Err e = {0};
            if (run_method(s, methods[j], (uint64_t)sd, orig, calibrated, &eval, r, &graphs[m->n_results - 1], &e)) {
                snprintf(r->error, sizeof r->error, "%.250s", e.msg);
                continue;
            }
            r->optimize_s = (cli_now_ms() - t0) / 1e3;
            r->ok = true;
        }
    }
    /* every graph of this model in one alternating loop */
    progress(pr, "bench %s: timing %d graphs x %d runs", m->label, m->n_results, s->repeats);
    bool *ok = calloc((size_t)n_runs, sizeof *ok);
    char (*errs)[256] = calloc((size_t)n_runs, sizeof *errs);
    double **samples = calloc((size_t)n_runs, sizeof *samples), *peak = calloc((size_t)n_runs, sizeof *peak);
    if (!ok || !errs || !samples || !peak) { snprintf(m->error, sizeof m->error, "out of memory"); goto timing_done; }
    for (int k = 0; k < m->n_results; k++) ok[k] = m->results[k].ok;
    if (time_alternating((const Graph *const *)graphs, m->n_results, ok, errs, &eval, s->repeats, s->threads, samples, peak, &err)) {
        snprintf(m->error, sizeof m->error, "%.250s", err.msg);
        goto timing_done;
    }
    for (int k = 0; k < m->n_results; k++) {
        BenchResult *r = &m->results[k];
        if (r->ok && !ok[k]) { r->ok = false; snprintf(r->error, sizeof r->error, "%s", errs[k]); }
        if (!r->ok) { free(samples[k]); samples[k] = NULL; continue; }
        r->samples = samples[k];
        samples[k] = NULL;
        r->n_samples = s->repeats;
        /* stats_summarize sorts: summarize a copy, keep the run order */
        double *copy = malloc(sizeof *copy * (size_t)s->repeats);
        if (!copy) { r->ok = false; snprintf(r->error, sizeof r->error, "out of memory"); continue; }
        memcpy(copy, r->samples, sizeof *copy * (size_t)s->repeats);
        r->ms = stats_summarize(copy, s->repeats);
        free(copy);
        r->peak_bytes = peak[k];
    }
    /* fidelity to the input graph: its outputs once, every result against them */
    progress(pr, "bench %s: accuracy", m->label);
    if (accuracy_reference(orig, &eval, s->threads, &ref, &err)) {
        snprintf(m->error, sizeof m->error, "accuracy reference: %.230s", err.msg);
        ref = NULL;
        goto timing_done;
    }
    for (int k = 0; k < m->n_results; k++) {
        BenchResult *r = &m->results[k];
        if (!r->ok) continue;
        AccuracyResult acc;
        Err e = {0};
        if (accuracy_against(orig, ref, graphs[k], &eval, s->threads, &acc, &e)) {
            r->ok = false;
            snprintf(r->error, sizeof r->error, "accuracy: %.240s", e.msg);
            continue;
        }
        r->top1 = acc.top1_agreement;
        r->min_cosine = acc.min_cosine;
        r->max_rel_l2 = acc.max_rel_l2;
    }
timing_done:
    if (samples)
        for (int k = 0; k < n_runs; k++) free(samples[k]);
    free(samples);
    free(peak);
    free(ok);
    free(errs);
done:
    if (ref) accuracy_reference_free(ref, eval.n_batches, orig->n_outputs);
    if (graphs)
        for (int k = 0; k < n_runs; k++) graph_free(graphs[k]);
    free(graphs);
    if (calib) calib_batches_free(calib, calib_n, calib_feeds);
    inputs_free(&eval);
    graph_free(calibrated);
    graph_free(orig);
    progress_done(pr);
}

/* the learning curve: link <out>/policy-curve.svg, copying bench/policy-curve.svg there when
   the report goes elsewhere */
static void find_curve(BenchRun *run, const char *out_dir) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/policy-curve.svg", out_dir);
    if (stat(path, &st) == 0) { snprintf(run->curve_svg, sizeof run->curve_svg, "policy-curve.svg"); return; }
    uint8_t *data = NULL;
    size_t len = 0;
    Err err = {0};
    if (read_file_bytes("bench/policy-curve.svg", &data, &len, &err) == 0 && atomic_write_file(path, data, len, &err) == 0)
        snprintf(run->curve_svg, sizeof run->curve_svg, "policy-curve.svg");
    free(data);
}

/* --render DIR: the report again from DIR/report.json */
static int render(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", dir);
    uint8_t *data = NULL;
    size_t len = 0;
    Err err = {0};
    BenchRun run = {0};
    int rc = EXIT_OK;
    char *text = NULL;
    if (read_file_bytes(path, &data, &len, &err)) goto fail;
    if (!(text = malloc(len + 1))) { err_set(&err, ERR_RUNTIME, "out of memory"); goto fail; }
    memcpy(text, data, len);
    text[len] = 0;
    if (bench_run_from_json(text, &run, &err)) { err_prefix(&err, "%s", path); goto fail; }
    find_curve(&run, dir);
    if (bench_write(&run, dir, &err)) goto fail;
    printf("wrote %s/report.md, %s/report.json and %d Pareto plot(s) from %s\n", dir, dir, run.n_models, path);
    goto done;
fail:
    rc = cli_fail(&err);
done:
    bench_run_free(&run);
    free(text);
    free(data);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    Args a = {argc, argv, 1, "bench"};
    const char *models[MAX_MODELS], *v, *methods_arg = "none,grappler,grappler+int8,greedy,random,ppo,ppo+bo";
    const char *out_dir = "bench", *policy_path = NULL, *cost_cache = NULL;
    int n_models = 0;
    long long repeats = 20, budget = 8, seeds = 1, threads = 0, trials = 4, episodes = 16, eval_batches = 16;
    bool bad = false;
    int rc = EXIT_OK;
    BenchRun run = {0};
    BenchSetup setup = {0};
    Err err = {0};
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_opt(&a, "--methods", &methods_arg, &bad)) {}
        else if (arg_opt(&a, "--render", &v, &bad)) { if (bad) return EXIT_USAGE; return render(v); }
        else if (arg_opt(&a, "--out", &out_dir, &bad) || arg_opt(&a, "-o", &out_dir, &bad)) {}
        else if (arg_opt(&a, "--policy", &policy_path, &bad)) {}
        else if (arg_opt(&a, "--cost-cache", &cost_cache, &bad)) {}
        else if (arg_opt(&a, "--repeats", &v, &bad)) { if (bad || !parse_int("bench", "--repeats", v, 2, 100000, &repeats)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--budget", &v, &bad)) { if (bad || !parse_int("bench", "--budget", v, 1, 1000000, &budget)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--seeds", &v, &bad)) { if (bad || !parse_int("bench", "--seeds", v, 1, 1000, &seeds)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--threads", &v, &bad)) { if (bad || !parse_int("bench", "--threads", v, 0, 1024, &threads)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--trials", &v, &bad)) { if (bad || !parse_int("bench", "--trials", v, 1, BO_MAX_TRIALS, &trials)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--episodes", &v, &bad)) { if (bad || !parse_int("bench", "--episodes", v, 1, 100000, &episodes)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--eval-batches", &v, &bad)) { if (bad || !parse_int("bench", "--eval-batches", v, 1, 10000, &eval_batches)) return EXIT_USAGE; }
        else if (argv[a.i][0] == '-') return cli_usage_error("bench", "unknown option '%s'", argv[a.i]);
        else if (n_models == MAX_MODELS) return cli_usage_error("bench", "at most %d models", MAX_MODELS);
        else models[n_models++] = argv[a.i];
        if (bad) return EXIT_USAGE;
    }
    if (!n_models) return cli_usage_error("bench", "which models? (FILE.pb or zoo:NAME ...)");
    /* the method list: known names, no duplicates */
    char mbuf[512];
    const char *methods[MAX_METHODS];
    int n_methods = 0;
    snprintf(mbuf, sizeof mbuf, "%s", methods_arg);
    for (char *tok = strtok(mbuf, ","); tok; tok = strtok(NULL, ",")) {
        bool known = false, dup = false;
        for (int k = 0; k < N_ALL_METHODS; k++) known |= !strcmp(tok, all_methods[k]);
        for (int k = 0; k < n_methods; k++) dup |= !strcmp(tok, methods[k]);
        if (!known) return cli_usage_error("bench", "--methods: unknown method '%s' (none, grappler, grappler+int8, greedy, random, ppo, ppo+bo)", tok);
        if (!dup && n_methods < MAX_METHODS) methods[n_methods++] = tok;
    }
    if (!n_methods) return cli_usage_error("bench", "--methods is empty");
    struct stat st;
    if (stat(out_dir, &st) != 0 && mkdir(out_dir, 0777) != 0) return cli_usage_error("bench", "cannot create --out directory '%s'", out_dir);

    setup = (BenchSetup){.repeats = (int)repeats, .budget = (int)budget, .seeds = (int)seeds, .trials = (int)trials,
                         .episodes = (int)episodes, .threads = (int)threads, .eval_batches = (int)eval_batches};
    bool need_policy = false;
    for (int k = 0; k < n_methods; k++) need_policy |= !strncmp(methods[k], "ppo", 3);
    if (need_policy) {
        /* a missing policy skips ppo and ppo+bo (said in the report), not the whole run */
        char found[4096];
        if (!policy_path) policy_path = cli_default_policy_path(found, sizeof found);
        setup.policy = policy_load(policy_path, NULL, NULL, &err);
        CostOpts co = {.backend = COST_MEASURED, .threads = (int)threads, .cache_dir = cost_cache};
        if (setup.policy) setup.cm = cost_open(&co, &err);
        if (!setup.policy || !setup.cm) snprintf(setup.policy_error, sizeof setup.policy_error, "%.250s", err.msg);
    }

    machine_info(&run);
    run.threads = (int)threads;
    run.repeats = (int)repeats;
    run.budget = (int)budget;
    run.seeds = (int)seeds;
    run.trials = (int)trials;
    run.episodes = (int)episodes;
    run.eval_batches = (int)eval_batches;
    snprintf(run.methods, sizeof run.methods, "%s", methods_arg);
    run.models = calloc((size_t)n_models, sizeof *run.models);
    if (!run.models) { err_set(&err, ERR_RUNTIME, "out of memory"); rc = cli_fail(&err); goto done; }
    Progress pr = {.tty = isatty(2) == 1};
    for (int i = 0; i < n_models; i++) {
        BenchModel *m = &run.models[run.n_models++];
        snprintf(m->name, sizeof m->name, "%s", models[i]);
        bench_model_label(models[i], m->label, sizeof m->label);
        /* two models with one label would overwrite each other's plot */
        for (int j = 0; j < i; j++)
            if (!strcmp(run.models[j].label, m->label)) {
                size_t len = strlen(m->label);
                snprintf(m->label + (len < 56 ? len : 56), sizeof m->label - (len < 56 ? len : 56), "-%d", i + 1);
            }
        bench_model(&setup, methods, n_methods, m, &pr);
    }
    find_curve(&run, out_dir);
    if (bench_write(&run, out_dir, &err)) { rc = cli_fail(&err); goto done; }
    printf("wrote %s/report.md, %s/report.json and %d Pareto plot(s)\n", out_dir, out_dir, run.n_models);
    for (int i = 0; i < run.n_models; i++) {
        const BenchModel *m = &run.models[i];
        if (m->error[0]) { printf("%s: failed: %s\n", m->label, m->error); continue; }
        for (int k = 0; k < m->n_results; k++) {
            const BenchResult *r = &m->results[k];
            if (!r->ok) printf("%-20s %-16s skipped: %s\n", m->label, r->method, r->error);
            else printf("%-20s %-16s %9.3f ms %7.2fx\n", m->label, r->method, r->ms.median, bench_speedup(m, r));
        }
    }
done:
    bench_run_free(&run);
    policy_free(setup.policy);
    cost_close(setup.cm);
    return rc;
}
