/* test_zoo.c - the model zoo: registry and errors, parameter and FLOP counts against closed
 * forms derived by hand, TF-style names and attributes, calibrated batch norm, running the
 * small models on the reference runtime (finite, bounded, non-degenerate outputs), BERT's
 * attention mask and dynamic batch, random DAGs over many seeds, determinism of weights. */
#include "testutil.h"

#include <stdlib.h>

#include "io/graphdef.h"
#include "runtime/ref.h"
#include "zoo/builder.h"
#include "zoo/zoo.h"

/* FNV-1a of resnet8's uncalibrated weights for seed 1 (see test_resnet8_determinism) */
#define RESNET8_UNCALIBRATED_HASH "6ec8fac3205c477b" /* since residual branches end with gamma x 0.2 */

/* ---------------------------------------------------------------- helpers */

static Graph *build(const char *name, ZooOpts o) {
    Err e = {0};
    Graph *g = zoo_build(name, &o, &e);
    if (!g) { print_error("zoo_build(%s): %s\n", name, e.msg); fail(); }
    CHECK_OK(graph_validate(g, &e), &e);
    return g;
}

static const Node *node_named(const Graph *g, const char *name) {
    int i = graph_find(g, name);
    if (i < 0) { print_error("no node '%s'\n", name); fail(); }
    return g->nodes[i];
}

static int count_op(const Graph *g, const char *op) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += !strcmp(g->nodes[i]->op_name, op);
    return n;
}

/* FLOPs of the multiply-accumulate ops only (their closed forms do not depend on how
   elementwise ops are counted) */
static int64_t mac_flops(const Graph *g) {
    int64_t f = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_CONV2D || n->op == OP_DEPTHWISE_CONV2D || n->op == OP_MATMUL || n->op == OP_BATCH_MATMUL_V2)
            f += node_flops(g, n);
    }
    return f;
}

/* FNV-1a over every Const's name and bytes, in node order */
static uint64_t weights_hash(const Graph *g) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op != OP_CONST) continue;
        const Tensor *t = node_attr_tensor(n, "value");
        assert_non_null(t);
        for (const char *c = n->name; *c; c++) h = (h ^ (uint8_t)*c) * 1099511628211ull;
        const uint8_t *d = tensor_data(t);
        for (size_t k = 0; k < tensor_nbytes(t); k++) h = (h ^ d[k]) * 1099511628211ull;
    }
    return h;
}

static const Tensor *const_value(const Graph *g, const char *name) {
    const Tensor *t = node_attr_tensor(node_named(g, name), "value");
    assert_non_null(t);
    return t;
}

static void assert_ints_attr(const Node *n, const char *attr, const int64_t *want, int count) {
    const AttrList *l = node_attr_list(n, attr);
    if (!l) { print_error("%s: no list attr %s\n", n->name, attr); fail(); }
    assert_int_equal(l->n, count);
    for (int i = 0; i < count; i++) assert_int_equal(l->i[i], want[i]);
}

/* runs an image classifier on the synthetic image of `seed`; out[0] logits, out[1] probs */
static void run_image(const Graph *g, const char *input, uint64_t seed, Tensor out[2]) {
    Err e = {0};
    const Shape *s = &g->nodes[graph_find(g, input)]->outputs[0].shape;
    Tensor img;
    CHECK_OK(bld_synthetic_image(&img, s->dim[0], s->dim[1], s->dim[2], s->dim[3], seed, &e), &e);
    RefFeed f = {input, img};
    CHECK_OK(ref_run(g, &f, 1, NULL, 0, out, NULL, &e), &e);
    tensor_release(&img);
}

/* finite, bounded logits with some spread; softmax rows sum to 1 and are not one-hot.
   Returns the argmax of row 0. */
static int check_classifier(const Tensor *logits, const Tensor *probs, int classes) {
    assert_int_equal(logits->shape.rank, 2);
    assert_int_equal(logits->shape.dim[1], classes);
    assert_true(shape_equal(&logits->shape, &probs->shape));
    int64_t rows = logits->shape.dim[0];
    int arg0 = 0;
    for (int64_t r = 0; r < rows; r++) {
        double sum = 0, mean = 0, sq = 0, pmax = 0, lmax = -1e30;
        for (int c = 0; c < classes; c++) {
            double l = tensor_get(logits, r * classes + c), p = tensor_get(probs, r * classes + c);
            assert_true(isfinite(l));
            assert_true(fabs(l) < 100.0);
            assert_true(p >= 0.0 && p <= 1.0);
            sum += p;
            mean += l;
            sq += l * l;
            if (p > pmax) pmax = p;
            if (l > lmax) { lmax = l; if (r == 0) arg0 = c; }
        }
        mean /= classes;
        double std = sqrt(sq / classes - mean * mean);
        assert_true(fabs(sum - 1.0) < 1e-4);
        assert_true(pmax < 0.9);  /* not one-hot */
        assert_true(std > 0.05);  /* not degenerate */
        assert_true(std < 20.0);
    }
    return arg0;
}

/* ---------------------------------------------------------------- registry, options */

