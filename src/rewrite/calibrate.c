/* calibrate.c - activation ranges for quantization (see calibrate.h): which values to watch,
 * running the reference runtime over the batches, min/max and |x| histograms per value, and
 * the _grappo_calib_min/_max attributes on the producing nodes. Batch loading/generation is in
 * calibrate_batches.c. */
#include "calibrate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- which values ---- */

static bool is_quantizable(const Graph *g, const Node *n) {
    switch (n->op) {
    /* Keras Dense on [B, S, K]: fuse_batch_matmul_bias_act makes it a _FusedMatMul, so its
       input is watched like a MatMul's (attention's products of two activations are not) */
    case OP_BATCH_MATMUL:
    case OP_BATCH_MATMUL_V2: return n->n_inputs == 2 && tensor_has_data(&graph_value(g, n->inputs[1])->known);
    case OP_CONV2D:
    case OP_FUSED_CONV2D:
    case OP_DEPTHWISE_CONV2D:
    case OP_FUSED_DEPTHWISE:
    case OP_FUSED_DEPTHWISE_INTERNAL:
    case OP_MATMUL:
    case OP_FUSED_MATMUL: return true;
    default: return false;
    }
}

/* a residual sum: Add / AddV2 of two float32 rank-4 activations of one shape (a ResNet block's
   branch and shortcut). Its operands are calibrated too: int8_residual_chain quantizes the
   shortcut as an 8-bit addend of the int8 conv that ends up computing the sum. */
static bool is_residual_add(const Graph *g, const Node *n) {
    if ((n->op != OP_ADD && n->op != OP_ADD_V2) || n->n_inputs != 2) return false;
    const Value *a = graph_value(g, n->inputs[0]), *b = graph_value(g, n->inputs[1]);
    return a->dtype == DT_FLOAT && b->dtype == DT_FLOAT && a->shape.rank == 4 && shape_is_known(&a->shape) &&
           shape_equal(&a->shape, &b->shape);
}

int calib_targets(const Graph *g, ValueRef **out, Err *err) {
    *out = NULL;
    int n = 0, cap = 0;
    ValueRef *v = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *nd = g->nodes[i];
        if (!is_quantizable(g, nd) && !is_residual_add(g, nd)) continue;
        /* the two operands; fused extra args (bias, addend, ...) are not activations a
           quantized kernel reads as integers */
        for (int k = 0; k < nd->n_inputs && k < 2; k++) {
            ValueRef r = nd->inputs[k];
            const Value *val = graph_value(g, r);
            if (val->dtype != DT_FLOAT || tensor_has_data(&val->known)) continue;
            if (g->nodes[r.node]->op == OP_CONST) continue;
            bool seen = false;
            for (int j = 0; j < n && !seen; j++) seen = v[j].node == r.node && v[j].port == r.port;
            if (seen) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 32;
                ValueRef *nv = realloc(v, (size_t)cap * sizeof *nv);
                if (!nv) { free(v); return err_set(err, ERR_RUNTIME, "out of memory"); }
                v = nv;
            }
            v[n++] = r;
        }
    }
    *out = v;
    return n;
}

/* ---- the attributes ---- */

static bool list_at(const Node *n, const char *name, int port, float *out) {
    const AttrList *l = node_attr_list(n, name);
    if (!l || l->kind != ATTR_FLOAT || port >= l->n) return false;
    *out = l->f[port];
    return true;
}

bool calib_range(const Graph *g, ValueRef v, float *lo, float *hi) {
    if (v.node < 0 || v.node >= g->n_nodes || v.port < 0) return false;
    const Node *n = g->nodes[v.node];
    float a, b;
    if (!list_at(n, CALIB_ATTR_MIN, v.port, &a) || !list_at(n, CALIB_ATTR_MAX, v.port, &b)) return false;
    if (!isfinite(a) || !isfinite(b) || a > b) return false;
    *lo = a;
    *hi = b;
    return true;
}

