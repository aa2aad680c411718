/* stats.c - medians and confidence intervals (see stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double stats_t95(int df) {
    static const double t[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
                               2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
                               2.048, 2.045, 2.042};
    if (df < 1) return INFINITY;
    if (df <= 30) return t[df];
    return df <= 60 ? 2.000 : df <= 120 ? 1.980 : 1.960;
}

Summary stats_summarize(double *x, int n) {
    Summary s = {.n = n};
    if (n <= 0) return s;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    s.min = x[0];
    s.max = x[n - 1];
    s.median = n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
    double sum = 0, ss = 0;
    for (int i = 0; i < n; i++) sum += x[i];
    s.mean = sum / n;
    for (int i = 0; i < n; i++) ss += (x[i] - s.mean) * (x[i] - s.mean);
    s.ci95 = n > 1 ? stats_t95(n - 1) * sqrt(ss / (n - 1)) / sqrt((double)n) : 0;
    /* k: P(B <= k-1) summed in log space (n may be large) while it stays <= 0.025 */
    int k = 1;
    double cdf = 0;
    for (int j = 0; j < n / 2; j++) {
        cdf += exp(lgamma(n + 1.0) - lgamma(j + 1.0) - lgamma(n - j + 1.0) - n * log(2.0));
        if (cdf > 0.025) break;
        k = j + 1; /* P(B <= k-1) = P(B <= j) <= 0.025 */
    }
    s.med_lo = x[k - 1];
    s.med_hi = x[n - k];
    return s;
}

bool stats_unstable(const Summary *s) { return s->n > 0 && (s->max > 2 * s->median || 2 * s->ci95 > 0.5 * s->median); }
