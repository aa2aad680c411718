/* test_einsum.c - Einsum on both runtimes against TensorFlow 2.20 (the numbers below were
 * computed by tf.raw_ops.Einsum on the same inputs and committed) and by hand: every equation
 * form grappo supports - matmul, the BERT projections and attention scores/contexts, ellipsis
 * broadcasting, transposes, diagonals, traces, reductions, outer and Hadamard products, a label
 * repeated in the output, int32 and float16 - and bad equations (one-line ERR_INPUT errors,
 * exit 2 from the command). */
#include "test_ops_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include "io/graphdef.h"

/* inputs: element i of input k (k = 1, 2) is ((7 i + 3 k) mod 11 - 5) / 4, exact in float */
static double data(int64_t i, int k) { return (double)(((i * 7 + k * 3) % 11) - 5) * 0.25; }

static Tensor input(int dt, int rank, const int64_t *dims, int k, double scale) {
    Shape s = shape_make(rank, dims);
    double v[256];
    for (int64_t i = 0; i < shape_numel(&s); i++) v[i] = data(i, k) * scale;
    return tr_make(dt, rank, dims, v);
}

typedef struct Case {
    const char *eq;
    int n_in;
    int rank[2];
    int64_t dims[2][MAX_RANK];
    int out_rank;
    int64_t out_dims[MAX_RANK];
    double want[64];
} Case;

