/* regress.c - ordinary least squares with standard errors and R^2 (GSL): the descriptive
 * regression of the benchmark report (log speedup on counts of each rewrite family). */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <math.h>

#include "stats.h"

int stats_regress(const double *X, const double *y, int n, int p, double *b, double *se, double *r2) {
    if (n < 1 || p < 1) return -1;
    /* GSL's default handler aborts; errors here (allocation, too few rows) become a return
       value (the same switch as gp.c, restored before returning) */
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_matrix *A = gsl_matrix_alloc((size_t)n, (size_t)p);
    gsl_vector *v = gsl_vector_alloc((size_t)n), *c = gsl_vector_alloc((size_t)p);
    gsl_matrix *cov = gsl_matrix_alloc((size_t)p, (size_t)p);
    gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc((size_t)n, (size_t)p);
    int rc = -1;
    if (!A || !v || !c || !cov || !w) goto done;
    for (int i = 0; i < n; i++) {
        gsl_vector_set(v, (size_t)i, y[i]);
        for (int j = 0; j < p; j++) gsl_matrix_set(A, (size_t)i, (size_t)j, X[(size_t)i * (size_t)p + (size_t)j]);
    }
    double chisq;
    /* SVD-based: a rank-deficient X (a family never used) gives the minimum-norm solution */
    if (gsl_multifit_linear(A, v, c, cov, &chisq, w)) goto done;
    /* cov = s^2 (X'X)^-1 with s^2 = chisq / (n - p), the residual variance */
    for (int j = 0; j < p; j++) {
        b[j] = gsl_vector_get(c, (size_t)j);
        se[j] = n > p ? sqrt(fmax(0.0, gsl_matrix_get(cov, (size_t)j, (size_t)j))) : NAN;
    }
    double mean = 0, tss = 0;
    for (int i = 0; i < n; i++) mean += y[i];
    mean /= n;
    for (int i = 0; i < n; i++) tss += (y[i] - mean) * (y[i] - mean);
    *r2 = tss > 0 ? 1 - chisq / tss : NAN;
    rc = 0;
done:
    gsl_multifit_linear_free(w);
    gsl_matrix_free(cov);
    gsl_vector_free(c);
    gsl_vector_free(v);
    gsl_matrix_free(A);
    gsl_set_error_handler(old);
    return rc;
}
