/* cmd_train.c - `grappo train`: PPO training of a policy on a corpus of graphs, with progress,
 * a CSV log, an SVG learning curve, checkpoints every K iterations and --resume.
 *
 * Crash safety: after each iteration the CSV row is appended first, then the checkpoint is
 * written (atomically). On --resume the checkpoint says how many iterations are done and the
 * CSV is cut back to exactly those rows (rows of iterations the checkpoint does not cover, and a
 * half-written last line, are dropped), so a kill -9 at any moment loses at most the iterations
 * since the last checkpoint and never duplicates a row.
 *
 * Distributed (dist.h): under mpirun every rank loads the corpus, plays its own rollout stream
 * and joins the gradient all-gather; rank 0 alone prints, writes the CSV, the SVG, checkpoints
 * and the policy. --virtual-ranks K runs K streams in one process with the same arithmetic. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../io/atomic_file.h"
#include "../report/svg.h"
#include "../rewrite/calibrate.h"
#include "../search/dist.h"
#include "../search/ppo.h"
#include "../zoo/zoo.h"
#include "cli.h"
#include "progress.h"

#define MAX_CORPUS 256
#define CSV_FIELDS 14
static const char CSV_HEADER[] = "iteration,episodes,env_steps,mean_return,best_gain,policy_loss,value_loss,entropy,"
                                 "approx_kl,clip_frac,grad_norm,rollout_s,update_s,wall_s\n";

static void help(void) {
    printf("usage: grappo train --corpus DIR|zoo:NAME,... --iterations N -o POLICY.bin\n"
           "                    [--episodes N] [--max-steps N] [--lr X] [--clip X] [--gamma X] [--lambda X]\n"
           "                    [--ent-coef X] [--vf-coef X] [--epochs N] [--minibatch N] [--seed S]\n"
           "                    [--threads N] [--cost roofline|measured] [--cost-cache DIR]\n"
           "                    [--checkpoint-every K] [--resume] [--log FILE.csv] [--curve FILE.svg]\n"
           "                    [--exact-only] [--target tf|grappo] [--virtual-ranks K]\n"
           "       mpirun -np K grappo train ...   (distributed: K ranks, gradients averaged)\n"
           "\n"
           "Trains the rewrite policy with PPO. Each iteration plays --episodes episodes (default 16)\n"
           "on graphs drawn from the corpus, half with the default objective weights (1, 0.1, 10),\n"
           "half with random ones, then updates the policy.\n"
           "  --corpus        comma list of directories of .pb files and zoo specs: zoo:NAME with\n"
           "                  options after '@', e.g. zoo:random@seed=3, zoo:resnet18@image=64,\n"
           "                  zoo:bert-mini@seq=32 (keys: seed, image, seq, batch, width in %%); also\n"
           "                  single models: a model file (.pb, TensorFlow.js model.json) or a\n"
           "                  SavedModel directory\n"
           "  --max-steps     rewrites per episode (default 48)\n"
           "  PPO             --lr (3e-4) --clip (0.2) --gamma (1.0) --lambda (0.95) --ent-coef (0.01)\n"
           "                  --vf-coef (0.5) --epochs (4) --minibatch (64) --seed (1)\n"
           "  --cost          latency model: measured kernels cached on disk (default) or roofline\n"
           "  checkpoints     POLICY.bin.ckpt every --checkpoint-every iterations (default 1) and at\n"
           "                  the end; --resume continues from it (the CSV keeps its rows)\n"
           "  --log, --curve  CSV log (one row per iteration) and SVG learning curve\n"
           "  ranks           each rank plays --episodes episodes per iteration with its own RNG and\n"
           "                  the ranks' gradients are averaged (docs/agent.md); --virtual-ranks K\n"
           "                  simulates K ranks in one process, bit for bit like mpirun -np K\n"
           "Precision rules (int8, bf16) are offered after calibration unless --exact-only or\n"
           "--target tf. The final policy is written to -o without trainer state.\n");
}

static bool parse_double(const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "grappo train: %s wants a number in [%g, %g], got '%s'\n", opt, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

/* ---- corpus ---- */

typedef struct Corpus {
    PpoCorpus pc;
    Graph *graphs[MAX_CORPUS];
    char *names[MAX_CORPUS];
} Corpus;

