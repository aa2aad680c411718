/* cmd_bench.c - `grappo bench MODEL ... --methods ...`: every method's graph of each model,
 * produced by the library (optimize_session_produce, as `grappo optimize`), then all of a model's graphs
 * timed together in one alternating loop (ratios side by side), their planned peak memory and
 * fidelity to the input graph measured; report.md, report.json and Pareto SVGs written by
 * src/report/bench_report.c. A method that fails is a line in the report, not an abort. */
#include <limits.h>
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
#include "../search/bo.h"
#include "cli.h"
#include "progress.h"

#define MAX_MODELS 64
#define MAX_METHODS 16


static void help(void) {
    OptimizeOpts d = optimize_opts_default();
    printf("usage: grappo bench MODEL.pb|zoo:NAME ... [--methods none,grappler,grappler+int8,sensitivity,greedy,random,ppo,ppo+bo]\n"
           "                    [--repeats N] [--budget N] [--seeds N] [--threads N] [--policy FILE] [--trials N]\n"
           "                    [--episodes N] [--eval-batches N] [--out DIR] [--cost-cache DIR] [--max-accuracy-drop X]\n"
           "       grappo bench --render DIR\n"
           "\n"
           "For each model, produces each method's graph (as grappo optimize --search METHOD would;\n"
           "none = the input graph, always measured: every ratio is against it), then times all of\n"
           "them together: --repeats (default %d) rounds, each running every graph once in turn,\n"
           "after one warm-up each; every timed run right after an untimed run of the same graph, so\n"
           "each is timed in its own steady state, not in the cache the graph before it left.\n"
           "Ratios are input / result: \"x faster\", \"x smaller\". Reports per model and method:\n"
           "latency median with its 95%% CI and max, x faster, planned peak memory and x smaller,\n"
           "fidelity to the input (top-1 agreement, worst cosine, relative L2) on\n"
           "--eval-batches generated inputs (default %d), optimization wall time, rewrites by family,\n"
           "Welch t-test p-values against none and of ppo+bo (else ppo) against each method, and\n"
           "timings that spread (a run over twice the median) flagged unstable. A result is called\n"
           "faster, and the model's winner, only when significantly faster than none (p < 0.05 and\n"
           "disjoint CIs) and it keeps accuracy: with --labels, labelled top-1 at most\n"
           "--max-accuracy-drop (default %g) below none's, as grappo optimize judges; else fidelity\n"
           "(top-1 agreement and worst cosine >= 0.99). Over all results a regression of ln(x faster)\n"
           "on rewrites per family.\n"
           "On a terminal, one progress line with the time left. Searches (greedy, random, ppo, ppo+bo)\n"
           "spend --budget graph evaluations (default %d); random, ppo and ppo+bo run once per seed\n"
           "1..--seeds (default 1), seeds after the first as rows METHOD@seed=S;\n"
           "ppo and each ppo+bo trial roll the policy out --episodes times (default %d);\n"
           "ppo+bo runs --trials BO trials (default %d). Writes DIR/report.md, DIR/report.json and\n"
           "DIR/<model>-pareto.svg (--out, default bench/). Methods that fail are listed, not fatal.\n"
           "Every default is grappo optimize's (make bench passes a quicker --budget and --trials).\n"
           "--render DIR writes DIR/report.md and the plots again from DIR/report.json, and\n"
           "DIR/policy-curve.svg from DIR/policy-train.csv when it exists (nothing is measured; for a\n"
           "report whose format changed).\n",
           d.repeats, d.eval_batches, d.max_accuracy_drop, d.budget, d.episodes, d.trials);
    fputs(cli_data_opts_help(), stdout);
}

/* The run's progress on a terminal (progress.h): model i of n, what runs, steps done of all
   (one per method result and one per model's measurement) with the time left at the rate so
   far, and the library's own step (calibration batches, search evaluations). */
typedef struct BenchMeter {
    CliProgress line;
    int done, total;      /* steps */
    double t0;            /* ms */
    int model, n_models;  /* 1-based */
    const char *label, *doing;
} BenchMeter;

