/* cmd_optimize.c - `grappo optimize IN.pb -o OUT.pb`: argument parsing and printing around
 * optimize_run (src/optimize: method dispatch, calibration, measurement, the keep/refuse
 * verdict). Checks every output path before any work; at the end writes the result (checked
 * to reproduce the optimized graph's outputs) and the JSON report (src/report/optimize_report.c)
 * together, or neither. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../io/atomic_file.h"
#include "../io/pbtxt.h"
#include "../io/saved_model.h"
#include "../optimize/sensitivity.h"
#include "../report/optimize_report.h"
#include "../runtime/dnn_common.h"

#include "cli.h"
#include "progress.h"

#define MAX_SPECS 64

static void help(void) {
    OptimizeOpts d = optimize_opts_default();
    printf("usage: grappo optimize IN.pb -o OUT.pb [--search grappler|grappler+int8|grappler+bf16|greedy|random|ppo|ppo+bo|sensitivity|rules:R1,...]\n"
           "                       [--target tf|grappo] [--json] [--fail-if-unchanged]\n"
           "                       [--calibration DIR] [--max-accuracy-drop X] [--report FILE.json] [--budget N]\n"
           "                       [--seed S] [--exact-only] [--calib-method percentile|minmax] [--markdown-row]\n"
           "                       [--input-shape NAME=D,...] [--threads N] [--repeats N] [--eval-batches N]\n"
           "                       [--policy FILE] [--episodes N] [--tune-episodes N] [--cost measured|roofline]\n"
           "                       [--cost-cache DIR] [--trials N] [--objective latency|memory]\n"
           "                       [--memory-budget BYTES] [--latency-budget MS] [--bo-batch N]\n"
           "                       [--format pb|pbtxt|saved_model] [--eval DIR] [--labels FILE] [--resize H,W]\n"
           "                       [--mean A,B,C] [--std A,B,C] [--layout nhwc|nchw]\n"
           "                       [--time-budget DURATION] [--allow-unmeasured]\n"
           "\n"
           "IN may be a frozen GraphDef, a SavedModel directory or a TensorFlow.js model.json. The result\n"
           "is a frozen GraphDef, or a SavedModel directory (frozen graph + serving_default signature with\n"
           "the input's names) when --format saved_model, when OUT ends in '/', or when IN is a SavedModel.\n"
           "OUT ending in .pbtxt (or --format pbtxt) gets a GraphDef in protobuf text format.\n"
           "\n"
           "Rewrites the graph with a fixed pipeline and measures it against the input:\n"
           "  grappler        TensorFlow's default Grappler passes on an inference graph, then grappo's\n"
           "                  exact fusions (LayerNorm, GELU, attention; not under --target tf) (exact)\n"
           "  grappler+int8   the same, then every eligible conv/matmul quantized to int8 after\n"
           "                  calibration (on CPUs without VNNI: 7-bit weights, said in the output)\n"
           "  grappler+bf16   grappler with batch norms folded first, then every conv/matmul in\n"
           "                  bfloat16 (CPUs without bf16 kernels: grappler only, said in the output)\n"
           "  greedy          repeatedly apply the rewrite that most improves the measured objective\n"
           "                  ln(latency) + 0.1 ln(memory) + 10 (accuracy drop), until none does\n"
           "  random          random legal rewrite sequences, keep the best\n"
           "  ppo             the trained policy (--policy, default policies/default.bin): --episodes\n"
           "                  rollouts on the cost model (default %d; the first one greedy), optionally\n"
           "                  after --tune-episodes PPO episodes of fine-tuning on this graph; the\n"
           "                  best estimated states are then measured for real within --budget\n"
           "  ppo+bo          Bayesian optimization of the reward weights w for a target: --trials N\n"
           "                  (default %d) runs of ppo, each with the policy conditioned on the w a\n"
           "                  Gaussian process + constrained expected improvement suggests, its\n"
           "                  result measured for real; minimizes --objective latency (default) or\n"
           "                  memory subject to --max-accuracy-drop and the optional budgets\n"
           "                  --memory-budget (bytes; suffixes KB MB GB = 1000^k, KiB MiB GiB = 1024^k)\n"
           "                  and --latency-budget (ms); prints the trial table and returns the best\n"
           "                  trial meeting them. --budget is shared by the trials: each searches\n"
           "                  with max(2, budget/trials - 1) graph evaluations, plus one to measure.\n"
           "                  Under mpirun -np K the trials are spread over the K processes: BO\n"
           "                  suggests --bo-batch points at a time (default K); rank 0 measures the\n"
           "                  kept trial's graph and writes the outputs\n"
           "  sensitivity     grappler, then every int8-quantizable node quantized except the fewest most\n"
           "                  sensitive ones the accuracy budget needs: each node quantized alone is judged\n"
           "                  (its accuracy change; its latency gain from the kernel cost model, --cost),\n"
           "                  all int8 first, then the top-k kept fp32 with k found by bisection; prints\n"
           "                  the per-node table (grappo sensitivity prints it alone)\n"
           "  rules:R1,R2,... the named rules in order, each to exhaustion, to a fixed point\n"
           "greedy, random, ppo (and ppo+bo) spend at most --budget graph evaluations (default %d); they may use\n"
           "precision rules (after calibration) unless --exact-only or --target tf. On CPUs without bf16\n"
           "support (below AVX-512) greedy and random do not try bf16_compute: it runs on reference kernels.\n"
           "Calibration: --calibration DIR reads DIR/<input>_<k>.npy (k = 0, 1, ...; '/' and ':' in\n"
           "the input name become '_'), else %d generated batches; ranges are the 99.99th percentile of\n"
           "|x| (--calib-method percentile, default) or min/max.\n"
           "--target tf keeps to rewrites whose ops stock TensorFlow runs (default: grappo ops too).\n"
           "Latency: median of --repeats runs (default %d) of both graphs alternately on the fast\n"
           "runtime, each right after an untimed run of the same graph. Accuracy: fidelity to the input graph on --eval-batches generated inputs\n"
           "(default %d): top-1 agreement >= 1 - X (X = --max-accuracy-drop, default %g) and cosine\n"
           "similarity >= %g. A result slower than the input, or outside the budget, is not\n"
           "returned: the input graph is written instead, and the report says why.\n"
           "The last line says the outcome: RESULT: <x faster, x smaller (input / result)>, the accuracy\n"
           "kept, whether the output runs in stock TensorFlow; or RESULT: unchanged - <reason>.\n"
           "--json prints the report (the --report JSON) on stdout instead of the table (--report -\n"
           "too); --fail-if-unchanged exits with status 3 when the input graph was returned.\n"
           "--max-accuracy-drop takes a fraction below 1 or a percentage (0.01 = 1%%).\n"
           "--time-budget 10m (s, m or h; a plain number is seconds): a search stops spending evaluations\n"
           "after that long from the start and keeps the best graph so far that met the budget; Ctrl-C\n"
           "during a search does the same (a second Ctrl-C ends grappo at once). The output and the\n"
           "RESULT line say how far it got.\n"
           "A graph holding ops grappo cannot execute is refused (the error names them all, with counts);\n"
           "--allow-unmeasured (--search grappler only) applies the exact rewrites anyway, none of which\n"
           "changes those nodes, writes the graph and says it was NOT MEASURED (RESULT line; \"measured\":\n"
           "false in the JSON); --fail-if-unchanged still exits 3 when no rewrite applied.\n",
           d.episodes, d.trials, d.budget, d.calib_batches, d.repeats, d.eval_batches, d.max_accuracy_drop, d.min_cosine);
    fputs(cli_data_opts_help(), stdout);
}

/* the ppo+bo trial table: one row per trial, the kept one marked */
static void print_bo_table(const OptimizeProduct *p, const char *objective) {
    printf("Bayesian optimization of the reward weights: minimize %s subject to", objective);
    for (int k = 0; k < p->n_constraints; k++) printf("%s %s", k ? "," : "", p->constraint_names[k]);
    printf("\n%5s %4s %6s %6s %6s %11s %10s %9s %8s %5s %10s\n", "trial", "rank", "w_lat", "w_mem", "w_acc", "latency ms", "memory",
           "accuracy", "feasible", "evals", "EI");
    int kept = p->best_trial >= 0 ? p->best_trial : -1 - p->best_trial;
    for (int i = 0; i < p->n_trials; i++) {
        const BoAgentTrial *t = &p->trials[i];
        char mem[32], acc[32], ei[32];
        fmt_bytes(t->eval.peak_bytes, mem, sizeof mem);
        if (t->eval.acc.top1_agreement >= 0) snprintf(acc, sizeof acc, "%.2f%%", 100 * t->eval.acc.top1_agreement);
        else snprintf(acc, sizeof acc, "cos %.4f", t->eval.acc.min_cosine);
        if (isnan(t->bo.ei)) snprintf(ei, sizeof ei, "design");
        else snprintf(ei, sizeof ei, "%.3g", t->bo.ei);
        printf("%5d %4d %6.3f %6.3f %6.3f %11.3f %10s %9s %8s %5d %10s%s\n", i, t->rank, t->bo.w[0], t->bo.w[1], t->bo.w[2],
               t->eval.latency_ms, mem, acc, t->bo.ok ? "yes" : "no", t->evaluations, ei, i == kept ? "  <- kept" : "");
    }
    printf("(EI: the constrained expected improvement of ln %s when suggested; the probability of\n"
           " meeting the constraints while no trial had; design: initial points)\n\n", objective);
}

