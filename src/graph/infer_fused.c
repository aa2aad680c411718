/* infer_fused.c - shape/dtype inference and FLOPs for grappo's fused float ops GrappoLayerNorm
 * and GrappoGelu (docs/ops.md), which rules_fuse_norm.c writes in place of the written-out
 * LayerNorm and GELU subgraphs.
 *
 * FLOPs equal those of the stock-op subgraph each op replaces, counted per element as the
 * elementwise ops and reductions count them: LayerNorm 8 (BERT's form: Mean,
 * SquaredDifference, Mean, three Mul, Sub, AddV2; the per-row +eps and Rsqrt are negligible);
 * GELU 5 for the erf form (Mul, Erf, AddV2, Mul, Mul), 8 for the tanh form (Pow, Mul, AddV2,
 * Mul, Tanh, AddV2, Mul, Mul). Fusing changes what runs, not the FLOP count the search sees. */
#include <math.h>

#include "infer.h"

static int64_t out_numel(const Node *n) {
    if (n->n_outputs < 1) return 0;
    int64_t count = shape_numel(&n->outputs[0].shape);
    return count > 0 ? count : 0;
}

/* the required float attribute epsilon must be finite and >= 0 */
static int layernorm_epsilon(const Node *n, Err *err) {
    const Attr *a = node_attr_find(n, "epsilon");
    if (!a || a->kind != ATTR_FLOAT) return err_set(err, ERR_INPUT, "attribute epsilon (a float >= 0) is missing");
    if (!(a->f >= 0) || !isfinite(a->f)) return err_set(err, ERR_INPUT, "attribute epsilon must be finite and >= 0, got %g", a->f);
    return 0;
}

int infer_grappo_layernorm(Graph *g, Node *n, Err *err) {
    const char *what[3] = {"x", "gamma", "beta"};
    for (int i = 0; i < 3; i++)
        if (in_dtype(g, n, i) != DT_FLOAT)
            return err_set(err, ERR_INPUT, "input %d (%s) must be float32, got %s", i, what[i], dtype_name(in_dtype(g, n, i)));
    const Shape *xs = in_shape(g, n, 0);
    if (xs->rank < 1) return err_set(err, ERR_INPUT, "x must have rank >= 1 (normalized over its last axis)");
    int64_t d = xs->dim[xs->rank - 1];
    for (int i = 1; i < 3; i++) {
        const Shape *s = in_shape(g, n, i);
        char sb[96];
        if (s->rank != 1 || (d >= 0 && s->dim[0] >= 0 && s->dim[0] != d))
            return err_set(err, ERR_INPUT, "%s has shape %s, expected [%lld] (the last dim of x)", what[i],
                           shape_str(s, sb, sizeof sb), (long long)d);
    }
    if (layernorm_epsilon(n, err)) return -1;
    return infer_set_out(n, 0, DT_FLOAT, xs, err);
}

int64_t flops_grappo_layernorm(const Graph *g, const Node *n) { (void)g; return 8 * out_numel(n); }

int infer_grappo_gelu(Graph *g, Node *n, Err *err) {
    if (in_dtype(g, n, 0) != DT_FLOAT) return err_set(err, ERR_INPUT, "x must be float32, got %s", dtype_name(in_dtype(g, n, 0)));
    const Attr *a = node_attr_find(n, "approximate");
    if (a && a->kind != ATTR_BOOL) return err_set(err, ERR_INPUT, "attribute approximate must be a bool");
    return infer_set_out(n, 0, DT_FLOAT, in_shape(g, n, 0), err);
}

int64_t flops_grappo_gelu(const Graph *g, const Node *n) {
    (void)g;
    return (node_attr_b(n, "approximate", false) ? 8 : 5) * out_numel(n);
}
