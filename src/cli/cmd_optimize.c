/* cmd_optimize.c - `grappo optimize IN.pb -o OUT.pb`: rewrite with a fixed pipeline, measure
 * before and after (latency alternating on the fast runtime, memory, accuracy as fidelity to
 * the input graph), never return something slower or outside the accuracy budget, write the
 * result and a JSON report, and check that the written file gives the same outputs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../measure/measure.h"
#include "../rewrite/calibrate.h"
#include "../rewrite/pipeline.h"
#include "../runtime/dnn_common.h"
#include "../runtime/plan.h"
#include "../search/agent.h"
#include "../search/baselines.h"
#include "../search/bo.h"
#include "../search/dist.h"
#include "cli.h"

#define MAX_SPECS 64

static void help(void) {
    printf("usage: grappo optimize IN.pb -o OUT.pb [--search grappler|grappler+int8|greedy|random|ppo|ppo+bo]\n"
           "                       [--target tf|grappo]"
           "                       [--calibration DIR] [--max-accuracy-drop X] [--report FILE.json] [--budget N]\n"
           "                       [--seed S] [--exact-only] [--calib-method percentile|minmax] [--markdown-row]\n"
           "                       [--input-shape NAME=D,...] [--threads N] [--repeats N] [--eval-batches N]\n"
           "                       [--policy FILE] [--episodes N] [--tune-episodes N] [--cost measured|roofline]\n"
           "                       [--cost-cache DIR] [--trials N] [--objective latency|memory]\n"
           "                       [--memory-budget BYTES] [--latency-budget MS] [--bo-batch N]\n"
           "\n"
           "Rewrites the graph with a fixed pipeline and measures it against the input:\n"
           "  grappler        TensorFlow's default Grappler passes on an inference graph (exact)\n"
           "  grappler+int8   the same, then every eligible conv/matmul quantized to int8 after\n"
           "                  calibration (on CPUs without VNNI: 7-bit weights, said in the output)\n"
           "  greedy          repeatedly apply the rewrite that most improves the measured objective\n"
           "                  ln(latency) + 0.1 ln(memory) + 10 (accuracy drop), until none does\n"
           "  random          random legal rewrite sequences, keep the best\n"
           "  ppo             the trained policy (--policy, default policies/default.bin): --episodes\n"
           "                  rollouts on the cost model (default 16; the first one greedy), optionally\n"
           "                  after --tune-episodes PPO episodes of fine-tuning on this graph; the\n"
           "                  best estimated states are then measured for real within --budget\n"
           "  ppo+bo          Bayesian optimization of the reward weights w for a target: --trials N\n"
           "                  (default 12) runs of ppo, each with the policy conditioned on the w a\n"
           "                  Gaussian process + constrained expected improvement suggests, its\n"
           "                  result measured for real; minimizes --objective latency (default) or\n"
           "                  memory subject to --max-accuracy-drop and the optional budgets\n"
           "                  --memory-budget (bytes; suffixes KB MB GB = 1000^k, KiB MiB GiB = 1024^k)\n"
           "                  and --latency-budget (ms); prints the trial table and returns the best\n"
           "                  trial meeting them. --budget is shared by the trials: each searches\n"
           "                  with max(2, budget/trials - 1) graph evaluations, plus one to measure.\n"
           "                  Under mpirun -np K the trials are spread over the K processes: BO\n"
           "                  suggests --bo-batch points at a time (default K); rank 0 writes\n"
           "  rules:R1,R2,... the named rules in order, each to exhaustion, to a fixed point\n"
           "greedy, random, ppo (and ppo+bo) spend at most --budget graph evaluations (default 100); they may use\n"
           "precision rules (after calibration) unless --exact-only or --target tf. On CPUs without bf16\n"
           "support (below AVX-512) greedy and random do not try bf16_compute: it runs on reference kernels.\n"
           "Calibration: --calibration DIR reads DIR/<input>_<k>.npy (k = 0, 1, ...; '/' and ':' in\n"
           "the input name become '_'), else 8 generated batches; ranges are the 99.99th percentile of\n"
           "|x| (--calib-method percentile, default) or min/max.\n"
           "--target tf keeps to rewrites whose ops stock TensorFlow runs (default: grappo ops too).\n"
           "Latency: median of --repeats runs (default 20) of both graphs alternately on the fast\n"
           "runtime. Accuracy: fidelity to the input graph on --eval-batches generated inputs\n"
           "(default 16): top-1 agreement >= 1 - X (X = --max-accuracy-drop, default 0.01) and cosine\n"
           "similarity >= 0.99. A result slower than the input, or outside the budget, is not\n"
           "returned: the input graph is written instead, and the report says why.\n");
}

/* attributes grappo adds for its own bookkeeping (calibration ranges) are not written out */
static void strip_private_attrs(Graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        for (int k = n->n_attrs - 1; k >= 0; k--)
            if (!strncmp(n->attrs[k].name, "_grappo_", 8)) node_attr_remove(n, n->attrs[k].name);
    }
}

