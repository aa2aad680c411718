/* cmd_run.c - `grappo run FILE.pb`: feed inputs (.npy or generated), execute on the reference
 * runtime, print each output's statistics and the timing, optionally save outputs. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "../report/stats.h"
#include "../runtime/plan.h"
#include "../util/escape.h"

#define MAX_ITEMS 64

static void help(void) {
    printf("usage: grappo run FILE.pb|zoo:NAME [--input NAME=FILE.npy ...] [--input-shape NAME=D1,D2,...]\n"
           "                  [--output NAME[:PORT] ...] [--save-outputs DIR] [--repeat N] [--seed S]\n"
           "                  [--runtime fast|ref] [--threads N] [--profile] [--json] [--markdown-row]\n"
           "                  [--max-loop-iterations N]\n"
           "\n"
           "Runs the graph on the fast runtime (oneDNN kernels, static memory arena; the default) or\n"
           "the reference runtime (portable C kernels, the numerical oracle). --threads sets the\n"
           "fast runtime's threads (default: all cores). --profile prints where the time goes per\n"
           "node and per op type, with achieved GFLOP/s. Inputs not given are generated from --seed\n"
           "(floats uniform in [0,1), gather indices in range, masks 1). An input given as .npy also\n"
           "fixes that input's unknown dims. Prints each output's shape, dtype, min/max/mean and the\n"
           "time: with --repeat N, one warm-up run then N timed runs (median, min, max, 95%% CI of the\n"
           "mean). --save-outputs writes one .npy per output named after the tensor with '/' and ':'\n"
           "replaced by '_'. --markdown-row prints only a Markdown table row of the timing (benchmarks).\n"
           "A While loop still running after --max-loop-iterations iterations (default 100000) is\n"
           "taken to never end: an error (exit 2).\n");
}

static void tensor_stats(const Tensor *t, double *mn, double *mx, double *mean, int64_t *nonfinite) {
    int64_t n = tensor_numel(t);
    double lo = INFINITY, hi = -INFINITY, s = 0;
    int64_t bad = 0, good = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = tensor_get(t, i);
        if (!isfinite(x)) { bad++; continue; }
        if (x < lo) lo = x;
        if (x > hi) hi = x;
        s += x;
        good++;
    }
    *mn = good ? lo : NAN;
    *mx = good ? hi : NAN;
    *mean = good ? s / (double)good : NAN;
    *nonfinite = bad;
}

/* DIR/<tensor name with '/' and ':' as '_'>.npy, malloc'd */
static char *output_file(const char *dir, const char *tensor_name) {
    size_t len = strlen(dir) + strlen(tensor_name) + 8;
    char *file = malloc(len);
    if (!file) return NULL;
    int k = snprintf(file, len, "%s/", dir);
    for (const char *c = tensor_name; *c; c++) file[k++] = (*c == '/' || *c == ':') ? '_' : *c;
    snprintf(file + k, len - (size_t)k, ".npy");
    return file;
}

/* Saves every fetched output; two outputs whose names map to the same file ('a/b:0' and
   'a_b:0') are refused before anything is written. */
static int save_outputs(const char *dir, const Graph *g, const ValueRef *fetch, const Tensor *outs, int n, Err *err) {
    char **files = calloc((size_t)n + 1, sizeof *files);
    int rc = -1;
    if (!files) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int k = 0; k < n; k++) {
        size_t len = strlen(g->nodes[fetch[k].node]->name) + 16;
        char *nb = malloc(len);
        if (nb) snprintf(nb, len, "%s:%d", g->nodes[fetch[k].node]->name, fetch[k].port);
        files[k] = nb ? output_file(dir, nb) : NULL;
        free(nb);
        if (!files[k]) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
        for (int j = 0; j < k; j++) {
            if (strcmp(files[j], files[k])) continue;
            if (fetch[j].node == fetch[k].node && fetch[j].port == fetch[k].port) continue; /* fetched twice */
            err_set(err, ERR_INPUT, "--save-outputs: outputs '%s:%d' and '%s:%d' would both be written to '%s'; fetch one of them with --output",
                    g->nodes[fetch[j].node]->name, fetch[j].port, g->nodes[fetch[k].node]->name, fetch[k].port, files[k]);
            goto done;
        }
    }
    for (int k = 0; k < n; k++)
        if (npy_save(files[k], &outs[k], err)) goto done;
    rc = 0;
done:
    for (int k = 0; k < n; k++) free(files[k]);
    free(files);
    return rc;
}