static void test_list_and_errors(void **state) {
    (void)state;
    int n = 0;
    const ZooModel *m = zoo_list(&n);
    const char *want[] = {"resnet8", "resnet18", "resnet50", "mobilenet_v2", "bert-tiny", "bert-mini", "bert-base", "random", "gemm"};
    assert_int_equal(n, 9);
    for (int i = 0; i < n; i++) {
        assert_string_equal(m[i].name, want[i]);
        assert_true(strlen(m[i].description) > 10);
    }
    Err e = {0};
    assert_null(zoo_build("resnet51", NULL, &e));
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "resnet51"));
    for (int i = 0; i < n; i++) assert_non_null(strstr(e.msg, want[i])); /* lists the valid names */
    assert_null(zoo_build(NULL, NULL, &e));
    assert_int_equal(e.code, ERR_INPUT);
    assert_null(zoo_build("nope", NULL, NULL)); /* a NULL err is allowed */

    ZooOpts o = zoo_opts_default();
    assert_int_equal(o.seed, 1);
    assert_true(o.calibrate);
    o.batch = -1;
    assert_null(zoo_build("resnet8", &o, &e));
    assert_int_equal(e.code, ERR_INPUT);
    o = zoo_opts_default();
    o.seq_len = 513;
    assert_null(zoo_build("bert-tiny", &o, &e));
    assert_non_null(strstr(e.msg, "seq_len"));
    o = zoo_opts_default();
    o.image_size = 16;
    assert_null(zoo_build("mobilenet_v2", &o, &e));
    assert_non_null(strstr(e.msg, "image size"));
    o.image_size = -3;
    assert_null(zoo_build("resnet8", &o, &e));
    assert_int_equal(e.code, ERR_INPUT);
}

/* ---------------------------------------------------------------- ResNet */

static int64_t conv_p(int k, int64_t cin, int64_t cout) { return (int64_t)k * k * cin * cout; }
static int64_t bn_p(int64_t c) { return 4 * c; } /* gamma, beta, moving mean, moving variance */

static void test_resnet8_counts_names_and_run(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = build("resnet8", zoo_opts_default());
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);

    /* parameters, derived by hand: stem, stage 1 (no projection), stages 2-3 (projection), fc */
    int64_t params = conv_p(3, 3, 16) + bn_p(16)
                   + 2 * (conv_p(3, 16, 16) + bn_p(16))
                   + conv_p(3, 16, 32) + conv_p(3, 32, 32) + conv_p(1, 16, 32) + 3 * bn_p(32)
                   + conv_p(3, 32, 64) + conv_p(3, 64, 64) + conv_p(1, 32, 64) + 3 * bn_p(64)
                   + 64 * 10 + 10;
    assert_int_equal(params, 78714);
    int64_t bytes = 0;
    assert_int_equal(graph_param_count(g, &bytes), params);
    assert_int_equal(bytes, 4 * params);
    /* MACs: each conv at its output resolution (32, 16, 8), then the classifier */
    int64_t macs = 32 * 32 * (conv_p(3, 3, 16) + 2 * conv_p(3, 16, 16))
                 + 16 * 16 * (conv_p(3, 16, 32) + conv_p(3, 32, 32) + conv_p(1, 16, 32))
                 + 8 * 8 * (conv_p(3, 32, 64) + conv_p(3, 64, 64) + conv_p(1, 32, 64))
                 + 64 * 10;
    assert_int_equal(mac_flops(g), 2 * macs);
    assert_true(graph_flops(g) > 2 * macs); /* plus BN, Relu, adds, pooling */

    assert_int_equal(count_op(g, "Conv2D"), 9);
    assert_int_equal(count_op(g, "FusedBatchNormV3"), 9);
    assert_int_equal(count_op(g, "AddV2"), 3);
    assert_int_equal(count_op(g, "Relu"), 7);
    assert_int_equal(count_op(g, "Pad"), 0);
    assert_int_equal(count_op(g, "MaxPool"), 0);

    /* input: dynamic batch, NHWC */
    const Node *in = node_named(g, "input_1");
    Attr *shape = node_attr_find(in, "shape");
    assert_non_null(shape);
    Shape want_in = shape_make(4, (int64_t[]){-1, 32, 32, 3});
    assert_true(shape_equal(&shape->shape, &want_in));
    assert_int_equal(node_attr_type(in, "dtype", 0), DT_FLOAT);
    /* outputs: logits then probs, Identity nodes fed by BiasAdd and Softmax */
    assert_int_equal(g->n_outputs, 2);
    assert_string_equal(g->nodes[g->outputs[0].node]->name, "logits");
    assert_string_equal(g->nodes[g->outputs[1].node]->name, "probs");
    const Node *probs = node_named(g, "probs");
    assert_string_equal(g->nodes[probs->inputs[0].node]->name, "resnet8/predictions/Softmax");
    const Node *proj = node_named(g, "resnet8/conv3_block1_0_conv/Conv2D");
    assert_ints_attr(proj, "strides", (int64_t[]){1, 2, 2, 1}, 4);
    assert_string_equal(node_attr_s(proj, "padding", ""), "VALID");
    const Node *add = node_named(g, "resnet8/conv4_block1_add/add");
    assert_string_equal(add->op_name, "AddV2");
    assert_string_equal(g->nodes[add->inputs[0].node]->name, "resnet8/conv4_block1_0_bn/FusedBatchNormV3");

    /* run on inputs other than the calibration image: bounded, not one-hot, and the top-1
       class depends on the input (otherwise top-1 agreement would measure nothing) */
    int classes_seen[10] = {0}, distinct = 0;
    for (int s = 0; s < 8; s++) {
        Tensor out[2] = {{0}};
        run_image(g, "input_1", 100 + (uint64_t)s, out);
        int c = check_classifier(&out[0], &out[1], 10);
        distinct += !classes_seen[c]++;
        tensor_release(&out[0]);
        tensor_release(&out[1]);
    }
    assert_true(distinct >= 2);
    graph_free(g);
}

/* Calibration: on the calibration image, every BN output is close to standardized per
   channel (mean ~ beta - small perturbation, std ~ gamma): gamma ~ 1, except the last BN of a
   residual branch (conv*_block*_2_bn in basic blocks), whose gamma is scaled by 0.2. */
