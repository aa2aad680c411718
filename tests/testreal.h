/* testreal.h - the real trained graphs of tests/fixtures/real/ for rewrite tests: loading a
 * fixture with its manifest (inputs, the outputs TensorFlow.js computed, per-output
 * tolerances), signed image-like inputs from a seed, running a graph on either runtime, and
 * GRAPPO_PROPERTY_DEPTH for long runs. */
#ifndef GRAPPO_TESTREAL_H
#define GRAPPO_TESTREAL_H

#include <cjson/cJSON.h>

#include "io/npy.h"
#include "testrules.h"
#include "util/rng.h"

#define TR_DIR "tests/fixtures/real/"
#define TR_MAX 8

static const char *const TR_FIXTURES[] = {"blazeface-front", "emotion", "gender", "handlandmark-lite", "selfie"};
#define TR_N_FIXTURES 5

typedef struct Fixture {
    const char *name;
    Graph *g;                 /* inferred at the manifest's input shapes; outputs = the manifest's */
    int n_in, n_out;
    RefFeed feed[TR_MAX];     /* the committed inputs (names point into the manifest) */
    Tensor want[TR_MAX];      /* what TensorFlow.js computed for them */
    double tol[TR_MAX];       /* max(1e-4 max|want|, 2 x the output's wasm-vs-cpu difference) */
    cJSON *manifest;
} Fixture;

static inline void fixture_load(const char *name, Fixture *f) {
    char path[512];
    Err e = {0};
    memset(f, 0, sizeof *f);
    f->name = name;
    snprintf(path, sizeof path, TR_DIR "%s/manifest.json", name);
    char *text = tu_read_text(path);
    assert_non_null(text);
    f->manifest = cJSON_Parse(text);
    free(text);
    assert_non_null(f->manifest);
    snprintf(path, sizeof path, TR_DIR "%s/model.pb", name);
    f->g = graphdef_load(path, &e);
    if (!f->g) { print_error("%s\n", e.msg); fail(); }
    cJSON *inputs = cJSON_GetObjectItem(f->manifest, "inputs"), *outputs = cJSON_GetObjectItem(f->manifest, "outputs");
    f->n_in = cJSON_GetArraySize(inputs);
    f->n_out = cJSON_GetArraySize(outputs);
    assert_true(f->n_in <= TR_MAX && f->n_out <= TR_MAX);
    InputSpec specs[TR_MAX];
    for (int k = 0; k < f->n_in; k++) {
        cJSON *it = cJSON_GetArrayItem(inputs, k);
        snprintf(path, sizeof path, TR_DIR "%s/%s", name, cJSON_GetObjectItem(it, "file")->valuestring);
        f->feed[k].name = cJSON_GetObjectItem(it, "name")->valuestring;
        CHECK_OK(npy_load(path, &f->feed[k].value, &e), &e);
        specs[k] = (InputSpec){f->feed[k].name, f->feed[k].value.shape, f->feed[k].value.dtype};
    }
    /* placeholder names without ":0" for InputSpec */
    char names[TR_MAX][256];
    for (int k = 0; k < f->n_in; k++) {
        snprintf(names[k], sizeof names[k], "%s", f->feed[k].name);
        char *c = strchr(names[k], ':');
        if (c) *c = 0;
        specs[k].name = names[k];
    }
    CHECK_OK(graph_infer(f->g, specs, f->n_in, ref_eval_node, NULL, &e), &e);
    f->g->n_outputs = 0;
    for (int k = 0; k < f->n_out; k++) {
        cJSON *it = cJSON_GetArrayItem(outputs, k);
        ValueRef v;
        CHECK_OK(graph_parse_ref(f->g, cJSON_GetObjectItem(it, "name")->valuestring, &v, &e), &e);
        CHECK_OK(graph_add_output(f->g, v, &e), &e);
        snprintf(path, sizeof path, TR_DIR "%s/%s", name, cJSON_GetObjectItem(it, "file")->valuestring);
        CHECK_OK(npy_load(path, &f->want[k], &e), &e);
        double m = 0;
        for (int64_t i = 0; i < tensor_numel(&f->want[k]); i++) m = fmax(m, fabs(tensor_get(&f->want[k], i)));
        f->tol[k] = fmax(1e-4 * m, 2 * cJSON_GetObjectItem(it, "max_abs_diff_wasm_vs_cpu")->valuedouble);
    }
}

static inline void fixture_free(Fixture *f) {
    for (int k = 0; k < f->n_in; k++) tensor_release(&f->feed[k].value);
    for (int k = 0; k < f->n_out; k++) tensor_release(&f->want[k]);
    graph_free(f->g);
    cJSON_Delete(f->manifest);
}

/* g's outputs for feeds on the reference runtime (fast = false) or the fast runtime (1 thread) */
static inline void tr_outputs(const Graph *g, bool fast, const RefFeed *feeds, int nf, Tensor *out) {
    tr_run(g, fast, 1, feeds, nf, out);
}

/* Checks g (a rewrite of fixture f) on the committed inputs against TensorFlow.js's outputs,
   each output within its tolerance; `what` names the check in the message. */
