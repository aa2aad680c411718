/* test_bo.c - the Gaussian process against closed forms (one observation, interpolation,
 * prior far from data, lengthscale recovered by maximum likelihood), expected improvement's
 * closed form, Bayesian optimization on known test functions over the weight simplex (bowl,
 * rescaled Branin, a constrained problem with a known constrained optimum) against random
 * search, batches (kriging believer), and search_ppo_bo on ResNet-8, alone and as two ranks
 * (threads joined by an all-gather, the contract MPI ranks follow) sharing batches of trials. */
#include "testranks.h"
#include "testrules.h"

#include <gsl/gsl_linalg.h>
#include <pthread.h>
#include <stdlib.h>

#include "measure/cost.h"
#include "rewrite/calibrate.h"
#include "search/bo.h"
#include "search/gp.h"
#include "util/rng.h"
#include "zoo/zoo.h"

/* ---- Gaussian process ---- */

static const double SQRT5 = 2.23606797749979;

/* Matérn 5/2 at r = 1 (one lengthscale away along x1) is sf2·(1 + √5 + 5/3)·e^{-√5} */
static void test_gp_kernel(void **s) {
    (void)s;
    GpHyper h = {.ls = {0.3, 1.0}, .signal_var = 2.0, .noise_var = 0};
    double a[2] = {0.1, 0.5}, b[2] = {0.4, 0.5};
    assert_true(fabs(gp_kernel(&h, 2, a, b) - 2.0 * (1 + SQRT5 + 5.0 / 3) * exp(-SQRT5)) < 1e-12);
    assert_true(fabs(gp_kernel(&h, 2, a, a) - 2.0) < 1e-15);
    /* ARD: the same distance along the long lengthscale correlates more */
    double c[2] = {0.1, 0.8};
    assert_true(gp_kernel(&h, 2, a, c) > gp_kernel(&h, 2, a, b));
}

/* one observation, fixed hyperparameters, no standardization:
   mean = k(x,x0)/(k(x0,x0)+sn²)·y0, var = k(x,x) − k(x,x0)²/(k(x0,x0)+sn²),
   log p(y0) = −½ y0²/(sf²+sn²) − ½ log(sf²+sn²) − ½ log 2π */
static void test_gp_one_point(void **s) {
    (void)s;
    Err e = {0};
    Gp *gp = gp_new(2, &e);
    assert_non_null(gp);
    gp_set_standardize(gp, false);
    GpHyper h = {.ls = {0.3, 0.5}, .signal_var = 2.0, .noise_var = 0.1};
    gp_set_hyper(gp, &h);
    double x0[2] = {0.2, 0.4}, y0 = 1.7, x[2] = {0.5, 0.1};
    CHECK_OK(gp_fit(gp, x0, &y0, 1, false, &e), &e);
    double k = gp_kernel(&h, 2, x, x0), m, v;
    gp_predict(gp, x, &m, &v);
    /* 1e-9: the GP adds a jitter of 1e-10·signal_var to the diagonal */
    assert_true(fabs(m - k / (2.0 + 0.1) * y0) < 1e-9);
    assert_true(fabs(v - (2.0 - k * k / 2.1)) < 1e-9);
    double lml = -0.5 * y0 * y0 / 2.1 - 0.5 * log(2.1) - 0.5 * log(2 * 3.14159265358979323846);
    assert_true(fabs(gp_log_marginal(gp) - lml) < 1e-9);
    /* standardized, one point: the prior mean is that point's value, so the mean is y0 everywhere */
    gp_set_standardize(gp, true);
    CHECK_OK(gp_fit(gp, x0, &y0, 1, true, &e), &e);
    gp_predict(gp, x, &m, &v);
    assert_true(fabs(m - y0) < 1e-12);
    gp_free(gp);
}

static double smooth2(const double *x) { return sin(3 * x[0]) + x[1] * x[1] + 0.5; }

