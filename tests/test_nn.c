/* test_nn.c - the policy's layers (src/search/nn.c): every backward against central finite
 * differences of a random scalar loss L = sum(c .* y), closed-form hand cases for the edge
 * aggregation and the pooling, and the accumulate (+=) contract of every backward. */
#include "testutil.h"

#include <stdlib.h>

#include "search/nn.h"
#include "util/rng.h"

#define EPS 1e-3f

static void fill(float *v, int n, Rng *r, float scale) {
    for (int i = 0; i < n; i++) v[i] = (2.0f * rng_uniform(r) - 1.0f) * scale;
}

/* ---- a generic finite-difference check: a layer forward is a closure that recomputes y ---- */

typedef struct Probe {
    void (*forward)(void *state, float *y);
    void *state;
    float *y;       /* output buffer, ny values */
    const float *c; /* loss weights */
    int ny;
} Probe;

static double probe_loss(const Probe *pr) {
    pr->forward(pr->state, pr->y);
    double s = 0.0;
    for (int i = 0; i < pr->ny; i++) s += (double)pr->c[i] * pr->y[i];
    return s;
}

/* compares analytic[i] with the central difference of the loss in x[i], for every i */
static void check_fd(const Probe *pr, float *x, const float *analytic, int n, const char *what) {
    for (int i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + EPS;
        double lp = probe_loss(pr);
        x[i] = keep - EPS;
        double lm = probe_loss(pr);
        x[i] = keep;
        /* divide by the step actually taken in float */
        double fd = (lp - lm) / ((double)(keep + EPS) - (double)(keep - EPS));
        double tol = 1e-2 * fabs(fd) + 2e-3;
        if (fabs(fd - analytic[i]) > tol) {
            print_error("%s[%d]: analytic %.6g, finite difference %.6g\n", what, i, analytic[i], fd);
            fail();
        }
    }
}

/* ---- linear ---------------------------------------------------------------------------------- */

enum { LN = 4, LIN = 5, LOUT = 3 };
typedef struct LinState { float x[LN * LIN], W[LOUT * LIN], b[LOUT]; } LinState;
static void lin_fwd(void *s, float *y) {
    LinState *l = s;
    nn_linear_forward(y, l->x, l->W, l->b, LN, LIN, LOUT);
}

static void test_linear_grad(void **st) {
    (void)st;
    Rng r;
    rng_seed(&r, 1);
    LinState l;
    float y[LN * LOUT], c[LN * LOUT];
    fill(l.x, LN * LIN, &r, 1.0f);
    fill(l.W, LOUT * LIN, &r, 1.0f);
    fill(l.b, LOUT, &r, 1.0f);
    fill(c, LN * LOUT, &r, 1.0f);
    /* closed form of one output: y[1][2] = b[2] + sum_k W[2][k] x[1][k] */
    lin_fwd(&l, y);
    double y12 = l.b[2];
    for (int k = 0; k < LIN; k++) y12 += (double)l.W[2 * LIN + k] * l.x[1 * LIN + k];
    assert_true(fabs(y[1 * LOUT + 2] - y12) < 1e-5);

    /* gradients start at 7 to check that backward adds rather than overwrites */
    float dx[LN * LIN], dW[LOUT * LIN], db[LOUT];
    for (int i = 0; i < LN * LIN; i++) dx[i] = 7.0f;
    for (int i = 0; i < LOUT * LIN; i++) dW[i] = 7.0f;
    for (int i = 0; i < LOUT; i++) db[i] = 7.0f;
    nn_linear_backward(dx, dW, db, l.x, l.W, c, LN, LIN, LOUT);
    for (int i = 0; i < LN * LIN; i++) dx[i] -= 7.0f;
    for (int i = 0; i < LOUT * LIN; i++) dW[i] -= 7.0f;
    for (int i = 0; i < LOUT; i++) db[i] -= 7.0f;
    Probe pr = {lin_fwd, &l, y, c, LN * LOUT};
    check_fd(&pr, l.x, dx, LN * LIN, "linear dx");
    check_fd(&pr, l.W, dW, LOUT * LIN, "linear dW");
    check_fd(&pr, l.b, db, LOUT, "linear db");

    /* NULL gradients are skipped; accumulate adds x W^T on top of what y holds */
    nn_linear_backward(NULL, dW, NULL, l.x, l.W, c, LN, LIN, LOUT);
    float y2[LN * LOUT];
    for (int i = 0; i < LN * LOUT; i++) y2[i] = 1.0f;
    nn_linear_accumulate(y2, l.x, l.W, LN, LIN, LOUT);
    lin_fwd(&l, y);
    for (int i = 0; i < LN * LOUT; i++) assert_true(fabs(y2[i] - (1.0f + y[i] - l.b[i % LOUT])) < 1e-5);
    /* no bias: exactly x W^T */
    float y3[LN * LOUT];
    nn_linear_forward(y3, l.x, l.W, NULL, LN, LIN, LOUT);
    for (int i = 0; i < LN * LOUT; i++) assert_true(fabs(y3[i] - (y[i] - l.b[i % LOUT])) < 1e-5);
}