/* | model | method | latency before | after | speedup | peak memory before | after | top-1 | cosine | rules | wall s | returned | */
static void print_row(const OptimizeResult *r, const char *in_path, const char *search) {
    const LatencyResult *l0 = &r->before.lat, *l1 = &r->after.lat;
    if (r->unmeasured) {
        printf("| %s | %s | not measured | - | - | - | - | - | - | %d | %.0f | %s |\n", in_path, search, r->product.log.total, r->wall_s,
               r->keep ? "yes" : "no (input kept)");
        return;
    }
    char top1[32], b1[32], b2[32];
    if (r->acc.top1_agreement >= 0) snprintf(top1, sizeof top1, "%.2f%%", 100 * r->acc.top1_agreement);
    else snprintf(top1, sizeof top1, "-");
    bool int7 = r->opts.method == OPTIMIZE_GRAPPLER_INT8 && r->product.note[0];
    printf("| %s | %s%s | %.2f [%.2f, %.2f] | %.2f [%.2f, %.2f] | %.2fx | %s | %s | %s | %.5f | %d | %.0f | %s |\n", in_path, search,
           int7 ? " (7-bit)" : r->product.note[0] ? " (no bf16)" : "", l0->ms.median, l0->ms.min, l0->ms.max, l1->ms.median, l1->ms.min, l1->ms.max,
           l0->ms.median / l1->ms.median, fmt_bytes((double)l0->peak_bytes, b1, sizeof b1), fmt_bytes((double)l1->peak_bytes, b2, sizeof b2),
           top1, r->acc.min_cosine, r->product.log.total, r->wall_s, r->keep ? "yes" : "no (input kept)");
}

