/* test_ref_slice.c - Slice and StridedSlice: shape inference and the reference kernel.
 *
 * StridedSlice cases are written the way a Python user writes them (x[1:-1], x[..., 0],
 * x[:, tf.newaxis], ...). Each case is turned into begin/end/strides + masks the way TF's
 * Python layer does, run through graph_infer + ref_run, and checked against:
 *   - the output shape, written by hand in the case table;
 *   - the values of an independent naive walk that applies Python's slice.indices rules
 *     item by item (no masks, no dense spec), so it shares no logic with the op. */
#include "test_ref_util.h"

#include <stdint.h>

#define NONE INT64_MIN

typedef enum { IT_SLICE, IT_INDEX, IT_NEWAXIS, IT_ELLIPSIS } ItemKind;
typedef struct Item {
    ItemKind kind;
    int64_t start, stop, step; /* NONE = omitted; for IT_INDEX, start is the index */
} Item;

#define SL(a, b, c) {IT_SLICE, a, b, c}
#define IDX(k) {IT_INDEX, k, 0, 0}
#define NEWAXIS {IT_NEWAXIS, 0, 0, 0}
#define ELL {IT_ELLIPSIS, 0, 0, 0}

typedef struct SSCase {
    const char *what;
    int rank;
    int64_t dims[4];
    int n_items;
    Item items[5];
    int out_rank; /* expected shape, by hand */
    int64_t out_dims[5];
    int dtype;
    bool index_i64; /* begin/end/strides as int64 */
} SSCase;

/* Python's slice(start, stop, step).indices(dim) followed by range(): writes the indices
   taken along a dim and returns their count. */
static int python_slice(int64_t start, int64_t stop, int64_t step, int64_t dim, int64_t *out) {
    if (step == NONE) step = 1;
    int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? dim : dim - 1;
    if (start == NONE) start = step > 0 ? lower : upper;
    else {
        if (start < 0) start += dim;
        if (start < lower) start = lower;
        if (start > upper) start = upper;
    }
    if (stop == NONE) stop = step > 0 ? upper : lower;
    else {
        if (stop < 0) stop += dim;
        if (stop < lower) stop = lower;
        if (stop > upper) stop = upper;
    }
    int n = 0;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out[n++] = i;
    return n;
}

/* Naive x[items] on a row-major tensor of shape dims: the flat source index of every output
   element, in output order. Returns the element count. */
static int64_t naive_walk(int rank, const int64_t *dims, const Item *items, int n_items, int64_t *src) {
    int64_t take[8][64];
    int count[8];
    int real = 0;
    bool has_ellipsis = false;
    for (int k = 0; k < n_items; k++) {
        if (items[k].kind == IT_SLICE || items[k].kind == IT_INDEX) real++;
        if (items[k].kind == IT_ELLIPSIS) has_ellipsis = true;
    }
    int d = 0;
    for (int k = 0; k <= n_items; k++) {
        bool ellipsis_here = k < n_items ? items[k].kind == IT_ELLIPSIS : !has_ellipsis;
        if (ellipsis_here) {
            for (int j = 0; j < rank - real; j++, d++) count[d] = python_slice(NONE, NONE, NONE, dims[d], take[d]);
            continue;
        }
        if (k == n_items) break;
        const Item *it = &items[k];
        if (it->kind == IT_SLICE) {
            count[d] = python_slice(it->start, it->stop, it->step, dims[d], take[d]);
            d++;
        } else if (it->kind == IT_INDEX) {
            take[d][0] = it->start < 0 ? it->start + dims[d] : it->start;
            count[d] = 1;
            d++;
        }
    }
    assert_int_equal(d, rank);
    int64_t total = 1;
    for (int i = 0; i < rank; i++) total *= count[i];
    int64_t stride[8], acc = 1;
    for (int i = rank - 1; i >= 0; i--) { stride[i] = acc; acc *= dims[i]; }
    for (int64_t e = 0; e < total; e++) {
        int64_t rem = e, off = 0;
        for (int i = rank - 1; i >= 0; i--) {
            off += take[i][rem % count[i]] * stride[i];
            rem /= count[i];
        }
        src[e] = off;
    }
    return total;
}

