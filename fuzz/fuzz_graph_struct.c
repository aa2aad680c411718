/* fuzz_graph_struct.c - structure-aware libFuzzer target: the fuzzer's bytes choose a random
 * *valid* graph (issue 11), which is then executed the way users execute graphs.
 *
 * The bytes drive a generator: one or two float Placeholders of small random shapes, then up to
 * MAX_NODES nodes, each a random op of the op table (src/graph/ops.def) with random inputs
 * (earlier values or fresh small constants: float tensors, int32 axes/shapes/perms) and random
 * attributes (types, windows, strides, paddings, axes, masks, fused_ops lists, ...). A node
 * whose shape inference refuses it, or whose outputs are larger than MAX_ELEMS elements, is
 * dropped, so what remains is a graph every layer must accept. The graph is written as a
 * GraphDef and read back (the writer/reader round trip), validated and inferred as the CLI does,
 * then run on the reference runtime and on the fast runtime with generated inputs, and put
 * through the `grappler` pipeline whose result is run again on the reference runtime.
 *
 * Findings (abort, so libFuzzer keeps the input): a crash or sanitizer report; the round trip
 * rejecting a valid graph; one runtime failing where the other succeeds, or failing with a
 * different error class; a node whose fast-runtime value differs beyond TOL (relative to
 * max|ref|, NaN/Inf positions equal) from the reference kernel run on the fast runtime's values
 * of its inputs (node by node, so that rounding differences amplified downstream - log of
 * 1 - 6e-8, then rsqrt - are not findings; Softmax-like reductions only on finite inputs);
 * grappler failing, dropping an output name, or changing the outputs beyond TOL.
 * Timeouts and memory overruns are findings through libFuzzer's -timeout and -rss_limit_mb /
 * -malloc_limit_mb (see the Makefile's fuzz target). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/input_gen.h"
#include "io/graphdef.h"
#include "rewrite/pipeline.h"
#include "runtime/plan.h"
#include "runtime/ref.h"

#define MAX_NODES 10
#define MAX_TRIES 48
#define MAX_ELEMS 4096
#define TOL 1e-3

/* the fuzzer's bytes, then (so that short inputs still make graphs of several nodes) a
   xorshift stream seeded from a hash of all of them */
typedef struct Bytes { const uint8_t *p; size_t n, i; uint64_t s; } Bytes;

static unsigned next(Bytes *b) {
    if (b->i < b->n) return b->p[b->i++];
    b->s ^= b->s << 13; b->s ^= b->s >> 7; b->s ^= b->s << 17;
    return (unsigned)(b->s >> 56);
}
static unsigned below(Bytes *b, unsigned n) { return n ? next(b) % n : 0; }
static bool coin(Bytes *b) { return next(b) & 1; }

/* fail loudly: libFuzzer keeps the input that got here */
static void finding(const char *what, const char *detail) {
    fprintf(stderr, "FINDING: %s: %s\n", what, detail);
    abort();
}

static const char *const FUSED_LISTS[][3] = {
    {"BiasAdd", NULL}, {"BiasAdd", "Relu", NULL}, {"BiasAdd", "Relu6", NULL}, {"BiasAdd", "Add", NULL},
    {"BiasAdd", "Add", "Relu"}, {"FusedBatchNorm", NULL}, {"FusedBatchNorm", "Relu", NULL}, {"BiasAdd", "Tanh", NULL},
    {"BiasAdd", "LeakyRelu", NULL}, {"BiasAdd", "Sigmoid", NULL}, {"BiasAdd", "Elu", NULL},
};

static int n_values; /* candidate inputs: port-0 outputs of nodes [0, n_values) ... */

/* a fresh constant: int32 (axes, shapes, perms, paddings) or a float tensor shaped like
   something useful (an earlier value's shape, or a filter for it) */
