/* gp.c - Gaussian process regression with a Matérn 5/2 ARD kernel (see gp.h): Cholesky
 * factorization and solves with GSL, hyperparameters by Nelder-Mead on the log marginal
 * likelihood. */
#include "gp.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct Gp {
    int dim;
    bool standardize;
    GpHyper h;
    int n;               /* observations conditioned on */
    double *x;           /* n × dim */
    double *y;           /* standardized outputs */
    double mean, std;    /* y_orig = mean + std · y */
    gsl_matrix *chol;    /* lower triangle: L with L Lᵀ = K + noise·I */
    gsl_vector *alpha;   /* (K + noise·I)⁻¹ y */
    double *scratch;     /* n doubles for gp_predict */
    double lml;
};

Gp *gp_new(int dim, Err *err) {
    if (dim < 1 || dim > GP_MAX_DIM) {
        err_set(err, ERR_INPUT, "gaussian process: dimension %d outside [1, %d]", dim, GP_MAX_DIM);
        return NULL;
    }
    Gp *gp = calloc(1, sizeof *gp);
    if (!gp) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    gp->dim = dim;
    gp->standardize = true;
    for (int i = 0; i < GP_MAX_DIM; i++) gp->h.ls[i] = 0.3;
    gp->h.signal_var = 1.0;
    gp->h.noise_var = 1e-4;
    gp->std = 1.0;
    return gp;
}

static void release_data(Gp *gp) {
    free(gp->x);
    free(gp->y);
    free(gp->scratch);
    if (gp->chol) gsl_matrix_free(gp->chol);
    if (gp->alpha) gsl_vector_free(gp->alpha);
    gp->x = gp->y = gp->scratch = NULL;
    gp->chol = NULL;
    gp->alpha = NULL;
    gp->n = 0;
}

void gp_free(Gp *gp) {
    if (!gp) return;
    release_data(gp);
    free(gp);
}

void gp_set_standardize(Gp *gp, bool on) { gp->standardize = on; }
void gp_set_hyper(Gp *gp, const GpHyper *h) { gp->h = *h; }
GpHyper gp_hyper(const Gp *gp) { return gp->h; }
double gp_log_marginal(const Gp *gp) { return gp->lml; }

double gp_kernel(const GpHyper *h, int dim, const double *a, const double *b) {
    double r2 = 0;
    for (int i = 0; i < dim; i++) {
        double d = (a[i] - b[i]) / h->ls[i];
        r2 += d * d;
    }
    double s5r = sqrt(5.0 * r2);
    return h->signal_var * (1.0 + s5r + 5.0 / 3.0 * r2) * exp(-s5r);
}

/* Factorizes K + noise·I for hyperparameters h into chol, solves alpha, returns the log
   marginal likelihood; -INFINITY when the matrix is not positive definite. */
static double factorize(const GpHyper *h, int dim, int n, const double *x, const double *y, gsl_matrix *chol,
                        gsl_vector *alpha) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= i; j++) {
            double k = gp_kernel(h, dim, x + (size_t)i * dim, x + (size_t)j * dim);
            gsl_matrix_set(chol, (size_t)i, (size_t)j, k);
            gsl_matrix_set(chol, (size_t)j, (size_t)i, k);
        }
        /* the noise, and a relative jitter so near-duplicate inputs stay factorizable */
        *gsl_matrix_ptr(chol, (size_t)i, (size_t)i) += h->noise_var + 1e-10 * h->signal_var;
    }
    /* GSL's default error handler aborts; a matrix that is not positive definite is an
       expected outcome here (an extreme hyperparameter trial), so the handler is off for the
       duration of this call only */
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int status = gsl_linalg_cholesky_decomp1(chol);
    if (status == 0) {
        gsl_vector_const_view yv = gsl_vector_const_view_array(y, (size_t)n);
        status = gsl_linalg_cholesky_solve(chol, &yv.vector, alpha);
    }
    gsl_set_error_handler(old);
    if (status) return -INFINITY;
    double quad = 0, logdet = 0;
    for (int i = 0; i < n; i++) {
        quad += y[i] * gsl_vector_get(alpha, (size_t)i);
        logdet += log(gsl_matrix_get(chol, (size_t)i, (size_t)i));
    }
    return -0.5 * quad - logdet - 0.5 * n * log(2 * 3.14159265358979323846);
}