/* Builds the StridedSlice node the way tf's __getitem__ does. */
static int build_strided_slice(Graph *g, const SSCase *c, Tensor x) {
    int64_t b[8], en[8], s[8];
    int64_t begin_mask = 0, end_mask = 0, ellipsis_mask = 0, new_axis_mask = 0, shrink_mask = 0;
    for (int k = 0; k < c->n_items; k++) {
        const Item *it = &c->items[k];
        b[k] = en[k] = 0;
        s[k] = 1;
        switch (it->kind) {
        case IT_SLICE:
            if (it->start == NONE) begin_mask |= 1 << k; else b[k] = it->start;
            if (it->stop == NONE) end_mask |= 1 << k; else en[k] = it->stop;
            if (it->step != NONE) s[k] = it->step;
            break;
        case IT_INDEX:
            b[k] = it->start;
            en[k] = it->start + 1;
            shrink_mask |= 1 << k;
            break;
        case IT_NEWAXIS: new_axis_mask |= 1 << k; break;
        case IT_ELLIPSIS: ellipsis_mask |= 1 << k; break;
        }
    }
    int n = c->n_items;
    Tensor ins[4];
    ins[0] = x;
    if (c->index_i64) {
        ins[1] = tr_i64(1, (int64_t[]){n}, b);
        ins[2] = tr_i64(1, (int64_t[]){n}, en);
        ins[3] = tr_i64(1, (int64_t[]){n}, s);
    } else {
        int32_t b32[8], e32[8], s32[8];
        for (int k = 0; k < n; k++) { b32[k] = (int32_t)b[k]; e32[k] = (int32_t)en[k]; s32[k] = (int32_t)s[k]; }
        ins[1] = tr_vec_i32(n, b32);
        ins[2] = tr_vec_i32(n, e32);
        ins[3] = tr_vec_i32(n, s32);
    }
    int node = tr_op(g, "StridedSlice", ins, 4);
    tr_attr_i(g, node, "begin_mask", begin_mask);
    tr_attr_i(g, node, "end_mask", end_mask);
    tr_attr_i(g, node, "ellipsis_mask", ellipsis_mask);
    tr_attr_i(g, node, "new_axis_mask", new_axis_mask);
    tr_attr_i(g, node, "shrink_axis_mask", shrink_mask);
    return node;
}