/* tf.raw_ops.Einsum(inputs=[x0, x1], equation=eq) with the inputs above (float32) */
static const Case CASES[] = {
    {"ij,jk->ik", 2, {2, 2}, {{2,3}, {3,4}}, 2, {2,4}, {-1.25, 1.1875, -0.5, -1.5, -1.1875, 1.3125, -1, -1.25}},
    {"abc,cd->abd", 2, {3, 2}, {{2,3,4}, {4,5}}, 3, {2,3,5}, {1.875, -0.4375, -2.0625, 1.8125, -0.5, -1.75, -0.4375, 1.5625, -1.9375, -0.625, 0.125, 0.25, 1.0625, 0.5, 0.625, -1.4375, -0.4375, 1.25, -1.875, -0.875, 0.4375, 0.25, 0.75, 0.5625, 0.375, -1.8125, 1.625, -1.8125, -1.8125, 1.625}},
    {"abcd,aecd->acbe", 2, {4, 4}, {{2,3,2,4}, {2,5,2,4}}, 4, {2,2,3,5}, {-0.8125, -0.75, -1.375, -1.3125, -1.25, 1.375, 1, -0.75, -1.125, -1.5, 1.5, 1.375, -0.8125, -0.9375, -1.0625, -1.6875, -1.5, -1.3125, -1.125, -0.9375, -2.125, -1.6875, -1.25, -1.5, -1.0625, 0.1875, 0.1875, 0.1875, -1.1875, -1.1875, -1.1875, -1.0625, -0.9375, -0.8125, 1.375, -1.1875, -1.5, -1.125, -0.75, 1, 0.1875, -1.25, -1.3125, -1.375, -0.75, -1.0625, -1.5, -1.25, -1.6875, -2.125, -0.9375, -1.125, -1.3125, -1.5, -1.6875, -0.8125, -0.75, -1.375, -1.3125, -1.25}},
    {"acbe,aecd->abcd", 2, {4, 4}, {{2,2,3,5}, {2,5,2,4}}, 4, {2,3,2,4}, {1.1875, -0.0625, 0.75, 0.875, -0.6875, -1.1875, -0.3125, -0.8125, -1.75, 0, -1, -1.3125, 0.8125, -2.875, 1, 0.75, 0.125, -0.625, -1.375, -0.0625, 0.25, 0.9375, 0.25, 0.25, 1.125, -2.75, 0.9375, 0.5, 0.875, -0.875, 1.5, 0.4375, -0.0625, 1.8125, -0.4375, 0.75, -0.6875, 0.5625, 1.125, -0.375, 0.125, 0.1875, -0.4375, 2.375, 1.1875, -0.0625, 0.75, 0.875}},
    {"BTNH,BSNH->BNTS", 2, {4, 4}, {{1,3,2,4}, {1,5,2,4}}, 4, {1,2,3,5}, {-0.8125, -0.75, -1.375, -1.3125, -1.25, 1.375, 1, -0.75, -1.125, -1.5, 1.5, 1.375, -0.8125, -0.9375, -1.0625, -1.6875, -1.5, -1.3125, -1.125, -0.9375, -2.125, -1.6875, -1.25, -1.5, -1.0625, 0.1875, 0.1875, 0.1875, -1.1875, -1.1875}},
    {"BNTS,BSNH->BTNH", 2, {4, 4}, {{1,2,3,5}, {1,5,2,4}}, 4, {1,3,2,4}, {1.1875, -0.0625, 0.75, 0.875, -0.6875, -1.1875, -0.3125, -0.8125, -1.75, 0, -1, -1.3125, 0.8125, -2.875, 1, 0.75, 0.125, -0.625, -1.375, -0.0625, 0.25, 0.9375, 0.25, 0.25}},
    {"...ij,...jk->...ik", 2, {4, 3}, {{2,1,2,3}, {3,3,4}}, 4, {2,3,2,4}, {-1.25, 1.1875, -0.5, -1.5, -1.1875, 1.3125, -1, -1.25, 1.1875, -0.5, -1.5, 0.9375, 1.3125, -1, -1.25, 1.25, -0.5, -1.5, 0.9375, -0.75, -1, -1.25, 1.25, -1.0625, -1.125, 1.4375, -1.5, -1, -1.0625, 1.5625, -2, -0.75, 1.4375, -1.5, -1, 1.5625, 1.5625, -2, -0.75, 1.875, -1.5, -1, 1.5625, -1.375, -2, -0.75, 1.875, -1.6875}},
    {"abcd,cde->abe", 2, {4, 3}, {{2,3,2,4}, {2,4,5}}, 3, {2,3,5}, {1.625, 1.3125, -3.8125, 1.375, 1.0625, 0.125, 1.9375, -0.375, 0.0625, 1.875, 2.0625, -1.5625, -1.0625, 2.1875, -1.4375, -0.125, -1.625, 1.6875, 0.1875, -1.3125, 0.4375, -1.6875, 1.6875, 0.25, -1.875, -2.4375, -2.4375, 3.75, -2.4375, -2.4375}},
    {"ij->ji", 1, {2, 0}, {{2,3}, {0}}, 2, {3,2}, {-0.5, -0.75, 1.25, 1, 0.25, 0}},
    {"ii->i", 1, {2, 0}, {{3,3}, {0}}, 1, {3}, {-0.5, 1, -0.25}},
    {"ii->", 1, {2, 0}, {{3,3}, {0}}, 0, {0}, {0.25}},
    {"ij->i", 1, {2, 0}, {{2,3}, {0}}, 1, {2}, {1, 0.25}},
    {"ij->", 1, {2, 0}, {{2,3}, {0}}, 0, {0}, {1.25}},
    {"i,j->ij", 2, {1, 1}, {{2}, {3}}, 2, {2,3}, {-0.125, 0.375, -0.5, 0.3125, -0.9375, 1.25}},
    {"ij,ij->ij", 2, {2, 2}, {{2,3}, {2,3}}, 2, {2,3}, {-0.125, -0.9375, 0.25, 0, -1, 0}},
    {"ij,kj->ik", 2, {2, 2}, {{2,3}, {4,3}}, 2, {2,4}, {-0.8125, -1.0625, -1.3125, 1.875, -0.9375, -1, -1.0625, 1.625}},
    {"i...j,j...k->i...k", 2, {3, 3}, {{2,5,3}, {3,5,4}}, 3, {2,5,4}, {-1.0625, 2.0625, -0.3125, -0.625, 1.75, -0.5625, -0.8125, 1.6875, -0.4375, -0.625, -0.8125, -0.3125, 1.3125, -0.875, -1, 1.625, 1.5, -1.3125, -1.375, 1.3125, 1.5, -1.25, 1.5, -1.25, -1.3125, 1.5, -1.1875, -1.125, -0.875, 1.3125, 0.0625, -1.1875, -0.625, -0.4375, 1.8125, -0.75, -0.5625, 1.75, -0.75, -0.5}},
    {"ij,jk->ikk", 2, {2, 2}, {{2,3}, {3,4}}, 3, {2,4,4}, {-1.25, 0, 0, 0, 0, 1.1875, 0, 0, 0, 0, -0.5, 0, 0, 0, 0, -1.5, -1.1875, 0, 0, 0, 0, 1.3125, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1.25}},
    {"...,...->...", 2, {2, 1}, {{2,3}, {3}}, 2, {2,3}, {-0.125, -0.9375, 0.25, -0.1875, -0.75, 0}},
    {"iij,jk->ik", 2, {3, 2}, {{3,3,2}, {2,4}}, 2, {3,4}, {-1.375, 1.3125, -0.8125, -1.5625, 1.1875, -0.75, 0.0625, 1.5625, 1, -0.75, 0.25, 1.25}},
    {"ab,ab->", 2, {2, 2}, {{2,3}, {2,3}}, 0, {0}, {-1.8125}},
    {"bij,bjk->bik", 2, {3, 3}, {{2,2,3}, {2,3,2}}, 3, {2,2,2}, {0.875, 0.5625, 0.8125, 0.5625, 0.3125, 0.8125, -0.0625, 1.1875}},
    {"ij,jk->k", 2, {2, 2}, {{2,3}, {3,4}}, 1, {4}, {-2.4375, 2.5, -1.5, -2.75}},
    {"abc,cd->d", 2, {3, 2}, {{2,3,4}, {4,5}}, 1, {5}, {-2.5625, 0.8125, 0.75, -2.75, 0.625}},
    {"iij,jkl->k", 2, {3, 3}, {{3,3,2}, {2,4,2}}, 1, {4}, {0.375, -2.25, -0.0625, 2.125}},
    {"a,b->", 2, {1, 1}, {{4}, {3}}, 0, {0}, {0.125}},
    {"...ij->...ji", 1, {3, 0}, {{2,2,3}, {0}}, 3, {2,3,2}, {-0.5, -0.75, 1.25, 1, 0.25, 0, -1, -1.25, 0.75, 0.5, -0.25, -0.5}},
};