/* "20MiB", "1.5GB", "300000": bytes; false on anything else */
static bool parse_bytes(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0) || !isfinite(v)) return false;
    static const struct { const char *suffix; double scale; } units[] = {
        {"", 1},           {"B", 1},          {"K", 1e3},        {"KB", 1e3},       {"k", 1e3},  {"kB", 1e3},
        {"KiB", 1024.0},   {"M", 1e6},        {"MB", 1e6},       {"MiB", 1048576.0}, {"G", 1e9}, {"GB", 1e9},
        {"GiB", 1073741824.0},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].suffix)) { *out = v * units[i].scale; return true; }
    return false;
}

/* natural log (cmd_optimize's rewrite log is called `log`) */
static double ln(double x) { return log(x); }

static int count_ops(const Graph *g, int *n_ops) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i]->op != OP_CONST;
    *n_ops = g->n_nodes;
    return c;
}

/* a graph read back from a GraphDef: the outputs of `like` (found by name: a GraphDef does not
   record which tensors are outputs, loading takes the unread nodes in file order) and the
   input shapes of `like`'s placeholders (the file may leave dimensions unknown) */
static int adopt_interface(Graph *r, const Graph *like, const char *what, Err *err) {
    InputSpec specs[MAX_SPECS];
    int ns = 0;
    for (int i = 0; i < like->n_nodes && ns < MAX_SPECS; i++)
        if (like->nodes[i]->op == OP_PLACEHOLDER) specs[ns++] = (InputSpec){like->nodes[i]->name, like->nodes[i]->outputs[0].shape, DT_INVALID};
    r->n_outputs = 0;
    for (int k = 0; k < like->n_outputs; k++) {
        int i = graph_find(r, like->nodes[like->outputs[k].node]->name);
        if (i < 0) return err_set(err, ERR_RUNTIME, "%s lost output '%s'", what, like->nodes[like->outputs[k].node]->name);
        if (graph_add_output(r, (ValueRef){i, like->outputs[k].port}, err)) return -1;
    }
    return graph_infer(r, specs, ns, ref_eval_node, NULL, err);
}

/* reloads `path`, runs it and `g` on one batch: the written file must compute the same */
static int verify_written(const char *path, const Graph *g, const InputSet *in, int threads, Err *err) {
    Graph *r = graphdef_load(path, err);
    if (!r) return -1;
    int rc = -1;
    if (adopt_interface(r, g, path, err)) goto done;
    AccuracyResult acc;
    InputSet one = *in;
    one.n_batches = 1;
    if (accuracy_measure(g, r, &one, threads, &acc, err)) goto done;
    if (acc.max_abs_err != 0) {
        err_set(err, ERR_RUNTIME, "%s does not reproduce the optimized graph (max abs difference %g)", path, acc.max_abs_err);
        goto done;
    }
    rc = 0;
done:
    graph_free(r);
    return rc;
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
        if (!*g || adopt_interface(*g, orig, "the kept trial's graph", err)) goto done;
    }
    rc = 0;
done:
    free(bytes);
    return rc;
}

/* the ppo+bo trial table: one row per trial, the kept one marked */
static void print_bo_table(const BoAgentTrial *t, int n, int best, int nc, const char *const *names, const char *objective) {
    printf("Bayesian optimization of the reward weights: minimize %s subject to", objective);
    for (int k = 0; k < nc; k++) printf("%s %s", k ? "," : "", names[k]);
    printf("\n%5s %4s %6s %6s %6s %11s %10s %9s %8s %5s %10s\n", "trial", "rank", "w_lat", "w_mem", "w_acc", "latency ms", "memory",
           "accuracy", "feasible", "evals", "EI");
    int kept = best >= 0 ? best : -1 - best;
    for (int i = 0; i < n; i++) {
        char mem[32], acc[32], ei[32];
        fmt_bytes(t[i].eval.peak_bytes, mem, sizeof mem);
        if (t[i].eval.acc.top1_agreement >= 0) snprintf(acc, sizeof acc, "%.2f%%", 100 * t[i].eval.acc.top1_agreement);
        else snprintf(acc, sizeof acc, "cos %.4f", t[i].eval.acc.min_cosine);
        if (isnan(t[i].bo.ei)) snprintf(ei, sizeof ei, "design");
        else snprintf(ei, sizeof ei, "%.3g", t[i].bo.ei);
        printf("%5d %4d %6.3f %6.3f %6.3f %11.3f %10s %9s %8s %5d %10s%s\n", i, t[i].rank, t[i].bo.w[0], t[i].bo.w[1], t[i].bo.w[2],
               t[i].eval.latency_ms, mem, acc, t[i].bo.ok ? "yes" : "no", t[i].evaluations, ei, i == kept ? "  <- kept" : "");
    }
    printf("(EI: the constrained expected improvement of ln %s when suggested; the probability of\n"
           " meeting the constraints while no trial had; design: initial points)\n\n", objective);
}

