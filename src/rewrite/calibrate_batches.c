/* calibrate_batches.c - calibration inputs (see calibrate.h): generated deterministically
 * from the placeholders (input_generate, seeds 1..n) or loaded from DIR/<input>_<k>.npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../graph/input_gen.h"
#include "../io/npy.h"
#include "calibrate.h"

static int count_placeholders(const Graph *g) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i]->op == OP_PLACEHOLDER;
    return n;
}

void calib_batches_free(RefFeed **batches, int n_batches, int n_feeds) {
    if (!batches) return;
    for (int b = 0; b < n_batches; b++) {
        if (!batches[b]) continue;
        for (int k = 0; k < n_feeds; k++) {
            free((char *)batches[b][k].name);
            tensor_release(&batches[b][k].value);
        }
        free(batches[b]);
    }
    free(batches);
}

/* batches[0..n) with names set to the placeholders' (copies); values empty */
static RefFeed **alloc_batches(const Graph *g, int n, int n_feeds, Err *err) {
    RefFeed **b = calloc((size_t)n + 1, sizeof *b);
    if (!b) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    for (int k = 0; k < n; k++) {
        b[k] = calloc((size_t)n_feeds + 1, sizeof *b[k]);
        if (!b[k]) { calib_batches_free(b, n, n_feeds); err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
        int f = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
            b[k][f].name = strdup(g->nodes[i]->name);
            if (!b[k][f].name) { calib_batches_free(b, n, n_feeds); err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
            f++;
        }
    }
    return b;
}

/* n batches whose feed names are copies of like[0..n_feeds)'s; values empty */
static RefFeed **alloc_batches_named(const RefFeed *like, int n, int n_feeds, Err *err) {
    RefFeed **b = calloc((size_t)n + 1, sizeof *b);
    if (!b) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    for (int k = 0; k < n; k++) {
        b[k] = calloc((size_t)n_feeds + 1, sizeof *b[k]);
        if (!b[k]) { calib_batches_free(b, n, n_feeds); err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
        for (int f = 0; f < n_feeds; f++)
            if (!(b[k][f].name = strdup(like[f].name))) { calib_batches_free(b, n, n_feeds); err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    }
    return b;
}

int calib_batches_generate(const Graph *g, int n, RefFeed ***batches, int *n_feeds, Err *err) {
    *batches = NULL;
    *n_feeds = 0;
    if (n < 1) return err_set(err, ERR_INPUT, "calibration needs at least one batch (got %d)", n);
    int nf = count_placeholders(g);
    RefFeed **b = alloc_batches(g, n, nf, err);
    if (!b) return -1;
    for (int k = 0; k < n; k++) {
        int f = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
            if (input_generate(g, i, (uint64_t)k + 1, &b[k][f].value, err)) {
                calib_batches_free(b, n, nf);
                return -1;
            }
            f++;
        }
    }
    *batches = b;
    *n_feeds = nf;
    return 0;
}

/* DIR/<name with '/' and ':' as '_'>_<k>.npy */
static void batch_path(char *buf, size_t cap, const char *dir, const char *name, int k) {
    char safe[1024];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof safe; i++) safe[i] = (name[i] == '/' || name[i] == ':') ? '_' : name[i];
    safe[i] = 0;
    snprintf(buf, cap, "%s/%s_%d.npy", dir, safe, k);
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* the loaded file t, checked against placeholder n and converted to its dtype, into *out */
static int fit_placeholder(const Node *n, const char *path, Tensor *t, Tensor *out, Err *err) {
    const Value *v = &n->outputs[0];
    const Attr *sa = node_attr_find(n, "shape");
    const Shape *want = sa && sa->kind == ATTR_SHAPE && sa->shape.rank >= 0 ? &sa->shape : &v->shape;
    char s1[96], s2[96];
    bool ok = want->rank < 0 || want->rank == t->shape.rank;
    for (int d = 0; ok && d < want->rank; d++) ok = want->dim[d] < 0 || want->dim[d] == t->shape.dim[d];
    if (!ok)
        return err_set(err, ERR_INPUT, "%s: shape %s does not fit input '%s' %s", path, shape_str(&t->shape, s1, sizeof s1),
                       n->name, shape_str(want, s2, sizeof s2));
    if (t->dtype == v->dtype) {
        *out = *t;
        *t = (Tensor){0};
        return 0;
    }
    if (!dtype_is_supported(v->dtype))
        return err_set(err, ERR_INPUT, "%s: input '%s' has dtype %s, which calibration cannot feed", path, n->name,
                       dtype_name(v->dtype));
    if (tensor_alloc(out, v->dtype, &t->shape, err)) return err_prefix(err, "%s", path);
    for (int64_t i = 0, n_el = tensor_numel(t); i < n_el; i++) tensor_set(out, i, tensor_get(t, i));
    tensor_release(t);
    return 0;
}

/* The batch size the graph was prepared for (--input-shape): the leading dimension of the first
   placeholder whose shape has a fixed one, or 0 when none has. */
static int64_t prepared_batch(const Graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_PLACEHOLDER && n->outputs[0].shape.rank >= 1 && n->outputs[0].shape.dim[0] > 0) return n->outputs[0].shape.dim[0];
    }
    return 0;
}