static const SSCase cases[] = {
    {"x[1:-1]", 1, {5}, 1, {SL(1, -1, NONE)}, 1, {3}, DT_FLOAT, false},
    {"x[::-1]", 1, {5}, 1, {SL(NONE, NONE, -1)}, 1, {5}, DT_FLOAT, false},
    {"x[::2]", 1, {5}, 1, {SL(NONE, NONE, 2)}, 1, {3}, DT_INT32, false},
    {"x[..., 0]", 3, {2, 3, 4}, 2, {ELL, IDX(0)}, 2, {2, 3}, DT_FLOAT, false},
    {"x[:, newaxis]", 2, {3, 4}, 2, {SL(NONE, NONE, NONE), NEWAXIS}, 3, {3, 1, 4}, DT_FLOAT, true},
    {"x[-1]", 2, {3, 4}, 1, {IDX(-1)}, 1, {4}, DT_INT64, false},
    {"x[5:] (begin past the end)", 1, {3}, 1, {SL(5, NONE, NONE)}, 1, {0}, DT_FLOAT, false},
    {"x[1:3, ::-2]", 2, {3, 4}, 2, {SL(1, 3, NONE), SL(NONE, NONE, -2)}, 2, {2, 2}, DT_UINT8, false},
    {"x[newaxis, ..., 1]", 3, {2, 3, 4}, 3, {NEWAXIS, ELL, IDX(1)}, 3, {1, 2, 3}, DT_FLOAT, false},
    {"x[..., newaxis]", 2, {2, 3}, 2, {ELL, NEWAXIS}, 3, {2, 3, 1}, DT_BOOL, false},
    {"x[-100:100] (clamped)", 1, {4}, 1, {SL(-100, 100, NONE)}, 1, {4}, DT_FLOAT, true},
    {"x[3:0:-1]", 1, {5}, 1, {SL(3, 0, -1)}, 1, {3}, DT_FLOAT, false},
    {"x[-1:-6:-2]", 1, {5}, 1, {SL(-1, -6, -2)}, 1, {3}, DT_INT8, false},
    {"x[1, 2]", 2, {3, 4}, 2, {IDX(1), IDX(2)}, 0, {0}, DT_FLOAT, false},
    {"x[:, -1]", 2, {3, 4}, 2, {SL(NONE, NONE, NONE), IDX(-1)}, 1, {3}, DT_HALF, false},
    {"x[1:2, newaxis, ::3]", 2, {3, 4}, 3, {SL(1, 2, NONE), NEWAXIS, SL(NONE, NONE, 3)}, 3, {1, 1, 2}, DT_FLOAT, false},
    {"x[::-1, ::-1]", 2, {2, 3}, 2, {SL(NONE, NONE, -1), SL(NONE, NONE, -1)}, 2, {2, 3}, DT_BFLOAT16, true},
    {"x[0:0]", 2, {3, 4}, 1, {SL(0, 0, NONE)}, 2, {0, 4}, DT_FLOAT, false},
    {"x[..., ::-1]", 3, {2, 3, 4}, 2, {ELL, SL(NONE, NONE, -1)}, 3, {2, 3, 4}, DT_FLOAT, false},
    {"x[1, ..., 1:3]", 3, {2, 3, 4}, 3, {IDX(1), ELL, SL(1, 3, NONE)}, 2, {3, 2}, DT_INT32, true},
    {"x[:2, ...] (ellipsis of no dims)", 1, {3}, 2, {SL(NONE, 2, NONE), ELL}, 1, {2}, DT_FLOAT, false},
    {"x[..., 1, newaxis]", 2, {2, 3}, 3, {ELL, IDX(1), NEWAXIS}, 2, {2, 1}, DT_FLOAT, false},
    {"x[2:-5:-1]", 1, {4}, 1, {SL(2, -5, -1)}, 1, {3}, DT_FLOAT, false},
    {"x[:, 1:, ::2, -1]", 4, {2, 3, 4, 2}, 4, {SL(NONE, NONE, NONE), SL(1, NONE, NONE), SL(NONE, NONE, 2), IDX(-1)}, 3, {2, 2, 2}, DT_FLOAT, true},
    {"x[1:] on an empty dim", 1, {0}, 1, {SL(1, NONE, NONE)}, 1, {0}, DT_FLOAT, false},
    {"x[-2:, newaxis, newaxis]", 1, {3}, 3, {SL(-2, NONE, NONE), NEWAXIS, NEWAXIS}, 3, {2, 1, 1}, DT_FLOAT, false},
    {"x[newaxis] on a scalar", 0, {0}, 1, {NEWAXIS}, 1, {1}, DT_FLOAT, false},
    {"x[...]", 2, {2, 2}, 1, {ELL}, 2, {2, 2}, DT_INT64, false},
    {"x[::-3]", 1, {7}, 1, {SL(NONE, NONE, -3)}, 1, {3}, DT_FLOAT, false},
    {"x[-3:-1, 1::2]", 2, {4, 5}, 2, {SL(-3, -1, NONE), SL(1, NONE, 2)}, 2, {2, 2}, DT_FLOAT, false},
    {"x[..., newaxis, 0]", 2, {2, 3}, 3, {ELL, NEWAXIS, IDX(0)}, 2, {2, 1}, DT_FLOAT, false},
    {"x[newaxis, newaxis, ..., newaxis]", 1, {2}, 4, {NEWAXIS, NEWAXIS, ELL, NEWAXIS}, 4, {1, 1, 2, 1}, DT_UINT8, true},
    {"x[1] (fewer items than dims)", 3, {2, 3, 4}, 1, {IDX(1)}, 2, {3, 4}, DT_FLOAT, false},
    {"x[10:2:-3]", 1, {8}, 1, {SL(10, 2, -3)}, 1, {2}, DT_FLOAT, false},
};