static void add_bo_json(cJSON *o, const BoAgentTrial *t, int n, int best, int nc, const char *const *names, const char *objective,
                        double memory_budget, double latency_budget, double max_drop) {
    cJSON *bj = cJSON_AddObjectToObject(o, "bayesian_optimization");
    cJSON_AddStringToObject(bj, "objective", objective);
    cJSON_AddNumberToObject(bj, "max_accuracy_drop", max_drop);
    if (memory_budget > 0) cJSON_AddNumberToObject(bj, "memory_budget_bytes", memory_budget);
    if (latency_budget > 0) cJSON_AddNumberToObject(bj, "latency_budget_ms", latency_budget);
    cJSON_AddNumberToObject(bj, "best_trial", best >= 0 ? best : -1 - best);
    cJSON_AddBoolToObject(bj, "best_trial_feasible", best >= 0);
    cJSON *arr = cJSON_AddArrayToObject(bj, "trials");
    for (int i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "trial", i);
        cJSON_AddNumberToObject(r, "rank", t[i].rank);
        cJSON_AddNumberToObject(r, "w_lat", t[i].bo.w[0]);
        cJSON_AddNumberToObject(r, "w_mem", t[i].bo.w[1]);
        cJSON_AddNumberToObject(r, "w_acc", t[i].bo.w[2]);
        cJSON_AddNumberToObject(r, "latency_ms", t[i].eval.latency_ms);
        cJSON_AddNumberToObject(r, "peak_bytes", t[i].eval.peak_bytes);
        if (t[i].eval.acc.top1_agreement >= 0) cJSON_AddNumberToObject(r, "top1_agreement", t[i].eval.acc.top1_agreement);
        cJSON_AddNumberToObject(r, "min_cosine", t[i].eval.acc.min_cosine);
        cJSON_AddNumberToObject(r, "f", t[i].bo.f);
        cJSON *c = cJSON_AddObjectToObject(r, "constraints");
        for (int k = 0; k < nc; k++) cJSON_AddNumberToObject(c, names[k], t[i].bo.c[k]);
        cJSON_AddBoolToObject(r, "feasible", t[i].bo.ok);
        if (isnan(t[i].bo.ei)) cJSON_AddNullToObject(r, "ei");
        else cJSON_AddNumberToObject(r, "ei", t[i].bo.ei);
        cJSON_AddNumberToObject(r, "rewrites", t[i].rewrites);
        cJSON_AddNumberToObject(r, "evaluations", t[i].evaluations);
        cJSON_AddNumberToObject(r, "seconds", t[i].seconds);
        cJSON_AddItemToArray(arr, r);
    }
}