static void run_case(const Case *c, int dt, double scale, const double *want, double tol) {
    ToGraph t;
    to_begin(&t, "Einsum");
    Err e;
    CHECK_OK(node_set_attr_s(t.g->nodes[t.op], "equation", c->eq, &e), &e);
    for (int k = 0; k < c->n_in; k++) to_feed(&t, input(dt, c->rank[k], c->dims[k], k + 1, scale));
    Tensor w = tr_make(dt, c->out_rank, c->out_dims, want);
    to_check_tol(&t, &w, 1, tol);
    to_end(&t);
}

static void test_tf_values(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        print_message("  %s\n", CASES[i].eq);
        run_case(&CASES[i], DT_FLOAT, 1.0, CASES[i].want, 1e-6);
    }
}

/* integer and half-precision operands (inputs scaled by 4: small integers), TensorFlow's values */
static void test_int32_float16(void **state) {
    (void)state;
    const Case bmm = {"bij,bjk->bik", 2, {3, 3}, {{2, 2, 3}, {2, 3, 2}}, 3, {2, 2, 2}, {0}};
    run_case(&bmm, DT_INT32, 4.0, (double[]){14, 9, 13, 9, 5, 13, -1, 19}, 0);
    /* a label private to each input (summed out before the contraction), integers: 16 x the
       float32 case's TensorFlow values (both inputs scaled by 4) */
    const Case priv = {"ij,jk->k", 2, {2, 2}, {{2, 3}, {3, 4}}, 1, {4}, {0}};
    run_case(&priv, DT_INT32, 4.0, (double[]){-39, 40, -24, -44}, 0);
    run_case(&priv, DT_INT64, 4.0, (double[]){-39, 40, -24, -44}, 0);
    const Case mm = {"ab,bc->ac", 2, {2, 2}, {{2, 3}, {3, 2}}, 2, {2, 2}, {0}};
    run_case(&mm, DT_HALF, 4.0, (double[]){14, 9, 13, 9}, 0);
}