/* tiny noise: the posterior mean goes through the data and the variance there is ~0 */
static void test_gp_interpolates(void **s) {
    (void)s;
    Err e = {0};
    Gp *gp = gp_new(2, &e);
    GpHyper h = {.ls = {0.3, 0.3}, .signal_var = 1.0, .noise_var = 1e-8};
    gp_set_hyper(gp, &h);
    Rng r;
    rng_seed(&r, 7);
    double x[16], y[8];
    for (int i = 0; i < 8; i++) {
        x[2 * i] = rng_uniform(&r);
        x[2 * i + 1] = rng_uniform(&r);
        y[i] = smooth2(x + 2 * i);
    }
    CHECK_OK(gp_fit(gp, x, y, 8, false, &e), &e);
    for (int i = 0; i < 8; i++) {
        double m, v;
        gp_predict(gp, x + 2 * i, &m, &v);
        assert_true(fabs(m - y[i]) < 1e-4);
        assert_true(v < 1e-5);
    }
    gp_free(gp);
}

/* 1-D: the variance between two close observations is far below the prior, and far from the
   data mean and variance return to the prior's (sample mean, signal_var·std²) */
static void test_gp_variance(void **s) {
    (void)s;
    Err e = {0};
    Gp *gp = gp_new(1, &e);
    GpHyper h = {.ls = {0.2}, .signal_var = 1.0, .noise_var = 1e-6};
    gp_set_hyper(gp, &h);
    double x[3] = {0.1, 0.2, 0.35}, y[3] = {1.0, 2.0, 4.0};
    CHECK_OK(gp_fit(gp, x, y, 3, false, &e), &e);
    double mean = 7.0 / 3, var = ((1 - mean) * (1 - mean) + (2 - mean) * (2 - mean) + (4 - mean) * (4 - mean)) / 3;
    double m, v, near = 0.15, mid = 0.7, far = 9.0;
    gp_predict(gp, &near, &m, &v);
    assert_true(v < 0.05 * var);
    double v_mid;
    gp_predict(gp, &mid, &m, &v_mid);
    assert_true(v_mid > v);
    gp_predict(gp, &far, &m, &v);
    assert_true(fabs(v - var) < 1e-9 * var);
    assert_true(fabs(m - mean) < 1e-9);
    assert_true(v_mid < v);
    gp_free(gp);
}

/* a sample path of a GP with known lengthscales (0.2 along x1, 3 along x2) at 40 points:
   maximum likelihood finds ls1 within a factor 2 and a much longer ls2, and its likelihood is
   at least that of the true hyperparameters */