static void test_strided_slice_cases(void **state) {
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const SSCase *k = &cases[c];
        print_message("case %s\n", k->what);
        Graph *g = graph_new();
        Tensor x = tr_iota(k->dtype, k->rank, k->dims);
        Tensor x_ref = tensor_share(&x);
        int node = build_strided_slice(g, k, x);
        Err e;
        Tensor out = {0};
        CHECK_OK(tr_run(g, node, &out, 1, &e), &e);
        int64_t src[256];
        int64_t n = naive_walk(k->rank, k->dims, k->items, k->n_items, src);
        Shape want = shape_make(k->out_rank, k->out_dims);
        assert_int_equal(n, shape_numel(&want)); /* the naive walk agrees with the hand-written shape */
        tr_expect_moved(&out, k->dtype, k->out_rank, k->out_dims, &x_ref, src);
        assert_true(shape_equal(&g->nodes[node]->outputs[0].shape, &want));
        tensor_release(&out);
        tensor_release(&x_ref);
        graph_free(g);
    }
}

/* StridedSlice with raw begin/end/strides/masks, for combinations Python never emits */
static Tensor raw_strided_slice(Tensor x, int n, const int32_t *b, const int32_t *en, const int32_t *s,
                                int64_t begin_mask, int64_t end_mask, int64_t ellipsis_mask, int64_t new_axis_mask,
                                int64_t shrink_mask, Graph **gp, int *nodep) {
    Graph *g = graph_new();
    Tensor ins[4] = {x, tr_vec_i32(n, b), tr_vec_i32(n, en), tr_vec_i32(n, s)};
    int node = tr_op(g, "StridedSlice", ins, 4);
    tr_attr_i(g, node, "begin_mask", begin_mask);
    tr_attr_i(g, node, "end_mask", end_mask);
    tr_attr_i(g, node, "ellipsis_mask", ellipsis_mask);
    tr_attr_i(g, node, "new_axis_mask", new_axis_mask);
    tr_attr_i(g, node, "shrink_axis_mask", shrink_mask);
    Tensor out = {0};
    if (gp) { *gp = g; *nodep = node; return out; }
    Err e;
    CHECK_OK(tr_run(g, node, &out, 1, &e), &e);
    graph_free(g);
    return out;
}