static void test_resnet8_batchnorm_is_calibrated(void **state) {
    (void)state;
    Err e = {0};
    ZooOpts o = zoo_opts_default();
    o.seed = 5;
    Graph *g = build("resnet8", o);
    const char *bns[] = {"resnet8/conv1_bn/FusedBatchNormV3", "resnet8/conv2_block1_2_bn/FusedBatchNormV3",
                         "resnet8/conv3_block1_1_bn/FusedBatchNormV3", "resnet8/conv4_block1_2_bn/FusedBatchNormV3",
                         "resnet8/conv4_block1_0_bn/FusedBatchNormV3"};
    enum { NB = 5 };
    ValueRef fetch[NB];
    for (int i = 0; i < NB; i++) fetch[i] = (ValueRef){graph_find(g, bns[i]), 0};
    Tensor img, out[NB] = {{0}};
    CHECK_OK(bld_synthetic_image(&img, 1, 32, 32, 3, o.seed, &e), &e); /* the calibration image */
    RefFeed f = {"input_1", img};
    CHECK_OK(ref_run(g, &f, 1, fetch, NB, out, NULL, &e), &e);
    for (int i = 0; i < NB; i++) {
        int64_t c = out[i].shape.dim[3], rows = tensor_numel(&out[i]) / c;
        double abs_mean = 0, avg_std = 0;
        for (int64_t j = 0; j < c; j++) {
            double s = 0, sq = 0;
            for (int64_t r = 0; r < rows; r++) {
                double v = tensor_get(&out[i], r * c + j);
                s += v;
                sq += v * v;
            }
            double m = s / (double)rows;
            abs_mean += fabs(m);
            avg_std += sqrt(sq / (double)rows - m * m);
        }
        abs_mean /= (double)c;
        avg_std /= (double)c;
        double g = strstr(bns[i], "_2_bn") ? 0.2 : 1.0; /* the branch-final BNs */
        if (!(abs_mean < 0.25 && avg_std > 0.8 * g && avg_std < 1.2 * g)) {
            print_error("%s: mean |channel mean| %.3f, mean channel std %.3f\n", bns[i], abs_mean, avg_std);
            fail();
        }
        tensor_release(&out[i]);
    }
    tensor_release(&img);
    graph_free(g);
}

static void test_resnet8_determinism(void **state) {
    (void)state;
    ZooOpts o = zoo_opts_default();
    Graph *a = build("resnet8", o), *b = build("resnet8", o);
    assert_int_equal(a->n_nodes, b->n_nodes);
    for (int i = 0; i < a->n_nodes; i++) assert_string_equal(a->nodes[i]->name, b->nodes[i]->name);
    assert_true(weights_hash(a) == weights_hash(b));
    o.seed = 2;
    Graph *c = build("resnet8", o);
    assert_true(weights_hash(a) != weights_hash(c));
    /* calibration changes only the moving statistics: conv kernels are drawn identically */
    o.seed = 1;
    o.calibrate = false;
    Graph *d = build("resnet8", o);
    const char *w = "resnet8/conv3_block1_2_conv/Conv2D/ReadVariableOp";
    const Tensor *ta = const_value(a, w), *td = const_value(d, w), *tc = const_value(c, w);
    assert_int_equal(tensor_nbytes(ta), tensor_nbytes(td));
    assert_memory_equal(tensor_data(ta), tensor_data(td), tensor_nbytes(ta));
    assert_memory_not_equal(tensor_data(ta), tensor_data(tc), tensor_nbytes(ta));
    const char *mv = "resnet8/conv3_block1_2_bn/FusedBatchNormV3/ReadVariableOp_1";
    assert_memory_not_equal(tensor_data(const_value(a, mv)), tensor_data(const_value(d, mv)), 4 * 32);
    const char *gm = "resnet8/conv3_block1_2_bn/ReadVariableOp"; /* gamma: same draws */
    assert_memory_equal(tensor_data(const_value(a, gm)), tensor_data(const_value(d, gm)), 4 * 32);
    /* the uncalibrated weight stream is a pure function of the seed: pin it, so an
       accidental change of drawing order (which would silently change every benchmark
       model) fails here */
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)weights_hash(d));
    print_message("resnet8 seed 1 uncalibrated weights hash %s\n", hex);
    assert_string_equal(hex, RESNET8_UNCALIBRATED_HASH);
    graph_free(a);
    graph_free(b);
    graph_free(c);
    graph_free(d);
}

/* width_pct scales every conv's channels (multiples of 8): resnet8 at 50% has 8/16/32
   channels, so its 3x3 conv weights shrink ~4x; bad widths are an input error */
static void test_resnet8_width(void **state) {
    (void)state;
    Err e = {0};
    ZooOpts o = zoo_opts_default();
    o.calibrate = false;
    Graph *full = zoo_build("resnet8", &o, &e);
    o.width_pct = 50;
    Graph *half = zoo_build("resnet8", &o, &e);
    assert_non_null(full);
    assert_non_null(half);
    int64_t pf = graph_param_count(full, NULL), ph = graph_param_count(half, NULL);
    assert_true(ph < pf / 3 && ph > pf / 6);
    for (int i = 0; i < half->n_nodes; i++)
        if (half->nodes[i]->op == OP_CONV2D) {
            const Value *v = &half->nodes[i]->outputs[0];
            assert_int_equal(v->shape.dim[3] % 8, 0);
            assert_true(v->shape.dim[3] <= 32);
        }
    o.width_pct = 1000;
    assert_null(zoo_build("resnet8", &o, &e));
    assert_int_equal(e.code, ERR_INPUT);
    graph_free(full);
    graph_free(half);
}

static void test_resnet8_static_batch(void **state) {
    (void)state;
    ZooOpts o = zoo_opts_default();
    o.batch = 2;
    Graph *g = build("resnet8", o);
    Shape want = shape_make(4, (int64_t[]){2, 32, 32, 3});
    assert_true(shape_equal(&node_attr_find(node_named(g, "input_1"), "shape")->shape, &want));
    Tensor out[2] = {{0}};
    run_image(g, "input_1", 77, out);
    assert_int_equal(out[0].shape.dim[0], 2);
    check_classifier(&out[0], &out[1], 10);
    tensor_release(&out[0]);
    tensor_release(&out[1]);
    graph_free(g);
}

