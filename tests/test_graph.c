/* test_graph.c - the IR: construction, names, attributes, topological order, validation,
 * clone, dead-node removal, inference driver, dtype conversions, tensors. */
#include "testutil.h"

#include <stdlib.h>

#include "graph/infer.h"
#include "graph/input_gen.h"
#include "runtime/ref.h"

static int add(Graph *g, const char *name, const char *op, Err *e) {
    int i = graph_add_node(g, name, op, e);
    if (i < 0) { print_error("%s\n", e->msg); fail(); }
    return i;
}

static void in(Graph *g, int node, int src, int port, Err *e) { CHECK_OK(node_add_input(g, node, (ValueRef){src, port}, e), e); }

static int add_const(Graph *g, const char *name, Tensor t, Err *e) {
    int i = add(g, name, "Const", e);
    CHECK_OK(node_set_attr_type(g->nodes[i], "dtype", t.dtype, e), e);
    CHECK_OK(node_set_attr_tensor(g->nodes[i], "value", &t, e), e);
    tensor_release(&t);
    return i;
}

static int add_placeholder(Graph *g, const char *name, int dtype, Shape s, Err *e) {
    int i = add(g, name, "Placeholder", e);
    CHECK_OK(node_set_attr_type(g->nodes[i], "dtype", dtype, e), e);
    CHECK_OK(node_set_attr_shape(g->nodes[i], "shape", &s, e), e);
    return i;
}

static void test_names_and_refs(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    int a = add(g, "a", "Placeholder", &e);
    int b = add(g, "scope/b", "Frobnicate", &e);
    assert_int_equal(g->nodes[b]->op, OP_UNKNOWN);
    assert_int_equal(g->nodes[a]->op, OP_PLACEHOLDER);
    assert_int_equal(graph_add_node(g, "a", "Identity", &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "duplicate"));
    assert_int_equal(graph_add_node(g, "", "Identity", &e), -1);
    /* many nodes: the index must survive rehashing */
    char name[32];
    for (int i = 0; i < 1000; i++) { snprintf(name, sizeof name, "n%d", i); add(g, name, "NoOp", &e); }
    assert_int_equal(graph_find(g, "n777"), 779);
    assert_int_equal(graph_find(g, "scope/b"), b);
    assert_int_equal(graph_find(g, "nope"), -1);
    ValueRef r;
    CHECK_OK(graph_parse_ref(g, "scope/b:3", &r, &e), &e);
    assert_int_equal(r.node, b);
    assert_int_equal(r.port, 3);
    CHECK_OK(graph_parse_ref(g, "^a", &r, &e), &e);
    assert_int_equal(r.port, -1);
    assert_int_equal(graph_parse_ref(g, "a:x", &r, &e), -1);
    assert_int_equal(graph_parse_ref(g, "a:-1", &r, &e), -1);
    assert_int_equal(graph_parse_ref(g, "zzz:0", &r, &e), -1);
    assert_non_null(strstr(e.msg, "zzz"));
    char buf[64];
    assert_string_equal(graph_ref_name(g, (ValueRef){b, 2}, buf, sizeof buf), "scope/b:2");
    assert_string_equal(graph_ref_name(g, (ValueRef){a, 0}, buf, sizeof buf), "a");
    graph_free(g);
}

static void test_attrs(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    int ci = add(g, "c", "Conv2D", &e); /* not g->nodes[add(...)]: add may move g->nodes */
    Node *n = g->nodes[ci];
    CHECK_OK(node_set_attr_s(n, "padding", "SAME", &e), &e);
    CHECK_OK(node_set_attr_list_i(n, "strides", (int64_t[]){1, 2, 2, 1}, 4, &e), &e);
    CHECK_OK(node_set_attr_b(n, "use_cudnn_on_gpu", true, &e), &e);
    CHECK_OK(node_set_attr_f(n, "epsilon", 0.5f, &e), &e);
    CHECK_OK(node_set_attr_type(n, "T", DT_FLOAT, &e), &e);
    assert_string_equal(node_attr_s(n, "padding", "?"), "SAME");
    assert_string_equal(node_attr_s(n, "missing", "dflt"), "dflt");
    assert_int_equal(node_attr_i(n, "padding", 7), 7); /* wrong kind -> default */
    const AttrList *l = node_attr_list(n, "strides");
    assert_non_null(l);
    assert_int_equal(l->n, 4);
    assert_int_equal(l->i[1], 2);
    assert_true(node_attr_b(n, "use_cudnn_on_gpu", false));
    assert_true(node_attr_f(n, "epsilon", 0) == 0.5f);
    /* overwriting keeps one slot and drops raw bytes */
    Attr *a = node_attr_find(n, "padding");
    a->raw = malloc(3);
    a->raw_len = 3;
    CHECK_OK(node_set_attr_s(n, "padding", "VALID", &e), &e);
    assert_int_equal(n->n_attrs, 5);
    assert_null(node_attr_find(n, "padding")->raw);
    assert_string_equal(node_attr_s(n, "padding", "?"), "VALID");
    assert_int_equal(node_attr_remove(n, "T"), 0);
    assert_int_equal(n->n_attrs, 4);
    assert_null(node_attr_find(n, "T"));
    graph_free(g);
}