/* --allow-unmeasured on a graph grappo cannot execute: what was applied, and that nothing ran */
static void print_unmeasured(const OptimizeResult *r, const char *in_path, const char *out_path, const char *search) {
    const RewriteLog *log = &r->product.log;
    printf("%s -> %s: --search %s, --target %s, --allow-unmeasured\n\n", in_path, out_path, search, r->opts.target_tf ? "tf" : "grappo");
    printf("not measured: grappo cannot execute %s\n", r->unmeasured_why);
    printf("%-22s %22d %22d\n", "nodes (non-Const)", r->before.ops, r->after.ops);
    printf("rules applied (%d):", log->total);
    for (int k = 0; k < log->n; k++) printf(" %s×%d", log->v[k].rule, log->v[k].count);
    printf("\n%s (%.1f s)\n", r->verdict, r->wall_s);
    char line[1024];
    optimize_result_line(r, line, sizeof line);
    printf("%s\n", line);
}

static void print_table(const OptimizeResult *r, const char *in_path, const char *out_path, const char *search) {
    const OptimizeOpts *o = &r->opts;
    if (r->unmeasured) { print_unmeasured(r, in_path, out_path, search); return; }
    const LatencyResult *l0 = &r->before.lat, *l1 = &r->after.lat;
    const RewriteLog *log = &r->product.log;
    char b1[32], b2[32];
    /* the pipeline the CPU made optimize choose instead (int7 without VNNI, grappler without bf16) */
    const char *note = r->product.note;
    printf("%s -> %s: --search %s%s%s%s, --target %s\n\n", in_path, out_path, search, note[0] ? " (" : "", note, note[0] ? ")" : "",
           o->target_tf ? "tf" : "grappo");
    if (o->method == OPTIMIZE_PPO_BO) print_bo_table(&r->product, o->minimize_memory ? "memory" : "latency");
    printf("%-22s %22s %22s  %s\n", "", "input", "optimized", "input / optimized");
    char t0[64], t1[64];
    snprintf(t0, sizeof t0, "%.2f [%.2f, %.2f]", l0->ms.median, l0->ms.min, l0->ms.max);
    snprintf(t1, sizeof t1, "%.2f [%.2f, %.2f]", l1->ms.median, l1->ms.min, l1->ms.max);
    printf("%-22s %22s %22s %8.2fx faster\n", "latency ms med [min,max]", t0, t1, l0->ms.median / l1->ms.median);
    printf("%-22s %22s %22s %8.2fx smaller\n", "peak memory", fmt_bytes((double)l0->peak_bytes, b1, sizeof b1),
           fmt_bytes((double)l1->peak_bytes, b2, sizeof b2), (double)l0->peak_bytes / (double)l1->peak_bytes);
    int64_t wb0 = r->before.weight_bytes, wb1 = r->after.weight_bytes;
    printf("%-22s %22s %22s %8.2fx smaller\n", "weight bytes", fmt_bytes((double)wb0, b1, sizeof b1), fmt_bytes((double)wb1, b2, sizeof b2),
           wb1 ? (double)wb0 / (double)wb1 : 0.0);
    printf("%-22s %22d %22d\n", "nodes (non-Const)", r->before.ops, r->after.ops);
    if (r->acc.top1_agreement >= 0) printf("%-22s %22s %21.2f%%\n", "top-1 agreement", "-", 100 * r->acc.top1_agreement);
    printf("%-22s %22s %22.6f\n", "cosine (worst)", "-", r->acc.min_cosine);
    printf("%-22s %22s %22.3g\n", "relative L2 (worst)", "-", r->acc.max_rel_l2);
    if (r->has_labels) {
        printf("%-22s %21.2f%% %21.2f%% %+8.2f pp\n", "top-1 (labels)", 100 * r->labels_before.top1, 100 * r->labels_after.top1,
               100 * (r->labels_after.top1 - r->labels_before.top1));
        if (r->labels_after.top5 >= 0)
            printf("%-22s %21.2f%% %21.2f%% %+8.2f pp\n", "top-5 (labels)", 100 * r->labels_before.top5, 100 * r->labels_after.top5,
                   100 * (r->labels_after.top5 - r->labels_before.top5));
    }
    printf("\nlatency: %d alternating runs each after one warm-up, each right after an untimed run of the same graph, %s threads; accuracy on %d %s batches\n", o->repeats,
           o->threads ? "given" : "all", r->eval->n_batches, o->eval_inputs || o->eval_dir ? "given" : "generated");
    if (r->has_labels) {
        char lab[160];
        labelled_summary(&r->labels_before, &r->labels_after, r->labelled_images, lab, sizeof lab);
        printf("accuracy budget judged on labels (%s): %s\n", o->labels_path, lab);
    }
    if (r->calib_generated)
        printf("calibration: %d generated (noise) batches, not your data: give --calibration DIR (images or .npy)\n", o->calib_batches);
    if (optimize_method_is_search(o->method)) {
        char stop[160];
        optimize_stop_text(&r->product, stop, sizeof stop);
        printf("search: %d graph evaluations (budget %d), seed %llu%s%s\n", r->product.evaluations, o->budget, (unsigned long long)o->seed,
               stop[0] ? "; " : "", stop);
        const SearchTimes *t = &r->product.times;
        if (o->method == OPTIMIZE_PPO || o->method == OPTIMIZE_PPO_BO)
            printf("search time: rollouts %.1f s (accuracy %.1f s, kernel timing %.1f s), whole-graph timing %.1f s, accuracy %.1f s; "
                   "%d accuracy runs, %d reused (same precision choices); %d lone measurements reused; carried pipelines %.1f s\n",
                   t->rollout_s, t->env_accuracy_s, t->cost_timing_s, t->timing_s, t->accuracy_s, t->accuracy_runs, t->accuracy_hits,
                   t->evaluations_reused, r->product.carry_s);
    }
    if (r->product.sensitivity) {
        printf("\nPer-node sensitivity\n");
        cli_print_sensitivity(r->product.sensitivity, 0);
    }
    if (o->method == OPTIMIZE_PPO) {
        const AgentStats *a = &r->product.agent;
        printf("policy %s: %d episodes (%d env steps, %.1f s%s), %d distinct candidates, %d measured, %d refused on accuracy alone\n",
               r->policy_path, a->episodes, a->env_steps, a->rollout_s, o->tune_episodes ? ", after fine-tuning" : "", a->candidates,
               a->evaluated, a->refused);
    }
    printf("rules applied (%d):", log->total);
    for (int k = 0; k < log->n; k++) printf(" %s×%d", log->v[k].rule, log->v[k].count);
    printf("\n%s (%.1f s)\n", r->verdict, r->wall_s);
    char line[512];
    optimize_result_line(r, line, sizeof line);
    printf("%s\n", line);
}