static int add_const(Graph *g, Bytes *b, const Shape *like, Err *err) {
    char name[32];
    snprintf(name, sizeof name, "c%d", g->n_nodes);
    int id = graph_add_node(g, name, "Const", err);
    if (id < 0) return -1;
    Node *n = g->nodes[id];
    Tensor t;
    Shape s = {.rank = 0};
    int kind = (int)below(b, 4);
    if (kind == 0) { /* int32 scalar or vector */
        s.rank = (int)below(b, 2);
        if (s.rank) s.dim[0] = below(b, 5);
        if (tensor_alloc(&t, DT_INT32, &s, err)) return -1;
        for (int64_t i = 0; i < tensor_numel(&t); i++) ((int32_t *)tensor_mut(&t))[i] = (int32_t)below(b, 8) - 2;
    } else {
        if (kind == 1 && like && like->rank >= 0) s = *like; /* same shape as an operand */
        else if (kind == 2 && like && like->rank >= 1) { /* a filter / weight for it */
            s.rank = coin(b) ? 4 : 2;
            for (int d = 0; d < s.rank; d++) s.dim[d] = 1 + below(b, 3);
            s.dim[s.rank - 2] = like->dim[like->rank - 1];
        } else {
            s.rank = (int)below(b, 5);
            for (int d = 0; d < s.rank; d++) s.dim[d] = 1 + below(b, 4);
        }
        if (shape_numel(&s) > MAX_ELEMS || shape_numel(&s) < 0) s = shape_scalar();
        if (tensor_alloc(&t, DT_FLOAT, &s, err)) return -1;
        float *p = tensor_mut(&t);
        for (int64_t i = 0; i < tensor_numel(&t); i++) p[i] = ((float)below(b, 64) - 24.0f) / 16.0f;
    }
    if (node_set_attr_type(n, "dtype", t.dtype, err) || node_set_attr_tensor(n, "value", &t, err)) { tensor_release(&t); return -1; }
    tensor_release(&t);
    if (node_set_num_outputs(n, 1, err) || graph_infer_node(g, id, ref_eval_node, NULL, err)) return -1;
    return id;
}

static void set_window(Node *n, Bytes *b, const char *name) {
    int64_t v[4] = {1, 1 + below(b, 3), 1 + below(b, 3), 1};
    node_set_attr_list_i(n, name, v, 4, NULL);
}

/* every attribute an op of the table may read, with random values; extra ones are ignored */
static void set_attrs(Graph *g, Node *n, Bytes *b) {
    int t = below(b, 8) ? DT_FLOAT : DT_INT32;
    if (n->n_inputs > 0) {
        int dt = graph_value(g, n->inputs[0])->dtype;
        if (below(b, 4)) t = dt;
    }
    const char *types[] = {"T", "Tparams", "U"};
    for (int k = 0; k < 3; k++) node_set_attr_type(n, types[k], k == 2 ? DT_FLOAT : t, NULL);
    const char *itypes[] = {"Tidx", "Tperm", "Tshape", "Tpaddings", "Taxis", "Tindices", "Tmultiples", "index_type", "out_type",
                            "TI", "Tlen", "output_type"};
    for (size_t k = 0; k < sizeof itypes / sizeof *itypes; k++) node_set_attr_type(n, itypes[k], DT_INT32, NULL);
    node_set_attr_type(n, "SrcT", n->n_inputs ? graph_value(g, n->inputs[0])->dtype : DT_FLOAT, NULL);
    node_set_attr_type(n, "DstT", below(b, 3) ? DT_FLOAT : DT_INT32, NULL);
    node_set_attr_s(n, "padding", coin(b) ? "SAME" : "VALID", NULL);
    node_set_attr_s(n, "data_format", "NHWC", NULL);
    set_window(n, b, "ksize");
    set_window(n, b, "strides");
    if (coin(b)) set_window(n, b, "dilations");
    const char *bools[] = {"keep_dims", "transpose_a", "transpose_b", "adj_x", "adj_y", "align_corners", "half_pixel_centers"};
    for (size_t k = 0; k < sizeof bools / sizeof *bools; k++) node_set_attr_b(n, bools[k], below(b, 4) == 0, NULL);
    node_set_attr_b(n, "is_training", false, NULL);
    node_set_attr_i(n, "axis", (int64_t)below(b, 6) - 2, NULL);
    node_set_attr_i(n, "N", n->op == OP_CONCAT_V2 ? n->n_inputs - 1 : n->n_inputs, NULL);
    node_set_attr_i(n, "num_split", 1 + below(b, 3), NULL);
    node_set_attr_i(n, "num", 1 + below(b, 3), NULL);
    node_set_attr_i(n, "batch_dims", 0, NULL);
    const char *masks[] = {"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"};
    for (int k = 0; k < 5; k++) node_set_attr_i(n, masks[k], below(b, 3) ? 0 : below(b, 8), NULL);
    node_set_attr_f(n, "alpha", 0.25f, NULL);
    node_set_attr_f(n, "epsilon", 1e-3f, NULL);
    node_set_attr_s(n, "mode", coin(b) ? "REFLECT" : "SYMMETRIC", NULL);
    if (coin(b)) {
        int64_t sq[1] = {(int64_t)below(b, 4)};
        node_set_attr_list_i(n, "squeeze_dims", sq, 1, NULL);
    }
    if (n->op == OP_EINSUM) { /* equations that fit some of the generated shapes */
        static const char *const eqs[] = {"...ij,...jk->...ik", "...i,...i->...", "...ij->...ji", "...->...", "i...,i...->...",
                                          "...ii->...i", "ij,jk->ik", "abc,cd->abd", "...i,...j->...ij"};
        node_set_attr_s(n, "equation", eqs[below(b, sizeof eqs / sizeof *eqs)], NULL);
    }
    if (op_def(n->op)->flags & OPF_FUSED) {
        int k = (int)below(b, sizeof FUSED_LISTS / sizeof *FUSED_LISTS), len = 0;
        while (len < 3 && FUSED_LISTS[k][len]) len++;
        node_set_attr_list_s(n, "fused_ops", FUSED_LISTS[k], len, NULL);
        node_set_attr_i(n, "num_args", n->n_inputs - 2, NULL);
    }
}

