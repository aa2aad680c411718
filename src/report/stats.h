/* stats.h - summary statistics of repeated measurements: median, min, max, mean and the 95%
 * confidence interval of the mean (Student t). */
#ifndef GRAPPO_STATS_H
#define GRAPPO_STATS_H

typedef struct Summary {
    int n;
    double median, min, max, mean, ci95; /* mean ± ci95 */
} Summary;

/* Summarizes x[0..n) (n >= 1); sorts x in place. */
Summary stats_summarize(double *x, int n);
/* two-sided 95% Student t quantile for df degrees of freedom (1.96 as df grows) */
double stats_t95(int df);

/* Spearman's rank correlation of x[0..n) and y[0..n): Pearson's correlation of their ranks,
   tied values sharing the average of their ranks (stats_rank.c). NaN when n < 2 or either
   side is constant. */
double stats_spearman(const double *x, const double *y, int n);

/* Welch's t-test of mean(a) vs mean(b) (na, nb >= 2): t, Welch-Satterthwaite degrees of
   freedom and the two-sided p-value (GSL's Student t distribution). NaN fields when a side has
   fewer than 2 values. */
typedef struct WelchResult { double mean_diff, t, df, p; } WelchResult;
WelchResult stats_welch(const double *a, int na, const double *b, int nb);

#endif