int cmd_run(int argc, char **argv) {
    Args a = {argc, argv, 1, "run"};
    const char *path = NULL, *save_dir = NULL, *v;
    const char *input_args[MAX_ITEMS], *output_names[MAX_ITEMS];
    int n_inputs = 0, n_out_names = 0, n_specs = 0;
    InputSpec specs[MAX_ITEMS];
    long long repeat = 1, seed = 1, threads = 0;
    bool json = false, bad = false, profile = false, use_ref = false, row = false;
    Plan *plan = NULL;
    double *node_ms = NULL, *node_sum = NULL;
    int rc = EXIT_OK;
    Graph *g = NULL;
    RefFeed feeds[MAX_ITEMS];
    int n_feeds = 0;
    ValueRef fetch[MAX_ITEMS];
    Tensor outs[MAX_ITEMS];
    int n_fetch = 0;
    double *ms = NULL;
    memset(outs, 0, sizeof outs);
    Err err = {0};

    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_flag(&a, "--json")) json = true;
        else if (arg_flag(&a, "--profile")) profile = true;
        else if (arg_flag(&a, "--markdown-row")) row = true;
        else if (arg_opt(&a, "--threads", &v, &bad)) { if (bad || !parse_int("run", "--threads", v, 0, 1024, &threads)) goto usage; }
        else if (arg_opt(&a, "--input", &v, &bad)) {
            if (bad) goto usage;
            if (n_inputs == MAX_ITEMS) { rc = cli_usage_error("run", "too many --input"); goto done; }
            input_args[n_inputs++] = v;
        } else if (arg_opt(&a, "--input-shape", &v, &bad)) {
            if (bad || n_specs == MAX_ITEMS || !parse_input_shape("run", v, &specs[n_specs])) goto usage;
            n_specs++;
        } else if (arg_opt(&a, "--output", &v, &bad)) {
            if (bad) goto usage;
            if (n_out_names == MAX_ITEMS) { rc = cli_usage_error("run", "too many --output"); goto done; }
            output_names[n_out_names++] = v;
        } else if (arg_opt(&a, "--save-outputs", &save_dir, &bad)) { if (bad) goto usage; }
        else if (arg_opt(&a, "--repeat", &v, &bad)) { if (bad || !parse_int("run", "--repeat", v, 1, 100000, &repeat)) goto usage; }
        else if (arg_opt(&a, "--seed", &v, &bad)) { if (bad || !parse_int("run", "--seed", v, 0, 1LL << 62, &seed)) goto usage; }
        else if (arg_opt(&a, "--max-loop-iterations", &v, &bad)) {
            long long it;
            if (bad || !parse_int("run", "--max-loop-iterations", v, 1, 1LL << 40, &it)) goto usage;
            ref_set_max_loop_iterations((long)it);
        }
        else if (arg_opt(&a, "--runtime", &v, &bad)) {
            if (bad) goto usage;
            if (!strcmp(v, "ref")) use_ref = true;
            else if (strcmp(v, "fast")) { rc = cli_usage_error("run", "--runtime '%s': choose fast or ref", v); goto done; }
        } else if (argv[a.i][0] == '-') { rc = cli_usage_error("run", "unknown option '%s'", argv[a.i]); goto done; }
        else if (!path) path = argv[a.i];
        else { rc = cli_usage_error("run", "unexpected argument '%s'", argv[a.i]); goto done; }
    }
    if (!path) { rc = cli_usage_error("run", "which model file?"); goto done; }

    g = cli_load_model(path, &err);
    if (!g) goto fail;
    /* .npy inputs: load them first, they fix their placeholder's shape */
    for (int k = 0; k < n_inputs; k++) {
        const char *eq = strchr(input_args[k], '=');
        if (!eq || eq == input_args[k]) { rc = cli_usage_error("run", "--input wants NAME=FILE.npy, got '%s'", input_args[k]); goto done; }
        char *name = strndup(input_args[k], (size_t)(eq - input_args[k]));
        feeds[n_feeds].name = name;
        if (npy_load(eq + 1, &feeds[n_feeds].value, &err)) { free(name); goto fail; }
        n_feeds++;
        if (n_specs == MAX_ITEMS) { rc = cli_usage_error("run", "too many inputs"); goto done; }
        specs[n_specs].name = strdup(name);
        specs[n_specs].shape = feeds[n_feeds - 1].value.shape;
        specs[n_specs].dtype = feeds[n_feeds - 1].value.dtype;
        n_specs++;
    }
    if (cli_prepare(g, specs, n_specs, &err)) { err_prefix(&err, "%s", path); goto fail; }
    /* generated inputs for every placeholder not fed */
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
        bool fed = false;
        for (int f = 0; f < n_feeds; f++) {
            size_t len = strlen(feeds[f].name);
            if (!strcmp(feeds[f].name, g->nodes[i]->name) ||
                (len > 2 && !strcmp(feeds[f].name + len - 2, ":0") && !strncmp(feeds[f].name, g->nodes[i]->name, len - 2) &&
                 g->nodes[i]->name[len - 2] == 0))
                fed = true;
        }
        if (fed) continue;
        if (n_feeds == MAX_ITEMS) { rc = cli_usage_error("run", "too many inputs"); goto done; }
        feeds[n_feeds].name = strdup(g->nodes[i]->name);
        if (input_generate(g, i, (uint64_t)seed, &feeds[n_feeds].value, &err)) { free((char *)feeds[n_feeds].name); goto fail; }
        n_feeds++;
    }
    if (n_out_names) {
        for (int k = 0; k < n_out_names; k++) {
            if (graph_parse_ref(g, output_names[k], &fetch[k], &err) || fetch[k].port < 0) { if (fetch[k].port < 0) err_set(&err, ERR_INPUT, "--output '%s' is not a tensor", output_names[k]); goto fail; }
            if (fetch[k].port >= g->nodes[fetch[k].node]->n_outputs) {
                err_set(&err, ERR_INPUT, "--output '%s': node has %d output(s)", output_names[k], g->nodes[fetch[k].node]->n_outputs);
                goto fail;
            }
        }
        n_fetch = n_out_names;
    } else {
        n_fetch = g->n_outputs < MAX_ITEMS ? g->n_outputs : MAX_ITEMS;
        memcpy(fetch, g->outputs, (size_t)n_fetch * sizeof *fetch);
    }
    if (n_fetch == 0) { err_set(&err, ERR_INPUT, "%s: the graph has no outputs; name one with --output", path); goto fail; }

    ms = malloc((size_t)repeat * sizeof *ms);
    node_ms = calloc((size_t)g->n_nodes + 1, sizeof *node_ms);
    node_sum = calloc((size_t)g->n_nodes + 1, sizeof *node_sum);
    if (!ms || !node_ms || !node_sum) { err_set(&err, ERR_RUNTIME, "out of memory"); goto fail; }
    RefStats st = {.node_ms = node_ms};
    PlanTiming pt = {.node_ms = node_ms};
    if (!use_ref) {
        PlanOpts po = {.threads = (int)threads};
        plan = plan_compile(g, fetch, n_fetch, &po, &err);
        if (!plan) { err_prefix(&err, "%s", path); goto fail; }
    }
    int runs = repeat > 1 ? (int)repeat + 1 : 1; /* one warm-up run when timing repeatedly */
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < n_fetch; k++) tensor_release(&outs[k]);
        double total;
        if (use_ref) {
            if (ref_run(g, feeds, n_feeds, fetch, n_fetch, outs, &st, &err)) { err_prefix(&err, "%s", path); goto fail; }
            total = st.total_ms;
        } else {
            if (plan_run(plan, feeds, n_feeds, outs, &pt, &err)) { err_prefix(&err, "%s", path); goto fail; }
            total = pt.total_ms;
        }
        if (runs == 1 || r > 0) {
            ms[runs == 1 ? 0 : r - 1] = total;
            for (int i = 0; i < g->n_nodes; i++) node_sum[i] += node_ms[i];
        }
    }
    Summary t = stats_summarize(ms, (int)repeat);
    const char *rt_name = use_ref ? "ref" : "fast";

    if (save_dir) {
        if (mkdir(save_dir, 0777) && errno != EEXIST) { err_set(&err, ERR_INPUT, "cannot create directory '%s': %s", save_dir, strerror(errno)); goto fail; }
        if (save_outputs(save_dir, g, fetch, outs, n_fetch, &err)) goto fail;
    }
    char sb[96], b1[32];
    if (row) {
        /* one row for bench/RESULTS.md: | model | runtime | threads | median | min | max | 95% CI | GFLOP/s | peak memory | */
        double gf = (double)graph_flops(g) / (t.median * 1e6);
        size_t mem = plan ? plan_peak_bytes(plan) : st.peak_bytes + st.weight_bytes;
        /* the reference runtime is single-threaded; 0 threads on the fast runtime means all cores */
        char th[24];
        if (use_ref) snprintf(th, sizeof th, "1");
        else if (threads) snprintf(th, sizeof th, "%lld", threads);
        else snprintf(th, sizeof th, "all");
        printf("| %s | %s | %s | %.2f | %.2f | %.2f | ±%.2f | %.1f | %s |\n", path, rt_name, th, t.median, t.min, t.max, t.ci95, gf,
               fmt_bytes((double)mem, sb, sizeof sb));
        goto done;
    }
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *jouts = json ? cJSON_AddArrayToObject(root, "outputs") : NULL;
    if (!json) printf("%-40s %-9s %-18s %12s %12s %12s\n", "output", "dtype", "shape", "min", "max", "mean");
    for (int k = 0; k < n_fetch; k++) {
        char nb[1024], raw[1024];
        snprintf(raw, sizeof raw, "%s:%d", g->nodes[fetch[k].node]->name, fetch[k].port);
        str_escape(nb, sizeof nb, raw);
        double mn, mx, mean;
        int64_t nonfinite;
        tensor_stats(&outs[k], &mn, &mx, &mean, &nonfinite);
        if (json) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", nb);
            cJSON_AddStringToObject(e, "dtype", dtype_name(outs[k].dtype));
            cJSON *dims = cJSON_AddArrayToObject(e, "shape");
            for (int d = 0; d < outs[k].shape.rank; d++) cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)outs[k].shape.dim[d]));
            cJSON_AddNumberToObject(e, "min", mn);
            cJSON_AddNumberToObject(e, "max", mx);
            cJSON_AddNumberToObject(e, "mean", mean);
            cJSON_AddNumberToObject(e, "non_finite", (double)nonfinite);
            cJSON_AddItemToArray(jouts, e);
        } else {
            printf("%-40s %-9s %-18s %12.6g %12.6g %12.6g%s\n", nb, dtype_name(outs[k].dtype), shape_str(&outs[k].shape, sb, sizeof sb), mn, mx,
                   mean, nonfinite ? "  (non-finite values!)" : "");
        }
    }
    if (json) {
        cJSON *jt = cJSON_AddObjectToObject(root, "time_ms");
        cJSON_AddNumberToObject(jt, "median", t.median);
        cJSON_AddNumberToObject(jt, "min", t.min);
        cJSON_AddNumberToObject(jt, "max", t.max);
        cJSON_AddNumberToObject(jt, "mean", t.mean);
        cJSON_AddNumberToObject(jt, "ci95", t.ci95);
        cJSON_AddNumberToObject(jt, "repeats", t.n);
        cJSON_AddStringToObject(root, "runtime", rt_name);
        cJSON_AddNumberToObject(root, "threads", (double)threads);
        if (plan) {
            cJSON_AddNumberToObject(root, "peak_bytes", (double)plan_peak_bytes(plan));
            cJSON_AddNumberToObject(root, "arena_bytes", (double)plan_arena_bytes(plan));
            cJSON_AddNumberToObject(root, "weight_bytes", (double)plan_weight_bytes(plan));
            cJSON_AddNumberToObject(root, "scratch_bytes", (double)plan_scratch_bytes(plan));
            cJSON_AddNumberToObject(root, "dynamic_bytes", (double)plan_dynamic_bytes(plan));
        } else {
            cJSON_AddNumberToObject(root, "peak_activation_bytes", (double)st.peak_bytes);
            cJSON_AddNumberToObject(root, "weight_bytes", (double)st.weight_bytes);
        }
        cJSON_AddNumberToObject(root, "flops", (double)graph_flops(g));
        char *s = cJSON_Print(root);
        printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(root);
    } else {
        if (t.n > 1)
            printf("\ntime (%s runtime, %d runs after 1 warm-up): median %.2f ms, min %.2f, max %.2f, mean %.2f ± %.2f (95%% CI)\n",
                   rt_name, t.n, t.median, t.min, t.max, t.mean, t.ci95);
        else
            printf("\ntime (%s runtime, 1 run, no warm-up): %.2f ms\n", rt_name, t.median);
        printf("%.1f GFLOP/s at the median\n", (double)graph_flops(g) / (t.median * 1e6));
        if (plan) {
            char b2[32], b3[32];
            printf("memory: peak %s = arena %s + weights %s + scratch %s", fmt_bytes((double)plan_peak_bytes(plan), sb, sizeof sb),
                   fmt_bytes((double)plan_arena_bytes(plan), b1, sizeof b1), fmt_bytes((double)plan_weight_bytes(plan), b2, sizeof b2),
                   fmt_bytes((double)plan_scratch_bytes(plan), b3, sizeof b3));
            PlanInfo info;
            plan_info(plan, &info);
            if (info.dynamic_steps)
                printf(" + dynamic %s (measured: %d nodes with run-time shapes, outside the arena)",
                       fmt_bytes((double)plan_dynamic_bytes(plan), b3, sizeof b3), info.dynamic_steps);
            printf("\n");
        } else {
            printf("peak activations %s, weights %s\n", fmt_bytes((double)st.peak_bytes, sb, sizeof sb), fmt_bytes((double)st.weight_bytes, b1, sizeof b1));
        }
        if (profile) cli_print_profile(g, plan, node_sum, t.n, (int)threads, t.median);
    }
    goto done;
usage:
    rc = EXIT_USAGE;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    for (int k = 0; k < n_fetch; k++) tensor_release(&outs[k]);
    for (int f = 0; f < n_feeds; f++) { free((char *)feeds[f].name); tensor_release(&feeds[f].value); }
    for (int k = 0; k < n_specs; k++) free((char *)specs[k].name);
    free(ms);
    free(node_ms);
    free(node_sum);
    plan_free(plan);
    graph_free(g);
    return rc;
}