/* ---- relu ------------------------------------------------------------------------------------ */

enum { RN = 12 };
typedef struct ReluState { float x[RN]; } ReluState;
static void relu_fwd(void *s, float *y) { nn_relu_forward(y, ((ReluState *)s)->x, RN); }

static void test_relu_grad(void **st) {
    (void)st;
    Rng r;
    rng_seed(&r, 2);
    ReluState s;
    float y[RN], c[RN], dx[RN] = {0};
    /* keep every input at least 0.05 from the kink so the finite difference is well defined */
    for (int i = 0; i < RN; i++) {
        float m = 0.05f + rng_uniform(&r);
        s.x[i] = (i % 3 == 0) ? -m : m;
    }
    fill(c, RN, &r, 1.0f);
    relu_fwd(&s, y);
    for (int i = 0; i < RN; i++) assert_true(y[i] == (s.x[i] > 0 ? s.x[i] : 0.0f));
    nn_relu_backward(dx, y, c, RN);
    for (int i = 0; i < RN; i++) assert_true(dx[i] == (s.x[i] > 0 ? c[i] : 0.0f));
    Probe pr = {relu_fwd, &s, y, c, RN};
    check_fd(&pr, s.x, dx, RN, "relu dx");
    /* in place gives the same (y recomputed: the probe left the last perturbed output in it) */
    relu_fwd(&s, y);
    float z[RN];
    memcpy(z, s.x, sizeof z);
    nn_relu_forward(z, z, RN);
    assert_memory_equal(z, y, sizeof z);
}

/* ---- mean over edges ------------------------------------------------------------------------- */

/* 3 nodes, edges 0->2 and 1->2: node 2 averages its producers; 0 and 1 see node 2 backwards */
static void test_edge_mean_hand(void **st) {
    (void)st;
    const int src[2] = {0, 1}, dst[2] = {2, 2};
    const float h[3 * 2] = {1, 2, 3, 5, 10, 20};
    float inv_in[3], inv_out[3], in[6], out[6];
    nn_inv_degree(inv_in, 3, dst, 2);
    nn_inv_degree(inv_out, 3, src, 2);
    const float want_inv_in[3] = {0, 0, 0.5f}, want_inv_out[3] = {1, 1, 0};
    assert_memory_equal(inv_in, want_inv_in, sizeof inv_in);
    assert_memory_equal(inv_out, want_inv_out, sizeof inv_out);
    nn_edge_mean_forward(in, h, src, dst, 2, inv_in, 3, 2);
    nn_edge_mean_forward(out, h, dst, src, 2, inv_out, 3, 2);
    const float want_in[6] = {0, 0, 0, 0, 2, 3.5f};   /* node 2: (h0 + h1) / 2 */
    const float want_out[6] = {10, 20, 10, 20, 0, 0}; /* nodes 0, 1: h2; node 2: no consumers */
    assert_memory_equal(in, want_in, sizeof in);
    assert_memory_equal(out, want_out, sizeof out);
    /* backward: dh[u] += dout[v] / indeg(v) for each edge u->v */
    float dh[6] = {0};
    const float dout[6] = {100, 100, 100, 100, 4, 8};
    nn_edge_mean_backward(dh, dout, src, dst, 2, inv_in, 2);
    const float want_dh[6] = {2, 4, 2, 4, 0, 0};
    assert_memory_equal(dh, want_dh, sizeof dh);
}