static void test_gp_ml_lengthscale(void **s) {
    (void)s;
    Err e = {0};
    enum { N = 40 };
    GpHyper truth = {.ls = {0.2, 3.0}, .signal_var = 1.0, .noise_var = 1e-4};
    Rng r;
    rng_seed(&r, 11);
    double x[2 * N], y[N], z[N];
    for (int i = 0; i < N; i++) {
        x[2 * i] = rng_uniform(&r);
        x[2 * i + 1] = rng_uniform(&r);
        z[i] = rng_normal(&r);
    }
    gsl_matrix *K = gsl_matrix_alloc(N, N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            gsl_matrix_set(K, i, j, gp_kernel(&truth, 2, x + 2 * i, x + 2 * j) + (i == j ? truth.noise_var : 0));
    assert_int_equal(gsl_linalg_cholesky_decomp1(K), 0);
    for (int i = 0; i < N; i++) {
        y[i] = 3.0; /* an offset and a scale standardization must undo */
        for (int j = 0; j <= i; j++) y[i] += 5.0 * gsl_matrix_get(K, i, j) * z[j];
    }
    gsl_matrix_free(K);
    Gp *gp = gp_new(2, &e);
    CHECK_OK(gp_fit(gp, x, y, N, true, &e), &e);
    GpHyper h = gp_hyper(gp);
    double lml = gp_log_marginal(gp);
    printf("[ gp       ] fitted ls = (%.3f, %.3f), signal %.3f, noise %.2g (truth 0.2, 3)\n", h.ls[0], h.ls[1], h.signal_var,
           h.noise_var);
    assert_true(h.ls[0] > 0.1 && h.ls[0] < 0.4);
    assert_true(h.ls[1] > 3 * h.ls[0]);
    assert_true(h.noise_var >= GP_NOISE_MIN && h.noise_var <= GP_NOISE_MAX);
    /* the true hyperparameters, in standardized units, score no better */
    Gp *g2 = gp_new(2, &e);
    GpHyper t = gp_hyper(gp);
    t.ls[0] = 0.2;
    t.ls[1] = 3.0;
    gp_set_hyper(g2, &t);
    CHECK_OK(gp_fit(g2, x, y, N, false, &e), &e);
    assert_true(lml >= gp_log_marginal(g2) - 1e-9);
    gp_free(g2);
    gp_free(gp);
}

/* ---- expected improvement, the simplex ---- */

static void test_bo_ei_closed_form(void **s) {
    (void)s;
    /* mu = f*: EI = sigma·φ(0) */
    assert_true(fabs(bo_expected_improvement(1.0, 1.0, 1.0) - 0.3989422804014327) < 1e-12);
    /* z = 0.5: 1·Φ(0.5) + 2·φ(0.5) */
    assert_true(fabs(bo_expected_improvement(0.0, 2.0, 1.0) - (0.6914624612740131 + 2 * 0.3520653267642995)) < 1e-12);
    /* no uncertainty: the improvement itself, or 0 */
    assert_true(bo_expected_improvement(0.0, 0.0, 1.0) == 1.0);
    assert_true(bo_expected_improvement(2.0, 0.0, 1.0) == 0.0);
    /* far below the incumbent: ≈ the improvement; far above: ≈ 0 but never negative */
    assert_true(fabs(bo_expected_improvement(-10.0, 0.1, 0.0) - 10.0) < 1e-9);
    double ei = bo_expected_improvement(50.0, 1.0, 0.0);
    assert_true(ei >= 0 && ei < 1e-100);
    /* finite difference: dEI/dmu = -Φ(z) */
    double h = 1e-6, d = (bo_expected_improvement(0.3 + h, 0.7, 0.5) - bo_expected_improvement(0.3 - h, 0.7, 0.5)) / (2 * h);
    double z = 0.2 / 0.7, Phi = 0.5 * erfc(-z / sqrt(2.0));
    assert_true(fabs(d + Phi) < 1e-7);
}

static void test_bo_simplex_map(void **s) {
    (void)s;
    double x[2] = {0.25, 0.6}, w[3], x2[2];
    bo_w_from_x(x, w);
    assert_true(fabs(w[2] - 0.15) < 1e-15);
    bo_x_from_w(w, x2);
    assert_true(fabs(x2[0] - 0.25) < 1e-15 && fabs(x2[1] - 0.6) < 1e-15);
    /* unnormalized weights are normalized */
    double w2[3] = {2, 1, 1};
    bo_x_from_w(w2, x2);
    assert_true(fabs(x2[0] - 0.5) < 1e-15 && fabs(x2[1] - 0.25) < 1e-15);
}

/* ---- test problems on the simplex (x = (w_lat, w_mem)) ---- */

typedef struct Problem {
    const char *name;
    int nc;
    double (*f)(const double *w);
    double (*c)(const double *w);
    double f_opt;  /* the (constrained) minimum on the simplex */
    double tol;      /* BO's best after EVALS must be within tol of f_opt on every seed */
    double mean_tol; /* and its mean over the seeds within mean_tol */
} Problem;

enum { EVALS = 20, SEEDS = 10 };

/* a bowl with its minimum 0 at w = (0.5, 0.3, 0.2) */
static double bowl(const double *w) {
    double a = w[0] - 0.5, b = w[1] - 0.3, c = w[2] - 0.2;
    return a * a + b * b + c * c;
}

/* Branin on u1 = −5 + 15·x1, u2 = 15·x2: two of its three global minima (0.397887) lie in the
   triangle, at x = (0.1239, 0.8183) and (0.5428, 0.1517) */
static double branin(const double *w) {
    double u1 = -5 + 15 * w[0], u2 = 15 * w[1], pi = 3.14159265358979323846;
    double a = u2 - 5.1 / (4 * pi * pi) * u1 * u1 + 5 / pi * u1 - 6;
    return a * a + 10 * (1 - 1 / (8 * pi)) * cos(u1) + 10;
}

/* minimize the distance² to (0.8, 0.1) in x subject to x inside the circle of radius 0.5:
   the constrained optimum is the projection 0.5·(0.8, 0.1)/|(0.8, 0.1)|, f = (|(0.8,0.1)| − 0.5)² */
static double dist_f(const double *w) { return (w[0] - 0.8) * (w[0] - 0.8) + (w[1] - 0.1) * (w[1] - 0.1); }
static double circle_c(const double *w) { return w[0] * w[0] + w[1] * w[1] - 0.25; }

static double run_problem(const Problem *p, uint64_t seed, bool random_search, int evals) {
    Err e = {0};
    Bo *bo = bo_new(p->nc, seed, &e);
    assert_non_null(bo);
    Rng r;
    rng_seed(&r, seed * 7919 + 1);
    for (int t = 0; t < evals; t++) {
        double w[3], ei;
        if (random_search) {
            double x[2] = {rng_uniform(&r), rng_uniform(&r)};
            if (x[0] + x[1] > 1) { x[0] = 1 - x[0]; x[1] = 1 - x[1]; }
            bo_w_from_x(x, w);
        } else {
            CHECK_OK(bo_suggest(bo, w, &ei, &e), &e);
        }
        /* every suggestion is on the simplex */
        assert_true(w[0] >= 0 && w[1] >= 0 && w[2] >= 0 && fabs(w[0] + w[1] + w[2] - 1) < 1e-12);
        double c = p->nc ? p->c(w) : 0;
        CHECK_OK(bo_observe(bo, w, p->f(w), &c, &e), &e);
    }
    int b = bo_best(bo), n;
    const BoTrial *tr = bo_trials(bo, &n);
    assert_int_equal(n, evals);
    double best = b >= 0 ? tr[b].f : INFINITY;
    bo_free(bo);
    return best;
}

/* BO within tol of the optimum after EVALS evaluations on every seed, within mean_tol on
   average, and its mean best beats random search's over the same seeds. Measured (seeds 1-10,
   20 evaluations): bowl 0.00000 (random 0.0125), Branin 0.452 mean, 0.635 worst (random 2.04),
   constrained 0.09388 (random 0.1365), optima 0, 0.3979, 0.09377. */
static void check_problem(const Problem *p) {
    double sum_bo = 0, sum_rand = 0, worst = -INFINITY;
    int within = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        double b = run_problem(p, seed, false, EVALS), r = run_problem(p, seed, true, EVALS);
        sum_bo += b;
        sum_rand += r;
        within += b - p->f_opt <= p->tol;
        if (b > worst) worst = b;
    }
    printf("[ bo       ] %-11s optimum %.5f: BO mean best %.5f (worst %.5f, %d/%d within %.3g), random %.5f, %d evaluations\n",
           p->name, p->f_opt, sum_bo / SEEDS, worst, within, SEEDS, p->tol, sum_rand / SEEDS, EVALS);
    assert_int_equal(within, SEEDS);
    assert_true(sum_bo / SEEDS - p->f_opt <= p->mean_tol);
    assert_true(sum_bo < sum_rand);
}