/* ResNet-50 v1.5 counted in closed form (stride in the 3x3 conv of the bottleneck). */
static void test_resnet50_counts_and_layout(void **state) {
    (void)state;
    ZooOpts o = zoo_opts_default();
    o.calibrate = false;
    Graph *g = build("resnet50", o);
    const int blocks[4] = {3, 4, 6, 3};
    int64_t params = conv_p(7, 3, 64) + bn_p(64), macs = 112 * 112 * conv_p(7, 3, 64);
    int64_t cin = 64, size = 56; /* after the stem's max pool */
    for (int s = 0; s < 4; s++) {
        int64_t w = 64 << s, out_size = s ? size / 2 : size;
        for (int blk = 0; blk < blocks[s]; blk++) {
            int64_t in_size = blk == 0 ? size : out_size;
            params += conv_p(1, cin, w) + conv_p(3, w, w) + conv_p(1, w, 4 * w) + bn_p(w) * 2 + bn_p(4 * w);
            macs += in_size * in_size * conv_p(1, cin, w) + out_size * out_size * (conv_p(3, w, w) + conv_p(1, w, 4 * w));
            if (blk == 0) {
                params += conv_p(1, cin, 4 * w) + bn_p(4 * w);
                macs += out_size * out_size * conv_p(1, cin, 4 * w);
            }
            cin = 4 * w;
        }
        size = out_size;
    }
    params += 2048 * 1000 + 1000;
    macs += 2048 * 1000;
    print_message("resnet50: %lld params, %lld MACs (conv+fc), graph_flops %lld\n", (long long)params, (long long)macs,
                  (long long)graph_flops(g));
    /* torchvision's 25,557,032 trainable parameters + 53,120 BN moving statistics */
    assert_int_equal(params, 25557032 + 53120);
    assert_int_equal(graph_param_count(g, NULL), params);
    assert_int_equal(mac_flops(g), 2 * macs);
    assert_true(macs > 4000000000LL && macs < 4200000000LL); /* ~4.1 GMACs */
    assert_int_equal(count_op(g, "Conv2D"), 53);
    assert_int_equal(count_op(g, "FusedBatchNormV3"), 53);
    assert_int_equal(count_op(g, "AddV2"), 16);

    /* TF's attributes on the stem */
    const Node *c1 = node_named(g, "resnet50/conv1_conv/Conv2D");
    assert_int_equal(node_attr_type(c1, "T", 0), DT_FLOAT);
    assert_ints_attr(c1, "strides", (int64_t[]){1, 2, 2, 1}, 4);
    assert_ints_attr(c1, "dilations", (int64_t[]){1, 1, 1, 1}, 4);
    assert_string_equal(node_attr_s(c1, "padding", ""), "VALID");
    assert_string_equal(node_attr_s(c1, "data_format", ""), "NHWC");
    assert_true(node_attr_b(c1, "use_cudnn_on_gpu", false));
    assert_non_null(node_attr_find(c1, "explicit_paddings"));
    assert_string_equal(g->nodes[c1->inputs[0].node]->op_name, "Pad");
    assert_string_equal(g->nodes[c1->inputs[1].node]->name, "resnet50/conv1_conv/Conv2D/ReadVariableOp");
    const Node *bn = node_named(g, "resnet50/conv1_bn/FusedBatchNormV3");
    assert_true(fabs(node_attr_f(bn, "epsilon", 0) - 1.001e-5f) < 1e-10);
    assert_false(node_attr_b(bn, "is_training", true));
    assert_int_equal(node_attr_type(bn, "U", 0), DT_FLOAT);
    assert_true(node_attr_f(bn, "exponential_avg_factor", 0) == 1.0f);
    const Node *pool = node_named(g, "resnet50/pool1_pool/MaxPool");
    assert_ints_attr(pool, "ksize", (int64_t[]){1, 3, 3, 1}, 4);
    assert_ints_attr(pool, "strides", (int64_t[]){1, 2, 2, 1}, 4);
    assert_int_equal(pool->outputs[0].shape.dim[1], 56);
    /* v1.5: the stride is in the 3x3 conv */
    assert_ints_attr(node_named(g, "resnet50/conv3_block1_1_conv/Conv2D"), "strides", (int64_t[]){1, 1, 1, 1}, 4);
    const Node *c2 = node_named(g, "resnet50/conv3_block1_2_conv/Conv2D");
    assert_ints_attr(c2, "strides", (int64_t[]){1, 2, 2, 1}, 4);
    assert_string_equal(node_attr_s(c2, "padding", ""), "SAME");
    assert_int_equal(c2->outputs[0].shape.dim[1], 28);
    /* head: Mean over [1,2], logits [1,1000] */
    const Node *mean = node_named(g, "resnet50/avg_pool/Mean");
    const Tensor *axes = node_attr_tensor(g->nodes[mean->inputs[1].node], "value");
    assert_int_equal(axes->dtype, DT_INT32);
    assert_int_equal(tensor_numel(axes), 2);
    assert_int_equal(tensor_get(axes, 0), 1);
    assert_int_equal(tensor_get(axes, 1), 2);
    assert_false(node_attr_b(mean, "keep_dims", true));
    Shape logits = shape_make(2, (int64_t[]){1, 1000});
    assert_true(shape_equal(&graph_value(g, g->outputs[0])->shape, &logits));
    graph_free(g);
}

/* ---------------------------------------------------------------- MobileNetV2 */

