/* infer_fused_ew.c - GrappoFusedElementwise (docs/ops.md): parsing its `program` attribute
 * (fused_ew.h), shape/dtype inference and FLOPs.
 *
 * Output = x0's shape and dtype (float32). Every operand x1..xN must be float32 and broadcast
 * to x0's shape numpy-style WITHOUT changing it (each of its dims, right-aligned, equals x0's
 * or is 1, and its rank is at most x0's). FLOPs: one per element per step, what the chain of
 * stock elementwise ops it replaces counts. */
#include <stdio.h>
#include <string.h>

#include "fused_ew.h"
#include "infer.h"

static const char *const kind_names[FEW_COUNT] = {
    "Relu", "Relu6", "Sigmoid", "Tanh", "Neg", "Abs", "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Erf",
    "Add", "Sub", "RSub", "Mul", "Div", "RDiv", "Max", "Min",
};

const char *few_kind_name(FewKind k) { return k >= 0 && k < FEW_COUNT ? kind_names[k] : "?"; }

/* one step "Name" or "Name:i" */
static int parse_step(const char *text, int n_inputs, FewStep *st, Err *err) {
    const char *colon = strchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : strlen(text);
    for (int k = 0; k < FEW_COUNT; k++) {
        if (strlen(kind_names[k]) != len || strncmp(kind_names[k], text, len) != 0) continue;
        st->kind = (FewKind)k;
        st->operand = 0;
        if (!few_is_binary(st->kind)) {
            if (colon) return err_set(err, ERR_INPUT, "program step '%s': %s takes no operand", text, kind_names[k]);
            return 0;
        }
        if (!colon) return err_set(err, ERR_INPUT, "program step '%s': %s needs an operand ('%s:i')", text, kind_names[k], kind_names[k]);
        int idx = 0, digits = 0;
        for (const char *p = colon + 1; *p; p++, digits++) {
            if (*p < '0' || *p > '9' || digits > 6) return err_set(err, ERR_INPUT, "program step '%s': bad operand index", text);
            idx = idx * 10 + (*p - '0');
        }
        if (digits == 0 || idx < 1 || idx >= n_inputs)
            return err_set(err, ERR_INPUT, "program step '%s': operand index must be in 1..%d", text, n_inputs - 1);
        st->operand = idx;
        return 0;
    }
    return err_set(err, ERR_INPUT, "program step '%s' is not a known step", text);
}

int few_parse_program(const Node *n, FewStep *steps, int cap, int *n_steps, Err *err) {
    const AttrList *l = node_attr_list(n, "program");
    if (!l || (l->n > 0 && l->kind != ATTR_STRING))
        return err_set(err, ERR_INPUT, "attribute program (a list of strings) is missing");
    int max = cap < FEW_MAX_STEPS ? cap : FEW_MAX_STEPS;
    if (l->n < 1 || l->n > max) return err_set(err, ERR_INPUT, "program must have 1..%d steps, got %d", max, l->n);
    for (int k = 0; k < l->n; k++) {
        if (strlen(l->s[k].data) != l->s[k].len) return err_set(err, ERR_INPUT, "program step %d contains a NUL byte", k);
        if (parse_step(l->s[k].data, n->n_inputs, &steps[k], err)) return -1;
    }
    *n_steps = l->n;
    return 0;
}

int infer_fused_ew(Graph *g, Node *n, Err *err) {
    for (int i = 0; i < n->n_inputs; i++)
        if (in_dtype(g, n, i) != DT_FLOAT)
            return err_set(err, ERR_INPUT, "input %d must be float32, got %s", i, dtype_name(in_dtype(g, n, i)));
    const Shape *xs = in_shape(g, n, 0);
    for (int i = 1; i < n->n_inputs; i++) {
        const Shape *s = in_shape(g, n, i);
        bool ok = s->rank <= xs->rank;
        for (int d = 0; ok && d < s->rank; d++) {
            int64_t want = xs->dim[xs->rank - s->rank + d];
            ok = s->dim[d] == 1 || s->dim[d] == want;
        }
        if (!ok) {
            char a[96], b[96];
            return err_set(err, ERR_INPUT, "operand %d of shape %s does not broadcast to x0's shape %s", i,
                           shape_str(s, a, sizeof a), shape_str(xs, b, sizeof b));
        }
    }
    FewStep steps[FEW_MAX_STEPS];
    int count;
    if (few_parse_program(n, steps, FEW_MAX_STEPS, &count, err)) return -1;
    return infer_set_out(n, 0, DT_FLOAT, xs, err);
}

int64_t flops_fused_ew(const Graph *g, const Node *n) {
    (void)g;
    const AttrList *l = node_attr_list(n, "program");
    if (n->n_outputs < 1 || !l) return 0;
    int64_t count = shape_numel(&n->outputs[0].shape);
    return count > 0 ? count * l->n : 0;
}