/* Nelder-Mead works on p = (log ls_1..d, log signal_var, log noise_var), unbounded; a point
   outside the bounds is evaluated at its clamp plus a quadratic penalty, so the simplex is
   pushed back without a discontinuity. */
typedef struct FitProblem {
    int dim, n;
    const double *x, *y;
    gsl_matrix *chol;
    gsl_vector *alpha;
} FitProblem;

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static double unpack(const gsl_vector *p, int dim, GpHyper *h) {
    double pen = 0;
    for (int i = 0; i < dim + 2; i++) {
        double lo = i < dim ? log(GP_LS_MIN) : i == dim ? log(GP_SIGNAL_MIN) : log(GP_NOISE_MIN);
        double hi = i < dim ? log(GP_LS_MAX) : i == dim ? log(GP_SIGNAL_MAX) : log(GP_NOISE_MAX);
        double v = gsl_vector_get(p, (size_t)i), c = clampd(v, lo, hi);
        pen += (v - c) * (v - c);
        if (i < dim) h->ls[i] = exp(c);
        else if (i == dim) h->signal_var = exp(c);
        else h->noise_var = exp(c);
    }
    for (int i = dim; i < GP_MAX_DIM; i++) h->ls[i] = 1.0;
    return pen;
}

static double neg_lml(const gsl_vector *p, void *params) {
    const FitProblem *fp = params;
    GpHyper h;
    double pen = unpack(p, fp->dim, &h);
    double l = factorize(&h, fp->dim, fp->n, fp->x, fp->y, fp->chol, fp->alpha);
    if (!isfinite(l)) return 1e10 + pen;
    return -l + 10.0 * pen;
}

static void optimize_hyper(Gp *gp) {
    int d = gp->dim, np = d + 2;
    FitProblem fp = {d, gp->n, gp->x, gp->y, gp->chol, gp->alpha};
    gsl_multimin_function fn = {.n = (size_t)np, .f = neg_lml, .params = &fp};
    gsl_vector *p = gsl_vector_alloc((size_t)np), *step = gsl_vector_alloc((size_t)np);
    gsl_multimin_fminimizer *m = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, (size_t)np);
    if (!p || !step || !m) goto out; /* out of memory: keep the current hyperparameters */
    gsl_vector_set_all(step, 1.0);
    /* fixed starts (short, medium, long lengthscales) plus the current hyperparameters, so a
       refit after one more observation begins where the last one ended */
    const double starts[3][3] = {{0.15, 1.0, 1e-3}, {0.5, 1.0, 1e-2}, {1.5, 1.0, 1e-4}};
    double best = INFINITY;
    GpHyper best_h = gp->h;
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < d; i++) gsl_vector_set(p, (size_t)i, log(s < 3 ? starts[s][0] : gp->h.ls[i]));
        gsl_vector_set(p, (size_t)d, log(s < 3 ? starts[s][1] : gp->h.signal_var));
        gsl_vector_set(p, (size_t)d + 1, log(s < 3 ? starts[s][2] : gp->h.noise_var));
        if (gsl_multimin_fminimizer_set(m, &fn, p, step)) continue;
        for (int it = 0; it < 400; it++) {
            if (gsl_multimin_fminimizer_iterate(m)) break;
            if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), 1e-4) == GSL_SUCCESS) break;
        }
        double v = gsl_multimin_fminimizer_minimum(m);
        if (v < best) {
            best = v;
            unpack(gsl_multimin_fminimizer_x(m), d, &best_h);
        }
    }
    gp->h = best_h;
