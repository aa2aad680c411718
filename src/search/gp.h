/* gp.h - a Gaussian process regressor for Bayesian optimization over a few dimensions.
 *
 * Inputs x in [0,1]^d (d <= GP_MAX_DIM), outputs y with Gaussian noise:
 *     y = f(x) + e,  f ~ GP(m, k),  e ~ N(0, noise_var)
 *     k(a, b) = signal_var · (1 + √5·r + 5/3·r²) · exp(−√5·r),  r² = Σ_i ((a_i − b_i) / ls_i)²
 * (Matérn 5/2 with one lengthscale per dimension, "ARD"). Outputs are standardized inside
 * (y' = (y − mean) / std, so m = the sample mean) unless `standardize` is turned off, in which
 * case m = 0 and the hyperparameters are in the units of y. signal_var and noise_var are in the
 * standardized units.
 *
 * gp_fit with optimize = true picks the hyperparameters maximizing the log marginal likelihood
 *     log p(y | X) = −½ yᵀ (K + σ²I)⁻¹ y − ½ log|K + σ²I| − n/2 log 2π
 * by Nelder-Mead (GSL nmsimplex2) on (log ls, log signal_var, log noise_var) from a few fixed
 * starting points, within the bounds below. Everything is deterministic. */
#ifndef GRAPPO_GP_H
#define GRAPPO_GP_H

#include <stdbool.h>

#include "../util/err.h"

#define GP_MAX_DIM 4

/* bounds of the hyperparameter search (x in [0,1]^d, standardized y) */
#define GP_LS_MIN 0.02
#define GP_LS_MAX 20.0
#define GP_SIGNAL_MIN 0.05
#define GP_SIGNAL_MAX 20.0
#define GP_NOISE_MIN 1e-6
#define GP_NOISE_MAX 1.0

typedef struct GpHyper {
    double ls[GP_MAX_DIM]; /* lengthscales, one per input dimension */
    double signal_var;
    double noise_var;
} GpHyper;

typedef struct Gp Gp;

/* dim in [1, GP_MAX_DIM]; starts with ls = 0.3, signal_var = 1, noise_var = 1e-4, standardize on */
Gp *gp_new(int dim, Err *err);
void gp_free(Gp *gp);

void gp_set_standardize(Gp *gp, bool on);
void gp_set_hyper(Gp *gp, const GpHyper *h);
GpHyper gp_hyper(const Gp *gp);

/* Conditions on n observations (x row-major n × dim, copied). optimize: first fit the
   hyperparameters by maximum marginal likelihood (needs n >= 2; ignored otherwise), else keep
   the current ones. */
int gp_fit(Gp *gp, const double *x, const double *y, int n, bool optimize, Err *err);

/* Posterior mean and variance of the latent f at x, in the units of y (var excludes the
   observation noise). Before any fit: the prior (mean 0, var signal_var). */
void gp_predict(const Gp *gp, const double *x, double *mean, double *var);

/* log marginal likelihood of the (standardized) data under the current hyperparameters */
double gp_log_marginal(const Gp *gp);

/* the kernel itself, for tests and closed forms */
double gp_kernel(const GpHyper *h, int dim, const double *a, const double *b);

#endif
