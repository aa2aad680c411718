/* testfast.h - helpers for testing one oneDNN kernel family against the reference kernels. */
#ifndef GRAPPO_TESTFAST_H
#define GRAPPO_TESTFAST_H

#include <stdlib.h>

#include "runtime/fast.h"
#include "runtime/ref.h"
#include "testutil.h"

/* Compiles node `node` of the inferred graph g with `compile` in a fresh oneDNN context and
   runs it on in[] (the values of the node's inputs), allocating out[] from the inferred output
   shapes. Returns compile's result: 1 (ran; out[] filled), 0 (family declined: out[] empty),
   -1 (error in err). *impl (if not NULL) receives a copy of the implementation name. */
static inline int tf_fast_node(FastCompileFn compile, const Graph *g, int node, const Tensor *in, Tensor *out,
                               char *impl, size_t impl_cap, Err *err) {
    const Node *n = g->nodes[node];
    DnnCtx ctx;
    if (dnn_ctx_init(&ctx, err)) return -1;
    FastKernel k;
    memset(&k, 0, sizeof k);
    k.inplace = -1;
    int rc = compile(&ctx, g, n, &k, err);
    if (rc == 1) {
        if (impl) snprintf(impl, impl_cap, "%s", k.impl ? k.impl : "?");
        void *scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
        for (int i = 0; i < n->n_outputs && rc == 1; i++)
            if (tensor_alloc(&out[i], n->outputs[i].dtype, &n->outputs[i].shape, err)) rc = -1;
        if (rc == 1 && k.run(k.state, in, out, scratch, err)) rc = -1;
        if (rc != 1)
            for (int i = 0; i < n->n_outputs; i++) tensor_release(&out[i]);
        free(scratch);
        if (k.destroy) k.destroy(k.state);
    }
    dnn_ctx_free(&ctx);
    return rc;
}

/* max|a-b| / max|b|: the fast runtime must keep this <= 1e-4 against the reference (fp32) */
static inline double tf_rel_err(const Tensor *a, const Tensor *b) {
    double m = 0, e = 0;
    int64_t n = tensor_numel(b);
    for (int64_t i = 0; i < n; i++) {
        double x = tensor_get(a, i), y = tensor_get(b, i);
        if (fabs(y) > m) m = fabs(y);
        if (!(fabs(x - y) <= e)) e = isnan(x - y) ? INFINITY : fabs(x - y);
    }
    return m > 0 ? e / m : e;
}

#endif