static void test_strided_slice_raw_masks(void **state) {
    (void)state;
    int64_t five[] = {5};
    /* begin_mask with a negative stride starts at the last element: [4, 3, 2] */
    Tensor o = raw_strided_slice(tr_iota(DT_FLOAT, 1, five), 1, (int32_t[]){0}, (int32_t[]){1}, (int32_t[]){-1}, 1, 0, 0, 0, 0, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 1, (int64_t[]){3}, (double[]){4, 3, 2});
    tensor_release(&o);
    /* end_mask with a negative stride runs past element 0: [2, 1, 0] */
    o = raw_strided_slice(tr_iota(DT_FLOAT, 1, five), 1, (int32_t[]){2}, (int32_t[]){99}, (int32_t[]){-1}, 0, 1, 0, 0, 0, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 1, (int64_t[]){3}, (double[]){2, 1, 0});
    tensor_release(&o);
    /* a shrunk axis ignores begin_mask and end: x[3] */
    o = raw_strided_slice(tr_iota(DT_INT32, 1, five), 1, (int32_t[]){3}, (int32_t[]){0}, (int32_t[]){1}, 1, 1, 0, 0, 1, NULL, NULL);
    tr_expect(&o, DT_INT32, 0, NULL, (double[]){3});
    tensor_release(&o);
    /* shrink with stride 2 is still one element */
    o = raw_strided_slice(tr_iota(DT_INT32, 1, five), 1, (int32_t[]){-4}, (int32_t[]){-3}, (int32_t[]){2}, 0, 0, 0, 0, 1, NULL, NULL);
    tr_expect(&o, DT_INT32, 0, NULL, (double[]){1});
    tensor_release(&o);
    /* new_axis wins over shrink on the same entry: [1, 3] */
    o = raw_strided_slice(tr_iota(DT_FLOAT, 1, (int64_t[]){3}), 1, (int32_t[]){0}, (int32_t[]){0}, (int32_t[]){1}, 0, 0, 0, 1, 1, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 2, (int64_t[]){1, 3}, (double[]){0, 1, 2});
    tensor_release(&o);
    /* ellipsis wins over begin/end values on the same entry; then x[..., 1:2] on [2, 3] */
    o = raw_strided_slice(tr_iota(DT_FLOAT, 2, (int64_t[]){2, 3}), 2, (int32_t[]){7, 1}, (int32_t[]){7, 2}, (int32_t[]){1, 1}, 0, 0, 1, 0, 0, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 2, (int64_t[]){2, 1}, (double[]){1, 4});
    tensor_release(&o);
    /* masks on bits beyond the spec are ignored: begin_mask 0b110 with one entry x[1:2] on [3, 2] */
    o = raw_strided_slice(tr_iota(DT_FLOAT, 2, (int64_t[]){3, 2}), 1, (int32_t[]){1}, (int32_t[]){2}, (int32_t[]){1}, 6, 6, 0, 0, 0, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 2, (int64_t[]){1, 2}, (double[]){2, 3});
    tensor_release(&o);
}

static void expect_ss_error(Tensor x, int n, const int32_t *b, const int32_t *en, const int32_t *s, int64_t bm, int64_t em,
                            int64_t ell, int64_t na, int64_t sh, const char *needle) {
    Graph *g;
    int node;
    raw_strided_slice(x, n, b, en, s, bm, em, ell, na, sh, &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, needle);
    graph_free(g);
}

static void test_strided_slice_errors(void **state) {
    (void)state;
    int64_t three[] = {3}, two2[] = {2, 2};
    expect_ss_error(tr_iota(DT_FLOAT, 1, three), 1, (int32_t[]){0}, (int32_t[]){3}, (int32_t[]){0}, 0, 0, 0, 0, 0, "non-zero");
    expect_ss_error(tr_iota(DT_FLOAT, 1, three), 1, (int32_t[]){3}, (int32_t[]){4}, (int32_t[]){1}, 0, 0, 0, 0, 1, "out of bounds");
    expect_ss_error(tr_iota(DT_FLOAT, 1, three), 1, (int32_t[]){-4}, (int32_t[]){-3}, (int32_t[]){1}, 0, 0, 0, 0, 1, "out of bounds");
    expect_ss_error(tr_iota(DT_FLOAT, 2, two2), 2, (int32_t[]){0, 0}, (int32_t[]){0, 0}, (int32_t[]){1, 1}, 0, 0, 3, 0, 0, "multiple ellipses");
    expect_ss_error(tr_iota(DT_FLOAT, 2, two2), 3, (int32_t[]){0, 0, 0}, (int32_t[]){1, 1, 1}, (int32_t[]){1, 1, 1}, 0, 0, 0, 0, 7, "out of range");
    expect_ss_error(tr_iota(DT_FLOAT, 1, three), 1, (int32_t[]){1}, (int32_t[]){0}, (int32_t[]){-1}, 0, 0, 0, 0, 1, "only stride 1");
    /* begin/end/strides of different lengths */
    Graph *g = graph_new();
    Tensor ins[4] = {tr_iota(DT_FLOAT, 1, three), tr_vec_i32(1, (int32_t[]){0}), tr_vec_i32(2, (int32_t[]){1, 1}),
                     tr_vec_i32(1, (int32_t[]){1})};
    int node = tr_op(g, "StridedSlice", ins, 4);
    tr_expect_error(g, node, 1, ERR_INPUT, "equal lengths");
    graph_free(g);
    /* the error names the node */
    g = graph_new();
    Tensor ins2[4] = {tr_iota(DT_FLOAT, 1, three), tr_vec_i32(1, (int32_t[]){0}), tr_vec_i32(1, (int32_t[]){1}),
                      tr_vec_i32(1, (int32_t[]){0})};
    node = tr_op(g, "StridedSlice", ins2, 4);
    tr_expect_error(g, node, 1, ERR_INPUT, "'op'");
    graph_free(g);
}