static void corpus_free(Corpus *c) {
    for (int i = 0; i < c->pc.n; i++) {
        graph_free(c->graphs[i]);
        free(c->names[i]);
    }
    c->pc.n = 0;
}

static int corpus_add(Corpus *c, Graph *g, const char *name, bool calibrate, Err *err) {
    if (c->pc.n == MAX_CORPUS) { graph_free(g); return err_set(err, ERR_INPUT, "corpus: more than %d graphs", MAX_CORPUS); }
    c->graphs[c->pc.n] = g;
    c->names[c->pc.n] = strdup(name);
    c->pc.n++;
    if (!c->names[c->pc.n - 1]) return err_set(err, ERR_RUNTIME, "out of memory");
    if (cli_prepare(g, NULL, 0, err)) return err_prefix(err, "%s", name);
    if (calibrate) {
        /* ranges for the precision rules, from 4 generated batches (seeds 1..4) */
        RefFeed **batches = NULL;
        int n_feeds = 0;
        if (calib_batches_generate(g, 4, &batches, &n_feeds, err)) return err_prefix(err, "%s", name);
        int rc = calibrate_graph(g, (const RefFeed *const *)batches, 4, n_feeds, CALIB_PERCENTILE, err);
        calib_batches_free(batches, 4, n_feeds);
        if (rc < 0) return err_prefix(err, "%s", name);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* every *.pb in dir, in name order (the order is part of the seed's determinism) */
static int corpus_add_dir(Corpus *c, const char *dir, bool calibrate, Err *err) {
    DIR *d = opendir(dir);
    if (!d) return err_set(err, ERR_INPUT, "corpus: cannot open '%s' (not a directory or zoo:NAME)", dir);
    char *files[MAX_CORPUS];
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n < MAX_CORPUS) {
        size_t len = strlen(ent->d_name);
        if (len > 3 && !strcmp(ent->d_name + len - 3, ".pb")) files[n++] = strdup(ent->d_name);
    }
    closedir(d);
    qsort(files, (size_t)n, sizeof *files, cmp_str);
    int rc = n ? 0 : err_set(err, ERR_INPUT, "corpus: no .pb files in '%s'", dir);
    for (int i = 0; i < n; i++) {
        if (rc == 0 && files[i]) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            Graph *g = cli_load_model(path, err);
            rc = g ? corpus_add(c, g, path, calibrate, err) : -1;
        }
        free(files[i]);
    }
    return rc;
}

/* one model rather than a directory of them: a file, or a SavedModel directory */
static bool is_model_path(const char *path) {
    struct stat st;
    if (stat(path, &st)) return false;
    if (S_ISREG(st.st_mode)) return true;
    char sm[4096];
    snprintf(sm, sizeof sm, "%s/saved_model.pb", path);
    return S_ISDIR(st.st_mode) && !stat(sm, &st);
}

static int corpus_load(Corpus *c, const char *list, bool calibrate, Err *err) {
    char *copy = strdup(list);
    if (!copy) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        if (!strncmp(tok, "zoo:", 4)) {
            Graph *g = model_load(tok, err);
            rc = g ? corpus_add(c, g, tok, calibrate, err) : -1;
        } else if (is_model_path(tok)) {
            Graph *g = cli_load_model(tok, err);
            rc = g ? corpus_add(c, g, tok, calibrate, err) : -1;
        } else {
            rc = corpus_add_dir(c, tok, calibrate, err);
        }
    }
    free(copy);
    if (rc == 0 && c->pc.n == 0) rc = err_set(err, ERR_INPUT, "corpus: empty");
    c->pc.graphs = c->graphs;
    c->pc.names = c->names;
    return rc;
}

/* ---- CSV log and learning curve ---- */

typedef struct Row { int iteration; double mean_return, best_gain, wall_s; } Row;

/* Reads the log's complete rows with iteration <= max_iter (a torn last line has fewer fields
   and is dropped). *rows is malloc'd. Missing file: 0 rows. */
