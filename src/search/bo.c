/* bo.c - Bayesian optimization on the weight simplex (see bo.h): the initial design, the
 * constrained expected improvement, its maximization over seeded candidates, and batches by
 * the kriging believer. */
#include "bo.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/rng.h"
#include "gp.h"

#define BO_MAX_PENDING 64
#define BO_TOP_CANDIDATES 10
#define BO_TOP_OBSERVED 5

typedef struct Pending { double w[3], ei; } Pending;

struct Bo {
    BoConfig cfg;
    Rng rng;
    Gp *gp_f;
    Gp *gp_c[BO_MAX_CONSTRAINTS];
    BoTrial trials[BO_MAX_TRIALS];
    int n;
    int design_given;               /* design points handed out so far */
    Pending pending[BO_MAX_PENDING]; /* suggestions not observed yet (oldest dropped when full) */
    int n_pending;
};

BoConfig bo_config_default(void) {
    return (BoConfig){.n_constraints = 0, .n_init = 4, .n_candidates = 2000, .n_local = 20, .seed = 1};
}

void bo_w_from_x(const double x[2], double w[3]) {
    w[0] = x[0];
    w[1] = x[1];
    w[2] = 1.0 - x[0] - x[1];
    if (w[2] < 0) w[2] = 0; /* rounding on the edge x1 + x2 = 1 */
}

void bo_x_from_w(const double w[3], double x[2]) {
    double s = w[0] + w[1] + w[2];
    x[0] = s > 0 ? w[0] / s : 1.0 / 3;
    x[1] = s > 0 ? w[1] / s : 1.0 / 3;
}

double bo_expected_improvement(double mu, double sigma, double f_best) {
    double d = f_best - mu;
    if (!(sigma > 1e-12)) return d > 0 ? d : 0;
    double z = d / sigma;
    double ei = d * gsl_cdf_ugaussian_P(z) + sigma * gsl_ran_ugaussian_pdf(z);
    return ei > 0 ? ei : 0; /* cancellation far below the incumbent */
}

Bo *bo_new_config(const BoConfig *cfg, Err *err) {
    if (cfg->n_constraints < 0 || cfg->n_constraints > BO_MAX_CONSTRAINTS || cfg->n_init < 1 || cfg->n_candidates < 1 ||
        cfg->n_local < 0) {
        err_set(err, ERR_INPUT, "bayesian optimization: bad configuration (constraints in [0, %d], n_init >= 1, n_candidates >= 1)",
                BO_MAX_CONSTRAINTS);
        return NULL;
    }
    Bo *bo = calloc(1, sizeof *bo);
    if (!bo) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    bo->cfg = *cfg;
    rng_seed(&bo->rng, cfg->seed);
    bo->gp_f = gp_new(2, err);
    bool ok = bo->gp_f != NULL;
    for (int k = 0; k < cfg->n_constraints && ok; k++) ok = (bo->gp_c[k] = gp_new(2, err)) != NULL;
    if (!ok) { bo_free(bo); return NULL; }
    return bo;
}

Bo *bo_new(int n_constraints, uint64_t seed, Err *err) {
    BoConfig c = bo_config_default();
    c.n_constraints = n_constraints;
    c.seed = seed;
    return bo_new_config(&c, err);
}

void bo_free(Bo *bo) {
    if (!bo) return;
    gp_free(bo->gp_f);
    for (int k = 0; k < BO_MAX_CONSTRAINTS; k++) gp_free(bo->gp_c[k]);
    free(bo);
}

const BoTrial *bo_trials(const Bo *bo, int *n) {
    *n = bo->n;
    return bo->trials;
}

int bo_best(const Bo *bo) {
    int best = -1;
    for (int i = 0; i < bo->n; i++)
        if (bo->trials[i].ok && (best < 0 || bo->trials[i].f < bo->trials[best].f)) best = i;
    return best;
}

/* uniform in [0, 1) with 53 random bits */
static double uniform01(Rng *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

/* uniform on the triangle x1, x2 >= 0, x1 + x2 <= 1: fold the unit square's upper half */
static void uniform_x(Rng *r, double x[2]) {
    x[0] = uniform01(r);
    x[1] = uniform01(r);
    if (x[0] + x[1] > 1) {
        x[0] = 1 - x[0];
        x[1] = 1 - x[1];
    }
}

/* back onto the triangle: negative coordinates to 0, then scaled down onto the edge */
static void project_x(double x[2]) {
    for (int i = 0; i < 2; i++)
        if (x[i] < 0) x[i] = 0;
    double s = x[0] + x[1];
    if (s > 1) {
        x[0] /= s;
        x[1] /= s;
    }
}

static void design_x(Bo *bo, int i, double x[2]) {
    static const double pts[4][2] = {{1.0 / 3, 1.0 / 3}, {0.8, 0.1}, {0.1, 0.8}, {0.1, 0.1}};
    if (i < 4) {
        x[0] = pts[i][0];
        x[1] = pts[i][1];
    } else {
        uniform_x(&bo->rng, x);
    }
}

/* The data the GPs are fitted to: real observations plus, within a batch, believed ones. */
typedef struct Data {
    int n, nc;
    double *x; /* n × 2 */
    double *f;
    double *c; /* n × BO_MAX_CONSTRAINTS */
} Data;

static bool feasible_row(const Data *d, int i) {
    for (int k = 0; k < d->nc; k++)
        if (d->c[i * BO_MAX_CONSTRAINTS + k] > 0) return false;
    return true;
}

static int fit_all(Bo *bo, const Data *d, bool optimize, Err *err) {
    if (gp_fit(bo->gp_f, d->x, d->f, d->n, optimize, err)) return -1;
    double *col = malloc(sizeof(double) * (size_t)(d->n > 0 ? d->n : 1));
    if (!col) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int k = 0; k < d->nc; k++) {
        for (int i = 0; i < d->n; i++) col[i] = d->c[i * BO_MAX_CONSTRAINTS + k];
        if (gp_fit(bo->gp_c[k], d->x, col, d->n, optimize, err)) { free(col); return -1; }
    }
    free(col);
    return 0;
}

