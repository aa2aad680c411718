/* stats.h - summary statistics of repeated measurements: median and its distribution-free 95%
 * confidence interval, min, max, mean and the 95% confidence interval of the mean (Student t). */
#ifndef GRAPPO_STATS_H
#define GRAPPO_STATS_H

#include <stdbool.h>

typedef struct Summary {
    int n;
    double median, min, max, mean, ci95; /* mean ± ci95 */
    /* 95% CI of the median: order statistics x_(k) and x_(n+1-k) (1-based), k the largest with
       2 P(Bin(n, 1/2) <= k-1) <= 0.05; coverage >= 95% whatever the distribution, so a few
       preempted runs widen it a little instead of making it meaningless as they do the mean's.
       n < 6: [min, max], which covers less than 95%. */
    double med_lo, med_hi;
} Summary;

/* Summarizes x[0..n) (n >= 1); sorts x in place. */
Summary stats_summarize(double *x, int n);
/* The timings spread too much to trust a ratio of medians: a run took over twice the median
   (preempted), or the 95% CI of the mean is wider than half the median. The one rule of
   `grappo optimize`'s RESULT line and `grappo bench`'s report. */
bool stats_unstable(const Summary *s);

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

/* Ordinary least squares y ~ X b (regress.c, GSL's gsl_multifit_linear). X is n x p, row-major;
   put a column of ones in it for an intercept. Writes b[0..p), their standard errors se[0..p)
   (square roots of the covariance diagonal with the residual variance chi^2 / (n - p); NaN
   when n <= p) and *r2 = 1 - SS_res / SS_tot about the mean of y (NaN when y is constant).
   Returns 0, or -1 when n < 1, p < 1, or memory runs out. */
int stats_regress(const double *X, const double *y, int n, int p, double *b, double *se, double *r2);

/* Exact two-sided sign test: p-value of k of m non-zero paired differences on one side when
   each side has probability 1/2 (stats_seq.c). NaN when m < 1. */
double stats_sign_p(int k, int m);

/* Group-sequential sign test on paired differences d_i (e.g. ln(time of B) - ln(time of A) in
   round i of an alternating timing loop): looks after first, 2*first, 4*first, ... <= max
   rounds (and at max), each an exact two-sided sign test at level alpha / looks. Guarantee:
   when neither side is favoured the test decides (at any look) with probability <= alpha; when
   one side is, it names the other with probability <= alpha / 2. Undecided at max: the two
   cannot be told apart at that level. Defaults: alpha 0.05, first 8, max 32 (3 looks). */
typedef struct SeqSignOpts { double alpha; int first, max; } SeqSignOpts;
typedef enum SeqDecision { SEQ_UNDECIDED = 0, SEQ_NEGATIVE = -1, SEQ_POSITIVE = 1 } SeqDecision;
SeqSignOpts stats_seq_sign_default(void);
int stats_seq_sign_looks(const SeqSignOpts *o);
/* true when a look is due after `rounds` rounds */
bool stats_seq_sign_is_look(const SeqSignOpts *o, int rounds);
/* the decision of a look at d[0..n) (zeros and NaNs are ties, dropped); *p the sign test's p */
SeqDecision stats_seq_sign_decide(const SeqSignOpts *o, const double *d, int n, double *p);

#endif
