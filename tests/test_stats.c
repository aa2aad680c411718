/* test_stats.c - Welch's t-test against a hand-computed case (and R's t.test on the same
 * numbers), degenerate inputs. Spearman's correlation is tested in test_cost.c. */
#include "testutil.h"

#include "report/stats.h"

static void test_welch_closed_form(void **s) {
    (void)s;
    double a[] = {1, 2, 3, 4, 5}, b[] = {2, 4, 6, 8, 10};
    /* means 3 and 6, variances 2.5 and 10: se^2 = 2.5/5 + 10/5 = 2.5, t = -3 / sqrt(2.5),
       df = 2.5^2 / (0.5^2/4 + 2^2/4) = 6.25 / 1.0625 */
    WelchResult r = stats_welch(a, 5, b, 5);
    assert_true(fabs(r.mean_diff + 3) < 1e-12);
    assert_true(fabs(r.t + 3 / sqrt(2.5)) < 1e-12);
    assert_true(fabs(r.df - 6.25 / 1.0625) < 1e-12);
    assert_true(fabs(r.p - 0.1075) < 0.001); /* R: t.test(1:5, c(2,4,6,8,10)) p-value = 0.1075 */
    /* symmetric */
    WelchResult q = stats_welch(b, 5, a, 5);
    assert_true(fabs(q.t - 3 / sqrt(2.5)) < 1e-12 && fabs(q.p - r.p) < 1e-12);
    /* far apart with small spread: tiny p */
    double c[] = {10.0, 10.1, 9.9, 10.05}, d[] = {1.0, 1.1, 0.9, 1.05};
    assert_true(stats_welch(c, 4, d, 4).p < 1e-6);
}

static void test_welch_degenerate(void **s) {
    (void)s;
    double a[] = {1, 1, 1}, b[] = {1, 1, 1}, c[] = {2, 2, 2};
    assert_true(stats_welch(a, 3, b, 3).p == 1);
    assert_true(stats_welch(a, 3, c, 3).p == 0);
    assert_true(isnan(stats_welch(a, 1, c, 3).p));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_welch_closed_form), cmocka_unit_test(test_welch_degenerate)};
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
