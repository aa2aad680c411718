/* cmd_sensitivity.c - `grappo sensitivity MODEL`: every int8-quantizable node quantized alone,
 * judged against the fp32 input and ranked (src/optimize/sensitivity.c), printed as a table
 * or as JSON; and the table printer the optimize output shares. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../optimize/sensitivity.h"
#include "../report/sensitivity_report.h"

#include "cli.h"
#include "progress.h"

#define MAX_SPECS 64

static void help(void) {
    OptimizeOpts d = optimize_opts_default();
    printf("usage: grappo sensitivity MODEL [--json] [--top N] [--calibration DIR] [--calib-method percentile|minmax]\n"
           "                          [--eval DIR] [--labels FILE] [--resize H,W] [--mean A,B,C] [--std A,B,C] [--layout nhwc|nchw]\n"
           "                          [--max-accuracy-drop X] [--eval-batches N] [--threads N]\n"
           "                          [--cost measured|roofline] [--cost-cache DIR] [--input-shape NAME=D,...]\n"
           "                          [--time-budget DURATION]\n"
           "\n"
           "Ranks the nodes grappler+int8 would quantize by how much quantizing each one ALONE costs\n"
           "in accuracy. The model is calibrated (as grappo optimize does: --calibration DIR, else %d\n"
           "generated batches) and put through the grappler pipeline; then each quantizable node is\n"
           "quantized by itself (int8; 7-bit weights on CPUs without VNNI, as grappler+int8) and judged\n"
           "against the fp32 input on --eval-batches generated inputs (default %d) by the judge grappo\n"
           "optimize uses: top-1 agreement and worst cosine. 'acc. drop' is 1 - top-1 agreement (1 -\n"
           "cosine for models without a classifier output); 'alone ok' says whether that node alone\n"
           "stays within --max-accuracy-drop (default %g) and cosine >= %g. 'gain ms' is the kernel\n"
           "cost model's estimate (--cost measured: each kernel timed once and cached; roofline:\n"
           "computed) of the latency the node saves in int8, not a whole-graph timing. Most sensitive\n"
           "first. --time-budget (s, m, h) or Ctrl-C stops early: the nodes not judged are listed first.\n"
           "grappo optimize --search sensitivity uses this ranking to keep the fewest nodes fp32.\n",
           d.calib_batches, d.eval_batches, d.max_accuracy_drop, d.min_cosine);
    printf("With --eval DIR --labels FILE the judge is top-1 against your labels instead ('acc. drop' is\n"
           "then the top-1 lost).\n");
    fputs(cli_data_opts_help(), stdout);
}

void cli_print_sensitivity(const Sensitivity *x, int max_rows) {
    int rows = max_rows > 0 && max_rows < x->n ? max_rows : x->n;
    bool metric = false;
    for (int i = 0; i < x->n; i++) metric |= x->nodes[i].judged && x->nodes[i].judge.has_metric;
    int w = 4;
    for (int i = 0; i < rows; i++) {
        int l = (int)strlen(x->nodes[i].name);
        if (l > w) w = l;
    }
    if (w > 48) w = 48;
    printf("%4s  %-*s %-28s %10s %8s %8s %9s %s\n", "#", w, "node", "op", metric ? "metric -" : "acc. drop", "top-1", "cosine",
           "gain ms", x->searched ? "kept" : "alone ok");
    for (int i = 0; i < rows; i++) {
        const SensitivityNode *n = &x->nodes[i];
        const char *last = x->searched ? (n->kept_fp32 ? "fp32" : x->variant) : n->judge.ok ? "yes" : "no";
        if (!n->judged) {
            printf("%4d  %-*.*s %-28.28s %10s %8s %8s %9s %s\n", i + 1, w, w, n->name, n->op, "-", "-", "-", "-",
                   x->searched ? last : "not judged");
            continue;
        }
        char top1[16];
        if (n->judge.acc.top1_agreement >= 0) snprintf(top1, sizeof top1, "%.2f%%", 100 * n->judge.acc.top1_agreement);
        else snprintf(top1, sizeof top1, "-");
        printf("%4d  %-*.*s %-28.28s %10.4g %8s %8.5f %9.4f %s\n", i + 1, w, w, n->name, n->op, n->judge.drop, top1,
               n->judge.acc.min_cosine, n->gain_ms, last);
    }
    if (rows < x->n) printf("(%d more nodes; --top 0 shows all)\n", x->n - rows);
    printf("%d of %d quantizable nodes judged alone (%s); gain ms: %s kernel cost model, fp32 estimate %.3f ms\n", x->judged, x->n,
           x->variant, x->cost ? x->cost : "-", x->fp32_ms);
    if (x->searched) {
        const OptimizeJudgement *a = &x->all_int8;
        printf("all %d nodes %s: accuracy drop %.4g, cosine %.5f: %s; kept fp32: %d node%s\n", x->n, x->variant, a->drop,
               a->acc.min_cosine, a->ok ? "within the budget" : "outside the budget", x->reverted, x->reverted == 1 ? "" : "s");
    }
}

/* the progress line (a terminal only) and Ctrl-C: non-zero stops the ranking */
static int progress_or_interrupt(const char *what, int done, int total, void *user) {
    CliProgress *p = user;
    if (p->on) cli_progress_optimize(what, done, total, p);
    return cli_interrupted();
}