bool calib_channel_ranges(const Graph *g, ValueRef v, int64_t channels, const float **lo, const float **hi) {
    if (v.node < 0 || v.node >= g->n_nodes || v.port != 0 || channels < 1) return false;
    const Node *n = g->nodes[v.node];
    const AttrList *a = node_attr_list(n, CALIB_ATTR_CHMIN), *b = node_attr_list(n, CALIB_ATTR_CHMAX);
    if (!a || !b || a->kind != ATTR_FLOAT || b->kind != ATTR_FLOAT || a->n != channels || b->n != channels) return false;
    /* they describe the same value as the tensor range (which rewrites drop when the value
       changes): the raw channel extremes enclose it (percentile ranges are within) */
    float tlo, thi, mlo = INFINITY, mhi = -INFINITY;
    if (!calib_range(g, v, &tlo, &thi)) return false;
    for (int64_t c = 0; c < channels; c++) {
        if (!isfinite(a->f[c]) || !isfinite(b->f[c]) || a->f[c] > b->f[c]) return false;
        mlo = fminf(mlo, a->f[c]);
        mhi = fmaxf(mhi, b->f[c]);
    }
    if (mlo > tlo || mhi < thi) return false;
    *lo = a->f;
    *hi = b->f;
    return true;
}

/* writes value `x` at `port` of list attribute `name`, keeping the other ports' entries when
   the list already covers every output, NaN otherwise */
static int put_port(Node *n, const char *name, int port, float x, Err *err) {
    int count = n->n_outputs > port ? n->n_outputs : port + 1;
    float *vals = malloc((size_t)count * sizeof *vals);
    if (!vals) return err_set(err, ERR_RUNTIME, "out of memory");
    const AttrList *l = node_attr_list(n, name);
    for (int k = 0; k < count; k++) vals[k] = l && l->kind == ATTR_FLOAT && k < l->n ? l->f[k] : NAN;
    vals[port] = x;
    int rc = node_set_attr_list_f(n, name, vals, count, err);
    free(vals);
    return rc;
}

int calib_set_range(Graph *g, ValueRef v, float lo, float hi, Err *err) {
    if (v.node < 0 || v.node >= g->n_nodes || v.port < 0) return err_set(err, ERR_INPUT, "calibration: no such value");
    Node *n = g->nodes[v.node];
    if (put_port(n, CALIB_ATTR_MIN, v.port, lo, err) || put_port(n, CALIB_ATTR_MAX, v.port, hi, err))
        return err_prefix(err, "calibration attributes of '%s'", n->name);
    return 0;
}

void calib_drop(Node *n) {
    node_attr_remove(n, CALIB_ATTR_MIN);
    node_attr_remove(n, CALIB_ATTR_MAX);
    node_attr_remove(n, CALIB_ATTR_CHMIN);
    node_attr_remove(n, CALIB_ATTR_CHMAX);
}

int calib_carry(Graph *g, ValueRef from, ValueRef to, Err *err) {
    float lo, hi, a, b;
    if (!calib_range(g, from, &lo, &hi) || calib_range(g, to, &a, &b)) return 0;
    if (calib_set_range(g, to, lo, hi, err)) return -1;
    /* per-channel ranges (port 0 to port 0 only) */
    const AttrList *cl = node_attr_list(g->nodes[from.node], CALIB_ATTR_CHMIN);
    const AttrList *ch = node_attr_list(g->nodes[from.node], CALIB_ATTR_CHMAX);
    Node *t = g->nodes[to.node];
    if (from.port != 0 || to.port != 0 || !cl || !ch || cl->kind != ATTR_FLOAT || ch->kind != ATTR_FLOAT || cl->n != ch->n) {
        if (to.port == 0) { /* none to carry: `to` keeps no per-channel ranges of another value */
            node_attr_remove(t, CALIB_ATTR_CHMIN);
            node_attr_remove(t, CALIB_ATTR_CHMAX);
        }
        return 0;
    }
    if (node_set_attr_list_f(t, CALIB_ATTR_CHMIN, cl->f, cl->n, err) || node_set_attr_list_f(t, CALIB_ATTR_CHMAX, ch->f, ch->n, err))
        return err_prefix(err, "calibration attributes of '%s'", t->name);
    return 0;
}