enum { EN = 6, EE = 9, ED = 3 };
typedef struct EdgeState { float h[EN * ED], inv[EN]; const int *from, *to; } EdgeState;
static void edge_fwd(void *s, float *y) {
    EdgeState *e = s;
    nn_edge_mean_forward(y, e->h, e->from, e->to, EE, e->inv, EN, ED);
}

static void test_edge_mean_grad(void **st) {
    (void)st;
    /* a DAG with a repeated edge (1->3 twice: an op reading one tensor twice), a node with no
       producers (0) and one with no consumers (5) */
    const int src[EE] = {0, 0, 1, 1, 1, 2, 3, 4, 2};
    const int dst[EE] = {1, 2, 3, 3, 4, 4, 5, 5, 5};
    Rng r;
    rng_seed(&r, 3);
    for (int dir = 0; dir < 2; dir++) {
        EdgeState e = {.from = dir ? dst : src, .to = dir ? src : dst};
        fill(e.h, EN * ED, &r, 1.0f);
        nn_inv_degree(e.inv, EN, e.to, EE);
        float y[EN * ED], c[EN * ED], dh[EN * ED] = {0};
        fill(c, EN * ED, &r, 1.0f);
        edge_fwd(&e, y);
        /* closed forms: node 3 has producers 1 and 1 (the mean is h1); node 2 has consumers 4, 5 */
        if (dir == 0)
            for (int d = 0; d < ED; d++) assert_true(fabs(y[3 * ED + d] - e.h[1 * ED + d]) < 1e-6);
        else
            for (int d = 0; d < ED; d++) /* node 2's consumers: 4 and 5 */
                assert_true(fabs(y[2 * ED + d] - 0.5f * (e.h[4 * ED + d] + e.h[5 * ED + d])) < 1e-6);
        int lonely = dir == 0 ? 0 : 5;
        for (int d = 0; d < ED; d++) assert_true(y[lonely * ED + d] == 0.0f);
        nn_edge_mean_backward(dh, c, e.from, e.to, EE, e.inv, ED);
        Probe pr = {edge_fwd, &e, y, c, EN * ED};
        check_fd(&pr, e.h, dh, EN * ED, dir ? "edge mean (consumers) dh" : "edge mean (producers) dh");
    }
}

/* ---- pooling --------------------------------------------------------------------------------- */

enum { PN = 5, PD = 4 };
typedef struct PoolState { float h[PN * PD]; int argmax[PD]; } PoolState;
static void mean_fwd(void *s, float *y) { nn_mean_pool_forward(y, ((PoolState *)s)->h, PN, PD); }
static void max_fwd(void *s, float *y) {
    PoolState *p = s;
    nn_max_pool_forward(y, p->argmax, p->h, PN, PD);
}

static void test_mean_pool_grad(void **st) {
    (void)st;
    Rng r;
    rng_seed(&r, 4);
    PoolState p;
    float y[PD], c[PD], dh[PN * PD] = {0};
    fill(p.h, PN * PD, &r, 1.0f);
    fill(c, PD, &r, 1.0f);
    mean_fwd(&p, y);
    for (int d = 0; d < PD; d++) {
        double s = 0;
        for (int v = 0; v < PN; v++) s += p.h[v * PD + d];
        assert_true(fabs(y[d] - s / PN) < 1e-6);
    }
    nn_mean_pool_backward(dh, c, PN, PD);
    for (int v = 0; v < PN; v++)
        for (int d = 0; d < PD; d++) assert_true(fabs(dh[v * PD + d] - c[d] / PN) < 1e-7);
    Probe pr = {mean_fwd, &p, y, c, PD};
    check_fd(&pr, p.h, dh, PN * PD, "mean pool dh");
}