int cmd_sensitivity(int argc, char **argv) {
    Args a = {argc, argv, 1, "sensitivity"};
    OptimizeOpts o = optimize_opts_default();
    const char *in_path = NULL, *calib_method = "percentile", *cost_kind = "measured", *v;
    long long threads = o.threads, eval_batches = o.eval_batches, top = 30;
    bool json_out = false, bad = false;
    InputSpec specs[MAX_SPECS];
    int n_specs = 0, rc = EXIT_OK;
    Graph *orig = NULL;
    OptimizeSession *s = NULL;
    Sensitivity *x = NULL;
    Err err = {0};
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_flag(&a, "--json")) json_out = true;
        else if (cli_data_opt(&a, &o, &bad)) {}
        else if (arg_opt(&a, "--calib-method", &calib_method, &bad)) {}
        else if (arg_opt(&a, "--cost", &cost_kind, &bad)) {}
        else if (arg_opt(&a, "--cost-cache", &o.cost_cache, &bad)) {}
        else if (arg_opt(&a, "--top", &v, &bad)) { if (bad || !parse_int("sensitivity", "--top", v, 0, 1000000, &top)) goto usage; }
        else if (arg_opt(&a, "--threads", &v, &bad)) { if (bad || !parse_int("sensitivity", "--threads", v, 0, 1024, &threads)) goto usage; }
        else if (arg_opt(&a, "--eval-batches", &v, &bad)) { if (bad || !parse_int("sensitivity", "--eval-batches", v, 1, 10000, &eval_batches)) goto usage; }
        else if (arg_opt(&a, "--time-budget", &v, &bad)) {
            if (bad || !parse_duration(v, &o.time_budget_s)) { rc = cli_usage_error("sensitivity", "--time-budget wants a duration such as 90s, 10m or 1.5h"); goto done; }
        } else if (arg_opt(&a, "--max-accuracy-drop", &v, &bad)) {
            if (bad || !parse_accuracy_drop(v, &o.max_accuracy_drop)) { rc = cli_usage_error("sensitivity", ACCURACY_DROP_USAGE); goto done; }
        } else if (arg_opt(&a, "--input-shape", &v, &bad)) {
            if (bad || n_specs == MAX_SPECS || !parse_input_shape("sensitivity", v, &specs[n_specs])) goto usage;
            n_specs++;
        } else if (argv[a.i][0] == '-') { rc = cli_usage_error("sensitivity", "unknown option '%s'", argv[a.i]); goto done; }
        else if (!in_path) in_path = argv[a.i];
        else { rc = cli_usage_error("sensitivity", "unexpected argument '%s'", argv[a.i]); goto done; }
        if (bad) goto usage;
    }
    if (!in_path) { rc = cli_usage_error("sensitivity", "which model file?"); goto done; }
    if (strcmp(calib_method, "percentile") && strcmp(calib_method, "minmax")) {
        rc = cli_usage_error("sensitivity", "--calib-method is percentile or minmax, not '%s'", calib_method);
        goto done;
    }
    if (strcmp(cost_kind, "measured") && strcmp(cost_kind, "roofline")) {
        rc = cli_usage_error("sensitivity", "--cost is measured or roofline, not '%s'", cost_kind);
        goto done;
    }
    o.method = OPTIMIZE_SENSITIVITY;
    o.calib_method = !strcmp(calib_method, "minmax") ? CALIB_MINMAX : CALIB_PERCENTILE;
    o.cost_roofline = !strcmp(cost_kind, "roofline");
    o.threads = (int)threads;
    o.eval_batches = (int)eval_batches;
    if (optimize_opts_check(&o, &err)) { rc = cli_usage_error("sensitivity", "%s", err.msg); goto done; }
    orig = cli_load_model(in_path, &err);
    if (!orig) goto fail;
    if (cli_prepare(orig, specs, n_specs, &err)) { err_prefix(&err, "%s", in_path); goto fail; }
    CliProgress meter;
    cli_progress_init(&meter);
    o.progress = progress_or_interrupt;
    o.progress_user = &meter;
    if (optimize_session_open(orig, &o, &s, &err)) goto fail;
    cli_interrupt_install();
    int run_rc = sensitivity_rank(s, &x, &err);
    cli_interrupt_remove();
    cli_progress_clear(&meter);
    if (run_rc) goto fail;
    if (json_out) {
        cJSON *j = sensitivity_to_json(x);
        if (j) {
            cJSON_AddStringToObject(j, "input", in_path);
            cJSON_AddNumberToObject(j, "eval_batches", optimize_session_eval(s)->n_batches);
        }
        char *text = j ? cJSON_Print(j) : NULL;
        cJSON_Delete(j);
        if (!text) { err_set(&err, ERR_RUNTIME, "out of memory"); goto fail; }
        printf("%s\n", text);
        free(text);
    } else {
        printf("%s: per-node sensitivity, each node quantized alone, judged on %d %s evaluation batches against the fp32 input\n\n",
               in_path, optimize_session_eval(s)->n_batches, o.eval_dir || o.eval_inputs ? "given" : "generated");
        cli_print_sensitivity(x, (int)top);
        if (x->judged < x->n) printf("stopped early (%s): the nodes not judged are listed first\n", cli_interrupted() ? "Ctrl-C" : "the time budget");
    }
    goto done;
usage:
    rc = EXIT_USAGE;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    sensitivity_free(x);
    optimize_session_close(s);
    graph_free(orig);
    for (int k = 0; k < n_specs; k++) free((char *)specs[k].name);
    return rc;
}