out:
    gsl_multimin_fminimizer_free(m);
    gsl_vector_free(p);
    gsl_vector_free(step);
}

int gp_fit(Gp *gp, const double *x, const double *y, int n, bool optimize, Err *err) {
    if (n < 0) return err_set(err, ERR_INPUT, "gaussian process: negative observation count");
    release_data(gp);
    gp->mean = 0;
    gp->std = 1;
    gp->lml = 0;
    if (n == 0) return 0;
    int d = gp->dim;
    gp->x = malloc(sizeof(double) * (size_t)n * (size_t)d);
    gp->y = malloc(sizeof(double) * (size_t)n);
    gp->scratch = malloc(sizeof(double) * (size_t)n);
    gp->chol = gsl_matrix_alloc((size_t)n, (size_t)n);
    gp->alpha = gsl_vector_alloc((size_t)n);
    if (!gp->x || !gp->y || !gp->scratch || !gp->chol || !gp->alpha) {
        release_data(gp);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    gp->n = n;
    memcpy(gp->x, x, sizeof(double) * (size_t)n * (size_t)d);
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i])) {
            release_data(gp);
            return err_set(err, ERR_INPUT, "gaussian process: observation %d is not finite", i);
        }
    }
    if (gp->standardize) {
        double m = 0, v = 0;
        for (int i = 0; i < n; i++) m += y[i];
        m /= n;
        for (int i = 0; i < n; i++) v += (y[i] - m) * (y[i] - m);
        double s = sqrt(v / n);
        /* all outputs (nearly) equal: the spread is unknown; take the size of the values
           themselves as its scale (1 when they are 0) rather than inflating rounding noise */
        if (!(s > 1e-12 * fmax(1.0, fabs(m)))) s = fabs(m) > 0 ? fabs(m) : 1.0;
        gp->mean = m;
        gp->std = s;
    }
    for (int i = 0; i < n; i++) gp->y[i] = (y[i] - gp->mean) / gp->std;
    if (optimize && n >= 2) optimize_hyper(gp);
    gp->lml = factorize(&gp->h, d, n, gp->x, gp->y, gp->chol, gp->alpha);
    if (!isfinite(gp->lml)) {
        /* only reachable with hyperparameters set by hand: more noise makes it definite */
        GpHyper h = gp->h;
        h.noise_var = fmax(h.noise_var, 1e-6) * 100 + 1e-6 * h.signal_var;
        gp->lml = factorize(&h, d, n, gp->x, gp->y, gp->chol, gp->alpha);
        if (!isfinite(gp->lml)) {
            release_data(gp);
            return err_set(err, ERR_RUNTIME, "gaussian process: covariance matrix not positive definite");
        }
        gp->h = h;
    }
    return 0;
}

void gp_predict(const Gp *gp, const double *x, double *mean, double *var) {
    int n = gp->n, d = gp->dim;
    double prior = gp_kernel(&gp->h, d, x, x);
    if (n == 0) {
        *mean = gp->mean;
        *var = prior * gp->std * gp->std;
        return;
    }
    double *v = gp->scratch, m = 0;
    for (int i = 0; i < n; i++) {
        v[i] = gp_kernel(&gp->h, d, x, gp->x + (size_t)i * d);
        m += v[i] * gsl_vector_get(gp->alpha, (size_t)i);
    }
    /* var = k(x,x) - k*ᵀ (L Lᵀ)⁻¹ k* = k(x,x) - |L⁻¹ k*|²: forward substitution in place */
    double q = 0;
    for (int i = 0; i < n; i++) {
        double s = v[i];
        for (int j = 0; j < i; j++) s -= gsl_matrix_get(gp->chol, (size_t)i, (size_t)j) * v[j];
        v[i] = s / gsl_matrix_get(gp->chol, (size_t)i, (size_t)i);
        q += v[i] * v[i];
    }
    double pv = prior - q;
    if (pv < 0) pv = 0;
    *mean = gp->mean + gp->std * m;
    *var = pv * gp->std * gp->std;
}