int cmd_optimize(int argc, char **argv) {
    Args a = {argc, argv, 1, "optimize"};
    const char *in_path = NULL, *out_path = NULL, *search = "grappler", *target = "grappo", *calib_dir = NULL, *report = NULL, *v,
               *calib_method = "percentile";
    long long threads = 0, repeats = 20, eval_batches = 16, budget = 100, seed = 1, episodes = 16, tune_episodes = 0;
    const char *policy_path = NULL, *cost_kind = "measured", *cost_cache = NULL;
    Policy *policy = NULL;
    char found[4096]; /* the default policy path, when not given */
    CostModel *cm = NULL;
    AgentStats astats = {0};
    long long trials = 12, bo_batch = 0;
    Dist *dist = NULL;
    bool root = true; /* rank 0 (or the only process): measures, prints and writes */
    const char *objective_name = "latency";
    double memory_budget = 0, latency_budget = 0;
    BoAgentTrial *bo_table = NULL;
    int bo_best_trial = -1, n_bo_constraints = 0;
    const char *bo_names[BO_MAX_CONSTRAINTS];
    bool exact_only = false, row = false;
    double t_start = 0;
    double max_drop = 0.01;
    InputSpec specs[MAX_SPECS];
    int n_specs = 0, rc = EXIT_OK;
    bool bad = false;
    Graph *orig = NULL, *cand = NULL;
    InputSet eval = {0};
    RefFeed **calib = NULL;
    int calib_n = 0, calib_feeds = 0;
    Err err = {0};
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_opt(&a, "-o", &out_path, &bad) || arg_opt(&a, "--output", &out_path, &bad)) {}
        else if (arg_opt(&a, "--search", &search, &bad)) {}
        else if (arg_opt(&a, "--target", &target, &bad)) {}
        else if (arg_opt(&a, "--calibration", &calib_dir, &bad)) {}
        else if (arg_opt(&a, "--calib-method", &calib_method, &bad)) {}
        else if (arg_opt(&a, "--policy", &policy_path, &bad)) {}
        else if (arg_opt(&a, "--cost", &cost_kind, &bad)) {}
        else if (arg_opt(&a, "--cost-cache", &cost_cache, &bad)) {}
        else if (arg_opt(&a, "--episodes", &v, &bad)) { if (bad || !parse_int("optimize", "--episodes", v, 1, 100000, &episodes)) goto usage; }
        else if (arg_opt(&a, "--tune-episodes", &v, &bad)) { if (bad || !parse_int("optimize", "--tune-episodes", v, 0, 1000000, &tune_episodes)) goto usage; }
        else if (arg_opt(&a, "--report", &report, &bad)) {}
        else if (arg_opt(&a, "--objective", &objective_name, &bad)) {}
        else if (arg_opt(&a, "--trials", &v, &bad)) { if (bad || !parse_int("optimize", "--trials", v, 1, BO_MAX_TRIALS, &trials)) goto usage; }
        else if (arg_opt(&a, "--bo-batch", &v, &bad)) { if (bad || !parse_int("optimize", "--bo-batch", v, 1, 64, &bo_batch)) goto usage; }
        else if (arg_opt(&a, "--memory-budget", &v, &bad)) {
            if (bad || !parse_bytes(v, &memory_budget)) { rc = cli_usage_error("optimize", "--memory-budget wants bytes such as 20000000, 20MB or 20MiB"); goto done; }
        } else if (arg_opt(&a, "--latency-budget", &v, &bad)) {
            char *end;
            latency_budget = bad ? 0 : strtod(v, &end);
            if (bad || *end || !(latency_budget > 0) || !isfinite(latency_budget)) { rc = cli_usage_error("optimize", "--latency-budget wants milliseconds > 0"); goto done; }
        }
        else if (arg_flag(&a, "--exact-only")) exact_only = true;
        else if (arg_flag(&a, "--markdown-row")) row = true;
        else if (arg_opt(&a, "--budget", &v, &bad)) { if (bad || !parse_int("optimize", "--budget", v, 1, 1000000, &budget)) goto usage; }
        else if (arg_opt(&a, "--seed", &v, &bad)) { if (bad || !parse_int("optimize", "--seed", v, 0, 1LL << 62, &seed)) goto usage; }
        else if (arg_opt(&a, "--threads", &v, &bad)) { if (bad || !parse_int("optimize", "--threads", v, 0, 1024, &threads)) goto usage; }
        else if (arg_opt(&a, "--repeats", &v, &bad)) { if (bad || !parse_int("optimize", "--repeats", v, 1, 100000, &repeats)) goto usage; }
        else if (arg_opt(&a, "--eval-batches", &v, &bad)) { if (bad || !parse_int("optimize", "--eval-batches", v, 1, 10000, &eval_batches)) goto usage; }
        else if (arg_opt(&a, "--max-accuracy-drop", &v, &bad)) {
            char *end;
            max_drop = bad ? 0 : strtod(v, &end);
            if (bad || *end || !(max_drop >= 0 && max_drop <= 1)) { rc = cli_usage_error("optimize", "--max-accuracy-drop wants a number in [0, 1]"); goto done; }
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
    if (strcmp(target, "tf") && strcmp(target, "grappo")) { rc = cli_usage_error("optimize", "--target is tf or grappo, not '%s'", target); goto done; }
    bool is_bo = !strcmp(search, "ppo+bo");
    bool is_ppo = !strcmp(search, "ppo") || is_bo;
    if (strcmp(objective_name, "latency") && strcmp(objective_name, "memory")) {
        rc = cli_usage_error("optimize", "--objective is latency or memory, not '%s'", objective_name);
        goto done;
    }
    bool minimize_memory = !strcmp(objective_name, "memory");
    bool is_search = !strcmp(search, "greedy") || !strcmp(search, "random") || is_ppo;
    if (strcmp(cost_kind, "measured") && strcmp(cost_kind, "roofline")) {
        rc = cli_usage_error("optimize", "--cost is measured or roofline, not '%s'", cost_kind);
        goto done;
    }
    bool is_list = !strncmp(search, "rules:", 6);
    if (strcmp(search, "grappler") && strcmp(search, "grappler+int8") && !is_search && !is_list) {
        rc = cli_usage_error("optimize", "--search '%s': choose grappler, grappler+int8, greedy, random, ppo, ppo+bo or rules:R1,R2,...", search);
        goto done;
    }
    /* rules:R1,R2,...: these rules in this order, each to exhaustion, repeated to a fixed point */
    char rule_buf[1024];
    const char *rule_names[64];
    int n_rule_names = 0;
    if (is_list) {
        snprintf(rule_buf, sizeof rule_buf, "%s", search + 6);
        for (char *tok = strtok(rule_buf, ","); tok && n_rule_names < 64; tok = strtok(NULL, ",")) {
            if (!rule_by_name(tok)) { rc = cli_usage_error("optimize", "no rule named '%s' (grappo rules lists them)", tok); goto done; }
            rule_names[n_rule_names++] = tok;
        }
        if (!n_rule_names) { rc = cli_usage_error("optimize", "--search rules: needs rule names"); goto done; }
    }
    if (strcmp(calib_method, "percentile") && strcmp(calib_method, "minmax")) {
        rc = cli_usage_error("optimize", "--calib-method is percentile or minmax, not '%s'", calib_method);
        goto done;
    }
    unsigned required = !strcmp(target, "tf") ? RULE_TF : 0;
    const char *pipeline = search;
    if (!strcmp(search, "grappler+int8")) {
        if (!strcmp(target, "tf")) { rc = cli_usage_error("optimize", "int8 uses grappo ops: it needs --target grappo"); goto done; }
        if (!dnn_cpu_has_vnni()) pipeline = "grappler+int7";
    }

    /* MPI only under mpirun, and only ppo+bo has work to spread (its trials) */
    int world = dist_launched();
    if (world > 1 && !is_bo) {
        rc = cli_usage_error("optimize", "under mpirun only --search ppo+bo spreads its work (trials) over processes");
        goto done;
    }
    if (world > 1 && !dist_compiled()) {
        err_set(&err, ERR_INPUT, "launched by mpirun with %d ranks, but this grappo was built without MPI", world);
        goto fail;
    }
    if (world > 0 && dist_compiled() && !(dist = dist_init(&err))) goto fail;
    root = dist_rank(dist) == 0;

    t_start = cli_now_ms();
    if (is_ppo) {
        /* the policy first: a missing or corrupt policy is reported before any work */
        if (!policy_path) policy_path = cli_default_policy_path(found, sizeof found);
        policy = policy_load(policy_path, NULL, NULL, &err);
        if (!policy) goto fail;
        CostOpts co = {.backend = strcmp(cost_kind, "roofline") ? COST_MEASURED : COST_ROOFLINE, .threads = (int)threads,
                       .cache_dir = cost_cache};
        cm = cost_open(&co, &err);
        if (!cm) goto fail;
    }
    orig = cli_load_model(in_path, &err);
    if (!orig) goto fail;
    if (cli_prepare(orig, specs, n_specs, &err)) { err_prefix(&err, "%s", in_path); goto fail; }
    cand = graph_clone(orig, &err);
    if (!cand) goto fail;
    if (inputs_generate(orig, (int)eval_batches, 1000, &eval, &err)) goto fail;
    bool precision = !strcmp(pipeline, "grappler+int8") || !strcmp(pipeline, "grappler+int7") ||
                     (is_search && !exact_only && strcmp(target, "tf"));
    for (int k = 0; k < n_rule_names; k++) precision |= (rule_by_name(rule_names[k])->flags & RULE_PRECISION) != 0;
    if (precision) {
        if (calib_dir) { if (calib_batches_load(orig, calib_dir, &calib, &calib_n, &calib_feeds, &err)) goto fail; }
        else {
            calib_n = 8; /* generated, seeds 1..8: disjoint from the evaluation inputs (seeds 1000+) */
            if (calib_batches_generate(orig, calib_n, &calib, &calib_feeds, &err)) { calib_n = 0; goto fail; }
        }
        if (calibrate_graph(cand, (const RefFeed *const *)calib, calib_n, calib_feeds, !strcmp(calib_method, "minmax") ? CALIB_MINMAX : CALIB_PERCENTILE, &err) < 0)
            goto fail;
    }
    RewriteLog log = {0};
    AccuracyBudget budget_acc = {1.0 - max_drop, 0.99};
    int evaluations = 0;
    if (is_search) {
        /* the search judges candidates on every held-out batch, the ones the final check below
           uses: judged on fewer (4 once), a ResNet-50 result quantized to int7 kept top-1 on
           them and lost it on 16, and the final check refused the search's answer */
        EvalContext ctx = {.original = orig, .inputs = &eval, .budget = budget_acc, .w = objective_default_weights(),
                           .repeats = 5, .threads = (int)threads};
        SearchOpts so = {.budget = (int)budget, .required_flags = required, .allow_precision = precision, .min_gain = 0,
                         .seed = (uint64_t)seed, .forbidden_flags = dnn_cpu_has_bf16() ? 0 : RULE_BF16};
        Graph *found = NULL;
        Evaluation ev;
        int src;
        if (is_ppo) {
            AgentOpts ao = agent_opts_default();
            ao.episodes = (int)episodes;
            ao.tune_episodes = (int)tune_episodes;
            if (is_bo) {
                BoTarget bt = {.objective = minimize_memory ? BO_OBJECTIVE_MEMORY : BO_OBJECTIVE_LATENCY,
                               .max_accuracy_drop = max_drop, .memory_budget_bytes = memory_budget, .latency_budget_ms = latency_budget};
                n_bo_constraints = bo_target_constraints(&bt, bo_names);
                bo_table = calloc((size_t)trials, sizeof *bo_table);
                if (!bo_table) { err_set(&err, ERR_RUNTIME, "out of memory"); goto fail; }
                long long per = budget / trials - 1;
                so.budget = per > 2 ? (int)per : 2;
                BoParallel par = {.batch = (int)bo_batch, .comm = dist_comm(dist)};
                src = search_ppo_bo(&ctx, cand, &so, policy, cm, &ao, &bt, (int)trials, &par, &found, &ev, &log, bo_table, &bo_best_trial,
                                    &err);
                if (!src && dist) {
                    int kept = bo_best_trial >= 0 ? bo_best_trial : -1 - bo_best_trial;
                    src = share_graph(dist, bo_table[kept].rank, orig, &found, &err);
                }
            } else {
                src = search_ppo(&ctx, cand, &so, policy, cm, &ao, &found, &ev, &log, &astats, &err);
            }
        } else if (!strcmp(search, "greedy")) {
            src = search_greedy(&ctx, cand, &so, &found, &ev, &log, &err);
        } else {
            src = search_random(&ctx, cand, &so, &found, &ev, &log, &err);
        }
        if (src) { graph_free(found); goto fail; }
        graph_free(cand);
        cand = found;
        evaluations = ctx.evaluations;
        /* rank 0 measures, writes and reports the kept graph; the others wait asleep rather
           than spinning in MPI_Finalize next to its timing runs */
        if (!root) {
            if (dist_idle_barrier(dist, &err)) goto fail;
            goto done;
        }
    } else if (is_list) {
        if (pipeline_fixed_point(rule_names, n_rule_names, cand, required, 8, &log, &err)) goto fail;
    } else if (pipeline_run(pipeline, cand, required, &log, &err)) {
        goto fail;
    }

    AccuracyResult acc;
    if (accuracy_measure(orig, cand, &eval, (int)threads, &acc, &err)) goto fail;
    LatencyResult lat[2];
    const Graph *both[2] = {orig, cand};
    if (latency_measure(both, 2, &eval, (int)repeats, (int)threads, lat, &err)) goto fail;
    const char *verdict = "optimized graph written";
    bool keep = true;
    if (log.total == 0) { keep = false; verdict = "no rewrite was applied: the input graph was written unchanged"; }
    else if (!accuracy_ok(&acc, &budget_acc)) { keep = false; verdict = "accuracy budget violated: the input graph was written unchanged"; }
    else if (minimize_memory && is_bo) {
        if (!(lat[1].peak_bytes < lat[0].peak_bytes)) { keep = false; verdict = "not smaller than the input: the input graph was written unchanged"; }
    } else if (!(lat[1].ms.median < lat[0].ms.median)) { keep = false; verdict = "not faster than the input: the input graph was written unchanged"; }
    if (keep && is_bo && bo_best_trial < 0) verdict = "optimized graph written, but no trial met every budget (the closest one was kept)";
    Graph *chosen = keep ? cand : orig;
    strip_private_attrs(chosen);
    if (graphdef_save(chosen, out_path, &err)) goto fail;
    if (verify_written(out_path, chosen, &eval, (int)threads, &err)) goto fail;

    double wall_s = (cli_now_ms() - t_start) / 1e3;
    int64_t wb0, wb1;
    graph_param_count(orig, &wb0);
    graph_param_count(cand, &wb1);
    int nodes0, nodes1;
    int ops0 = count_ops(orig, &nodes0), ops1 = count_ops(cand, &nodes1);
    char b1[32], b2[32];
    if (row) {
        /* | model | method | latency before | after | speedup | peak memory before | after | top-1 | cosine | rules | wall s | returned | */
        char top1[32];
        if (acc.top1_agreement >= 0) snprintf(top1, sizeof top1, "%.2f%%", 100 * acc.top1_agreement);
        else snprintf(top1, sizeof top1, "-");
        printf("| %s | %s%s | %.2f [%.2f, %.2f] | %.2f [%.2f, %.2f] | %.2fx | %s | %s | %s | %.5f | %d | %.0f | %s |\n", in_path, search,
               strcmp(pipeline, search) ? " (7-bit)" : "", lat[0].ms.median, lat[0].ms.min, lat[0].ms.max, lat[1].ms.median,
               lat[1].ms.min, lat[1].ms.max, lat[0].ms.median / lat[1].ms.median, fmt_bytes((double)lat[0].peak_bytes, b1, sizeof b1),
               fmt_bytes((double)lat[1].peak_bytes, b2, sizeof b2), top1, acc.min_cosine, log.total, wall_s, keep ? "yes" : "no (input kept)");
        goto report;
    }
    printf("%s -> %s: --search %s%s, --target %s\n\n", in_path, out_path, search,
           strcmp(pipeline, search) ? " (7-bit weights: this CPU has no VNNI)" : "", target);
    if (is_bo) print_bo_table(bo_table, (int)trials, bo_best_trial, n_bo_constraints, bo_names, objective_name);
    printf("%-22s %22s %22s %9s\n", "", "input", "optimized", "ratio");
    char l0[64], l1[64];
    snprintf(l0, sizeof l0, "%.2f [%.2f, %.2f]", lat[0].ms.median, lat[0].ms.min, lat[0].ms.max);
    snprintf(l1, sizeof l1, "%.2f [%.2f, %.2f]", lat[1].ms.median, lat[1].ms.min, lat[1].ms.max);
    printf("%-22s %22s %22s %8.2fx\n", "latency ms med [min,max]", l0, l1, lat[0].ms.median / lat[1].ms.median);
    printf("%-22s %22s %22s %8.2fx\n", "peak memory", fmt_bytes((double)lat[0].peak_bytes, b1, sizeof b1),
           fmt_bytes((double)lat[1].peak_bytes, b2, sizeof b2), (double)lat[0].peak_bytes / (double)lat[1].peak_bytes);
    printf("%-22s %22s %22s %8.2fx\n", "weight bytes", fmt_bytes((double)wb0, b1, sizeof b1), fmt_bytes((double)wb1, b2, sizeof b2),
           wb1 ? (double)wb0 / (double)wb1 : 0.0);
    printf("%-22s %22d %22d\n", "nodes (non-Const)", ops0, ops1);
    if (acc.top1_agreement >= 0) printf("%-22s %22s %21.2f%%\n", "top-1 agreement", "-", 100 * acc.top1_agreement);
    printf("%-22s %22s %22.6f\n", "cosine (worst)", "-", acc.min_cosine);
    printf("%-22s %22s %22.3g\n", "relative L2 (worst)", "-", acc.max_rel_l2);
    printf("\nlatency: %d alternating runs each after one warm-up, %s threads; accuracy on %d generated batches\n", (int)repeats,
           threads ? "given" : "all", (int)eval_batches);
    if (is_search) printf("search: %d graph evaluations (budget %lld), seed %lld\n", evaluations, budget, seed);
    if (is_ppo && !is_bo)
        printf("policy %s: %d episodes (%d env steps, %.1f s%s), %d distinct candidates, %d measured\n", policy_path,
               astats.episodes, astats.env_steps, astats.rollout_s, tune_episodes ? ", after fine-tuning" : "", astats.candidates,
               astats.evaluated);
    printf("rules applied (%d):", log.total);
    for (int k = 0; k < log.n; k++) printf(" %s×%d", log.v[k].rule, log.v[k].count);
    printf("\n%s (%.1f s)\n", verdict, wall_s);

report:
    if (report) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "input", in_path);
        cJSON_AddStringToObject(o, "output", out_path);
        cJSON_AddStringToObject(o, "search", search);
        cJSON_AddStringToObject(o, "pipeline", pipeline);
        cJSON_AddStringToObject(o, "target", target);
        cJSON_AddBoolToObject(o, "optimized_graph_returned", keep);
        cJSON_AddStringToObject(o, "verdict", verdict);
        const char *names[2] = {"before", "after"};
        for (int s = 0; s < 2; s++) {
            cJSON *m = cJSON_AddObjectToObject(o, names[s]);
            cJSON_AddNumberToObject(m, "latency_ms_median", lat[s].ms.median);
            cJSON_AddNumberToObject(m, "latency_ms_min", lat[s].ms.min);
            cJSON_AddNumberToObject(m, "latency_ms_max", lat[s].ms.max);
            cJSON_AddNumberToObject(m, "latency_ms_ci95", lat[s].ms.ci95);
            cJSON_AddNumberToObject(m, "peak_bytes", (double)lat[s].peak_bytes);
            cJSON_AddNumberToObject(m, "weight_bytes", (double)(s ? wb1 : wb0));
            cJSON_AddNumberToObject(m, "nodes", s ? nodes1 : nodes0);
        }
        cJSON *ac = cJSON_AddObjectToObject(o, "accuracy");
        if (acc.top1_agreement >= 0) cJSON_AddNumberToObject(ac, "top1_agreement", acc.top1_agreement);
        cJSON_AddNumberToObject(ac, "min_cosine", acc.min_cosine);
        cJSON_AddNumberToObject(ac, "max_rel_l2", acc.max_rel_l2);
        cJSON_AddNumberToObject(ac, "max_abs_err", acc.max_abs_err);
        cJSON_AddNumberToObject(ac, "eval_batches", (double)eval_batches);
        cJSON *rules = cJSON_AddObjectToObject(o, "rules_applied");
        for (int k = 0; k < log.n; k++) cJSON_AddNumberToObject(rules, log.v[k].rule, log.v[k].count);
        /* the default objective's change, from the final side-by-side measurement (lower is better) */
        double drop = acc.top1_agreement >= 0 ? 1 - acc.top1_agreement : 1 - acc.min_cosine;
        ObjectiveWeights dw = objective_default_weights();
        cJSON_AddNumberToObject(o, "objective_delta",
                                dw.w_lat * ln(lat[1].ms.median / lat[0].ms.median) +
                                    dw.w_mem * ln((double)lat[1].peak_bytes / (double)lat[0].peak_bytes) + dw.w_acc * (drop > 0 ? drop : 0));
        cJSON_AddNumberToObject(o, "repeats", (double)repeats);
        cJSON_AddNumberToObject(o, "wall_seconds", wall_s);
        if (is_search) {
            cJSON_AddNumberToObject(o, "evaluations", evaluations);
            cJSON_AddNumberToObject(o, "budget", (double)budget);
            cJSON_AddNumberToObject(o, "seed", (double)seed);
        }
        if (is_bo) add_bo_json(o, bo_table, (int)trials, bo_best_trial, n_bo_constraints, bo_names, objective_name, memory_budget,
                               latency_budget, max_drop);
        if (is_ppo && !is_bo) {
            cJSON *pj = cJSON_AddObjectToObject(o, "policy");
            cJSON_AddStringToObject(pj, "file", policy_path);
            cJSON_AddNumberToObject(pj, "episodes", astats.episodes);
            cJSON_AddNumberToObject(pj, "tune_episodes", (double)tune_episodes);
            cJSON_AddNumberToObject(pj, "env_steps", astats.env_steps);
            cJSON_AddNumberToObject(pj, "candidates", astats.candidates);
            cJSON_AddNumberToObject(pj, "measured", astats.evaluated);
            cJSON_AddNumberToObject(pj, "estimated_objective_gain", astats.best_estimate_gain);
            cJSON_AddNumberToObject(pj, "rollout_seconds", astats.rollout_s);
            cJSON_AddNumberToObject(pj, "tune_seconds", astats.tune_s);
        }
        char *s = cJSON_Print(o);
        cJSON_Delete(o);
        int wrc = s ? atomic_write_file(report, s, strlen(s), &err) : err_set(&err, ERR_RUNTIME, "out of memory");
        cJSON_free(s);
        if (wrc) goto fail;
    }
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
    /* rank 0, done: release the ranks sleeping in the barrier (they reach here with rc 0) */
    if (dist && root && rc == EXIT_OK) {
        Err e2 = {0};
        if (dist_idle_barrier(dist, &e2)) rc = cli_fail(&e2);
    }
    dist_finalize(dist);
    free(bo_table);
    policy_free(policy);
    cost_close(cm);
    inputs_free(&eval);
    if (calib) calib_batches_free(calib, calib_n, calib_feeds);
    graph_free(orig);
    graph_free(cand);
    for (int k = 0; k < n_specs; k++) free((char *)specs[k].name);
    return rc;
}