/* Shape -> StridedSlice(x[0]) -> Pack -> Reshape, as in real graphs: folds to a static shape */
static void test_shape_chain_folds(void **state) {
    (void)state;
    Graph *g = graph_new();
    Err e;
    int x = tr_node(g, "x", "Placeholder");
    Shape xs = shape_make(3, (int64_t[]){2, 3, 4});
    CHECK_OK(node_set_attr_type(g->nodes[x], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[x], "shape", &xs, &e), &e);
    int sh = tr_node(g, "shape", "Shape");
    tr_input(g, sh, x, 0);
    int ss = tr_node(g, "batch", "StridedSlice");
    tr_input(g, ss, sh, 0);
    tr_input(g, ss, tr_const(g, "b", tr_vec_i32(1, (int32_t[]){0})), 0);
    tr_input(g, ss, tr_const(g, "e", tr_vec_i32(1, (int32_t[]){1})), 0);
    tr_input(g, ss, tr_const(g, "s", tr_vec_i32(1, (int32_t[]){1})), 0);
    tr_attr_i(g, ss, "shrink_axis_mask", 1);
    int pk = tr_node(g, "pack", "Pack");
    tr_input(g, pk, ss, 0);
    tr_input(g, pk, tr_const(g, "minus1", tr_scalar_i32(-1)), 0);
    int rs = tr_node(g, "reshape", "Reshape");
    tr_input(g, rs, x, 0);
    tr_input(g, rs, pk, 0);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    const Value *sv = &g->nodes[sh]->outputs[0];
    tr_expect(&sv->known, DT_INT32, 1, (int64_t[]){3}, (double[]){2, 3, 4});
    tr_expect(&g->nodes[ss]->outputs[0].known, DT_INT32, 0, NULL, (double[]){2});
    tr_expect(&g->nodes[pk]->outputs[0].known, DT_INT32, 1, (int64_t[]){2}, (double[]){2, -1});
    Shape want = shape_make(2, (int64_t[]){2, 12});
    assert_true(shape_equal(&g->nodes[rs]->outputs[0].shape, &want));
    /* and it runs */
    Tensor xv = tr_iota(DT_FLOAT, 3, xs.dim), out = {0};
    RefFeed feed = {"x", xv};
    CHECK_OK(ref_run(g, &feed, 1, &(ValueRef){rs, 0}, 1, &out, NULL, &e), &e);
    assert_ptr_equal(out.buf, xv.buf); /* Reshape aliases the fed buffer */
    assert_true(shape_equal(&out.shape, &want));
    tensor_release(&out);
    tensor_release(&xv);
    graph_free(g);
}