static void test_mobilenet_v2(void **state) {
    (void)state;
    Err e = {0};
    ZooOpts o = zoo_opts_default();
    o.image_size = 96;
    Graph *g = build("mobilenet_v2", o);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    /* closed form over the (t, c, n, s) table of the paper */
    static const int t[] = {1, 6, 6, 6, 6, 6, 6}, c[] = {16, 24, 32, 64, 96, 160, 320}, n[] = {1, 2, 3, 4, 3, 3, 1},
                     st[] = {1, 2, 2, 2, 1, 2, 1};
    int64_t size = 48, cin = 32; /* after Conv1 3x3/2 */
    int64_t params = conv_p(3, 3, 32) + bn_p(32), macs = size * size * conv_p(3, 3, 32);
    int blocks = 0, adds = 0;
    for (int i = 0; i < 7; i++)
        for (int r = 0; r < n[i]; r++, blocks++) {
            int64_t hidden = cin * t[i], stride = r ? 1 : st[i], out = (size + stride - 1) / stride;
            if (t[i] != 1) {
                params += conv_p(1, cin, hidden) + bn_p(hidden);
                macs += size * size * conv_p(1, cin, hidden);
            }
            params += 9 * hidden + bn_p(hidden) + conv_p(1, hidden, c[i]) + bn_p(c[i]);
            macs += out * out * (9 * hidden + conv_p(1, hidden, c[i]));
            adds += stride == 1 && cin == c[i];
            cin = c[i];
            size = out;
        }
    params += conv_p(1, 320, 1280) + bn_p(1280) + 1280 * 1000 + 1000;
    macs += size * size * conv_p(1, 320, 1280) + 1280 * 1000;
    assert_int_equal(size, 3);
    assert_int_equal(params, 3538984); /* Keras' MobileNetV2 total, BN statistics included */
    assert_int_equal(graph_param_count(g, NULL), params);
    assert_int_equal(mac_flops(g), 2 * macs);
    assert_int_equal(blocks, 17);
    assert_int_equal(count_op(g, "DepthwiseConv2dNative"), 17);
    assert_int_equal(count_op(g, "Relu6"), 1 + 16 + 17 + 1);
    assert_int_equal(count_op(g, "AddV2"), adds);
    assert_int_equal(adds, 10);
    assert_int_equal(count_op(g, "FusedBatchNormV3"), 1 + 16 + 17 + 17 + 1);
    assert_int_equal(count_op(g, "Pad"), 4); /* before each stride-2 depthwise */
    const Node *dw = node_named(g, "mobilenetv2_1.00_96/block_1_depthwise/depthwise");
    assert_string_equal(dw->op_name, "DepthwiseConv2dNative");
    assert_string_equal(node_attr_s(dw, "padding", ""), "VALID");
    assert_ints_attr(dw, "strides", (int64_t[]){1, 2, 2, 1}, 4);
    /* even input (48): Keras' correct_pad pads (0, 1) */
    const Node *pad = node_named(g, "mobilenetv2_1.00_96/block_1_pad/Pad");
    const Tensor *pv = node_attr_tensor(g->nodes[pad->inputs[1].node], "value");
    int32_t want_pad[8] = {0, 0, 0, 1, 0, 1, 0, 0};
    for (int i = 0; i < 8; i++) assert_int_equal(tensor_get(pv, i), want_pad[i]);
    assert_true(fabs(node_attr_f(node_named(g, "mobilenetv2_1.00_96/bn_Conv1/FusedBatchNormV3"), "epsilon", 0) - 1e-3f) < 1e-9);

    int seen[1000] = {0}, distinct = 0;
    for (int s = 0; s < 3; s++) {
        Tensor out[2] = {{0}};
        run_image(g, "input_1", 300 + (uint64_t)s, out);
        int cls = check_classifier(&out[0], &out[1], 1000);
        distinct += !seen[cls]++;
        tensor_release(&out[0]);
        tensor_release(&out[1]);
    }
    assert_true(distinct >= 2);
    graph_free(g);
}

/* ---------------------------------------------------------------- BERT */

enum { SEQ = 16 };

static void bert_inputs(int32_t ids[SEQ], int32_t mask[SEQ], int32_t seg[SEQ], uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < SEQ; i++) {
        ids[i] = i == 0 ? 101 : (int32_t)rng_below(&r, 30522); /* [CLS] first */
        seg[i] = i >= SEQ / 2;
        mask[i] = i < SEQ - 4; /* the last 4 positions are padding */
    }
}

/* Parameters: embeddings + LN; per layer q/k/v/o dense, LN, two FFN dense, LN; pooler.
   Plus the float scalar Consts TF writes: per layer the score scale, GELU's 1/sqrt2, 1 and
   0.5 and two LN epsilons; the embedding LN epsilon and the mask's 1 and -10000. */
static int64_t bert_params(int64_t L, int64_t H, int64_t I) {
    const int64_t V = 30522, P = 512, T = 2;
    return V * H + P * H + T * H + 2 * H
         + L * (4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H)
         + H * H + H
         + L * 6 + 3;
}

/* MACs: per token per layer 4 H x H and 2 H x I MatMuls; attention: two batched S x S x dh
   products per head; the pooler on one token */
static int64_t bert_macs(int64_t L, int64_t H, int64_t NH, int64_t I, int64_t S) {
    return L * (S * (4 * H * H + 2 * H * I) + 2 * NH * S * S * (H / NH)) + H * H;
}

static void run_bert(const Graph *g, int batch, const int32_t *ids, const int32_t *mask, const int32_t *seg, Tensor out[2]) {
    Err e = {0};
    int64_t dims[2] = {batch, SEQ};
    RefFeed f[3] = {{"input_ids", tt_i32(2, dims, ids)}, {"input_mask", tt_i32(2, dims, mask)},
                    {"segment_ids", tt_i32(2, dims, seg)}};
    CHECK_OK(ref_run(g, f, 3, NULL, 0, out, NULL, &e), &e);
    for (int i = 0; i < 3; i++) tensor_release(&f[i].value);
}