/* a -> b -> d, a -> c -> d, control e -> b */
static Graph *diamond(Err *e) {
    Graph *g = graph_new();
    int a = add_placeholder(g, "a", DT_FLOAT, shape_make(1, (int64_t[]){3}), e);
    int c = add(g, "c", "Identity", e);
    int b = add(g, "b", "Identity", e);
    int d = add(g, "d", "IdentityN", e);
    int x = add(g, "e", "NoOp", e);
    in(g, b, a, 0, e);
    in(g, c, a, 0, e);
    in(g, d, b, 0, e);
    in(g, d, c, 0, e);
    CHECK_OK(node_add_ctrl(g, b, x, e), e);
    for (int i = 0; i < g->n_nodes; i++) CHECK_OK(node_set_num_outputs(g->nodes[i], i == d ? 2 : (i == x ? 0 : 1), e), e);
    CHECK_OK(graph_add_output(g, (ValueRef){d, 1}, e), e);
    return g;
}

static void test_topo_and_cycles(void **state) {
    (void)state;
    Err e;
    Graph *g = diamond(&e);
    int order[5], pos[5];
    CHECK_OK(graph_topo_order(g, order, &e), &e);
    for (int k = 0; k < 5; k++) pos[order[k]] = k;
    for (int i = 0; i < g->n_nodes; i++) {
        for (int k = 0; k < g->nodes[i]->n_inputs; k++) assert_true(pos[g->nodes[i]->inputs[k].node] < pos[i]);
        for (int k = 0; k < g->nodes[i]->n_ctrl; k++) assert_true(pos[g->nodes[i]->ctrl[k]] < pos[i]);
    }
    CHECK_OK(graph_validate(g, &e), &e);
    /* close a cycle b -> c -> b through a control edge */
    CHECK_OK(node_add_ctrl(g, graph_find(g, "c"), graph_find(g, "d"), &e), &e);
    assert_int_equal(graph_topo_order(g, order, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "cycle"));
    assert_int_equal(graph_validate(g, &e), -1);
    graph_free(g);
}

static void test_validate_errors(void **state) {
    (void)state;
    Err e;
    Graph *g = diamond(&e);
    g->nodes[graph_find(g, "d")]->inputs[0].port = 5; /* b has one output */
    assert_int_equal(graph_validate(g, &e), -1);
    assert_non_null(strstr(e.msg, "'d'"));
    graph_free(g);
    g = diamond(&e);
    /* Identity with two inputs breaks the op table's arity */
    in(g, graph_find(g, "b"), graph_find(g, "a"), 0, &e);
    assert_int_equal(graph_validate(g, &e), -1);
    assert_non_null(strstr(e.msg, "'b'"));
    graph_free(g);
}

static void test_clone_and_remove(void **state) {
    (void)state;
    Err e;
    Graph *g = diamond(&e);
    int dead = add(g, "dead", "Identity", &e);
    in(g, dead, graph_find(g, "a"), 0, &e);
    CHECK_OK(node_set_num_outputs(g->nodes[dead], 1, &e), &e);
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    assert_int_equal(c->n_nodes, g->n_nodes);
    /* clones are independent */
    CHECK_OK(node_set_attr_i(c->nodes[0], "x", 1, &e), &e);
    assert_null(node_attr_find(g->nodes[0], "x"));
    assert_int_equal(graph_remove_dead(c, &e), 1);
    assert_int_equal(graph_find(c, "dead"), -1);
    assert_int_equal(c->n_nodes, g->n_nodes - 1);
    CHECK_OK(graph_validate(c, &e), &e);
    /* removing a node that is still read fails and changes nothing */
    bool rm[6] = {0};
    rm[graph_find(c, "b")] = true;
    assert_int_equal(graph_remove_nodes(c, rm, &e), -1);
    assert_int_equal(c->n_nodes, 5);
    /* the control-only node e survives dead-code removal since b depends on it */
    assert_true(graph_find(c, "e") >= 0);
    graph_free(c);
    graph_free(g);
}