static void test_bo_bowl(void **s) {
    (void)s;
    Problem p = {"bowl", 0, bowl, NULL, 0.0, 2e-3, 2e-3};
    check_problem(&p);
}

static void test_bo_branin(void **s) {
    (void)s;
    Problem p = {"branin", 0, branin, NULL, 0.397887, 0.25, 0.1};
    check_problem(&p);
}

static void test_bo_constrained(void **s) {
    (void)s;
    double r = sqrt(0.8 * 0.8 + 0.1 * 0.1);
    Problem p = {"constrained", 1, dist_f, circle_c, (r - 0.5) * (r - 0.5), 0.01, 0.01};
    check_problem(&p);
    /* the best point BO reports is feasible: checked by bo_best's definition; check that the
       constrained optimum is not the unconstrained one */
    double w[3] = {0.8, 0.1, 0.1};
    assert_true(circle_c(w) > 0);
}

/* no feasible point yet: the suggestion maximizes the probability of feasibility, here
   x1 + x2 >= 0.95 while every design point has x1 + x2 <= 0.9 */
static double needs_low_acc(const double *w) { return 0.95 - w[0] - w[1]; }

static void test_bo_feasibility_first(void **s) {
    (void)s;
    Err e = {0};
    Bo *bo = bo_new(1, 3, &e);
    for (int t = 0; t < 4; t++) {
        double w[3], ei, c;
        CHECK_OK(bo_suggest(bo, w, &ei, &e), &e);
        assert_true(isnan(ei)); /* design point */
        c = needs_low_acc(w);
        assert_true(c > 0);
        CHECK_OK(bo_observe(bo, w, bowl(w), &c, &e), &e);
    }
    assert_int_equal(bo_best(bo), -1);
    /* while nothing is feasible the acquisition is a probability, and following it reaches the
       feasible region (x1 + x2 >= 0.95, 10% of the simplex) within 8 suggestions */
    int found = -1;
    for (int t = 4; t < 12 && found < 0; t++) {
        double w[3], ei;
        CHECK_OK(bo_suggest(bo, w, &ei, &e), &e);
        assert_true(ei > 0 && ei <= 1);
        double c = needs_low_acc(w);
        CHECK_OK(bo_observe(bo, w, bowl(w), &c, &e), &e);
        int n;
        const BoTrial *tr = bo_trials(bo, &n);
        assert_true(tr[t].ei == ei); /* the suggestion's acquisition follows it into the table */
        assert_true(tr[t].ok == (c <= 0));
        if (c <= 0) found = t;
    }
    printf("[ bo       ] feasibility first: feasible point at trial %d\n", found);
    assert_true(found >= 4);
    assert_int_equal(bo_best(bo), found);
    bo_free(bo);
}