static void test_max_pool_routing(void **st) {
    (void)st;
    /* distinct values 0.1 apart (no ties within the finite-difference step) in shuffled order */
    PoolState p;
    Rng r;
    rng_seed(&r, 5);
    int order[PN * PD];
    for (int i = 0; i < PN * PD; i++) order[i] = i;
    for (int i = PN * PD - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < PN * PD; i++) p.h[i] = 0.1f * (float)order[i] - 1.0f;
    float y[PD], c[PD], dh[PN * PD] = {0};
    fill(c, PD, &r, 1.0f);
    max_fwd(&p, y);
    for (int d = 0; d < PD; d++) {
        int best = 0;
        for (int v = 1; v < PN; v++)
            if (p.h[v * PD + d] > p.h[best * PD + d]) best = v;
        assert_int_equal(p.argmax[d], best);
        assert_true(y[d] == p.h[best * PD + d]);
    }
    nn_max_pool_backward(dh, c, p.argmax, PD);
    /* all of column d's gradient lands on its argmax row, nothing anywhere else */
    for (int v = 0; v < PN; v++)
        for (int d = 0; d < PD; d++) assert_true(dh[v * PD + d] == (v == p.argmax[d] ? c[d] : 0.0f));
    Probe pr = {max_fwd, &p, y, c, PD};
    check_fd(&pr, p.h, dh, PN * PD, "max pool dh");
    /* a tie goes to the first row */
    const float tie[3 * 1] = {2, 5, 5};
    float g;
    int am;
    nn_max_pool_forward(&g, &am, tie, 3, 1);
    assert_int_equal(am, 1);
    assert_true(g == 5.0f);
}

/* ---- gathered mean (a site's nodes) ---------------------------------------------------------- */

enum { GN = 5, GD = 3, GK = 4 };
typedef struct GatherState { float h[GN * GD]; int rows[GK]; int n; } GatherState;
static void gather_fwd(void *s, float *y) {
    GatherState *g = s;
    nn_gather_mean_forward(y, g->h, g->rows, g->n, GD);
}

static void test_gather_mean(void **st) {
    (void)st;
    Rng r;
    rng_seed(&r, 6);
    /* row 3 twice: it counts twice in the mean (and its gradient doubles) */
    GatherState g = {.rows = {3, 0, 3, 4}, .n = GK};
    fill(g.h, GN * GD, &r, 1.0f);
    float y[GD], c[GD], dh[GN * GD] = {0};
    fill(c, GD, &r, 1.0f);
    gather_fwd(&g, y);
    for (int d = 0; d < GD; d++)
        assert_true(fabs(y[d] - (2 * g.h[3 * GD + d] + g.h[0 * GD + d] + g.h[4 * GD + d]) / 4) < 1e-6);
    nn_gather_mean_backward(dh, c, g.rows, g.n, GD);
    for (int d = 0; d < GD; d++) {
        assert_true(fabs(dh[3 * GD + d] - c[d] / 2) < 1e-7);
        assert_true(dh[1 * GD + d] == 0.0f && dh[2 * GD + d] == 0.0f);
    }
    Probe pr = {gather_fwd, &g, y, c, GD};
    check_fd(&pr, g.h, dh, GN * GD, "gather mean dh");
    /* empty set: zeros, and no gradient */
    g.n = 0;
    gather_fwd(&g, y);
    for (int d = 0; d < GD; d++) assert_true(y[d] == 0.0f);
    float dh0[GN * GD] = {0};
    nn_gather_mean_backward(dh0, c, g.rows, 0, GD);
    for (int i = 0; i < GN * GD; i++) assert_true(dh0[i] == 0.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_grad),    cmocka_unit_test(test_relu_grad),
        cmocka_unit_test(test_edge_mean_hand), cmocka_unit_test(test_edge_mean_grad),
        cmocka_unit_test(test_mean_pool_grad), cmocka_unit_test(test_max_pool_routing),
        cmocka_unit_test(test_gather_mean),
    };
    return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}