static void test_slice(void **state) {
    (void)state;
    Err e;
    /* x [3,4] iota, begin [1,1], size [2,-1] -> rows 1..2, cols 1..3 */
    Graph *g = graph_new();
    Tensor x = tr_iota(DT_FLOAT, 2, (int64_t[]){3, 4}), xr = tensor_share(&x);
    Tensor ins[3] = {x, tr_vec_i32(2, (int32_t[]){1, 1}), tr_vec_i32(2, (int32_t[]){2, -1})};
    int node = tr_op(g, "Slice", ins, 3);
    Tensor out = {0};
    CHECK_OK(tr_run(g, node, &out, 1, &e), &e);
    tr_expect_moved(&out, DT_FLOAT, 2, (int64_t[]){2, 3}, &xr, (int64_t[]){5, 6, 7, 9, 10, 11});
    tensor_release(&out);
    tensor_release(&xr);
    graph_free(g);

    /* uint8 [2,3,2] with int64 begin/size, a size of 0 along the middle */
    g = graph_new();
    Tensor ins2[3] = {tr_iota(DT_UINT8, 3, (int64_t[]){2, 3, 2}), tr_i64(1, (int64_t[]){3}, (int64_t[]){1, 3, 0}),
                      tr_i64(1, (int64_t[]){3}, (int64_t[]){1, 0, 2})};
    node = tr_op(g, "Slice", ins2, 3);
    CHECK_OK(tr_run(g, node, &out, 1, &e), &e);
    tr_expect(&out, DT_UINT8, 3, (int64_t[]){1, 0, 2}, NULL);
    tensor_release(&out);
    graph_free(g);

    /* bool [4] begin 2 size -1 */
    g = graph_new();
    x = tr_make(DT_BOOL, 1, (int64_t[]){4}, (double[]){1, 0, 0, 1});
    Tensor ins3[3] = {x, tr_vec_i32(1, (int32_t[]){2}), tr_vec_i32(1, (int32_t[]){-1})};
    node = tr_op(g, "Slice", ins3, 3);
    CHECK_OK(tr_run(g, node, &out, 1, &e), &e);
    tr_expect(&out, DT_BOOL, 1, (int64_t[]){2}, (double[]){0, 1});
    tensor_release(&out);
    graph_free(g);

    /* errors: negative begin, begin + size past the end, wrong length */
    struct { int32_t b, s; const char *needle; } bad[] = {{-1, 1, "begin[0] = -1"}, {2, 2, "exceeds"}, {0, -2, "size[0] = -2"}};
    for (int k = 0; k < 3; k++) {
        g = graph_new();
        Tensor in4[3] = {tr_iota(DT_FLOAT, 1, (int64_t[]){3}), tr_vec_i32(1, &bad[k].b), tr_vec_i32(1, &bad[k].s)};
        node = tr_op(g, "Slice", in4, 3);
        tr_expect_error(g, node, 1, ERR_INPUT, bad[k].needle);
        graph_free(g);
    }
    g = graph_new();
    Tensor in5[3] = {tr_iota(DT_FLOAT, 2, (int64_t[]){3, 3}), tr_vec_i32(1, (int32_t[]){0}), tr_vec_i32(1, (int32_t[]){1})};
    node = tr_op(g, "Slice", in5, 3);
    tr_expect_error(g, node, 1, ERR_INPUT, "rank is 2");
    graph_free(g);
    /* a begin that is computed at run time cannot be inferred */
    g = graph_new();
    int p = tr_node(g, "b", "Placeholder");
    Shape ps = shape_make(1, (int64_t[]){1});
    CHECK_OK(node_set_attr_type(g->nodes[p], "dtype", DT_INT32, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[p], "shape", &ps, &e), &e);
    node = tr_node(g, "op", "Slice");
    tr_input(g, node, tr_const(g, "x", tr_iota(DT_FLOAT, 1, (int64_t[]){3})), 0);
    tr_input(g, node, p, 0);
    tr_input(g, node, tr_const(g, "s", tr_vec_i32(1, (int32_t[]){1})), 0);
    tr_expect_error(g, node, 1, ERR_INPUT, "known");
    graph_free(g);
}

static void test_flops_zero(void **state) {
    (void)state;
    Graph *g = graph_new();
    Tensor ins[4] = {tr_iota(DT_FLOAT, 1, (int64_t[]){6}), tr_vec_i32(1, (int32_t[]){1}), tr_vec_i32(1, (int32_t[]){5}),
                     tr_vec_i32(1, (int32_t[]){2})};
    int node = tr_op(g, "StridedSlice", ins, 4);
    Err e;
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 0);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strided_slice_cases),
        cmocka_unit_test(test_strided_slice_raw_masks),
        cmocka_unit_test(test_strided_slice_errors),
        cmocka_unit_test(test_shape_chain_folds),
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_flops_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
