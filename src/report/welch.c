/* welch.c - Welch's unequal-variance t-test: is the mean of one method's results different
 * from another's, without assuming equal spreads (search methods differ a lot in variance). */
#include <gsl/gsl_cdf.h>
#include <math.h>

#include "stats.h"

static void mean_var(const double *x, int n, double *mean, double *var) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = n > 1 ? v / (n - 1) : 0;
}

WelchResult stats_welch(const double *a, int na, const double *b, int nb) {
    WelchResult r = {.t = NAN, .df = NAN, .p = NAN};
    if (na < 2 || nb < 2) return r;
    double ma, va, mb, vb;
    mean_var(a, na, &ma, &va);
    mean_var(b, nb, &mb, &vb);
    r.mean_diff = ma - mb;
    double sa = va / na, sb = vb / nb, se2 = sa + sb;
    if (se2 == 0) {
        /* both samples constant: identical means are no evidence of a difference; different
           constant means are as certain as it gets */
        r.t = ma == mb ? 0 : (ma > mb ? INFINITY : -INFINITY);
        r.df = na + nb - 2;
        r.p = ma == mb ? 1 : 0;
        return r;
    }
    r.t = (ma - mb) / sqrt(se2);
    /* Welch-Satterthwaite degrees of freedom */
    r.df = se2 * se2 / (sa * sa / (na - 1) + sb * sb / (nb - 1));
    r.p = 2 * gsl_cdf_tdist_Q(fabs(r.t), r.df);
    return r;
}
