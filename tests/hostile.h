/* hostile.h - helpers for the hostile-input suites: load crafted GraphDef bytes the way the
 * CLI does (parse, validate, infer with folding), and run a graph on both runtimes with
 * generated inputs, comparing the outputs. */
#ifndef GRAPPO_HOSTILE_H
#define GRAPPO_HOSTILE_H

#include "craftpb.h"
#include "testutil.h"

#include "graph/input_gen.h"
#include "io/graphdef.h"
#include "runtime/plan.h"
#include "runtime/ref.h"

/* parse + validate + infer; NULL with err filled on failure. Frees g's bytes. */
static inline Graph *hx_load(Pb *g, Err *err) {
    Graph *gr = graphdef_parse(g->p, g->n, "crafted.pb", err);
    free(g->p);
    memset(g, 0, sizeof *g);
    if (!gr) return NULL;
    if (graph_validate(gr, err) || graph_infer(gr, NULL, 0, ref_eval_node, NULL, err)) { graph_free(gr); return NULL; }
    return gr;
}

/* Runs every graph output on the reference and the fast runtime with inputs generated from
   seed 1, asserting both succeed and agree within rel_tol * max|ref| (NaN positions equal). */
static inline void hx_run_both(const Graph *g, double rel_tol) {
    Err err = {0};
    RefFeed feeds[16];
    int nf = 0;
    for (int i = 0; i < g->n_nodes && nf < 16; i++) {
        if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
        feeds[nf].name = g->nodes[i]->name;
        CHECK_OK(input_generate(g, i, 1, &feeds[nf].value, &err), &err);
        nf++;
    }
    int n = g->n_outputs;
    Tensor *a = calloc((size_t)n + 1, sizeof *a), *b = calloc((size_t)n + 1, sizeof *b);
    CHECK_OK(ref_run(g, feeds, nf, NULL, 0, a, NULL, &err), &err);
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &po, &err);
    CHECK_OK(p == NULL, &err);
    CHECK_OK(plan_run(p, feeds, nf, b, NULL, &err), &err);
    for (int k = 0; k < n; k++) {
        double m = 0;
        for (int64_t i = 0; i < tensor_numel(&a[k]); i++) if (fabs(tensor_get(&a[k], i)) > m) m = fabs(tensor_get(&a[k], i));
        assert_tensor_near(&b[k], &a[k], rel_tol * (m > 1 ? m : 1));
        tensor_release(&a[k]);
        tensor_release(&b[k]);
    }
    plan_free(p);
    for (int f = 0; f < nf; f++) tensor_release(&feeds[f].value);
    free(a);
    free(b);
}

#endif
