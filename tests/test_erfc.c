/* test_erfc.c - Erfc (1 - erf(x) without cancellation; Keras 3's exact GELU) on both runtimes
 * against TensorFlow 2.20's tf.math.erfc (float32 and float16), and act_erfc's limits. */
#include "test_ops_util.h"

#include <math.h>

#include "graph/act_math.h"

static void erfc_case(int dt, const double *want, double tol) {
    const double x[] = {-INFINITY, -3, -0.5, -0.0, 0.5, 3, 10, 27, NAN};
    ToGraph t;
    to_begin(&t, "Erfc");
    to_feed(&t, to_t(dt, 1, (int64_t[]){9}, x));
    Tensor w = to_t(dt, 1, (int64_t[]){9}, want);
    to_check_tol(&t, &w, 1, tol);
    to_end(&t);
}

static void test_erfc_tf(void **state) {
    (void)state;
    /* float32: Erfc(10) = 2.1e-45 is a denormal TensorFlow flushes to 0; within 2.5e-7 */
    erfc_case(DT_FLOAT, (double[]){2, 1.99997795, 1.52049994, 1, 0.479500115, 2.20904967e-05, 0, 0, NAN}, 2.5e-7);
    /* float16, exactly TensorFlow's */
    erfc_case(DT_HALF, (double[]){2, 2, 1.52050781, 1, 0.479492188, 2.21133232e-05, 0, 0, NAN}, 0);
}

/* far tail: erfc(x) stays relative-accurate where 1 - erf(x) would be 0 */
static void test_act_erfc(void **state) {
    (void)state;
    assert_true(act_erfc(10) > 2.08e-45 && act_erfc(10) < 2.09e-45);
    assert_true(1.0 - erf(10) == 0.0);
    assert_true(act_erfc(-INFINITY) == 2 && act_erfc(INFINITY) == 0 && isnan(act_erfc(NAN)));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_erfc_tf), cmocka_unit_test(test_act_erfc)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