/* ---- statistics of one value over all batches ---- */

typedef struct ValueStats {
    double lo, hi;     /* finite min / max seen */
    bool any;          /* some finite element seen */
    double range;      /* histogram covers [0, range); 0 = not started */
    uint64_t *hist;    /* CALIB_BINS counts of |x| (percentile only) */
    uint64_t pending;  /* elements seen while range was still 0 (all exactly 0) */
    uint64_t total;
    int64_t chans;     /* > 0: per-channel min / max of the last dimension (port 0, rank 4) */
    double *chlo, *chhi;
} ValueStats;

/* doubles the histogram's range until it reaches m: bin i of the new histogram is the union
   of old bins 2i and 2i+1, so counts stay exact */
static void hist_grow(ValueStats *s, double m) {
    while (s->range < m) {
        for (int i = 0; i < CALIB_BINS / 2; i++) s->hist[i] = s->hist[2 * i] + s->hist[2 * i + 1];
        memset(s->hist + CALIB_BINS / 2, 0, (CALIB_BINS / 2) * sizeof *s->hist);
        s->range *= 2;
    }
}

static void stats_add(ValueStats *s, const float *x, int64_t count) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < count; i++) {
        if (!isfinite(x[i])) continue;
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    if (lo > hi) return; /* nothing finite */
    if (s->chans > 0 && count % s->chans == 0) {
        /* NaN until the channel's first finite element */
        for (int64_t i = 0; i < count; i++) {
            int64_t c = i % s->chans;
            double v = x[i];
            if (!isfinite(v)) continue;
            if (!(v >= s->chlo[c])) s->chlo[c] = v;
            if (!(v <= s->chhi[c])) s->chhi[c] = v;
        }
    }
    if (!s->any || lo < s->lo) s->lo = lo;
    if (!s->any || hi > s->hi) s->hi = hi;
    s->any = true;
    if (!s->hist) return;
    double m = fmax(fabs(lo), fabs(hi));
    if (s->range == 0 && m > 0) {
        s->range = m;
        s->hist[0] += s->pending;
        s->pending = 0;
    } else if (m > s->range) {
        hist_grow(s, m);
    }
    for (int64_t i = 0; i < count; i++) {
        if (!isfinite(x[i])) continue;
        s->total++;
        if (s->range == 0) { s->pending++; continue; }
        double b = fabs((double)x[i]) / s->range * CALIB_BINS;
        int bin = b >= CALIB_BINS ? CALIB_BINS - 1 : (int)b;
        s->hist[bin]++;
    }
}

/* the upper edge of the bin where the cumulative count of |x| reaches p% of all elements */
static double stats_percentile(const ValueStats *s, double p) {
    if (s->range == 0 || s->total == 0) return 0;
    /* the small slack keeps p% of a round count from rounding up past it (99.99% of 20000
       is 19998, not 19999 because 0.9999 is not exact in binary) */
    double target = ceil(p / 100.0 * (double)s->total - 1e-6);
    if (target < 1) target = 1;
    uint64_t cum = 0;
    for (int i = 0; i < CALIB_BINS; i++) {
        cum += s->hist[i];
        if ((double)cum >= target) return (double)(i + 1) * s->range / CALIB_BINS;
    }
    return s->range;
}

/* ---- running the batches ---- */

/* fetched bytes per reference run: values beyond this are fetched in further runs, so a large
   model at a large batch does not hold every activation at once */
#define CALIB_FETCH_BYTES ((size_t)256 << 20)

/* g itself when every feed matches its placeholder's inferred shape, else a clone re-inferred
   for the feeds' shapes (*owned set) */