/* Files hold batches of any number of rows; a graph prepared for a fixed batch size bs runs them
   as rows/bs batches of bs rows each (every feed split alike along its first dimension). */
static int split_to_batch(const char *dir, int64_t bs, RefFeed ***batches, int *n_batches, int nf, Err *err) {
    RefFeed **in = *batches;
    int n_in = *n_batches, n_out = 0;
    for (int k = 0; k < n_in; k++) {
        int64_t rows = in[k][0].value.shape.rank >= 1 ? in[k][0].value.shape.dim[0] : -1;
        for (int f = 0; f < nf; f++) {
            const Tensor *t = &in[k][f].value;
            if (t->shape.rank < 1 || t->shape.dim[0] != rows || rows % bs)
                return err_set(err, ERR_INPUT, "%s: batch %d: '%s' has shape %s, which does not split into batches of %lld rows "
                               "(the batch size the graph was prepared for)", dir, k, in[k][f].name,
                               shape_str(&t->shape, (char[96]){0}, 96), (long long)bs);
        }
        if (rows / bs > 100000 || n_out > 100000) return err_set(err, ERR_INPUT, "%s: too many batches", dir);
        n_out += (int)(rows / bs);
    }
    if (n_out == n_in) return 0; /* every file already holds one batch */
    RefFeed **out = alloc_batches_named(in[0], n_out, nf, err);
    if (!out) return -1;
    int o = 0;
    for (int k = 0; k < n_in; k++) {
        int64_t parts = in[k][0].value.shape.dim[0] / bs;
        for (int64_t part = 0; part < parts; part++, o++)
            for (int f = 0; f < nf; f++) {
                const Tensor *t = &in[k][f].value;
                Shape sh = t->shape;
                sh.dim[0] = bs;
                size_t bytes = tensor_nbytes(t) / (size_t)parts;
                if (tensor_from_data(&out[o][f].value, t->dtype, &sh, (const char *)tensor_data(t) + (size_t)part * bytes, bytes, err)) {
                    calib_batches_free(out, n_out, nf);
                    return -1;
                }
            }
    }
    calib_batches_free(in, n_in, nf);
    *batches = out;
    *n_batches = n_out;
    return 0;
}

int calib_batches_load(const Graph *g, const char *dir, RefFeed ***batches, int *n_batches, int *n_feeds, Err *err) {
    *batches = NULL;
    *n_batches = *n_feeds = 0;
    int nf = count_placeholders(g), first = -1;
    for (int i = 0; i < g->n_nodes && first < 0; i++)
        if (g->nodes[i]->op == OP_PLACEHOLDER) first = i;
    if (first < 0) return err_set(err, ERR_INPUT, "calibration: the graph has no inputs");
    char path[4096];
    int n = 0;
    for (;; n++) {
        batch_path(path, sizeof path, dir, g->nodes[first]->name, n);
        if (!file_exists(path)) break;
        if (n >= 100000) return err_set(err, ERR_INPUT, "calibration directory %s: too many batches", dir);
    }
    if (n == 0) {
        batch_path(path, sizeof path, dir, g->nodes[first]->name, 0);
        return err_set(err, ERR_INPUT, "calibration directory %s: no %s (expected <input>_<k>.npy, k = 0, 1, ...)", dir, path);
    }
    RefFeed **b = alloc_batches(g, n, nf, err);
    if (!b) return -1;
    for (int k = 0; k < n; k++) {
        int f = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
            batch_path(path, sizeof path, dir, g->nodes[i]->name, k);
            Tensor t = {0};
            if (!file_exists(path)) {
                err_set(err, ERR_INPUT, "calibration batch %d: %s is missing", k, path);
                calib_batches_free(b, n, nf);
                return -1;
            }
            if (npy_load(path, &t, err) || fit_placeholder(g->nodes[i], path, &t, &b[k][f].value, err)) {
                tensor_release(&t);
                calib_batches_free(b, n, nf);
                return -1;
            }
            f++;
        }
    }
    int64_t bs = prepared_batch(g);
    if (bs > 0 && split_to_batch(dir, bs, &b, &n, nf, err)) {
        calib_batches_free(b, n, nf);
        return -1;
    }
    *batches = b;
    *n_batches = n;
    *n_feeds = nf;
    return 0;
}