static void test_bert_tiny(void **state) {
    (void)state;
    Err e = {0};
    ZooOpts o = zoo_opts_default();
    o.seq_len = SEQ;
    Graph *g = build("bert-tiny", o);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    const int64_t L = 2, H = 128;
    assert_int_equal(graph_param_count(g, NULL), bert_params(L, H, 512));
    assert_int_equal(mac_flops(g), 2 * bert_macs(L, H, 2, 512, SEQ));
    assert_int_equal(count_op(g, "BatchMatMulV2"), 2 * L);
    assert_int_equal(count_op(g, "Erf"), L);
    assert_int_equal(count_op(g, "Rsqrt"), 2 * L + 1);
    assert_int_equal(count_op(g, "GatherV2"), 2);

    /* shapes and names */
    Shape want_in = shape_make(2, (int64_t[]){-1, SEQ});
    assert_true(shape_equal(&node_attr_find(node_named(g, "input_ids"), "shape")->shape, &want_in));
    assert_int_equal(node_attr_type(node_named(g, "input_mask"), "dtype", 0), DT_INT32);
    assert_int_equal(g->n_outputs, 2);
    assert_string_equal(g->nodes[g->outputs[0].node]->name, "sequence_output");
    assert_string_equal(g->nodes[g->outputs[1].node]->name, "pooled_output");
    const Node *qk = node_named(g, "bert/encoder/layer_1/attention/self/MatMul");
    assert_true(node_attr_b(qk, "adj_y", false));
    assert_false(node_attr_b(qk, "adj_x", true));
    Shape scores = shape_make(4, (int64_t[]){1, 2, SEQ, SEQ});
    assert_true(shape_equal(&qk->outputs[0].shape, &scores));
    const Node *ss = node_named(g, "bert/pooler/strided_slice");
    assert_int_equal(node_attr_i(ss, "shrink_axis_mask", 0), 2);
    const Tensor *scale = const_value(g, "bert/encoder/layer_0/attention/self/Mul/y");
    assert_true(fabs(tensor_get(scale, 0) - 1.0 / 8.0) < 1e-7); /* 1/sqrt(64) */
    assert_string_equal(node_named(g, "bert/encoder/layer_0/output/LayerNorm/batchnorm/Rsqrt")->op_name, "Rsqrt");
    assert_non_null(node_named(g, "bert/encoder/layer_0/attention/self/query/kernel"));

    int32_t ids[SEQ], mask[SEQ], seg[SEQ];
    bert_inputs(ids, mask, seg, 9);
    Tensor a[2] = {{0}};
    run_bert(g, 1, ids, mask, seg, a);
    Shape seq_shape = shape_make(3, (int64_t[]){1, SEQ, H});
    assert_true(shape_equal(&a[0].shape, &seq_shape));
    assert_int_equal(a[1].shape.dim[1], H);
    /* each token of the sequence output came out of a LayerNorm (gamma ~ 1, beta ~ 0) */
    for (int s = 0; s < SEQ; s++) {
        double m = 0, sq = 0;
        for (int h = 0; h < H; h++) {
            double v = tensor_get(&a[0], s * H + h);
            assert_true(isfinite(v));
            m += v;
            sq += v * v;
        }
        m /= (double)H;
        double sd = sqrt(sq / (double)H - m * m);
        assert_true(fabs(m) < 0.1);
        assert_true(sd > 0.85 && sd < 1.15);
    }
    double pooled_abs = 0;
    for (int h = 0; h < H; h++) {
        double v = tensor_get(&a[1], h);
        assert_true(v > -1.0 && v < 1.0);
        pooled_abs += fabs(v);
    }
    assert_true(pooled_abs / (double)H > 0.05);

    /* the mask: changing a padded token changes nothing at the real positions ... */
    int32_t ids2[SEQ];
    memcpy(ids2, ids, sizeof ids);
    ids2[SEQ - 1] = (ids[SEQ - 1] + 1000) % 30522;
    Tensor b[2] = {{0}};
    run_bert(g, 1, ids2, mask, seg, b);
    for (int s = 0; s < SEQ - 4; s++)
        for (int h = 0; h < H; h++)
            assert_true(fabs(tensor_get(&a[0], s * H + h) - tensor_get(&b[0], s * H + h)) < 1e-5);
    assert_tensor_near(&a[1], &b[1], 1e-5);
    /* ... while changing a real token does */
    ids2[3] = (ids[3] + 1000) % 30522;
    Tensor c[2] = {{0}};
    run_bert(g, 1, ids2, mask, seg, c);
    double diff = 0;
    for (int h = 0; h < H; h++) diff += fabs(tensor_get(&a[0], 0 * H + h) - tensor_get(&c[0], 0 * H + h));
    assert_true(diff > 1e-3); /* token 0 attends to token 3 */

    /* the dynamic batch: re-infer for batch 2; row 0 reproduces the batch-1 result */
    InputSpec specs[3] = {{"input_ids", shape_make(2, (int64_t[]){2, SEQ}), DT_INVALID},
                          {"input_mask", shape_make(2, (int64_t[]){2, SEQ}), DT_INVALID},
                          {"segment_ids", shape_make(2, (int64_t[]){2, SEQ}), DT_INVALID}};
    CHECK_OK(graph_infer(g, specs, 3, ref_eval_node, NULL, &e), &e);
    int32_t ids_b[2 * SEQ], mask_b[2 * SEQ], seg_b[2 * SEQ];
    memcpy(ids_b, ids, sizeof ids);
    memcpy(mask_b, mask, sizeof mask);
    memcpy(seg_b, seg, sizeof seg);
    bert_inputs(ids_b + SEQ, mask_b + SEQ, seg_b + SEQ, 10);
    Tensor d[2] = {{0}};
    run_bert(g, 2, ids_b, mask_b, seg_b, d);
    assert_int_equal(d[0].shape.dim[0], 2);
    for (int64_t i = 0; i < SEQ * H; i++) assert_true(fabs(tensor_get(&d[0], i) - tensor_get(&a[0], i)) < 1e-5);
    for (int h = 0; h < H; h++) assert_true(fabs(tensor_get(&d[1], h) - tensor_get(&a[1], h)) < 1e-5);

    for (int i = 0; i < 2; i++) {
        tensor_release(&a[i]);
        tensor_release(&b[i]);
        tensor_release(&c[i]);
        tensor_release(&d[i]);
    }
    graph_free(g);
}