typedef struct Acq {
    bool has_feasible;
    double f_best;
} Acq;

/* the acquisition at x; *sigma receives the objective's posterior standard deviation */
static double acquisition(const Bo *bo, const Acq *a, const double x[2], double *sigma) {
    double mu, var;
    gp_predict(bo->gp_f, x, &mu, &var);
    *sigma = sqrt(var);
    double pf = 1;
    for (int k = 0; k < bo->cfg.n_constraints; k++) {
        double m, v;
        gp_predict(bo->gp_c[k], x, &m, &v);
        double s = sqrt(v);
        pf *= s > 1e-12 ? gsl_cdf_ugaussian_P(-m / s) : (m <= 0 ? 1.0 : 0.0);
    }
    return a->has_feasible ? bo_expected_improvement(mu, *sigma, a->f_best) * pf : pf;
}

/* keeps the k best (acq, x) in descending order */
typedef struct Top { int n, cap; double acq[BO_TOP_CANDIDATES]; double x[BO_TOP_CANDIDATES][2]; } Top;

static void top_insert(Top *t, double acq, const double x[2]) {
    if (t->n == t->cap && acq <= t->acq[t->n - 1]) return;
    int i = t->n < t->cap ? t->n++ : t->n - 1;
    while (i > 0 && t->acq[i - 1] < acq) {
        t->acq[i] = t->acq[i - 1];
        t->x[i][0] = t->x[i - 1][0];
        t->x[i][1] = t->x[i - 1][1];
        i--;
    }
    t->acq[i] = acq;
    t->x[i][0] = x[0];
    t->x[i][1] = x[1];
}

/* maximizes the acquisition for the fitted GPs over this suggestion's candidates */
static void maximize(Bo *bo, const Data *d, double x_out[2], double *acq_out) {
    Acq a = {false, INFINITY};
    for (int i = 0; i < d->n; i++)
        if (feasible_row(d, i) && d->f[i] < a.f_best) {
            a.f_best = d->f[i];
            a.has_feasible = true;
        }
    Top top = {.cap = BO_TOP_CANDIDATES};
    double best_sigma = -1, sigma_x[2] = {1.0 / 3, 1.0 / 3};
    for (int c = 0; c < bo->cfg.n_candidates; c++) {
        double x[2], s;
        uniform_x(&bo->rng, x);
        double v = acquisition(bo, &a, x, &s);
        top_insert(&top, v, x);
        if (s > best_sigma) {
            best_sigma = s;
            sigma_x[0] = x[0];
            sigma_x[1] = x[1];
        }
    }
    /* local refinement: perturbations of the best candidates and of the best observations
       (feasible first, then by f), two scales */
    int centres = top.n;
    double centre[BO_TOP_CANDIDATES + BO_TOP_OBSERVED][2];
    for (int i = 0; i < top.n; i++) memcpy(centre[i], top.x[i], sizeof centre[i]);
    bool used[BO_MAX_TRIALS + BO_MAX_PENDING] = {0};
    for (int j = 0; j < BO_TOP_OBSERVED && j < d->n; j++) {
        int b = -1;
        for (int i = 0; i < d->n; i++) {
            if (used[i]) continue;
            bool fi = feasible_row(d, i), fb = b >= 0 && feasible_row(d, b);
            if (b < 0 || (fi && !fb) || (fi == fb && d->f[i] < d->f[b])) b = i;
        }
        used[b] = true;
        memcpy(centre[centres++], d->x + 2 * b, sizeof centre[0]);
    }
    Top best = top;
    for (int i = 0; i < centres; i++) {
        for (int j = 0; j < bo->cfg.n_local; j++) {
            double scale = j % 2 ? 0.01 : 0.05, x[2], s;
            x[0] = centre[i][0] + scale * rng_normal(&bo->rng);
            x[1] = centre[i][1] + scale * rng_normal(&bo->rng);
            project_x(x);
            top_insert(&best, acquisition(bo, &a, x, &s), x);
        }
    }
    if (best.n > 0 && best.acq[0] > 0) {
        x_out[0] = best.x[0][0];
        x_out[1] = best.x[0][1];
        *acq_out = best.acq[0];
    } else {
        /* the acquisition vanished everywhere (EI underflow, or no chance of feasibility):
           explore where the objective is least known */
        x_out[0] = sigma_x[0];
        x_out[1] = sigma_x[1];
        *acq_out = 0;
    }
}

