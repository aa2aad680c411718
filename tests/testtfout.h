/* testtfout.h - running a graph on the reference or fast runtime and comparing its outputs
 * with TensorFlow's saved ones (the control-flow suites: test_ctrlflow, test_tf1_loops). */
#ifndef GRAPPO_TESTTFOUT_H
#define GRAPPO_TESTTFOUT_H

#include <math.h>

#include "runtime/plan.h"
#include "runtime/ref.h"
#include "testutil.h"

/* the graph outputs on the reference (fast = false) or fast runtime */
static inline int run_on(const Graph *g, bool fast, const RefFeed *feed, int n, Tensor *out, Err *e) {
    if (!fast) return ref_run(g, feed, n, NULL, 0, out, NULL, e);
    PlanOpts o = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &o, e);
    if (!p) return -1;
    int rc = plan_run(p, feed, n, out, NULL, e);
    plan_free(p);
    return rc;
}

/* float32 as TensorFlow computes it: max|got - want| <= 1e-5 * max(1, max|want|); ints exact */
static inline void check_close(const char *what, const Tensor *got, const Tensor *want) {
    double m = 1;
    for (int64_t i = 0; i < tensor_numel(want); i++) m = fmax(m, fabs(tensor_get(want, i)));
    assert_int_equal(got->dtype, want->dtype);
    if (!shape_equal(&got->shape, &want->shape)) {
        char a[64], b[64];
        print_error("%s: shape %s, TensorFlow %s\n", what, shape_str(&got->shape, a, 64), shape_str(&want->shape, b, 64));
        fail();
    }
    for (int64_t i = 0; i < tensor_numel(want); i++) {
        double d = fabs(tensor_get(got, i) - tensor_get(want, i));
        if (!(d <= 1e-5 * m)) {
            print_error("%s: element %lld: %.9g, TensorFlow %.9g\n", what, (long long)i, tensor_get(got, i), tensor_get(want, i));
            fail();
        }
    }
}

#endif
