/* stats_rank.c - rank statistics: Spearman's rank correlation, used to check that the cost
 * model orders candidate graphs the way whole-plan timing does. */
#include <math.h>
#include <stdlib.h>

#include "stats.h"

typedef struct Ranked { double v; int i; } Ranked;

static int cmp_ranked(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->v != y->v) return (x->v > y->v) - (x->v < y->v);
    return (x->i > y->i) - (x->i < y->i);
}

/* rank[i] = 1-based rank of x[i]; a run of equal values gets the mean of the ranks it spans */
static int average_ranks(const double *x, int n, double *rank) {
    Ranked *r = malloc(sizeof *r * (size_t)n);
    if (!r) return -1;
    for (int i = 0; i < n; i++) r[i] = (Ranked){x[i], i};
    qsort(r, (size_t)n, sizeof *r, cmp_ranked);
    for (int a = 0; a < n;) {
        int b = a;
        while (b + 1 < n && r[b + 1].v == r[a].v) b++;
        double mean = 0.5 * (double)(a + b) + 1.0; /* ranks a+1 .. b+1 */
        for (int k = a; k <= b; k++) rank[r[k].i] = mean;
        a = b + 1;
    }
    free(r);
    return 0;
}

double stats_spearman(const double *x, const double *y, int n) {
    if (n < 2) return NAN;
    double *rx = malloc(sizeof *rx * (size_t)n), *ry = malloc(sizeof *ry * (size_t)n);
    double rho = NAN;
    if (!rx || !ry || average_ranks(x, n, rx) || average_ranks(y, n, ry)) goto done;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) { mx += rx[i]; my += ry[i]; }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    if (sxx > 0 && syy > 0) rho = sxy / sqrt(sxx * syy);
done:
    free(rx);
    free(ry);
    return rho;
}