/* the progress line (a terminal only, progress.h), and Ctrl-C handed to the library: non-zero
   stops a search, whose best graph so far is then measured and written */
static int progress_or_interrupt(const char *what, int done, int total, void *user) {
    CliProgress *p = user;
    if (p->on) cli_progress_optimize(what, done, total, p);
    return cli_interrupted();
}

int cmd_optimize(int argc, char **argv) {
    Args a = {argc, argv, 1, "optimize"};
    OptimizeOpts o = optimize_opts_default();
    const char *in_path = NULL, *out_path = NULL, *search = "grappler", *target = "grappo", *report = NULL, *v,
               *calib_method = "percentile", *cost_kind = "measured", *objective_name = "latency", *format = NULL;
    long long threads = o.threads, repeats = o.repeats, eval_batches = o.eval_batches, budget = o.budget, seed = (long long)o.seed,
              episodes = o.episodes, tune_episodes = o.tune_episodes, trials = o.trials, bo_batch = 0;
    bool row = false, json_out = false, fail_if_unchanged = false;
    InputSpec specs[MAX_SPECS];
    int n_specs = 0, rc = EXIT_OK;
    bool bad = false;
    Graph *orig = NULL;
    OptimizeResult *res = NULL;
    Dist *dist = NULL;
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    char *json = NULL;
    Err err = {0};
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_opt(&a, "-o", &out_path, &bad) || arg_opt(&a, "--output", &out_path, &bad)) {}
        else if (arg_opt(&a, "--search", &search, &bad)) {}
        else if (arg_opt(&a, "--format", &format, &bad)) {}
        else if (arg_opt(&a, "--target", &target, &bad)) {}
        else if (cli_data_opt(&a, &o, &bad)) {}
        else if (arg_opt(&a, "--calib-method", &calib_method, &bad)) {}
        else if (arg_opt(&a, "--policy", &o.policy_path, &bad)) {}
        else if (arg_opt(&a, "--cost", &cost_kind, &bad)) {}
        else if (arg_opt(&a, "--cost-cache", &o.cost_cache, &bad)) {}
        else if (arg_opt(&a, "--episodes", &v, &bad)) { if (bad || !parse_int("optimize", "--episodes", v, 1, 100000, &episodes)) goto usage; }
        else if (arg_opt(&a, "--tune-episodes", &v, &bad)) { if (bad || !parse_int("optimize", "--tune-episodes", v, 0, 1000000, &tune_episodes)) goto usage; }
        else if (arg_opt(&a, "--report", &report, &bad)) {}
        else if (arg_opt(&a, "--objective", &objective_name, &bad)) {}
        else if (arg_opt(&a, "--trials", &v, &bad)) { if (bad || !parse_int("optimize", "--trials", v, 1, BO_MAX_TRIALS, &trials)) goto usage; }
        else if (arg_opt(&a, "--bo-batch", &v, &bad)) { if (bad || !parse_int("optimize", "--bo-batch", v, 1, 64, &bo_batch)) goto usage; }
        else if (arg_opt(&a, "--memory-budget", &v, &bad)) {
            size_t mb = 0;
            if (!bad && parse_byte_size(v, &mb)) o.memory_budget_bytes = (double)mb;
            if (bad || !mb) { rc = cli_usage_error("optimize", "--memory-budget wants bytes such as 20000000, 20MB or 20MiB"); goto done; }
        } else if (arg_opt(&a, "--latency-budget", &v, &bad)) {
            char *end;
            o.latency_budget_ms = bad ? 0 : strtod(v, &end);
            if (bad || *end || !(o.latency_budget_ms > 0) || !isfinite(o.latency_budget_ms)) { rc = cli_usage_error("optimize", "--latency-budget wants milliseconds > 0"); goto done; }
        }
        else if (arg_flag(&a, "--exact-only")) o.exact_only = true;
        else if (arg_flag(&a, "--markdown-row")) row = true;
        else if (arg_flag(&a, "--json")) json_out = true;
        else if (arg_flag(&a, "--allow-unmeasured")) o.allow_unmeasured = true;
        else if (arg_flag(&a, "--fail-if-unchanged")) fail_if_unchanged = true;
        else if (arg_opt(&a, "--time-budget", &v, &bad)) {
            if (bad || !parse_duration(v, &o.time_budget_s)) { rc = cli_usage_error("optimize", "--time-budget wants a duration such as 90s, 10m or 1.5h"); goto done; }
        } else if (arg_opt(&a, "--budget", &v, &bad)) { if (bad || !parse_int("optimize", "--budget", v, 1, 1000000, &budget)) goto usage; }
        else if (arg_opt(&a, "--seed", &v, &bad)) { if (bad || !parse_int("optimize", "--seed", v, 0, 1LL << 62, &seed)) goto usage; }
        else if (arg_opt(&a, "--threads", &v, &bad)) { if (bad || !parse_int("optimize", "--threads", v, 0, 1024, &threads)) goto usage; }
        else if (arg_opt(&a, "--repeats", &v, &bad)) { if (bad || !parse_int("optimize", "--repeats", v, 1, 100000, &repeats)) goto usage; }
        else if (arg_opt(&a, "--eval-batches", &v, &bad)) { if (bad || !parse_int("optimize", "--eval-batches", v, 1, 10000, &eval_batches)) goto usage; }
        else if (arg_opt(&a, "--max-accuracy-drop", &v, &bad)) {
            if (bad || !parse_accuracy_drop(v, &o.max_accuracy_drop)) { rc = cli_usage_error("optimize", ACCURACY_DROP_USAGE); goto done; }
        } else if (arg_opt(&a, "--input-shape", &v, &bad)) {
            if (bad || n_specs == MAX_SPECS || !parse_input_shape("optimize", v, &specs[n_specs])) goto usage;
            n_specs++;
        } else if (argv[a.i][0] == '-') { rc = cli_usage_error("optimize", "unknown option '%s'", argv[a.i]); goto done; }
        else if (!in_path) in_path = argv[a.i];
        else { rc = cli_usage_error("optimize", "unexpected argument '%s'", argv[a.i]); goto done; }
        if (bad) goto usage;
    }
    if (!in_path) { rc = cli_usage_error("optimize", "which model file?"); goto done; }
    if (!out_path) { rc = cli_usage_error("optimize", "missing -o OUT.pb"); goto done; }
    if (format && strcmp(format, "pb") && strcmp(format, "pbtxt") && strcmp(format, "saved_model")) { rc = cli_usage_error("optimize", "--format is pb, pbtxt or saved_model, not '%s'", format); goto done; }
    bool text_out = format ? !strcmp(format, "pbtxt") : pbtxt_is_text_path(out_path);
    /* a SavedModel out when asked, when OUT ends in '/', or when the input is a SavedModel directory */
    struct stat in_st;
    bool saved_model_out = format ? !strcmp(format, "saved_model")
                                  : !text_out && (out_path[strlen(out_path) - 1] == '/' || (!stat(in_path, &in_st) && S_ISDIR(in_st.st_mode)));
    if (strcmp(target, "tf") && strcmp(target, "grappo")) { rc = cli_usage_error("optimize", "--target is tf or grappo, not '%s'", target); goto done; }
    if (strcmp(objective_name, "latency") && strcmp(objective_name, "memory")) {
        rc = cli_usage_error("optimize", "--objective is latency or memory, not '%s'", objective_name);
        goto done;
    }
    if (strcmp(cost_kind, "measured") && strcmp(cost_kind, "roofline")) {
        rc = cli_usage_error("optimize", "--cost is measured or roofline, not '%s'", cost_kind);
        goto done;
    }
    /* rules:R1,R2,...: these rules in this order, each to exhaustion, repeated to a fixed point */
    char rule_buf[1024];
    const char *rule_names[64];
    int n_rule_names = 0;
    if (!strncmp(search, "rules:", 6)) {
        o.method = OPTIMIZE_RULES;
        snprintf(rule_buf, sizeof rule_buf, "%s", search + 6);
        for (char *tok = strtok(rule_buf, ","); tok && n_rule_names < 64; tok = strtok(NULL, ",")) {
            if (!rule_by_name(tok)) { rc = cli_usage_error("optimize", "no rule named '%s' (grappo rules lists them)", tok); goto done; }
            rule_names[n_rule_names++] = tok;
        }
        if (!n_rule_names) { rc = cli_usage_error("optimize", "--search rules: needs rule names"); goto done; }
        o.rules = rule_names;
        o.n_rules = n_rule_names;
    } else if (optimize_method_parse(search, &o.method) || o.method == OPTIMIZE_NONE) {
        rc = cli_usage_error("optimize", "--search '%s': choose %s", search, optimize_method_names());
        goto done;
    }
    if (strcmp(calib_method, "percentile") && strcmp(calib_method, "minmax")) {
        rc = cli_usage_error("optimize", "--calib-method is percentile or minmax, not '%s'", calib_method);
        goto done;
    }
    if (o.method != OPTIMIZE_PPO_BO && (o.memory_budget_bytes > 0 || o.latency_budget_ms > 0 || strcmp(objective_name, "latency"))) {
        rc = cli_usage_error("optimize", "--memory-budget, --latency-budget and --objective are targets of --search ppo+bo");
        goto done;
    }
    if (report && !strcmp(report, "-")) { json_out = true; report = NULL; } /* --report -: the JSON on stdout */
    if (json_out && row) { rc = cli_usage_error("optimize", "--json and --markdown-row both print the result: choose one"); goto done; }
    o.target_tf = !strcmp(target, "tf");
    o.minimize_memory = !strcmp(objective_name, "memory");
    o.cost_roofline = !strcmp(cost_kind, "roofline");
    o.calib_method = !strcmp(calib_method, "minmax") ? CALIB_MINMAX : CALIB_PERCENTILE;
    o.threads = (int)threads;
    o.repeats = (int)repeats;
    o.eval_batches = (int)eval_batches;
    o.budget = (int)budget;
    o.seed = (uint64_t)seed;
    o.episodes = (int)episodes;
    o.tune_episodes = (int)tune_episodes;
    o.trials = (int)trials;
    o.bo_batch = (int)bo_batch;
    if (optimize_opts_check(&o, &err)) { rc = cli_usage_error("optimize", "%s", err.msg); goto done; }

    /* MPI only under mpirun, and only ppo+bo has work to spread (its trials) */
    int world = dist_launched();
    if (world > 1 && o.method != OPTIMIZE_PPO_BO) {
        rc = cli_usage_error("optimize", "under mpirun only --search ppo+bo spreads its work (trials) over processes");
        goto done;
    }
    if (world > 1 && !dist_compiled()) {
        err_set(&err, ERR_INPUT, "launched by mpirun with %d ranks, but this grappo was built without MPI", world);
        goto fail;
    }
    if (world > 0 && dist_compiled() && !(dist = dist_init(&err))) goto fail;
    o.dist = dist;

    /* every output is checked before any work, and written only at the end, together */
    if (report && output_same_file(report, out_path)) { rc = cli_usage_error("optimize", "-o and --report name the same file '%s'", out_path); goto done; }
    if ((saved_model_out ? savedmodel_output_check(out_path, &err) : output_check(out_path, &err)) ||
        (report && output_check(report, &err)))
        goto fail;

    orig = cli_load_model(in_path, &err);
    if (!orig) goto fail;
    if (cli_prepare(orig, specs, n_specs, &err)) { err_prefix(&err, "%s", in_path); goto fail; }
    CliProgress meter;
    cli_progress_init(&meter); /* progress on a terminal only (progress.h) */
    o.progress = progress_or_interrupt;
    o.progress_user = &meter;
    cli_interrupt_install();
    int run_rc = optimize_run(orig, &o, &res, &err);
    cli_interrupt_remove();
    cli_progress_clear(&meter);
    if (run_rc) goto fail;
    if (res->new_cost_cache)
        fprintf(stderr, "grappo: kernel timings for this CPU and thread count are now cached in %s (delete it to time them again)\n",
                res->new_cost_cache);
    if (!res->product.root) goto done;
    if (optimize_result_serialize(res, &pb, &pb_len, &err)) goto fail;
    if (text_out) { /* the same GraphDef in text format */
        char *text;
        size_t text_len;
        if (pbtxt_from_graphdef(pb, pb_len, &text, &text_len, &err)) goto fail;
        free(pb);
        pb = (uint8_t *)text;
        pb_len = text_len;
    }
    if (report || json_out) {
        OptimizeReportNames names = {in_path, out_path, search};
        json = optimize_result_to_json(res, &names);
        if (!json) { err_set(&err, ERR_RUNTIME, "out of memory"); goto fail; }
    }
    OutputStage stage[2];
    int n_stage = 0;
    if (!saved_model_out) {
        if (output_stage(&stage[n_stage], out_path, pb, pb_len, &err)) goto fail;
        n_stage++;
    }
    if (report && output_stage(&stage[n_stage], report, json, strlen(json), &err)) { outputs_abort(stage, n_stage); goto fail; }
    n_stage += report != NULL;
    /* the SavedModel directory is built aside and renamed into place by savedmodel_save (the
       serialized GraphDef above was checked to reproduce the result); then the report */
    if (saved_model_out && savedmodel_save(res->graph, out_path, &err)) { outputs_abort(stage, n_stage); goto fail; }
    if (outputs_commit(stage, n_stage, &err)) goto fail;
    if (json_out) printf("%s\n", json);
    else if (row) print_row(res, in_path, search);
    else print_table(res, in_path, out_path, search);
    if (fail_if_unchanged && !res->keep) rc = EXIT_UNCHANGED;
    goto done;
usage:
    rc = EXIT_USAGE;
    goto done;
fail:
    if (dist_size(dist) > 1) err_prefix(&err, "rank %d", dist_rank(dist));
    rc = cli_fail(&err);
    /* the other ranks would wait forever in the next collective */
    if (dist_size(dist) > 1) dist_abort(dist, rc);
done:
    dist_finalize(dist);
    optimize_result_free(res);
    free(pb);
    free(json);
    graph_free(orig);
    for (int k = 0; k < n_specs; k++) free((char *)specs[k].name);
    return rc;
}