static const Graph *graph_for_batch(const Graph *g, const RefFeed *feeds, int n_feeds, Graph **owned, Err *err) {
    *owned = NULL;
    bool same = true;
    for (int k = 0; k < n_feeds; k++) {
        ValueRef r;
        if (graph_parse_ref(g, feeds[k].name, &r, err)) return NULL;
        if (g->nodes[r.node]->op != OP_PLACEHOLDER || r.port != 0) {
            err_set(err, ERR_INPUT, "calibration feed '%s' is not a placeholder", feeds[k].name);
            return NULL;
        }
        same = same && shape_equal(&graph_value(g, r)->shape, &feeds[k].value.shape);
    }
    if (same) return g;
    InputSpec *specs = calloc((size_t)n_feeds + 1, sizeof *specs);
    Graph *c = specs ? graph_clone(g, err) : NULL;
    if (!c) { free(specs); if (!specs) err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    for (int k = 0; k < n_feeds; k++) {
        ValueRef r;
        graph_parse_ref(g, feeds[k].name, &r, NULL);
        specs[k] = (InputSpec){g->nodes[r.node]->name, feeds[k].value.shape, DT_INVALID};
    }
    int rc = graph_infer(c, specs, n_feeds, ref_eval_node, NULL, err);
    free(specs);
    if (rc) {
        graph_free(c);
        err_prefix(err, "the calibration inputs' shapes do not fit the graph");
        return NULL;
    }
    *owned = c;
    return c;
}

static int run_batch(const Graph *g, const RefFeed *feeds, int n_feeds, const ValueRef *targets, int n_targets,
                     ValueStats *stats, Err *err) {
    Graph *owned;
    const Graph *rg = graph_for_batch(g, feeds, n_feeds, &owned, err);
    if (!rg) return -1;
    Tensor *out = calloc((size_t)n_targets + 1, sizeof *out);
    if (!out) { graph_free(owned); return err_set(err, ERR_RUNTIME, "out of memory"); }
    int rc = 0;
    for (int first = 0; first < n_targets && !rc;) {
        /* a chunk of targets within the fetch budget (at least one) */
        int end = first;
        size_t bytes = 0;
        while (end < n_targets) {
            int64_t numel = shape_numel(&graph_value(rg, targets[end])->shape);
            size_t b = numel > 0 ? (size_t)numel * sizeof(float) : 0;
            if (end > first && bytes + b > CALIB_FETCH_BYTES) break;
            bytes += b;
            end++;
        }
        rc = ref_run(rg, feeds, n_feeds, targets + first, end - first, out, NULL, err);
        for (int k = 0; k < end - first && !rc; k++) {
            if (out[k].dtype != DT_FLOAT) continue; /* inference said float32: cannot happen */
            stats_add(&stats[first + k], tensor_data(&out[k]), tensor_numel(&out[k]));
        }
        if (!rc)
            for (int k = 0; k < end - first; k++) tensor_release(&out[k]);
        first = end;
    }
    free(out);
    graph_free(owned);
    return rc;
}

/* the per-channel attributes of s on n (a channel never seen finite gets NaN: no ranges) */
static int set_channel_ranges(Node *n, const ValueStats *s, Err *err) {
    float *v = malloc((size_t)s->chans * 2 * sizeof *v);
    if (!v) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int64_t c = 0; c < s->chans; c++) {
        v[c] = (float)s->chlo[c];
        v[s->chans + c] = (float)s->chhi[c];
    }
    int rc = node_set_attr_list_f(n, CALIB_ATTR_CHMIN, v, (int)s->chans, err) ||
             node_set_attr_list_f(n, CALIB_ATTR_CHMAX, v + s->chans, (int)s->chans, err);
    free(v);
    return rc ? err_prefix(err, "calibration attributes of '%s'", n->name) : 0;
}

int calibrate_graph_opts(Graph *g, const RefFeed *const *batches, int n_batches, int n_feeds, const CalibOpts *opts,
                         Err *err) {
    return calibrate_graph_progress(g, batches, n_batches, n_feeds, opts, NULL, NULL, err);
}