/* by hand: [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]; its trace is 5, its diagonal
   [1,4], the transpose [[1,3],[2,4]] */
static void test_hand_values(void **state) {
    (void)state;
    const char *eqs[] = {"ij,jk->ik", "ii->", "ii->i", "ij->ji", "ij,ij->", "ij->j"};
    const double want[][4] = {{19, 22, 43, 50}, {5}, {1, 4}, {1, 3, 2, 4}, {70}, {4, 6}};
    const int out_rank[] = {2, 0, 1, 2, 0, 1};
    const int64_t out_dims[][2] = {{2, 2}, {0}, {2}, {2, 2}, {0}, {2}};
    for (int i = 0; i < 6; i++) {
        ToGraph t;
        to_begin(&t, "Einsum");
        Err e;
        CHECK_OK(node_set_attr_s(t.g->nodes[t.op], "equation", eqs[i], &e), &e);
        to_feed(&t, to_f32(2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4}));
        if (strchr(eqs[i], ',')) {
            bool self = strcmp(eqs[i], "ij,ij->") == 0; /* 1+4+9+16 + 5..8 paired: 1*5+2*6+3*7+4*8 = 70 */
            (void)self;
            to_feed(&t, to_f32(2, (int64_t[]){2, 2}, (float[]){5, 6, 7, 8}));
        }
        Tensor w = to_t(DT_FLOAT, out_rank[i], out_dims[i], want[i]);
        to_check(&t, &w, 1);
        to_end(&t);
    }
}

/* the parser with dims unknown at inference time: [?,3] x [3,4] -> [?,4]; an unknown ellipsis
   dim against 5 gives 5 (it can only be 1 or 5), against 1 stays unknown */
#include "graph/einsum.h"
static void test_unknown_dims(void **state) {
    (void)state;
    Err e;
    EinsumSpec s;
    Shape a = shape_make(2, (int64_t[]){-1, 3}), b = shape_make(2, (int64_t[]){3, 4});
    CHECK_OK(einsum_parse("ij,jk->ik", 2, (const Shape *[]){&a, &b}, &s, &e), &e);
    Shape o = einsum_out_shape(&s), want = shape_make(2, (int64_t[]){-1, 4});
    assert_true(shape_equal(&o, &want));
    Shape c = shape_make(3, (int64_t[]){-1, 2, 3}), d = shape_make(3, (int64_t[]){5, 3, 4});
    CHECK_OK(einsum_parse("...ij,...jk->...ik", 2, (const Shape *[]){&c, &d}, &s, &e), &e);
    o = einsum_out_shape(&s);
    want = shape_make(3, (int64_t[]){5, 2, 4});
    assert_true(shape_equal(&o, &want));
    Shape f = shape_make(3, (int64_t[]){1, 3, 4});
    CHECK_OK(einsum_parse("...ij,...jk->...ik", 2, (const Shape *[]){&c, &f}, &s, &e), &e);
    o = einsum_out_shape(&s);
    want = shape_make(3, (int64_t[]){-1, 2, 4});
    assert_true(shape_equal(&o, &want));
    assert_int_equal(einsum_macs(&s), -1);
    Shape x = shape_make(3, (int64_t[]){5, 2, 3});
    CHECK_OK(einsum_parse("...ij,...jk->...ik", 2, (const Shape *[]){&x, &f}, &s, &e), &e);
    assert_int_equal(einsum_macs(&s), 5 * 2 * 3 * 4); /* the ellipsis axis and labels i, j, k */
}

typedef struct Bad {
    const char *eq;
    int n_in;
    int64_t d0[3], d1[3];
    int r0, r1;
    const char *needle;
} Bad;