static int csv_read(const char *path, int max_iter, Row **rows, char **kept, Err *err) {
    *rows = NULL;
    *kept = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int n = 0, cap = 0;
    size_t kept_len = 0, kept_cap = 0;
    char line[1024];
    bool first = true;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (first) { first = false; if (!strncmp(line, "iteration,", 10)) continue; }
        if (len == 0 || line[len - 1] != '\n') break; /* torn last line */
        double v[CSV_FIELDS];
        int k = 0;
        char *p = line, *end;
        for (; k < CSV_FIELDS; k++) {
            v[k] = strtod(p, &end);
            if (end == p) break;
            p = end;
            if (*p == ',') p++;
            else { k++; break; }
        }
        if (k != CSV_FIELDS || *p != '\n' || v[0] < 1 || v[0] > max_iter) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            Row *r = realloc(*rows, sizeof(Row) * (size_t)cap);
            if (!r) goto oom;
            *rows = r;
        }
        (*rows)[n++] = (Row){(int)v[0], v[3], v[4], v[13]};
        if (kept_len + len + 1 > kept_cap) {
            kept_cap = (kept_len + len + 1) * 2;
            char *s = realloc(*kept, kept_cap);
            if (!s) goto oom;
            *kept = s;
        }
        memcpy(*kept + kept_len, line, len + 1);
        kept_len += len;
    }
    fclose(f);
    return n;
oom:
    fclose(f);
    free(*rows);
    free(*kept);
    *rows = NULL;
    *kept = NULL;
    return err_set(err, ERR_RUNTIME, "out of memory");
}

/* moving average over the last `w` finite values (fewer at the start) */
static void moving_average(const double *y, int n, int w, double *out) {
    for (int i = 0; i < n; i++) {
        double sum = 0;
        int k = 0;
        for (int j = i - w + 1 < 0 ? 0 : i - w + 1; j <= i; j++)
            if (isfinite(y[j])) { sum += y[j]; k++; }
        out[i] = k ? sum / k : NAN;
    }
}

#define CURVE_SMOOTH 10 /* iterations averaged in the curve's smoothed mean return */

int train_curve_write(const char *csv, const char *svg, int max_iter, Err *err) {
    Row *rows;
    char *kept;
    int n = csv_read(csv, max_iter, &rows, &kept, err);
    free(kept);
    if (n < 0) return -1;
    size_t m = (size_t)(n ? n : 1);
    double *x = malloc(sizeof(double) * m * 4), *y = x + m, *avg = y + m, *b = avg + m;
    if (!x) { free(rows); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int i = 0; i < n; i++) {
        x[i] = rows[i].iteration;
        y[i] = rows[i].mean_return;
        b[i] = rows[i].best_gain;
    }
    moving_average(y, n, CURVE_SMOOTH, avg);
    char avg_name[64];
    snprintf(avg_name, sizeof avg_name, "mean return, %d-iteration average", CURVE_SMOOTH);
    SvgSeries series[3] = {{.name = "mean return per iteration", .kind = SVG_LINE, .x = x, .y = y, .n = n, .color = "#a6c8e4"},
                           {.name = avg_name, .kind = SVG_LINE, .x = x, .y = avg, .n = n, .color = "#1f4e9c"},
                           {.name = "best gain so far", .kind = SVG_LINE, .x = x, .y = b, .n = n, .color = "#d62728"}};
    SvgPlot plot = {.title = "grappo train: learning curve", .xlabel = "iteration", .ylabel = "objective gained per episode (ln units)",
                    .x_integer = true, .y_zero = true, .series = series, .n_series = 3};
    int rc = svg_write(&plot, svg, err);
    free(x);
    free(rows);
    return rc;
}

/* ---- the command ---- */