static void test_tensor_cow(void **state) {
    (void)state;
    Err e;
    Tensor a = tt_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    Tensor b = tensor_share(&a);
    float *p = tensor_mut(&b);
    p[0] = 9;
    assert_true(tensor_get(&a, 0) == 1.0);
    assert_true(tensor_get(&b, 0) == 9.0);
    tensor_release(&a);
    tensor_release(&b);
    /* a wrapped buffer (a plan's arena slot) shared by its views is written in place, and the
       views keep seeing the same memory; releasing every reference never frees it */
    float mem[3] = {1, 2, 3};
    Shape s3 = shape_make(1, (int64_t[]){3});
    Tensor w, w2;
    CHECK_OK(tensor_wrap(&w, DT_FLOAT, &s3, mem, &e), &e);
    w2 = tensor_share(&w);
    float *wp = tensor_mut(&w2);
    assert_ptr_equal(wp, mem);
    assert_ptr_equal(w2.buf, w.buf);
    tensor_release(&w2);
    tensor_release(&w);
    assert_true(mem[2] == 3);
    Tensor t;
    Shape huge = shape_make(2, (int64_t[]){1 << 20, 1 << 20}); /* 2^40 elements */
    assert_int_equal(tensor_alloc(&t, DT_FLOAT, &huge, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    Shape over = shape_make(3, (int64_t[]){INT64_MAX / 2, 4, 4});
    assert_int_equal(shape_numel(&over), -2);
    assert_int_equal(tensor_alloc(&t, DT_FLOAT, &over, &e), -1);
}

static void test_dtype_conversions(void **state) {
    (void)state;
    /* IEEE half: exact values, rounding to nearest even, overflow, subnormals */
    assert_int_equal(float_to_half(1.0f), 0x3c00);
    assert_int_equal(float_to_half(-2.0f), 0xc000);
    assert_int_equal(float_to_half(65504.0f), 0x7bff);
    assert_int_equal(float_to_half(65520.0f), 0x7c00);
    assert_int_equal(float_to_half(1.0f + 1.0f / 2048), 0x3c00);      /* tie -> even */
    assert_int_equal(float_to_half(1.0f + 3.0f / 2048), 0x3c02);      /* tie -> even (up) */
    assert_int_equal(float_to_half(5.9604645e-8f), 0x0001);           /* smallest subnormal */
    assert_true(half_to_float(0x0001) == 5.9604645e-8f);
    assert_true(half_to_float(0x3555) == 0.333251953125f);
    assert_true(isinf(half_to_float(0xfc00)) && half_to_float(0xfc00) < 0);
    assert_true(isnan(half_to_float(float_to_half(NAN))));
    for (uint32_t h = 0; h < 0x7c00; h++) assert_int_equal(float_to_half(half_to_float((uint16_t)h)), h);
    /* bfloat16 */
    assert_int_equal(float_to_bfloat16(1.0f), 0x3f80);
    assert_true(bfloat16_to_float(float_to_bfloat16(3.140625f)) == 3.140625f);
    assert_int_equal(float_to_bfloat16(1.0f + 1.0f / 256), 0x3f80); /* tie -> even */
    assert_true(isnan(bfloat16_to_float(float_to_bfloat16(NAN))));
    assert_int_equal(dtype_size(DT_BFLOAT16), 2);
    assert_int_equal(dtype_size(DT_STRING), 0);
    assert_true(dtype_is_supported(DT_DOUBLE) && dtype_is_float(DT_DOUBLE)); /* reference kernels compute float64 */
    assert_int_equal(dtype_size(DT_DOUBLE), 8);
    assert_false(dtype_is_supported(DT_INT16));
    assert_int_equal(dtype_as_computed(DT_VARIANT), DT_INT32); /* a TensorList handle */
    assert_int_equal(dtype_as_computed(DT_RESOURCE), DT_RESOURCE);
    assert_int_equal(dtype_from_name("float16"), DT_HALF);
    assert_int_equal(dtype_from_name("DT_INT64"), DT_INT64);
}

static void test_infer_window(void **state) {
    (void)state;
    Err e;
    int64_t out, pb;
    /* SAME, stride 2, odd input: out = ceil(7/2) = 4, total pad = (4-1)*2+3-7 = 2, before 1 */
    CHECK_OK(infer_window(7, 3, 2, 1, "SAME", 0, 0, &out, &pb, &e), &e);
    assert_int_equal(out, 4);
    assert_int_equal(pb, 1);
    /* SAME, even input 224, k 7, s 2: out 112, total = 111*2+7-224 = 5, before 2 (extra after) */
    CHECK_OK(infer_window(224, 7, 2, 1, "SAME", 0, 0, &out, &pb, &e), &e);
    assert_int_equal(out, 112);
    assert_int_equal(pb, 2);
    /* VALID with dilation: effective window 5 -> 10-5+1 = 6 */
    CHECK_OK(infer_window(10, 3, 1, 2, "VALID", 0, 0, &out, &pb, &e), &e);
    assert_int_equal(out, 6);
    CHECK_OK(infer_window(5, 3, 2, 1, "EXPLICIT", 1, 2, &out, &pb, &e), &e);
    assert_int_equal(out, 3); /* (5+3-3)/2+1 */
    assert_int_equal(pb, 1);
    assert_int_equal(infer_window(2, 3, 1, 1, "VALID", 0, 0, &out, &pb, &e), -1);
    assert_int_equal(infer_window(8, 3, 0, 1, "SAME", 0, 0, &out, &pb, &e), -1);
    assert_int_equal(infer_window(8, 3, 1, 1, "FULL", 0, 0, &out, &pb, &e), -1);
    assert_non_null(strstr(e.msg, "FULL"));
    Shape s;
    CHECK_OK(infer_broadcast(&(Shape){3, {2, 1, 3}}, &(Shape){2, {4, 1}}, &s, &e), &e);
    assert_true(shape_equal(&s, &(Shape){3, {2, 4, 3}}));
    assert_int_equal(infer_broadcast(&(Shape){1, {3}}, &(Shape){1, {4}}, &s, &e), -1);
    int ax;
    CHECK_OK(infer_axis(-1, 4, &ax, &e), &e);
    assert_int_equal(ax, 3);
    assert_int_equal(infer_axis(4, 4, &ax, &e), -1);
}

static void test_infer_placeholders(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    int p = add_placeholder(g, "x", DT_FLOAT, shape_make(4, (int64_t[]){-1, -1, -1, 3}), &e);
    int id = add(g, "y", "Identity", &e);
    in(g, id, p, 0, &e);
    CHECK_OK(graph_add_output(g, (ValueRef){id, 0}, &e), &e);
    /* defaults: unknown dims become 1 */
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_true(shape_equal(&g->nodes[id]->outputs[0].shape, &(Shape){4, {1, 1, 1, 3}}));
    InputSpec ok = {"x", shape_make(4, (int64_t[]){2, 8, 8, 3}), DT_INVALID};
    CHECK_OK(graph_infer(g, &ok, 1, ref_eval_node, NULL, &e), &e);
    assert_true(shape_equal(&g->nodes[id]->outputs[0].shape, &ok.shape));
    InputSpec wrong_c = {"x:0", shape_make(4, (int64_t[]){2, 8, 8, 4}), DT_INVALID};
    assert_int_equal(graph_infer(g, &wrong_c, 1, ref_eval_node, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "'x'"));
    InputSpec wrong_rank = {"x", shape_make(2, (int64_t[]){2, 8}), DT_INVALID};
    assert_int_equal(graph_infer(g, &wrong_rank, 1, ref_eval_node, NULL, &e), -1);
    InputSpec wrong_dtype = {"x", shape_make(4, (int64_t[]){2, 8, 8, 3}), DT_INT32};
    assert_int_equal(graph_infer(g, &wrong_dtype, 1, ref_eval_node, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "int32"));
    InputSpec nobody = {"zz", shape_make(1, (int64_t[]){1}), DT_INVALID};
    assert_int_equal(graph_infer(g, &nobody, 1, ref_eval_node, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "zz"));
    graph_free(g);
}

static void test_unknown_op_carried(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    int c = add_const(g, "c", tt_f32(1, (int64_t[]){2}, (float[]){1, 2}), &e);
    int u = add(g, "u", "MyCustomOp", &e);
    in(g, u, c, 0, &e);
    CHECK_OK(node_set_num_outputs(g->nodes[u], 1, &e), &e);
    CHECK_OK(node_set_attr_type(g->nodes[u], "T", DT_FLOAT, &e), &e);
    int id = add(g, "after", "Identity", &e);
    in(g, id, u, 0, &e);
    CHECK_OK(graph_add_output(g, (ValueRef){id, 0}, &e), &e);
    /* inference succeeds: downstream shapes are simply unknown */
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_int_equal(g->nodes[id]->outputs[0].shape.rank, -1);
    assert_int_equal(g->nodes[u]->outputs[0].dtype, DT_FLOAT);
    /* running it names the op */
    Tensor out;
    assert_int_equal(ref_run(g, NULL, 0, NULL, 0, &out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "MyCustomOp"));
    graph_free(g);
}

static void test_ref_run_plumbing(void **state) {
    (void)state;
    Err e;
    Graph *g = diamond(&e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    Tensor x = tt_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    RefFeed f = {"a", x};
    Tensor out[2];
    ValueRef fetch[2] = {{graph_find(g, "d"), 0}, {graph_find(g, "d"), 1}};
    RefStats st = {0};
    CHECK_OK(ref_run(g, &f, 1, fetch, 2, out, &st, &e), &e);
    assert_tensor_near(&out[0], &x, 0);
    assert_tensor_near(&out[1], &x, 0);
    /* Identity aliases: the fetched value is the fed buffer itself */
    assert_ptr_equal(out[0].buf, x.buf);
    tensor_release(&out[0]);
    tensor_release(&out[1]);
    /* an input of the wrong shape is refused before running */
    Tensor bad = tt_f32(1, (int64_t[]){4}, (float[]){1, 2, 3, 4});
    RefFeed fb = {"a:0", bad};
    assert_int_equal(ref_run(g, &fb, 1, fetch, 1, out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "[4]"));
    /* missing feed */
    assert_int_equal(ref_run(g, NULL, 0, fetch, 1, out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "not fed"));
    tensor_release(&bad);
    tensor_release(&x);
    graph_free(g);
}

static void test_activation_peak(void **state) {
    (void)state;
    Err e;
    /* x[256 floats] -> Identity (view: no bytes) -> IdentityN (view) : peak is the input only */
    Graph *g = diamond(&e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_int_equal(graph_activation_peak(g, &e), 12);
    graph_free(g);
}

static void test_input_generate_deterministic(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    int p = add_placeholder(g, "x", DT_FLOAT, shape_make(2, (int64_t[]){4, 5}), &e);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    Tensor a, b, c;
    CHECK_OK(input_generate(g, p, 7, &a, &e), &e);
    CHECK_OK(input_generate(g, p, 7, &b, &e), &e);
    CHECK_OK(input_generate(g, p, 8, &c, &e), &e);
    assert_memory_equal(tensor_data(&a), tensor_data(&b), 80);
    assert_memory_not_equal(tensor_data(&a), tensor_data(&c), 80);
    for (int i = 0; i < 20; i++) assert_true(tensor_get(&a, i) >= 0 && tensor_get(&a, i) < 1);
    tensor_release(&a); tensor_release(&b); tensor_release(&c);
    graph_free(g);
}

static void test_op_table(void **state) {
    (void)state;
    /* every row has its functions and a kernel, names are unique and round-trip */
    for (int i = 1; i < OP_COUNT; i++) {
        const OpDef *d = op_def((OpId)i);
        assert_non_null(d->infer);
        assert_non_null(d->flops);
        assert_non_null(ref_kernels[i]);
        assert_int_equal(op_lookup(d->tf_name), i);
        assert_true(d->max_inputs < 0 || d->max_inputs >= d->min_inputs);
    }
    assert_int_equal(op_lookup("NotAnOp"), OP_UNKNOWN);
    assert_int_equal(op_lookup("Conv2D"), OP_CONV2D);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_refs),     cmocka_unit_test(test_attrs),
        cmocka_unit_test(test_topo_and_cycles),    cmocka_unit_test(test_validate_errors),
        cmocka_unit_test(test_clone_and_remove),   cmocka_unit_test(test_tensor_cow),
        cmocka_unit_test(test_dtype_conversions),  cmocka_unit_test(test_infer_window),
        cmocka_unit_test(test_infer_placeholders), cmocka_unit_test(test_unknown_op_carried),
        cmocka_unit_test(test_ref_run_plumbing),   cmocka_unit_test(test_activation_peak),
        cmocka_unit_test(test_input_generate_deterministic), cmocka_unit_test(test_op_table),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