static void test_bert_mini_counts(void **state) {
    (void)state;
    Graph *g = build("bert-mini", zoo_opts_default()); /* seq 128 by default */
    assert_int_equal(graph_param_count(g, NULL), bert_params(4, 256, 1024));
    assert_int_equal(mac_flops(g), 2 * bert_macs(4, 256, 4, 1024, 128));
    Shape scores = shape_make(4, (int64_t[]){1, 4, 128, 128});
    assert_true(shape_equal(&node_named(g, "bert/encoder/layer_3/attention/self/Softmax")->outputs[0].shape, &scores));
    /* bert-base for the record (not built here: 110M weights take several seconds):
       109,482,240 weights + 75 scalars = 109,482,315; 11,174,215,680 MACs at seq 128) */
    assert_int_equal(bert_params(12, 768, 3072), 109482315);
    assert_int_equal(bert_macs(12, 768, 12, 3072, 128), 11174215680LL);
    graph_free(g);
}

/* the graphs survive GraphDef serialization: same nodes, same outputs when run */
static void test_graphdef_round_trip(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = build("resnet8", zoo_opts_default());
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(graphdef_serialize(g, &buf, &len, &e), &e);
    Graph *h = graphdef_parse(buf, len, "resnet8", &e);
    if (!h) { print_error("%s\n", e.msg); fail(); }
    free(buf);
    CHECK_OK(graph_infer(h, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_int_equal(h->n_nodes, g->n_nodes);
    assert_true(weights_hash(h) == weights_hash(g));
    ValueRef fetch_g[2] = {{graph_find(g, "logits"), 0}, {graph_find(g, "probs"), 0}};
    ValueRef fetch_h[2] = {{graph_find(h, "logits"), 0}, {graph_find(h, "probs"), 0}};
    Tensor img, a[2] = {{0}}, b[2] = {{0}};
    CHECK_OK(bld_synthetic_image(&img, 1, 32, 32, 3, 12, &e), &e);
    RefFeed f = {"input_1", img};
    CHECK_OK(ref_run(g, &f, 1, fetch_g, 2, a, NULL, &e), &e);
    CHECK_OK(ref_run(h, &f, 1, fetch_h, 2, b, NULL, &e), &e);
    for (int i = 0; i < 2; i++) {
        assert_tensor_near(&a[i], &b[i], 0.0);
        tensor_release(&a[i]);
        tensor_release(&b[i]);
    }
    tensor_release(&img);
    graph_free(g);
    graph_free(h);
}

static void test_bert_determinism(void **state) {
    (void)state;
    ZooOpts o = zoo_opts_default();
    o.seq_len = 8;
    Graph *a = build("bert-tiny", o), *b = build("bert-tiny", o);
    assert_true(weights_hash(a) == weights_hash(b));
    o.seed = 3;
    Graph *c = build("bert-tiny", o);
    assert_true(weights_hash(a) != weights_hash(c));
    graph_free(a);
    graph_free(b);
    graph_free(c);
}

/* ---------------------------------------------------------------- random DAGs */

static int compute_nodes(const Graph *g) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i]->op != OP_CONST && g->nodes[i]->op != OP_PLACEHOLDER;
    return n;
}

static void run_random(const Graph *g, uint64_t seed) {
    Err e = {0};
    const Shape *s = &g->nodes[graph_find(g, "input")]->outputs[0].shape;
    Tensor img;
    CHECK_OK(bld_synthetic_image(&img, s->dim[0], s->dim[1], s->dim[2], s->dim[3], seed, &e), &e);
    RefFeed f = {"input", img};
    Tensor out[4] = {{0}};
    assert_true(g->n_outputs <= 4);
    CHECK_OK(ref_run(g, &f, 1, NULL, 0, out, NULL, &e), &e);
    for (int k = 0; k < g->n_outputs; k++) {
        double mx = 0;
        for (int64_t i = 0; i < tensor_numel(&out[k]); i++) {
            double v = tensor_get(&out[k], i);
            assert_true(isfinite(v));
            if (fabs(v) > mx) mx = fabs(v);
        }
        if (!(mx < 50.0)) { print_error("output %d reaches %g\n", k, mx); fail(); }
        if (g->nodes[g->outputs[k].node]->op == OP_SOFTMAX) {
            int64_t classes = out[k].shape.dim[1];
            double sum = 0;
            for (int64_t i = 0; i < classes; i++) sum += tensor_get(&out[k], i);
            assert_true(fabs(sum - 1.0) < 1e-5);
        }
        tensor_release(&out[k]);
    }
    tensor_release(&img);
}