/* batches: q distinct points, the same for the same seed and history, and batch BO (5 rounds
   of 4) still finds the bowl's minimum */
static void test_bo_batch(void **s) {
    (void)s;
    Err e = {0};
    Bo *a = bo_new(0, 5, &e), *b = bo_new(0, 5, &e);
    double wa[12], wb[12], ea[4], eb[4];
    for (int round = 0; round < 5; round++) {
        CHECK_OK(bo_suggest_batch(a, 4, wa, ea, &e), &e);
        CHECK_OK(bo_suggest_batch(b, 4, wb, eb, &e), &e);
        assert_memory_equal(wa, wb, sizeof wa);
        for (int j = 0; j < 4; j++) {
            for (int k = 0; k < j; k++)
                assert_true(fabs(wa[3 * j] - wa[3 * k]) + fabs(wa[3 * j + 1] - wa[3 * k + 1]) > 1e-6);
            if (round > 0) assert_true(ea[j] >= 0);
            CHECK_OK(bo_observe(a, wa + 3 * j, bowl(wa + 3 * j), NULL, &e), &e);
            CHECK_OK(bo_observe(b, wb + 3 * j, bowl(wb + 3 * j), NULL, &e), &e);
        }
    }
    int n, k = bo_best(a);
    const BoTrial *tr = bo_trials(a, &n);
    printf("[ bo       ] batch 5 x 4 on the bowl: best %.5f at (%.3f, %.3f, %.3f)\n", tr[k].f, tr[k].w[0], tr[k].w[1], tr[k].w[2]);
    assert_int_equal(n, 20);
    assert_true(tr[k].f < 5e-3);
    bo_free(a);
    bo_free(b);
}

static void test_bo_bad_input(void **s) {
    (void)s;
    Err e = {0};
    assert_null(bo_new(BO_MAX_CONSTRAINTS + 1, 1, &e));
    assert_int_equal(e.code, ERR_INPUT);
    Bo *bo = bo_new(1, 1, &e);
    double w[3] = {0.2, 0.3, 0.5}, c = 0;
    assert_int_equal(bo_observe(bo, w, NAN, &c, &e), -1);
    c = INFINITY;
    assert_int_equal(bo_observe(bo, w, 1.0, &c, &e), -1);
    double wneg[3] = {-0.1, 0.5, 0.6};
    c = 0;
    assert_int_equal(bo_observe(bo, wneg, 1.0, &c, &e), -1);
    int n;
    bo_trials(bo, &n);
    assert_int_equal(n, 0);
    double ww[3], ei;
    assert_int_equal(bo_suggest_batch(bo, 0, ww, &ei, &e), -1);
    bo_free(bo);
}