/* an OptimizeProgressFn; what NULL: just the bench step */
static int bench_progress(const char *what, int done, int total, void *user) {
    BenchMeter *m = user;
    char eta[96], inner[128] = "";
    cli_progress_eta(eta, sizeof eta, (cli_now_ms() - m->t0) / 1e3, m->done, m->total);
    if (what && total > 0 && !strcmp(what, m->doing)) snprintf(inner, sizeof inner, " %d of %d", done, total);
    else if (what && total > 0) snprintf(inner, sizeof inner, ": %s %d of %d", what, done, total);
    else if (what && strcmp(what, m->doing)) snprintf(inner, sizeof inner, ": %s", what);
    /* the most useful first: a narrow terminal cuts the end */
    cli_progress_line(&m->line, "bench %d/%d, %s | %s (%d/%d) %s%s", m->done < m->total ? m->done + 1 : m->total, m->total, eta,
                      m->label, m->model, m->n_models, m->doing, inner);
    return 0;
}

static void bench_step(BenchMeter *m, const char *doing) {
    m->doing = doing;
    bench_progress(NULL, 0, 0, m);
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

typedef struct BenchSetup {
    OptimizeOpts opts;        /* the library's defaults with bench's budget, trials and flags */
    int seeds;
    Policy *policy;           /* loaded once for every model (borrowed by the sessions) */
    CostModel *cm;
    char policy_error[256];   /* why ppo methods cannot run, "" when they can */
} BenchSetup;

/* The method's graph from the session (as grappo optimize --search METHOD would make it),
   its rewrites recorded into r. Returns 0, or -1 with err set. */
static int run_method(const BenchSetup *s, OptimizeSession *session, OptimizeMethod method, uint64_t seed, BenchResult *r, Graph **out,
                      Err *err) {
    if ((method == OPTIMIZE_PPO || method == OPTIMIZE_PPO_BO) && s->policy_error[0]) return err_set(err, ERR_INPUT, "%s", s->policy_error);
    OptimizeOpts o = s->opts;
    o.method = method;
    o.seed = seed;
    OptimizeProduct p;
    if (optimize_session_produce(session, &o, &p, err)) return -1;
    snprintf(r->note, sizeof r->note, "%.95s", p.note);
    r->evaluations = p.evaluations;
    if (method == OPTIMIZE_PPO || method == OPTIMIZE_PPO_BO) {
        const SearchTimes *t = &p.times;
        r->has_times = true;
        r->rollout_s = t->rollout_s;
        r->rollout_accuracy_s = t->env_accuracy_s;
        r->rollout_kernel_timing_s = t->cost_timing_s;
        r->timing_s = t->timing_s;
        r->accuracy_s = t->accuracy_s;
        r->carry_s = p.carry_s;
        r->accuracy_runs = t->accuracy_runs;
        r->accuracy_reused = t->accuracy_hits;
        r->evaluations_reused = t->evaluations_reused;
    }
    r->rewrites = p.log.total;
    size_t len = 0;
    for (int k = 0; k < p.log.n; k++) {
        const RuleDef *rd = rule_by_name(p.log.v[k].rule);
        int f = rd ? bench_family_index(rd->family) : -1;
        if (f >= 0) r->family[f] += p.log.v[k].count;
        if (len < sizeof r->rules)
            len += (size_t)snprintf(r->rules + len, sizeof r->rules - len, "%s%s x%d", k ? ", " : "", p.log.v[k].rule, p.log.v[k].count);
    }
    *out = p.graph;
    p.graph = NULL;
    optimize_product_free(&p);
    return 0;
}

/* one model: every method's graph, then all measured together */
static void bench_model(const BenchSetup *s, const OptimizeMethod *methods, int n_methods, BenchModel *m, BenchMeter *meter) {
    Err err = {0};
    Graph *orig = NULL;
    OptimizeSession *session = NULL;
    Graph **graphs = NULL;
    OptimizeMeasured *meas = NULL;
    int n_runs = 0;
    for (int j = 0; j < n_methods; j++) n_runs += optimize_method_is_seeded(methods[j]) ? s->seeds : 1;
    m->results = calloc((size_t)n_runs, sizeof *m->results);
    graphs = calloc((size_t)n_runs, sizeof *graphs);
    if (!m->results || !graphs) { snprintf(m->error, sizeof m->error, "out of memory"); goto done; }
    meter->label = m->label;
    bench_step(meter, "loading");
    orig = cli_load_model(m->name, &err);
    if (!orig || cli_prepare(orig, NULL, 0, &err) || optimize_session_open(orig, &s->opts, &session, &err)) {
        snprintf(m->error, sizeof m->error, "%.250s", err.msg);
        goto done;
    }
    /* the precision methods start from a calibrated copy, as in grappo optimize. Without
       calibration only the exact methods can run: each precision one says why not. */
    bool need_calib = false;
    for (int j = 0; j < n_methods; j++) need_calib |= methods[j] != OPTIMIZE_NONE && methods[j] != OPTIMIZE_GRAPPLER;
    char calib_error[256] = "";
    if (need_calib) {
        Err e = {0};
        bench_step(meter, "calibrating");
        if (optimize_session_calibrate(session, &e)) snprintf(calib_error, sizeof calib_error, "calibration failed: %.230s", e.msg);
    }
    for (int j = 0; j < n_methods; j++) {
        const char *name = optimize_method_name(methods[j]);
        int seeds = optimize_method_is_seeded(methods[j]) ? s->seeds : 1;
        for (int sd = 1; sd <= seeds; sd++, meter->done++) {
            BenchResult *r = &m->results[m->n_results++];
            if (sd > 1) snprintf(r->method, sizeof r->method, "%s@seed=%d", name, sd);
            else snprintf(r->method, sizeof r->method, "%s", name);
            r->top1 = r->label_top1 = r->label_top5 = -1;
            bench_step(meter, r->method);
            bool precision = methods[j] != OPTIMIZE_NONE && methods[j] != OPTIMIZE_GRAPPLER;
            if (precision && calib_error[0]) { snprintf(r->error, sizeof r->error, "%s", calib_error); continue; }
            double t0 = cli_now_ms();
            Err e = {0};
            if (run_method(s, session, methods[j], (uint64_t)sd, r, &graphs[m->n_results - 1], &e)) {
                snprintf(r->error, sizeof r->error, "%.250s", e.msg);
                continue;
            }
            r->optimize_s = (cli_now_ms() - t0) / 1e3;
            r->ok = true;
        }
    }
    /* every graph of this model side by side: one alternating timing loop, then fidelity */
    char timing[96];
    snprintf(timing, sizeof timing, "%d graphs x %d runs", m->n_results, s->opts.repeats);
    bench_step(meter, timing);
    meas = calloc((size_t)n_runs + 1, sizeof *meas);
    if (!meas) { snprintf(m->error, sizeof m->error, "out of memory"); goto done; }
    for (int k = 0; k < m->n_results; k++) meas[k].ok = m->results[k].ok;
    if (optimize_measure_all(session, (const Graph *const *)graphs, m->n_results, meas, &err)) {
        snprintf(m->error, sizeof m->error, "%.250s", err.msg);
        goto done;
    }
    for (int k = 0; k < m->n_results; k++) {
        BenchResult *r = &m->results[k];
        if (r->ok && !meas[k].ok) { r->ok = false; snprintf(r->error, sizeof r->error, "%.250s", meas[k].err.msg); }
        if (!r->ok) continue;
        r->samples = meas[k].samples;
        meas[k].samples = NULL;
        r->n_samples = s->opts.repeats;
        r->ms = meas[k].lat.ms;
        r->peak_bytes = (double)meas[k].lat.peak_bytes;
        r->top1 = meas[k].acc.top1_agreement;
        if (meas[k].has_labels) {
            r->label_top1 = meas[k].labels.top1;
            r->label_top5 = meas[k].labels.top5;
        }
        r->min_cosine = meas[k].acc.min_cosine;
        r->max_rel_l2 = meas[k].acc.max_rel_l2;
    }
done:
    optimize_measured_free(meas, n_runs);
    free(meas);
    if (graphs)
        for (int k = 0; k < n_runs; k++) graph_free(graphs[k]);
    free(graphs);
    optimize_session_close(session);
    graph_free(orig);
    meter->done = meter->model * meter->total / meter->n_models; /* this model's steps, also when it failed early */
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
    /* the learning curve again too, when its training log is there */
    char csv[4096], curve[4096];
    struct stat st;
    snprintf(csv, sizeof csv, "%s/policy-train.csv", dir);
    snprintf(curve, sizeof curve, "%s/policy-curve.svg", dir);
    bool redraw_curve = stat(csv, &st) == 0;
    if (redraw_curve && train_curve_write(csv, curve, INT_MAX, &err)) goto fail;
    find_curve(&run, dir);
    if (bench_write(&run, dir, &err)) goto fail;
    printf("wrote %s/report.md, %s/report.json, %d Pareto plot(s)%s from %s\n", dir, dir, run.n_models,
           redraw_curve ? " and the learning curve" : "", path);
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
    OptimizeOpts d = optimize_opts_default();
    long long repeats = d.repeats, budget = d.budget, seeds = 1, threads = d.threads, trials = d.trials, episodes = d.episodes,
              eval_batches = d.eval_batches;
    bool bad = false;
    int rc = EXIT_OK;
    BenchRun run = {0};
    BenchSetup setup = {0};
    Err err = {0};
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_opt(&a, "--methods", &methods_arg, &bad)) {}
        else if (cli_data_opt(&a, &d, &bad)) {}
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
        else if (arg_opt(&a, "--max-accuracy-drop", &v, &bad)) { if (bad || !parse_accuracy_drop(v, &d.max_accuracy_drop)) return cli_usage_error("bench", ACCURACY_DROP_USAGE); }
        else if (argv[a.i][0] == '-') return cli_usage_error("bench", "unknown option '%s'", argv[a.i]);
        else if (n_models == MAX_MODELS) return cli_usage_error("bench", "at most %d models", MAX_MODELS);
        else models[n_models++] = argv[a.i];
        if (bad) return EXIT_USAGE;
    }
    if (!n_models) return cli_usage_error("bench", "which models? (FILE.pb or zoo:NAME ...)");
    /* the method list: known names, no duplicates */
    char mbuf[512];
    OptimizeMethod methods[MAX_METHODS];
    int n_methods = 0;
    snprintf(mbuf, sizeof mbuf, "%s", methods_arg);
    for (char *tok = strtok(mbuf, ","); tok; tok = strtok(NULL, ",")) {
        OptimizeMethod m;
        bool dup = false;
        if (optimize_method_parse(tok, &m))
            return cli_usage_error("bench", "--methods: unknown method '%s' (none, grappler, grappler+int8, sensitivity, greedy, random, ppo, ppo+bo)", tok);
        for (int k = 0; k < n_methods; k++) dup |= methods[k] == m;
        if (!dup && n_methods < MAX_METHODS) methods[n_methods++] = m;
    }
    if (!n_methods) return cli_usage_error("bench", "--methods is empty");
    /* every ratio is against the input graph: "none" is always measured, first */
    bool has_none = false;
    for (int k = 0; k < n_methods; k++) has_none |= methods[k] == OPTIMIZE_NONE;
    if (!has_none) {
        if (n_methods == MAX_METHODS) n_methods--;
        memmove(methods + 1, methods, sizeof *methods * (size_t)n_methods);
        methods[0] = OPTIMIZE_NONE;
        n_methods++;
    }
    struct stat st;
    if (stat(out_dir, &st) != 0 && mkdir(out_dir, 0777) != 0) return cli_usage_error("bench", "cannot create --out directory '%s'", out_dir);

    setup.opts = d;
    setup.opts.repeats = (int)repeats;
    setup.opts.budget = (int)budget;
    setup.opts.trials = (int)trials;
    setup.opts.episodes = (int)episodes;
    setup.opts.threads = (int)threads;
    setup.opts.eval_batches = (int)eval_batches;
    setup.opts.policy_path = policy_path;
    setup.opts.cost_cache = cost_cache;
    setup.seeds = (int)seeds;
    bool need_policy = false;
    for (int k = 0; k < n_methods; k++) need_policy |= methods[k] == OPTIMIZE_PPO || methods[k] == OPTIMIZE_PPO_BO;
    if (need_policy) {
        /* a missing policy skips ppo and ppo+bo (said in the report), not the whole run */
        char found[4096];
        if (optimize_agent_open(&setup.opts, &setup.policy, &setup.cm, found, sizeof found, &err))
            snprintf(setup.policy_error, sizeof setup.policy_error, "%.250s", err.msg);
        setup.opts.policy = setup.policy;
        setup.opts.cost_model = setup.cm;
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
    BenchMeter meter = {.total = 0, .t0 = cli_now_ms(), .n_models = n_models};
    cli_progress_init(&meter.line);
    int n_runs = 1; /* the measurement */
    for (int j = 0; j < n_methods; j++) n_runs += optimize_method_is_seeded(methods[j]) ? (int)seeds : 1;
    meter.total = n_models * n_runs;
    if (meter.line.on) {
        setup.opts.progress = bench_progress;
        setup.opts.progress_user = &meter;
    }
    for (int i = 0; i < n_models; i++) {
        BenchModel *m = &run.models[run.n_models++];
        snprintf(m->name, sizeof m->name, "%s", models[i]);
        m->judged_on_labels = setup.opts.labels_path != NULL;
        m->label_max_drop = setup.opts.max_accuracy_drop;
        bench_model_label(models[i], m->label, sizeof m->label);
        /* two models with one label would overwrite each other's plot */
        for (int j = 0; j < i; j++)
            if (!strcmp(run.models[j].label, m->label)) {
                size_t len = strlen(m->label);
                snprintf(m->label + (len < 56 ? len : 56), sizeof m->label - (len < 56 ? len : 56), "-%d", i + 1);
            }
        meter.model = i + 1;
        bench_model(&setup, methods, n_methods, m, &meter);
    }
    cli_progress_clear(&meter.line);
    find_curve(&run, out_dir);
    if (bench_write(&run, out_dir, &err)) { rc = cli_fail(&err); goto done; }
    printf("wrote %s/report.md, %s/report.json and %d Pareto plot(s)\n", out_dir, out_dir, run.n_models);
    for (int i = 0; i < run.n_models; i++) {
        const BenchModel *m = &run.models[i];
        if (m->error[0]) { printf("%s: failed: %s\n", m->label, m->error); continue; }
        for (int k = 0; k < m->n_results; k++) {
            const BenchResult *r = &m->results[k];
            if (!r->ok) printf("%-20s %-16s skipped: %s\n", m->label, r->method, r->error);
            else if (r == bench_baseline(m)) printf("%-20s %-16s %9.3f ms  baseline\n", m->label, r->method, r->ms.median);
            /* "faster" only beyond noise (bench_significantly_faster), as in the report */
            else {
                double p = bench_welch_p_none(m, r);
                char pv[32];
                if (p < 0.001) snprintf(pv, sizeof pv, "p < 0.001");
                else snprintf(pv, sizeof pv, "p %.3f", p);
                printf("%-20s %-16s %9.3f ms %7.2fx%s (%s)\n", m->label, r->method, r->ms.median, bench_speedup(m, r),
                       bench_significantly_faster(m, r) ? " faster" : ", not significantly faster", pv);
            }
        }
    }
done:
    bench_run_free(&run);
    policy_free(setup.policy);
    cost_close(setup.cm);
    return rc;
}