/* Adds one random node; keeps it only if inference accepts it with small, computable outputs. */
static bool add_random_node(Graph *g, Bytes *b) {
    Err err;
    int before = g->n_nodes;
    OpId op = (OpId)(1 + below(b, OP_COUNT - 1));
    if (op == OP_PLACEHOLDER || op == OP_CONST || op == OP_NO_OP) return false;
    const OpDef *d = op_def(op);
    /* control flow needs function bodies (While/If/Case) or dead-value semantics only the
       reference runtime has (Switch/Merge): tests/test_ctrlflow.c covers those, not this target */
    if (d->flags & (OPF_CONTROL | OPF_DEADNESS)) return false;
    int n_in = d->min_inputs;
    if (d->max_inputs < 0) n_in += (int)below(b, 4);
    else if (d->max_inputs > n_in) n_in += (int)below(b, (unsigned)(d->max_inputs - n_in + 1));
    if (n_in > 8) n_in = 8;
    ValueRef in[8];
    const Shape *first = NULL;
    for (int k = 0; k < n_in; k++) {
        unsigned how = below(b, 8);
        if (how < 5 && n_values > 0) {
            int v = (int)below(b, (unsigned)n_values);
            Node *src = g->nodes[v];
            in[k] = (ValueRef){v, (int)below(b, (unsigned)(src->n_outputs ? src->n_outputs : 1))};
            if (in[k].port >= src->n_outputs) return false;
        } else {
            int c = add_const(g, b, first, &err);
            if (c < 0) goto reject;
            in[k] = (ValueRef){c, 0};
        }
        if (k == 0) first = &graph_value(g, in[0])->shape;
    }
    char name[32];
    snprintf(name, sizeof name, "n%d", g->n_nodes);
    int id = graph_add_node(g, name, op_def(op)->tf_name, &err);
    if (id < 0) goto reject;
    Node *n = g->nodes[id];
    for (int k = 0; k < n_in; k++)
        if (node_add_input(g, id, in[k], &err)) goto reject;
    set_attrs(g, n, b);
    if (graph_infer_node(g, id, ref_eval_node, NULL, &err)) goto reject;
    for (int k = 0; k < n->n_outputs; k++) {
        const Value *v = &n->outputs[k];
        int64_t e = shape_numel(&v->shape);
        if (e < 0 || e > MAX_ELEMS || !dtype_is_supported(v->dtype)) goto reject;
    }
    if (node_flops(g, n) > ((int64_t)1 << 26)) goto reject;
    n_values = g->n_nodes;
    return true;
reject: {
    bool *rm = calloc((size_t)g->n_nodes + 1, 1);
    for (int i = before; i < g->n_nodes; i++) rm[i] = true;
    if (graph_remove_nodes(g, rm, &err)) finding("generator", err.msg);
    free(rm);
    return false;
}
}

static Graph *generate(Bytes *b) {
    Err err;
    Graph *g = graph_new();
    if (!g) return NULL;
    int n_ph = 1 + (int)below(b, 2);
    for (int p = 0; p < n_ph; p++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", p);
        int id = graph_add_node(g, name, "Placeholder", &err);
        Shape s = {.rank = 1 + (int)below(b, 4)};
        for (int d = 0; d < s.rank; d++) s.dim[d] = 1 + below(b, 4);
        if (id < 0 || node_set_attr_type(g->nodes[id], "dtype", DT_FLOAT, &err) ||
            node_set_attr_shape(g->nodes[id], "shape", &s, &err) || node_set_num_outputs(g->nodes[id], 1, &err) ||
            graph_infer_node(g, id, ref_eval_node, NULL, &err))
            finding("generator placeholder", err.msg);
    }
    n_values = g->n_nodes;
    int target = 1 + (int)below(b, MAX_NODES), made = 0;
    for (int t = 0; t < MAX_TRIES && made < target; t++) made += add_random_node(g, b);
    return g;
}

