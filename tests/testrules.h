/* testrules.h - checking rewrites: a rewritten graph must compute what the original computes
 * (reference runtime on both; exact rules to float rounding), and the fast runtime must agree
 * on the rewritten graph. */
#ifndef GRAPPO_TESTRULES_H
#define GRAPPO_TESTRULES_H

#include <stdlib.h>

#include "graph/input_gen.h"
#include "io/graphdef.h"
#include "rewrite/rule.h"
#include "runtime/plan.h"
#include "runtime/ref.h"
#include "testutil.h"
#include "zoo/builder.h"
#include "zoo/zoo.h"

/* max|a-b| / max|b| over all graph outputs */
static inline double tr_rel_err(const Tensor *a, const Tensor *b) {
    double m = 0, e = 0;
    for (int64_t i = 0; i < tensor_numel(b); i++) {
        double x = tensor_get(a, i), y = tensor_get(b, i);
        if (fabs(y) > m) m = fabs(y);
        if (!(fabs(x - y) <= e)) e = isnan(x - y) ? INFINITY : fabs(x - y);
    }
    return m > 0 ? e / m : e;
}

/* runs g on the reference runtime (fast = false) or the fast runtime with `threads` */
static inline void tr_run(const Graph *g, bool fast, int threads, const RefFeed *feeds, int nf, Tensor *out) {
    Err e = {0};
    if (!fast) {
        CHECK_OK(ref_run(g, feeds, nf, NULL, 0, out, NULL, &e), &e);
        return;
    }
    PlanOpts o = {.threads = threads};
    Plan *p = plan_compile(g, NULL, 0, &o, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(plan_run(p, feeds, nf, out, NULL, &e), &e);
    plan_free(p);
}

/* Runs `orig` and `rew` (both inferred, same placeholders and outputs) on the same generated
   inputs, each on the reference or the fast runtime (threads: fast runtime's, 0 = all);
   returns the largest relative error of rew against orig over all outputs. */
static inline double tr_compare_on(const Graph *orig, bool orig_fast, const Graph *rew, bool rew_fast, int threads, uint64_t seed) {
    Err e = {0};
    RefFeed feeds[16];
    int nf = 0;
    for (int i = 0; i < orig->n_nodes && nf < 16; i++)
        if (orig->nodes[i]->op == OP_PLACEHOLDER) {
            feeds[nf].name = orig->nodes[i]->name;
            CHECK_OK(input_generate(orig, i, seed, &feeds[nf].value, &e), &e);
            nf++;
        }
    assert_int_equal(orig->n_outputs, rew->n_outputs);
    Tensor want[16], got[16];
    assert_true(orig->n_outputs <= 16);
    tr_run(orig, orig_fast, threads, feeds, nf, want);
    tr_run(rew, rew_fast, threads, feeds, nf, got);
    double worst = 0;
    for (int k = 0; k < orig->n_outputs; k++) {
        double r = tr_rel_err(&got[k], &want[k]);
        if (!(r <= worst)) worst = r;
        tensor_release(&got[k]);
        tensor_release(&want[k]);
    }
    for (int k = 0; k < nf; k++) tensor_release(&feeds[k].value);
    return worst;
}

/* orig on the reference runtime against rew on the reference (fast = false) or fast runtime */
static inline double tr_compare(const Graph *orig, const Graph *rew, bool fast, uint64_t seed) {
    return tr_compare_on(orig, false, rew, fast, 0, seed);
}

/* Applies every site of r, each to its own clone of g, and checks each result (reference and
   fast runtime) against g within tol. Returns the number of sites. */
static inline int tr_check_each_site(const RuleDef *r, const Graph *g, double tol) {
    Err e = {0};
    SiteList sites = {0};
    CHECK_OK(rule_sites(r, g, &sites, &e), &e);
    for (int k = 0; k < sites.n; k++) {
        Graph *c = graph_clone(g, &e);
        assert_non_null(c);
        CHECK_OK(rule_apply(r, c, &sites.v[k], &e), &e);
        for (int fast = 0; fast < 2; fast++) {
            double err = tr_compare(g, c, fast, 7);
            if (!(err <= tol)) {
                print_error("rule %s at '%s' (%s runtime): rel err %.3g > %.3g\n", r->name, g->nodes[sites.v[k].nodes[0]]->name,
                            fast ? "fast" : "ref", err, tol);
                fail();
            }
        }
        graph_free(c);
    }
    int n = sites.n;
    sitelist_free(&sites);
    return n;
}

/* Applies r at its first site until none is left (at most max_steps); returns the count. */
static inline int tr_apply_all(const RuleDef *r, Graph *g, int max_steps) {
    Err e = {0};
    SiteList sites = {0};
    int applied = 0;
    for (; applied < max_steps; applied++) {
        CHECK_OK(rule_sites(r, g, &sites, &e), &e);
        if (sites.n == 0) break;
        CHECK_OK(rule_apply(r, g, &sites.v[0], &e), &e);
    }
    sitelist_free(&sites);
    return applied;
}

/* g written as a GraphDef and read back: outputs set to the same tensors by name (a GraphDef
   does not record them), shapes re-inferred */
static inline Graph *tr_roundtrip(const Graph *g) {
    Err e = {0};
    uint8_t *data;
    size_t len;
    CHECK_OK(graphdef_serialize(g, &data, &len, &e), &e);
    Graph *r = graphdef_parse(data, len, "round trip", &e);
    free(data);
    if (!r) { print_error("%s\n", e.msg); fail(); }
    r->n_outputs = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        int i = graph_find(r, g->nodes[g->outputs[k].node]->name);
        assert_true(i >= 0);
        CHECK_OK(graph_add_output(r, (ValueRef){i, g->outputs[k].port}, &e), &e);
    }
    CHECK_OK(graph_reinfer(r, ref_eval_node, NULL, &e), &e);
    return r;
}