/* ---- search_ppo_bo on ResNet-8: the black box measured for real ---- */

static Policy *fresh_policy(uint64_t seed) {
    Err e = {0};
    Policy *p = env_policy_new(NULL, seed, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    return p;
}

/* 4 trials (the design), latency objective with the accuracy budget, precision rules allowed:
   every row is filled and consistent with its measurement, the evaluations add up, the
   returned graph is the feasible trial with the lowest latency and computes the original
   function within the budget; ctx's weights and budget are restored. Then an impossible
   memory budget: nothing is feasible and the least violating trial is returned, flagged. */
static void test_search_ppo_bo(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    RefFeed **b;
    int nf;
    CHECK_OK(calib_batches_generate(g, 2, &b, &nf, &e), &e);
    assert_true(calibrate_graph(g, (const RefFeed *const *)b, 2, nf, CALIB_PERCENTILE, &e) > 0);
    calib_batches_free(b, 2, nf);
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 500, &in, &e), &e);
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    Policy *p = fresh_policy(3);
    EvalContext ctx = {.original = g, .inputs = &in, .budget = {0.5, 0.99}, .w = objective_default_weights(), .repeats = 3,
                       .threads = 1};
    SearchOpts o = {.budget = 2, .allow_precision = true, .seed = 5};
    AgentOpts ao = agent_opts_default();
    ao.episodes = 3;
    BoTarget target = {.objective = BO_OBJECTIVE_LATENCY, .max_accuracy_drop = 0.01};
    enum { TRIALS = 4 };
    BoAgentTrial table[TRIALS];
    memset(table, 0xff, sizeof table);
    Graph *best = NULL;
    Evaluation ev;
    RewriteLog rlog = {0};
    int bt = -99;
    CHECK_OK(search_ppo_bo(&ctx, g, &o, p, cm, &ao, &target, TRIALS, NULL, &best, &ev, &rlog, table, &bt, &e), &e);
    const double design[4][2] = {{1.0 / 3, 1.0 / 3}, {0.8, 0.1}, {0.1, 0.8}, {0.1, 0.1}};
    int spent = 0;
    for (int t = 0; t < TRIALS; t++) {
        const BoAgentTrial *r = &table[t];
        printf("[ ppo+bo   ] trial %d: w = (%.2f, %.2f, %.2f) latency %.3f ms, memory %.0f B, top-1 %.3f, %d rewrites, %d evaluations, %s\n",
               t, r->bo.w[0], r->bo.w[1], r->bo.w[2], r->eval.latency_ms, r->eval.peak_bytes, r->eval.acc.top1_agreement,
               r->rewrites, r->evaluations, r->bo.ok ? "feasible" : "infeasible");
        assert_true(fabs(r->bo.w[0] - design[t][0]) < 1e-12 && fabs(r->bo.w[1] - design[t][1]) < 1e-12);
        assert_true(fabs(r->bo.w[0] + r->bo.w[1] + r->bo.w[2] - 1) < 1e-12);
        assert_true(isnan(r->bo.ei));
        assert_true(r->eval.latency_ms > 0 && r->eval.peak_bytes > 0);
        assert_true(r->bo.f == log(r->eval.latency_ms));
        double c = 0.99 - r->eval.acc.min_cosine;
        if (r->eval.acc.top1_agreement >= 0) c = fmax(c, 0.99 - r->eval.acc.top1_agreement);
        assert_true(fabs(r->bo.c[0] - c) < 1e-12);
        assert_true(r->bo.ok == (c <= 0));
        assert_true(r->bo.ok == r->eval.feasible);
        /* the start graph, at most one candidate, the final measurement */
        assert_true(r->evaluations >= 2 && r->evaluations <= 3);
        assert_true(r->rewrites >= 0);
        spent += r->evaluations;
    }
    assert_int_equal(spent, ctx.evaluations);
    assert_true(bt >= 0 && bt < TRIALS);
    assert_true(table[bt].bo.ok && ev.feasible);
    for (int t = 0; t < TRIALS; t++)
        if (table[t].bo.ok) assert_true(table[bt].bo.f <= table[t].bo.f);
    assert_true(ev.latency_ms == table[bt].eval.latency_ms);
    assert_int_equal(rlog.total, table[bt].rewrites);
    assert_true(tr_compare(g, best, false, 2) <= 0.1); /* measured within the budget: cosine >= 0.99 */
    assert_true(ctx.w.w_lat == 1.0 && ctx.w.w_mem == 0.1 && ctx.w.w_acc == 10.0);
    assert_true(ctx.budget.min_top1 == 0.5);
    graph_free(best);

    /* 1 byte of memory: nothing is feasible */
    BoTarget tiny = {.objective = BO_OBJECTIVE_MEMORY, .max_accuracy_drop = 0.01, .memory_budget_bytes = 1};
    const char *names[BO_MAX_CONSTRAINTS];
    assert_int_equal(bo_target_constraints(&tiny, names), 2);
    assert_string_equal(names[1], "memory");
    ao.episodes = 1;
    CHECK_OK(search_ppo_bo(&ctx, g, &o, p, cm, &ao, &tiny, 2, NULL, &best, &ev, &rlog, table, &bt, &e), &e);
    assert_true(bt < 0);
    int k = -1 - bt;
    assert_true(k >= 0 && k < 2);
    for (int t = 0; t < 2; t++) {
        assert_false(table[t].bo.ok);
        assert_true(table[t].bo.f == log(table[t].eval.peak_bytes));
        assert_true(fabs(table[t].bo.c[1] - log(table[t].eval.peak_bytes)) < 1e-12);
    }
    assert_true(ev.peak_bytes == table[k].eval.peak_bytes);
    graph_free(best);
    /* bad input */
    assert_int_equal(search_ppo_bo(&ctx, g, &o, p, cm, &ao, &target, 0, NULL, &best, &ev, &rlog, table, &bt, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);

    policy_free(p);
    cost_close(cm);
    inputs_free(&in);
    graph_free(g);
}