/* max|a - b| <= TOL * max(1, max|ref|), NaN and infinities in the same places */
static bool close_enough(const Tensor *a, const Tensor *ref, char *why, size_t cap) {
    if (a->dtype != ref->dtype || !shape_equal(&a->shape, &ref->shape)) {
        snprintf(why, cap, "dtype/shape differ");
        return false;
    }
    int64_t n = tensor_numel(ref);
    double m = 1;
    for (int64_t i = 0; i < n; i++) { double r = fabs(tensor_get(ref, i)); if (isfinite(r) && r > m) m = r; }
    for (int64_t i = 0; i < n; i++) {
        double x = tensor_get(a, i), y = tensor_get(ref, i);
        if (isnan(x) && isnan(y)) continue;
        if (isinf(x) || isinf(y)) { if (x == y) continue; }
        if (!(fabs(x - y) <= TOL * m)) {
            snprintf(why, cap, "element %lld: %.9g vs reference %.9g", (long long)i, x, y);
            return false;
        }
    }
    return true;
}

static bool all_finite(const Tensor *t) {
    if (!dtype_is_float(t->dtype)) return true;
    for (int64_t i = 0; i < tensor_numel(t); i++)
        if (!isfinite(tensor_get(t, i))) return false;
    return true;
}

/* Row-wise reductions whose result for non-finite inputs is not pinned down (TensorFlow's own
   Softmax gives [nan, 0] for [inf, 1], the reference [nan, nan]): compared on finite inputs only */
static bool reduction_like(OpId op) {
    return op == OP_SOFTMAX || op == OP_GRAPPO_LAYER_NORM || op == OP_GRAPPO_ATTENTION;
}

/* Node by node: the fast runtime's value of every node against the reference kernel run on the
   fast runtime's own values of that node's inputs. This finds a fast kernel that differs from
   the reference, without flagging rounding differences that a later node amplifies (log of a
   softmax that is 1 - 6e-8 instead of 1, then rsqrt). */
static void check_nodes(const Graph *g, const RefFeed *feeds, int nf) {
    Err err = {0};
    int *base = malloc(sizeof(int) * ((size_t)g->n_nodes + 1)), nv = 0;
    for (int i = 0; i < g->n_nodes; i++) { base[i] = nv; nv += g->nodes[i]->n_outputs; }
    ValueRef *fetch = malloc(sizeof *fetch * ((size_t)nv + 1));
    Tensor *val = calloc((size_t)nv + 1, sizeof *val);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_outputs; k++) fetch[base[i] + k] = (ValueRef){i, k};
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, fetch, nv, &po, &err);
    if (!p) finding("fast runtime fetching every value", err.msg);
    if (plan_run(p, feeds, nf, val, NULL, &err)) {
        /* a value nothing needed (only its shape was read) may fail on its data: no node check */
        if (err.code != ERR_INPUT) finding("fast runtime fetching every value", err.msg);
        plan_free(p);
        free(val);
        free(fetch);
        free(base);
        return;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_CONST || n->op == OP_PLACEHOLDER || n->n_outputs == 0) continue;
        Tensor in[16], out[16] = {{0}};
        if (n->n_inputs > 16 || n->n_outputs > 16) continue;
        bool finite = true;
        for (int j = 0; j < n->n_inputs; j++) {
            in[j] = val[base[n->inputs[j].node] + n->inputs[j].port];
            finite &= all_finite(&in[j]);
        }
        if (reduction_like(n->op) && !finite) continue;
        if (ref_eval_node(NULL, g, i, in, out, &err)) continue; /* inputs the reference refuses */
        char why[300];
        for (int k = 0; k < n->n_outputs; k++) {
            if (!close_enough(&val[base[i] + k], &out[k], why, sizeof why)) {
                char m[400];
                snprintf(m, sizeof m, "node %s (%s) output %d: %s", n->name, n->op_name, k, why);
                finding("fast kernel != reference kernel on the same inputs", m);
            }
        }
        for (int k = 0; k < n->n_outputs; k++) tensor_release(&out[k]);
    }
    for (int v = 0; v < nv; v++) tensor_release(&val[v]);
    plan_free(p);
    free(val);
    free(fetch);
    free(base);
}