static inline void fixture_check_tfjs(const Fixture *f, const Graph *g, bool fast, const char *what) {
    Tensor got[TR_MAX];
    assert_int_equal(g->n_outputs, f->n_out);
    tr_outputs(g, fast, f->feed, f->n_in, got);
    for (int k = 0; k < f->n_out; k++) {
        double err = 0;
        char a[64], b[64];
        if (!shape_equal(&got[k].shape, &f->want[k].shape)) {
            print_error("%s %s output %d: shape %s, TF.js %s\n", f->name, what, k, shape_str(&got[k].shape, a, 64),
                        shape_str(&f->want[k].shape, b, 64));
            fail();
        }
        for (int64_t i = 0; i < tensor_numel(&got[k]); i++) {
            double d = fabs(tensor_get(&got[k], i) - tensor_get(&f->want[k], i));
            if (!(d <= err)) err = isnan(d) ? INFINITY : d;
        }
        if (!(err <= f->tol[k])) {
            print_error("%s %s (%s runtime) output %d: max|err| vs TF.js %.3g > tolerance %.3g\n", f->name, what, fast ? "fast" : "ref", k,
                        err, f->tol[k]);
            fail();
        }
        tensor_release(&got[k]);
    }
}

/* Signed, image-like input for a float placeholder of shape [N, H, W, C] (other ranks: every
   element drawn the same way): a few smooth waves of random frequency, phase and sign per
   channel plus a little noise, scaled to [-1, 1] - structure like a normalized photo, not
   uniform noise in [0, 1). Other dtypes: input_generate's. */
static inline void tr_signed_input(const Graph *g, int node, uint64_t seed, Tensor *out) {
    Err e = {0};
    CHECK_OK(input_generate(g, node, seed, out, &e), &e);
    if (out->dtype != DT_FLOAT) return;
    Rng r;
    rng_seed(&r, seed * 7919 + 17);
    const Shape *s = &out->shape;
    int64_t n = tensor_numel(out);
    int64_t C = s->rank >= 1 ? s->dim[s->rank - 1] : 1, W = s->rank >= 2 ? s->dim[s->rank - 2] : 1,
            H = s->rank >= 3 ? s->dim[s->rank - 3] : 1;
    if (C < 1) C = 1;
    if (W < 1) W = 1;
    if (H < 1) H = 1;
    double fx[4], fy[4], ph[4], amp[4][8];
    for (int w = 0; w < 4; w++) {
        fx[w] = 6.283 * (0.5 + 3.5 * rng_uniform(&r)) / (double)W;
        fy[w] = 6.283 * (0.5 + 3.5 * rng_uniform(&r)) / (double)H;
        ph[w] = 6.283 * rng_uniform(&r);
        for (int c = 0; c < 8; c++) amp[w][c] = 2 * rng_uniform(&r) - 1;
    }
    float *v = tensor_mut(out);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = i % C, x = (i / C) % W, y = (i / C / W) % H;
        double a = 0;
        for (int w = 0; w < 4; w++) a += amp[w][c % 8] * cos(fx[w] * (double)x + fy[w] * (double)y + ph[w]);
        a = a / 2.5 + 0.1 * (2 * rng_uniform(&r) - 1);
        v[i] = (float)fmax(-1.0, fmin(1.0, a));
    }
}

/* signed inputs for every placeholder of g; free the values with tr_feeds_free */
static inline int tr_signed_feeds(const Graph *g, uint64_t seed, RefFeed *feeds) {
    int nf = 0;
    for (int i = 0; i < g->n_nodes && nf < TR_MAX; i++)
        if (g->nodes[i]->op == OP_PLACEHOLDER) {
            feeds[nf].name = g->nodes[i]->name;
            tr_signed_input(g, i, seed + (uint64_t)nf, &feeds[nf].value);
            nf++;
        }
    return nf;
}

static inline void tr_feeds_free(RefFeed *feeds, int nf) {
    for (int k = 0; k < nf; k++) tensor_release(&feeds[k].value);
}

/* largest relative error (max|a-b| / max|b| per output) of rew against the reference outputs
   want[] on feeds */
static inline double tr_err_against(const Tensor *want, const Graph *rew, bool fast, const RefFeed *feeds, int nf) {
    Tensor got[TR_MAX];
    assert_true(rew->n_outputs <= TR_MAX);
    tr_outputs(rew, fast, feeds, nf, got);
    double worst = 0;
    for (int k = 0; k < rew->n_outputs; k++) {
        double r = tr_rel_err(&got[k], &want[k]);
        if (!(r <= worst)) worst = r;
        tensor_release(&got[k]);
    }
    return worst;
}

/* GRAPPO_PROPERTY_DEPTH: "N" multiplies the property tests' seeds and steps by N; "SxT"
   multiplies seeds by S and steps by T. Unset: 1x1 (the suite's default, a few minutes). */
static inline void tr_depth(int *seeds_mul, int *steps_mul) {
    *seeds_mul = *steps_mul = 1;
    const char *d = getenv("GRAPPO_PROPERTY_DEPTH");
    if (!d || !*d) return;
    int s = 0, t = 0;
    if (sscanf(d, "%dx%d", &s, &t) == 2 && s > 0 && t > 0) { *seeds_mul = s; *steps_mul = t; return; }
    if (sscanf(d, "%d", &s) == 1 && s > 0) { *seeds_mul = *steps_mul = s; return; }
    print_error("GRAPPO_PROPERTY_DEPTH=%s: want N or SxT (positive integers)\n", d);
    fail();
}

#endif