static void test_random_dags(void **state) {
    (void)state;
    Err e = {0};
    enum { SEEDS = 20 };
    char sigs[SEEDS][1024];
    for (int s = 0; s < SEEDS; s++) {
        ZooOpts o = zoo_opts_default();
        o.seed = 1000 + (uint64_t)s;
        o.calibrate = false;
        Graph *g = build("random", o);
        CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
        int n = compute_nodes(g);
        if (n < 6 || n > 36) { print_error("seed %d: %d compute nodes\n", s, n); fail(); }
        assert_true(g->n_outputs >= 1);
        assert_string_equal(g->nodes[g->outputs[0].node]->op_name, "BiasAdd");
        /* input: NHWC, 8..16 pixels, 4..16 channels */
        const Shape *in = &g->nodes[graph_find(g, "input")]->outputs[0].shape;
        assert_int_equal(in->rank, 4);
        assert_true(in->dim[1] >= 8 && in->dim[1] <= 16 && in->dim[3] >= 4 && in->dim[3] <= 16);
        run_random(g, 7 + (uint64_t)s);
        size_t k = 0;
        for (int i = 0; i < g->n_nodes && k + 40 < sizeof sigs[s]; i++)
            if (g->nodes[i]->op != OP_CONST) k += (size_t)snprintf(sigs[s] + k, sizeof sigs[s] - k, "%s,", g->nodes[i]->op_name);
        graph_free(g);
    }
    int distinct = 0;
    for (int s = 0; s < SEEDS; s++) {
        bool dup = false;
        for (int t = 0; t < s; t++) dup |= !strcmp(sigs[s], sigs[t]);
        distinct += !dup;
    }
    assert_true(distinct >= SEEDS - 1);
}

/* every pattern the generator knows shows up within 40 seeds */
static void test_random_covers_patterns(void **state) {
    (void)state;
    const char *ops[] = {"Conv2D", "DepthwiseConv2dNative", "FusedBatchNormV3", "BiasAdd", "Relu", "Relu6", "AddV2",
                         "Mul", "ConcatV2", "MaxPool", "AvgPool", "Pad", "Transpose", "Reshape", "Identity",
                         "Sigmoid", "Tanh", "Mean", "MatMul", "Softmax"};
    enum { NOPS = sizeof ops / sizeof ops[0] };
    int found[NOPS] = {0};
    for (int s = 0; s < 40; s++) {
        ZooOpts o = zoo_opts_default();
        o.seed = 500 + (uint64_t)s;
        o.calibrate = false;
        Graph *g = build("random", o);
        for (int k = 0; k < NOPS; k++) found[k] += count_op(g, ops[k]) > 0;
        graph_free(g);
    }
    for (int k = 0; k < NOPS; k++)
        if (!found[k]) { print_error("no random DAG of 40 has %s\n", ops[k]); fail(); }
}

/* the gemm probe: y = x W, checked against a naive product computed here */
static void test_gemm_probe(void **state) {
    (void)state;
    Err e = {0};
    ZooOpts o = zoo_opts_default();
    o.image_size = 8;
    Graph *g = zoo_build("gemm", &o, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_int_equal(graph_flops(g), 2 * 8 * 8 * 8);
    assert_int_equal(graph_param_count(g, NULL), 64);
    const Tensor *w = NULL;
    for (int i = 0; i < g->n_nodes; i++) if (g->nodes[i]->op == OP_CONST) w = node_attr_tensor(g->nodes[i], "value");
    assert_non_null(w);
    float xs[64];
    for (int i = 0; i < 64; i++) xs[i] = (float)(i % 7) - 3.0f;
    RefFeed f = {"x", tt_f32(2, (int64_t[]){8, 8}, xs)};
    Tensor y;
    CHECK_OK(ref_run(g, &f, 1, NULL, 0, &y, NULL, &e), &e);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            double acc = 0;
            for (int k = 0; k < 8; k++) acc += (double)xs[i * 8 + k] * tensor_get(w, k * 8 + j);
            assert_true(fabs(tensor_get(&y, i * 8 + j) - acc) <= 1e-5 * (1 + fabs(acc)));
        }
    tensor_release(&y);
    tensor_release(&f.value);
    graph_free(g);
}

static void test_random_determinism_and_calibration(void **state) {
    (void)state;
    ZooOpts o = zoo_opts_default();
    o.seed = 42;
    o.calibrate = false;
    Graph *a = build("random", o), *b = build("random", o);
    assert_int_equal(a->n_nodes, b->n_nodes);
    assert_true(weights_hash(a) == weights_hash(b));
    /* NULL opts: seed 1, uncalibrated */
    Err e = {0};
    Graph *d = zoo_build("random", NULL, &e);
    assert_non_null(d);
    o.seed = 1;
    Graph *c = build("random", o);
    assert_true(weights_hash(c) == weights_hash(d));
    /* calibrated random DAGs run too */
    o.calibrate = true;
    for (uint64_t s = 1; s <= 5; s++) {
        o.seed = s;
        Graph *g = build("random", o);
        run_random(g, s);
        graph_free(g);
    }
    /* image_size overrides the random size */
    o.image_size = 5;
    o.seed = 3;
    Graph *f = build("random", o);
    assert_int_equal(f->nodes[graph_find(f, "input")]->outputs[0].shape.dim[1], 5);
    run_random(f, 3);
    graph_free(a);
    graph_free(b);
    graph_free(c);
    graph_free(d);
    graph_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_errors),
        cmocka_unit_test(test_gemm_probe),
        cmocka_unit_test(test_resnet8_counts_names_and_run),
        cmocka_unit_test(test_resnet8_batchnorm_is_calibrated),
        cmocka_unit_test(test_resnet8_determinism),
        cmocka_unit_test(test_resnet8_static_batch),
        cmocka_unit_test(test_resnet8_width),
        cmocka_unit_test(test_resnet50_counts_and_layout),
        cmocka_unit_test(test_mobilenet_v2),
        cmocka_unit_test(test_bert_tiny),
        cmocka_unit_test(test_bert_mini_counts),
        cmocka_unit_test(test_bert_determinism),
        cmocka_unit_test(test_graphdef_round_trip),
        cmocka_unit_test(test_random_dags),
        cmocka_unit_test(test_random_covers_patterns),
        cmocka_unit_test(test_random_determinism_and_calibration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