int cmd_train(int argc, char **argv) {
    Args a = {argc, argv, 1, "train"};
    const char *corpus_arg = NULL, *out = NULL, *log_path = NULL, *curve = NULL, *cost_kind = "measured", *cost_cache = NULL,
               *target = "grappo", *v;
    long long iterations = 0, max_steps = 48, seed = 1, threads = 0, ckpt_every = 1;
    long long episodes = 16, epochs = 4, minibatch = 64, virtual_ranks = 1;
    PpoConfig pc = ppo_config_default();
    bool resume = false, exact_only = false, bad = false;
    int rc = EXIT_OK;
    Err err = {0};
    Corpus corpus = {0};
    CostModel *cm = NULL;
    Policy *policy = NULL;
    Env *env = NULL;
    PpoTrainer *t = NULL;
    FILE *logf = NULL;
    Dist *dist = NULL;
    CliProgress meter = {0}; /* the iteration line, on a terminal only (progress.h) */
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_opt(&a, "-o", &out, &bad) || arg_opt(&a, "--output", &out, &bad)) {}
        else if (arg_opt(&a, "--corpus", &corpus_arg, &bad)) {}
        else if (arg_opt(&a, "--log", &log_path, &bad)) {}
        else if (arg_opt(&a, "--curve", &curve, &bad)) {}
        else if (arg_opt(&a, "--cost", &cost_kind, &bad)) {}
        else if (arg_opt(&a, "--cost-cache", &cost_cache, &bad)) {}
        else if (arg_opt(&a, "--target", &target, &bad)) {}
        else if (arg_flag(&a, "--resume")) resume = true;
        else if (arg_flag(&a, "--exact-only")) exact_only = true;
        else if (arg_opt(&a, "--iterations", &v, &bad)) { if (bad || !parse_int("train", "--iterations", v, 1, 10000000, &iterations)) goto usage; }
        else if (arg_opt(&a, "--episodes", &v, &bad)) { if (bad || !parse_int("train", "--episodes", v, 1, 100000, &episodes)) goto usage; }
        else if (arg_opt(&a, "--max-steps", &v, &bad)) { if (bad || !parse_int("train", "--max-steps", v, 1, 100000, &max_steps)) goto usage; }
        else if (arg_opt(&a, "--epochs", &v, &bad)) { if (bad || !parse_int("train", "--epochs", v, 1, 1000, &epochs)) goto usage; }
        else if (arg_opt(&a, "--minibatch", &v, &bad)) { if (bad || !parse_int("train", "--minibatch", v, 1, 1000000, &minibatch)) goto usage; }
        else if (arg_opt(&a, "--seed", &v, &bad)) { if (bad || !parse_int("train", "--seed", v, 0, 1LL << 62, &seed)) goto usage; }
        else if (arg_opt(&a, "--threads", &v, &bad)) { if (bad || !parse_int("train", "--threads", v, 0, 1024, &threads)) goto usage; }
        else if (arg_opt(&a, "--virtual-ranks", &v, &bad)) { if (bad || !parse_int("train", "--virtual-ranks", v, 1, 4096, &virtual_ranks)) goto usage; }
        else if (arg_opt(&a, "--checkpoint-every", &v, &bad)) { if (bad || !parse_int("train", "--checkpoint-every", v, 1, 1000000, &ckpt_every)) goto usage; }
        else if (arg_opt(&a, "--lr", &v, &bad)) { if (bad || !parse_double("--lr", v, 1e-12, 10, &pc.lr)) goto usage; }
        else if (arg_opt(&a, "--clip", &v, &bad)) { if (bad || !parse_double("--clip", v, 1e-6, 10, &pc.clip)) goto usage; }
        else if (arg_opt(&a, "--gamma", &v, &bad)) { if (bad || !parse_double("--gamma", v, 0, 1, &pc.gamma)) goto usage; }
        else if (arg_opt(&a, "--lambda", &v, &bad)) { if (bad || !parse_double("--lambda", v, 0, 1, &pc.lambda)) goto usage; }
        else if (arg_opt(&a, "--ent-coef", &v, &bad)) { if (bad || !parse_double("--ent-coef", v, 0, 100, &pc.ent_coef)) goto usage; }
        else if (arg_opt(&a, "--vf-coef", &v, &bad)) { if (bad || !parse_double("--vf-coef", v, 0, 100, &pc.vf_coef)) goto usage; }
        else if (argv[a.i][0] == '-') { rc = cli_usage_error("train", "unknown option '%s'", argv[a.i]); goto done; }
        else { rc = cli_usage_error("train", "unexpected argument '%s'", argv[a.i]); goto done; }
        if (bad) goto usage;
    }
    if (!corpus_arg) { rc = cli_usage_error("train", "missing --corpus DIR|zoo:NAME,..."); goto done; }
    if (!iterations) { rc = cli_usage_error("train", "missing --iterations N"); goto done; }
    if (!out) { rc = cli_usage_error("train", "missing -o POLICY.bin"); goto done; }
    if (curve && !log_path) { rc = cli_usage_error("train", "--curve is drawn from the CSV log: give --log too"); goto done; }
    if (strcmp(target, "tf") && strcmp(target, "grappo")) { rc = cli_usage_error("train", "--target is tf or grappo, not '%s'", target); goto done; }
    if (strcmp(cost_kind, "measured") && strcmp(cost_kind, "roofline")) {
        rc = cli_usage_error("train", "--cost is measured or roofline, not '%s'", cost_kind);
        goto done;
    }
    pc.episodes = (int)episodes;
    pc.epochs = (int)epochs;
    pc.minibatch = (int)minibatch;
    pc.seed = (uint64_t)seed;
    pc.virtual_ranks = (int)virtual_ranks;
    bool tf = !strcmp(target, "tf");
    bool precision = !exact_only && !tf;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);

    /* MPI only under mpirun, so a plain process never touches it */
    int world = dist_launched();
    if (world > 1 && !dist_compiled()) {
        err_set(&err, ERR_INPUT, "launched by mpirun with %d ranks, but this grappo was built without MPI", world);
        goto fail;
    }
    if (world > 0 && dist_compiled()) {
        if (!(dist = dist_init(&err))) goto fail;
        pc.comm = dist_comm(dist);
    }
    bool root = dist_rank(dist) == 0; /* prints and writes */

    /* the corpus: loaded, inferred, calibrated when precision rules are offered */
    if (corpus_load(&corpus, corpus_arg, precision, &err)) goto fail;

    CostOpts co = {.backend = !strcmp(cost_kind, "roofline") ? COST_ROOFLINE : COST_MEASURED, .threads = (int)threads,
                   .cache_dir = cost_cache, .write_noisy = true};
    if (!(cm = cost_open(&co, &err))) goto fail;

    /* the policy: from the checkpoint when resuming (its shape wins), else new */
    /* rank 0's file system decides, so all ranks agree; each rank then loads the checkpoint
       from the same path (shared, or copied to every host) */
    int have_ckpt = resume && access(ckpt, F_OK) == 0;
    if (dist_bcast_int(dist, &have_ckpt, &err)) goto fail;
    bool resuming = have_ckpt;
    if (root && resume && !resuming) fprintf(stderr, "grappo train: no checkpoint %s yet, starting from iteration 1\n", ckpt);
    if (resuming) {
        if (!(policy = policy_load(ckpt, NULL, NULL, &err))) goto fail;
    } else {
        if (!(policy = env_policy_new(NULL, (uint64_t)seed, &err))) goto fail;
    }
    EnvConfig ec = env_config_default();
    ec.max_steps = (int)max_steps;
    ec.required_flags = tf ? RULE_TF : 0;
    ec.allow_precision = precision;
    ec.threads = 1; /* accuracy runs: results do not depend on threads, and one thread never spins idle */
    if (!(env = env_new(&ec, cm, policy, &err))) goto fail;
    if (!(t = ppo_new(policy, env, &corpus.pc, &pc, &err))) goto fail;
    if (resuming && ppo_checkpoint_load(t, ckpt, &err)) goto fail;
    int done_iters = ppo_iterations_done(t);

    /* the log: on resume, exactly the rows the checkpoint covers; otherwise a new file */
    double wall_base = 0;
    if (log_path && root) {
        Row *rows = NULL;
        char *kept = NULL;
        int n = resuming ? csv_read(log_path, done_iters, &rows, &kept, &err) : 0;
        if (n < 0) goto fail;
        if (n > 0) wall_base = rows[n - 1].wall_s;
        size_t hl = strlen(CSV_HEADER), kl = kept ? strlen(kept) : 0;
        char *all = malloc(hl + kl + 1);
        if (!all) { free(rows); free(kept); err_set(&err, ERR_RUNTIME, "out of memory"); goto fail; }
        memcpy(all, CSV_HEADER, hl);
        if (kl) memcpy(all + hl, kept, kl);
        int wrc = atomic_write_file(log_path, all, hl + kl, &err);
        free(all);
        free(rows);
        free(kept);
        if (wrc) goto fail;
        if (!(logf = fopen(log_path, "ab"))) { err_set(&err, ERR_INPUT, "%s: cannot append: %s", log_path, strerror(errno)); goto fail; }
    }

    if (resuming && done_iters >= iterations) {
        /* --iterations is the total: the checkpoint already has them all */
        err_set(&err, ERR_INPUT, "the checkpoint already has %d iterations: --iterations is the total, give more than %d to go on",
                done_iters, done_iters);
        goto fail;
    }
    cli_progress_init(&meter);
    if (root)
        fprintf(stderr, "grappo train: %d graphs, %d parameters, iterations %d..%lld%s, %d rollout stream%s (%d process%s)\n",
                corpus.pc.n, (int)policy_n_params(policy), done_iters + 1, iterations, resuming ? " (resumed)" : "",
                ppo_streams(t), ppo_streams(t) > 1 ? "s" : "", dist_size(dist), dist_size(dist) > 1 ? "es" : "");
    double t0 = cli_now_ms();
    int run_iters = 0;
    for (int it = done_iters + 1; it <= iterations; it++) {
        PpoIterStats st;
        if (ppo_iteration(t, &st, &err)) goto fail;
        run_iters++;
        double elapsed = (cli_now_ms() - t0) / 1e3;
        if (logf) {
            /* one whole line per write, flushed: a kill tears at most this line */
            char line[1024];
            int len = snprintf(line, sizeof line, "%d,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.4f,%.4f,%.3f\n",
                               st.iteration, st.episodes, st.env_steps, st.mean_return, st.best_gain, st.policy_loss,
                               st.value_loss, st.entropy, st.approx_kl, st.clip_frac, st.grad_norm, st.rollout_s,
                               st.update_s, wall_base + elapsed);
            if (fwrite(line, 1, (size_t)len, logf) != (size_t)len || fflush(logf) || fsync(fileno(logf))) {
                err_set(&err, ERR_RUNTIME, "%s: write failed: %s", log_path, strerror(errno));
                goto fail;
            }
            if (curve && train_curve_write(log_path, curve, st.iteration, &err)) goto fail;
        }
        if (!root) continue; /* the other ranks only compute */
        if ((st.iteration % ckpt_every == 0 || it == iterations) && ppo_checkpoint_save(t, ckpt, &err)) goto fail;
        double sps = st.rollout_s > 0 ? st.env_steps / st.rollout_s : 0;
        char eta[96];
        cli_progress_eta(eta, sizeof eta, elapsed, run_iters, (int)(iterations - done_iters));
        cli_progress_line(&meter, "iteration %d of %lld: return %+.4f, best gain %+.4f, %.0f steps/s, %s", st.iteration, iterations,
                          st.mean_return, st.best_gain, sps, eta);
    }
    if (!root) goto done;
    cli_progress_keep(&meter); /* the last iteration's numbers stay on screen */
    if (policy_save(policy, out, NULL, 0, &err)) goto fail;
    printf("wrote %s (policy fingerprint %016llx, %d iterations)\n", out, (unsigned long long)policy_fingerprint(policy),
           ppo_iterations_done(t));
    CostStats cs;
    cost_stats(cm, &cs);
    /* kernels that cannot be timed alone get the roofline (analytic, the same every run) */
    if (co.backend == COST_MEASURED && cs.timed == 0)
        printf("cost table: no kernel timed (%lld lookups, all from the table): on this CPU a rerun from it gives this policy again\n",
               (long long)cs.lookups);
    else if (co.backend == COST_MEASURED)
        printf("cost table: %lld kernels timed this run (%lld noisy, written too): the table now holds every time this run used\n",
               (long long)cs.timed, (long long)cs.noisy);
    goto done;
usage:
    rc = EXIT_USAGE;
    goto done;
fail:
    cli_progress_keep(&meter); /* the error on a line of its own */
    if (dist_size(dist) > 1) err_prefix(&err, "rank %d", dist_rank(dist));
    rc = cli_fail(&err);
    /* the other ranks would wait forever in the next collective */
    if (dist_size(dist) > 1) dist_abort(dist, rc);
done:
    if (logf) fclose(logf);
    ppo_free(t);
    env_free(env);
    policy_free(policy);
    cost_close(cm);
    corpus_free(&corpus);
    dist_finalize(dist);
    return rc;
}