static const Bad BAD[] = {
    {"ij,jk", 2, {2, 3}, {3, 4}, 2, 2, "exactly one '->'"},
    {"ij,jk->->ik", 2, {2, 3}, {3, 4}, 2, 2, "exactly one '->'"},
    {"ij,jk,kl->il", 2, {2, 3}, {3, 4}, 2, 2, "1 or 2 input subscripts"},
    {"ij->ji", 2, {2, 3}, {3, 4}, 2, 2, "has 1 input subscript(s) but the node has 2"},
    {"ijk,jk->ik", 2, {2, 3}, {3, 4}, 2, 2, "expected input 0 to have rank 3 but got 2"},
    {"ij,jk->iz", 2, {2, 3}, {3, 4}, 2, 2, "output label 'z' is in no input"},
    {"i.j,jk->ik", 2, {2, 3}, {3, 4}, 2, 2, "'.' outside an ellipsis"},
    {"...i...,i->i", 2, {2, 3}, {3}, 2, 1, "more than one ellipsis"},
    {"ij,jk->ik", 2, {2, 3}, {4, 4}, 2, 2, "label 'j'"},
    {"...ij->ij", 1, {2, 2, 3}, {0}, 3, 0, "no ellipsis"},
    {"...ij,...jk->...ik", 2, {2, 2, 3}, {3, 3, 4}, 3, 3, "do not broadcast"},
    {"", 2, {2, 3}, {3, 4}, 2, 2, "equation"},
};

static void test_bad_equations(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        const Bad *b = &BAD[i];
        ToGraph t;
        to_begin(&t, "Einsum");
        Err e;
        if (*b->eq) CHECK_OK(node_set_attr_s(t.g->nodes[t.op], "equation", b->eq, &e), &e);
        to_feed(&t, input(DT_FLOAT, b->r0, b->d0, 1, 1));
        if (b->n_in == 2) to_feed(&t, input(DT_FLOAT, b->r1, b->d1, 2, 1));
        err_clear(&e);
        int rc = graph_infer(t.g, t.specs, t.n_feeds, ref_eval_node, NULL, &e);
        if (rc == 0 || e.code != ERR_INPUT || !strstr(e.msg, b->needle) || strchr(e.msg, '\n')) {
            print_error("'%s': rc %d code %d '%s', expected ERR_INPUT containing '%s'\n", b->eq, rc, e.code, e.msg, b->needle);
            fail();
        }
        to_end(&t);
    }
}

/* the command: a .pb with a bad equation is bad input, one line on stderr, exit 2 */
static void test_cli_exit_2(void **state) {
    (void)state;
    char dir[] = "/tmp/grappo_einsum_XXXXXX";
    assert_non_null(mkdtemp(dir));
    ToGraph t;
    to_begin(&t, "Einsum");
    Err e;
    CHECK_OK(node_set_attr_s(t.g->nodes[t.op], "equation", "ij,jk->iz", &e), &e);
    to_feed(&t, input(DT_FLOAT, 2, (int64_t[]){2, 3}, 1, 1));
    to_feed(&t, input(DT_FLOAT, 2, (int64_t[]){3, 4}, 2, 1));
    char pb[128], cmd[512], errf[128];
    snprintf(pb, sizeof pb, "%s/bad.pb", dir);
    snprintf(errf, sizeof errf, "%s/stderr", dir);
    CHECK_OK(graphdef_save(t.g, pb, &e), &e);
    to_end(&t);
    const char *grappo = getenv("GRAPPO") ? getenv("GRAPPO") : "build/grappo";
    const char *verbs[] = {"inspect", "run", "run --runtime ref"};
    for (int v = 0; v < 3; v++) {
        snprintf(cmd, sizeof cmd, "%s %s %s >/dev/null 2>%s", grappo, verbs[v], pb, errf);
        int st = system(cmd);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 2);
        FILE *f = fopen(errf, "r");
        assert_non_null(f);
        char buf[2048] = {0};
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        assert_true(n > 0 && strchr(buf, '\n') == buf + n - 1); /* one line */
        assert_non_null(strstr(buf, "output label 'z'"));
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tf_values),  cmocka_unit_test(test_int32_float16), cmocka_unit_test(test_hand_values),
        cmocka_unit_test(test_unknown_dims), cmocka_unit_test(test_bad_equations), cmocka_unit_test(test_cli_exit_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