/* ---- trials spread over ranks: two threads as processes ---- */

#define RANK_TRIALS 5
typedef struct BoRank {
    ThreadRank tr;
    PpoComm comm;
    BoAgentTrial table[RANK_TRIALS];
    Graph *best;
    Evaluation ev;
    RewriteLog log;
    int best_trial, rc;
    char msg[256];
} BoRank;

/* everything a rank owns (graphs share tensors by unsynchronized reference counts: one copy
   per thread, as processes would have) */
static void *bo_rank_main(void *arg) {
    BoRank *r = arg;
    Err e = {0};
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    InputSet in;
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *cm = NULL;
    Policy *p = NULL;
    r->rc = -1;
    if (inputs_generate(g, 2, 500, &in, &e)) goto out;
    if (!(cm = cost_open(&co, &e)) || !(p = env_policy_new(NULL, 3, &e))) goto out_in;
    EvalContext ctx = {.original = g, .inputs = &in, .budget = {0.5, 0.99}, .w = objective_default_weights(), .repeats = 3,
                       .threads = 1};
    SearchOpts o = {.budget = 2, .allow_precision = true, .seed = 5};
    AgentOpts ao = agent_opts_default();
    ao.episodes = 1;
    BoTarget target = {.objective = BO_OBJECTIVE_LATENCY, .max_accuracy_drop = 0.01};
    BoParallel par = {.batch = 0, .comm = &r->comm}; /* batch = the number of ranks */
    r->rc = search_ppo_bo(&ctx, g, &o, p, cm, &ao, &target, RANK_TRIALS, &par, &r->best, &r->ev, &r->log, r->table, &r->best_trial, &e);
out_in:
    inputs_free(&in);
out:
    if (r->rc) snprintf(r->msg, sizeof r->msg, "%s", e.msg);
    policy_free(p);
    cost_close(cm);
    graph_free(g);
    return NULL;
}

/* Two ranks, 5 trials in batches of 2: trials 0,2,4 on rank 1 and 1,3 on rank 0; both hold the
   same table (bit for bit: they observed the same rows in the same order), the first four rows
   are the design and the fifth a GP suggestion with its EI; only the rank that ran the kept
   trial holds its graph; both agree on the kept trial, its measurement and its rewrite log. */