int calibrate_graph_progress(Graph *g, const RefFeed *const *batches, int n_batches, int n_feeds, const CalibOpts *opts,
                             CalibProgressFn progress, void *user, Err *err) {
    CalibOpts o = opts ? *opts : (CalibOpts){CALIB_MINMAX, 0};
    if (o.percentile == 0) o.percentile = CALIB_DEFAULT_PERCENTILE;
    if (o.method != CALIB_MINMAX && o.method != CALIB_PERCENTILE)
        return err_set(err, ERR_INPUT, "calibration: unknown method %d", (int)o.method);
    if (!(o.percentile > 0 && o.percentile <= 100))
        return err_set(err, ERR_INPUT, "calibration: percentile %g is not in (0, 100]", o.percentile);
    if (n_batches < 1) return err_set(err, ERR_INPUT, "calibration needs at least one batch of inputs");
    ValueRef *targets;
    int n = calib_targets(g, &targets, err);
    if (n <= 0) return n;
    ValueStats *stats = calloc((size_t)n, sizeof *stats);
    int rc = stats ? 0 : err_set(err, ERR_RUNTIME, "out of memory");
    for (int k = 0; k < n && !rc; k++) {
        const Shape *sh = &graph_value(g, targets[k])->shape;
        int64_t c = sh->rank == 4 ? sh->dim[3] : 0;
        if (targets[k].port != 0 || c < 1 || c > CALIB_MAX_CHANNELS) continue;
        stats[k].chlo = malloc((size_t)c * sizeof *stats[k].chlo);
        stats[k].chhi = malloc((size_t)c * sizeof *stats[k].chhi);
        if (!stats[k].chlo || !stats[k].chhi) { rc = err_set(err, ERR_RUNTIME, "out of memory"); break; }
        for (int64_t j = 0; j < c; j++) stats[k].chlo[j] = stats[k].chhi[j] = NAN;
        stats[k].chans = c;
    }
    for (int k = 0; k < n && !rc && o.method == CALIB_PERCENTILE; k++) {
        stats[k].hist = calloc(CALIB_BINS, sizeof *stats[k].hist);
        if (!stats[k].hist) rc = err_set(err, ERR_RUNTIME, "out of memory");
    }
    if (!rc && progress && progress(user, 0, n_batches)) rc = err_set(err, ERR_RUNTIME, "cancelled");
    for (int b = 0; b < n_batches && !rc; b++) {
        if (run_batch(g, batches[b], n_feeds, targets, n, stats, err)) rc = err_prefix(err, "calibration batch %d", b);
        else if (progress && progress(user, b + 1, n_batches)) rc = err_set(err, ERR_RUNTIME, "cancelled");
    }
    int done = 0;
    for (int k = 0; k < n && !rc; k++) {
        const ValueStats *s = &stats[k];
        if (!s->any) continue;
        double lo = s->lo, hi = s->hi;
        if (o.method == CALIB_PERCENTILE) {
            double t = stats_percentile(s, o.percentile);
            lo = fmax(lo, -t);
            hi = fmin(hi, t);
        }
        if (calib_set_range(g, targets[k], (float)lo, (float)hi, err)) rc = -1;
        else if (s->chans > 0 && set_channel_ranges(g->nodes[targets[k].node], s, err)) rc = -1;
        done++;
    }
    for (int k = 0; stats && k < n; k++) {
        free(stats[k].hist);
        free(stats[k].chlo);
        free(stats[k].chhi);
    }
    free(stats);
    free(targets);
    return rc ? -1 : done;
}

int calibrate_graph(Graph *g, const RefFeed *const *batches, int n_batches, int n_feeds, CalibMethod method, Err *err) {
    CalibOpts o = {method, CALIB_DEFAULT_PERCENTILE};
    return calibrate_graph_opts(g, batches, n_batches, n_feeds, &o, err);
}