static void check_graph(const Graph *g) {
    Err err = {0}, err2 = {0};
    int nf = 0;
    RefFeed feeds[4];
    for (int i = 0; i < g->n_nodes && nf < 4; i++) {
        if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
        feeds[nf].name = g->nodes[i]->name;
        if (input_generate(g, i, 1, &feeds[nf].value, &err)) finding("input_generate", err.msg);
        nf++;
    }
    int no = g->n_outputs;
    Tensor *ref = calloc((size_t)no + 1, sizeof *ref), *fast = calloc((size_t)no + 1, sizeof *fast);
    int rc_ref = ref_run(g, feeds, nf, NULL, 0, ref, NULL, &err);
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &po, &err2);
    int rc_fast = p ? plan_run(p, feeds, nf, fast, NULL, &err2) : -1;
    if (rc_ref != rc_fast) {
        char m[1200];
        snprintf(m, sizeof m, "ref %s / fast %s", rc_ref ? err.msg : "ok", rc_fast ? err2.msg : "ok");
        finding("runtimes disagree on success", m);
    }
    if (rc_ref && err.code != err2.code) {
        char m[1200];
        snprintf(m, sizeof m, "ref code %d (%s) / fast code %d (%s)", err.code, err.msg, err2.code, err2.msg);
        finding("runtimes disagree on the error class", m);
    }
    if (rc_ref == 0) {
        char why[256];
        check_nodes(g, feeds, nf);
        /* grappler: same outputs, same names */
        Graph *h = graph_clone(g, &err);
        if (!h) finding("clone", err.msg);
        if (pipeline_run("grappler", h, 0, NULL, &err)) finding("grappler failed", err.msg);
        ValueRef *fetch = malloc(sizeof *fetch * ((size_t)no + 1));
        for (int k = 0; k < no; k++) {
            fetch[k].node = graph_find(h, g->nodes[g->outputs[k].node]->name);
            fetch[k].port = g->outputs[k].port;
            if (fetch[k].node < 0 || fetch[k].port >= h->nodes[fetch[k].node]->n_outputs)
                finding("grappler dropped an output", g->nodes[g->outputs[k].node]->name);
        }
        Tensor *opt = calloc((size_t)no + 1, sizeof *opt);
        if (ref_run(h, feeds, nf, fetch, no, opt, NULL, &err)) finding("grappler's graph does not run", err.msg);
        for (int k = 0; k < no; k++)
            if (!close_enough(&opt[k], &ref[k], why, sizeof why)) finding("grappler changed an output", why);
        for (int k = 0; k < no; k++) tensor_release(&opt[k]);
        free(opt);
        free(fetch);
        graph_free(h);
    }
    for (int k = 0; k < no; k++) { tensor_release(&ref[k]); tensor_release(&fast[k]); }
    free(ref);
    free(fast);
    plan_free(p);
    for (int f = 0; f < nf; f++) tensor_release(&feeds[f].value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Bytes b = {data, size, 0, 0x9E3779B97F4A7C15ull};
    for (size_t i = 0; i < size; i++) b.s = (b.s ^ data[i]) * 0x100000001B3ull;
    if (!b.s) b.s = 1;
    Err err = {0};
    Graph *g = generate(&b);
    if (!g) return 0;
    uint8_t *pb = NULL;
    size_t len = 0;
    if (graphdef_serialize(g, &pb, &len, &err)) finding("serialize", err.msg);
    const char *dump = getenv("FUZZ_GRAPH_DUMP"); /* reproducing: keep the graph as a .pb */
    if (dump) {
        FILE *f = fopen(dump, "wb");
        if (f) { fwrite(pb, 1, len, f); fclose(f); }
    }
    graph_free(g);
    Graph *h = graphdef_parse(pb, len, "generated.pb", &err);
    free(pb);
    if (!h) finding("the reader refuses a generated graph", err.msg);
    if (graph_validate(h, &err) || graph_infer(h, NULL, 0, ref_eval_node, NULL, &err))
        finding("a generated graph does not validate/infer after the round trip", err.msg);
    if (getenv("FUZZ_GRAPH_STATS")) { /* what the generator makes: op names of each case */
        for (int i = 0; i < h->n_nodes; i++)
            if (h->nodes[i]->op != OP_CONST && h->nodes[i]->op != OP_PLACEHOLDER) fprintf(stderr, "%s ", h->nodes[i]->op_name);
        fprintf(stderr, "\n");
    }
    if (h->n_outputs > 0) check_graph(h);
    graph_free(h);
    return 0;
}