static void test_search_ppo_bo_ranks(void **s) {
    (void)s;
    ThreadGroup group;
    assert_int_equal(thread_group_init(&group, 2), 0);
    static BoRank ranks[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&ranks[i], 0, sizeof ranks[i]);
        ranks[i].comm = thread_comm(&group, i, &ranks[i].tr);
    }
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, bo_rank_main, &ranks[i]), 0);
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    thread_group_destroy(&group);
    for (int i = 0; i < 2; i++)
        if (ranks[i].rc) { print_error("rank %d: %s\n", i, ranks[i].msg); fail(); }
    const BoRank *a = &ranks[0], *b = &ranks[1];
    const double design[4][2] = {{1.0 / 3, 1.0 / 3}, {0.8, 0.1}, {0.1, 0.8}, {0.1, 0.1}};
    for (int t = 0; t < RANK_TRIALS; t++) {
        const BoAgentTrial *x = &a->table[t], *y = &b->table[t];
        printf("[ ppo+bo   ] trial %d on rank %d: w = (%.3f, %.3f, %.3f) latency %.3f ms, %s\n", t, x->rank, x->bo.w[0], x->bo.w[1],
               x->bo.w[2], x->eval.latency_ms, x->bo.ok ? "feasible" : "infeasible");
        assert_int_equal(x->rank, 1 - t % 2);
        assert_int_equal(y->rank, 1 - t % 2);
        assert_memory_equal(x->bo.w, y->bo.w, sizeof x->bo.w);
        assert_true(x->bo.f == y->bo.f && x->bo.ok == y->bo.ok && x->eval.latency_ms == y->eval.latency_ms);
        assert_true(x->rewrites == y->rewrites && x->evaluations == y->evaluations);
        assert_true(x->bo.f == log(x->eval.latency_ms));
        if (t < 4) {
            assert_true(fabs(x->bo.w[0] - design[t][0]) < 1e-12 && fabs(x->bo.w[1] - design[t][1]) < 1e-12);
            assert_true(isnan(x->bo.ei) && isnan(y->bo.ei));
        } else {
            assert_true(x->bo.ei == y->bo.ei && x->bo.ei >= 0); /* suggested by the GP, the same on both */
        }
    }
    assert_int_equal(a->best_trial, b->best_trial);
    int kept = a->best_trial >= 0 ? a->best_trial : -1 - a->best_trial;
    int owner = a->table[kept].rank;
    assert_non_null(ranks[owner].best);
    assert_null(ranks[1 - owner].best);
    assert_true(a->ev.latency_ms == a->table[kept].eval.latency_ms && b->ev.latency_ms == a->ev.latency_ms);
    assert_int_equal(a->log.total, a->table[kept].rewrites);
    assert_int_equal(b->log.total, a->log.total);
    assert_int_equal(a->log.n, b->log.n);
    for (int k = 0; k < a->log.n; k++) {
        assert_string_equal(a->log.v[k].rule, b->log.v[k].rule);
        assert_int_equal(a->log.v[k].count, b->log.v[k].count);
    }
    graph_free(ranks[owner].best);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gp_kernel),
        cmocka_unit_test(test_gp_one_point),
        cmocka_unit_test(test_gp_interpolates),
        cmocka_unit_test(test_gp_variance),
        cmocka_unit_test(test_gp_ml_lengthscale),
        cmocka_unit_test(test_bo_ei_closed_form),
        cmocka_unit_test(test_bo_simplex_map),
        cmocka_unit_test(test_bo_bowl),
        cmocka_unit_test(test_bo_branin),
        cmocka_unit_test(test_bo_constrained),
        cmocka_unit_test(test_bo_feasibility_first),
        cmocka_unit_test(test_bo_batch),
        cmocka_unit_test(test_bo_bad_input),
        cmocka_unit_test(test_search_ppo_bo),
        cmocka_unit_test(test_search_ppo_bo_ranks),
    };
    return cmocka_run_group_tests_name("bo", tests, NULL, NULL);
}