/* a zoo model (seed 0 = the default seed); fails the test if it does not build */
static inline Graph *tr_zoo(const char *name, int image, int seq, uint64_t seed, bool calibrate) {
    Err e = {0};
    ZooOpts o = zoo_opts_default();
    o.image_size = image;
    o.seq_len = seq;
    if (seed) o.seed = seed;
    o.calibrate = calibrate;
    Graph *g = zoo_build(name, &o, &e);
    if (!g) { print_error("zoo %s: %s\n", name, e.msg); fail(); }
    return g;
}

/* the graph a Builder made; fails the test with the builder's first error */
static inline Graph *tr_finish(Builder *b) {
    Graph *g = bld_finish(b);
    if (!g) { print_error("building the test graph: %s\n", b->err->msg); fail(); }
    return g;
}

/* how many sites r has in g */
static inline int tr_site_count(const RuleDef *r, const Graph *g) {
    Err e = {0};
    SiteList s = {0};
    CHECK_OK(rule_sites(r, g, &s, &e), &e);
    int n = s.n;
    sitelist_free(&s);
    return n;
}

/* counts nodes with op name `op` */
static inline int tr_count_op(const Graph *g, const char *op) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += !strcmp(g->nodes[i]->op_name, op);
    return c;
}

/* a (rule, site) pair: one rewrite a property walk may take */
typedef struct Choice { const RuleDef *r; Site s; } Choice;

/* every site of every exact rule in g, at most cap; returns how many */
static inline int exact_sites(const Graph *g, Choice *out, int cap) {
    Err e = {0};
    int n_rules, n = 0;
    const RuleDef *const *rules = rules_all(&n_rules);
    SiteList sl = {0};
    for (int i = 0; i < n_rules; i++) {
        if (!(rules[i]->flags & RULE_EXACT)) continue;
        CHECK_OK(rule_sites(rules[i], g, &sl, &e), &e);
        for (int k = 0; k < sl.n && n < cap; k++) out[n++] = (Choice){rules[i], sl.v[k]};
    }
    sitelist_free(&sl);
    return n;
}

#endif