static void remember(Bo *bo, const double w[3], double ei) {
    if (bo->n_pending == BO_MAX_PENDING) {
        memmove(bo->pending, bo->pending + 1, sizeof(Pending) * (BO_MAX_PENDING - 1));
        bo->n_pending--;
    }
    Pending *p = &bo->pending[bo->n_pending++];
    memcpy(p->w, w, sizeof p->w);
    p->ei = ei;
}

int bo_suggest_batch(Bo *bo, int q, double *w, double *ei, Err *err) {
    if (q < 1 || q > BO_MAX_PENDING) return err_set(err, ERR_INPUT, "bayesian optimization: batch size %d outside [1, %d]", q, BO_MAX_PENDING);
    int nc = bo->cfg.n_constraints, cap = bo->n + q;
    Data d = {.n = bo->n, .nc = nc};
    d.x = malloc(sizeof(double) * 2 * (size_t)cap);
    d.f = malloc(sizeof(double) * (size_t)cap);
    d.c = calloc((size_t)cap * BO_MAX_CONSTRAINTS, sizeof(double));
    int rc = -1;
    if (!d.x || !d.f || !d.c) { err_set(err, ERR_RUNTIME, "out of memory"); goto out; }
    for (int i = 0; i < bo->n; i++) {
        bo_x_from_w(bo->trials[i].w, d.x + 2 * i);
        d.f[i] = bo->trials[i].f;
        memcpy(d.c + i * BO_MAX_CONSTRAINTS, bo->trials[i].c, sizeof bo->trials[i].c);
    }
    /* the GPs are only needed once something has been observed */
    bool model = bo->n > 0;
    if (model && fit_all(bo, &d, true, err)) goto out;
    for (int j = 0; j < q; j++) {
        double x[2], a = NAN;
        if (bo->design_given < bo->cfg.n_init) {
            design_x(bo, bo->design_given++, x);
        } else if (!model) {
            uniform_x(&bo->rng, x);
        } else {
            if (j > 0 && fit_all(bo, &d, false, err)) goto out; /* with the believed points */
            maximize(bo, &d, x, &a);
        }
        bo_w_from_x(x, w + 3 * j);
        ei[j] = a;
        remember(bo, w + 3 * j, a);
        if (model && j + 1 < q) {
            /* kriging believer: the point is taken as observed at the posterior means */
            double v;
            memcpy(d.x + 2 * d.n, x, sizeof(double) * 2);
            gp_predict(bo->gp_f, x, &d.f[d.n], &v);
            for (int k = 0; k < nc; k++) gp_predict(bo->gp_c[k], x, &d.c[d.n * BO_MAX_CONSTRAINTS + k], &v);
            d.n++;
        }
    }
    rc = 0;
out:
    free(d.x);
    free(d.f);
    free(d.c);
    return rc;
}

int bo_suggest(Bo *bo, double w[3], double *ei, Err *err) { return bo_suggest_batch(bo, 1, w, ei, err); }

int bo_observe(Bo *bo, const double w[3], double f, const double *c, Err *err) {
    if (bo->n == BO_MAX_TRIALS) return err_set(err, ERR_INPUT, "bayesian optimization: more than %d trials", BO_MAX_TRIALS);
    if (!isfinite(f)) return err_set(err, ERR_INPUT, "bayesian optimization: objective value is not finite");
    for (int k = 0; k < 3; k++)
        if (!(w[k] >= 0) || !isfinite(w[k])) return err_set(err, ERR_INPUT, "bayesian optimization: weights must be finite and >= 0");
    BoTrial *t = &bo->trials[bo->n];
    memset(t, 0, sizeof *t);
    double s = w[0] + w[1] + w[2];
    if (!(s > 0)) return err_set(err, ERR_INPUT, "bayesian optimization: weights sum to 0");
    for (int k = 0; k < 3; k++) t->w[k] = w[k] / s;
    t->f = f;
    t->ok = true;
    for (int k = 0; k < bo->cfg.n_constraints; k++) {
        if (!isfinite(c[k])) return err_set(err, ERR_INPUT, "bayesian optimization: constraint %d is not finite", k);
        t->c[k] = c[k];
        t->ok &= c[k] <= 0;
    }
    t->ei = NAN;
    for (int i = 0; i < bo->n_pending; i++) {
        if (!memcmp(bo->pending[i].w, w, sizeof bo->pending[i].w)) {
            t->ei = bo->pending[i].ei;
            memmove(bo->pending + i, bo->pending + i + 1, sizeof(Pending) * (size_t)(bo->n_pending - i - 1));
            bo->n_pending--;
            break;
        }
    }
    bo->n++;
    return 0;
}
