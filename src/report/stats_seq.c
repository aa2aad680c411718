/* stats_seq.c - the sign test, fixed and group-sequential (see stats.h): decisions between two
 * graphs timed alternately that machine noise cannot flip. A preempted run is one pair out of
 * many to a sign test, where it can drag a mean or even a median of few runs.
 *
 * Error guarantee of the sequential test: it looks at the pairs after first, 2*first, 4*first,
 * ... rounds up to max (L looks), each look an exact two-sided sign test at level alpha / L.
 * When neither graph is faster (each pair's difference is positive or negative with probability
 * 1/2, the null), the chance that any look decides is at most L * alpha / L = alpha (Bonferroni,
 * whatever the correlation between looks). When one graph is really faster, the chance that the
 * test names the other is at most alpha / 2 (each look's one-sided tail is no larger under the
 * alternative than under the null). */
#include <math.h>

#include "stats.h"

double stats_sign_p(int k, int m) {
    if (m < 1 || k < 0 || k > m) return NAN;
    int lo = k < m - k ? k : m - k;
    double tail = 0; /* P(Bin(m, 1/2) <= lo), in logs so large m stays finite */
    for (int j = 0; j <= lo; j++) tail += exp(lgamma(m + 1.0) - lgamma(j + 1.0) - lgamma(m - j + 1.0) - m * log(2.0));
    double p = 2 * tail;
    return p < 1 ? p : 1;
}

SeqSignOpts stats_seq_sign_default(void) { return (SeqSignOpts){.alpha = 0.05, .first = 8, .max = 32}; }

int stats_seq_sign_looks(const SeqSignOpts *o) {
    int looks = 0;
    for (int n = o->first > 0 ? o->first : 1; n <= o->max; n *= 2) looks++;
    return looks > 0 ? looks : 1;
}

bool stats_seq_sign_is_look(const SeqSignOpts *o, int rounds) {
    int first = o->first > 0 ? o->first : 1;
    if (rounds == o->max) return true;
    for (int n = first; n <= o->max; n *= 2)
        if (n == rounds) return true;
    return false;
}

SeqDecision stats_seq_sign_decide(const SeqSignOpts *o, const double *d, int n, double *p_out) {
    int k = 0, m = 0;
    for (int i = 0; i < n; i++)
        if (d[i] != 0 && !isnan(d[i])) { m++; k += d[i] < 0; }
    double p = m ? stats_sign_p(k, m) : 1;
    if (p_out) *p_out = p;
    if (p <= o->alpha / stats_seq_sign_looks(o)) return 2 * k > m ? SEQ_NEGATIVE : SEQ_POSITIVE;
    return SEQ_UNDECIDED;
}
