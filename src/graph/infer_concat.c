/* infer_concat.c - shape inference for joining and splitting along an axis: ConcatV2, Pack,
 * Split, SplitV, Unpack (FLOPs: none). */
#include "infer.h"

#include <stdlib.h>

/* Split/SplitV/Unpack make one output per piece; a hostile graph must not ask for millions */
#define MAX_PIECES 65536

/* the single known integer of input i (a scalar or a one-element vector) */
static int known_scalar(const Graph *g, const Node *n, int i, const char *what, int64_t *v, Err *err) {
    int k = infer_known_i64(g, n, i, v, 1, err);
    if (k < 0) return err_prefix(err, "%s", what);
    if (k != 1) return err_set(err, ERR_INPUT, "%s must be a single value, got %d", what, k);
    return 0;
}

int infer_concat(Graph *g, Node *n, Err *err) {
    int n_values = n->n_inputs - 1;
    char sa[128], sb[128];
    int64_t attr_n = node_attr_i(n, "N", n_values);
    if (attr_n != n_values) return err_set(err, ERR_INPUT, "ConcatV2 has N = %lld but %d value inputs", (long long)attr_n, n_values);
    int64_t axis_v;
    if (known_scalar(g, n, n_values, "ConcatV2 axis", &axis_v, err)) return -1;
    const Shape *first = in_shape(g, n, 0);
    int dtype = in_dtype(g, n, 0);
    if (first->rank == 0) return err_set(err, ERR_INPUT, "ConcatV2 cannot concatenate scalars");
    int axis = 0;
    if (infer_axis(axis_v, first->rank, &axis, err)) return err_prefix(err, "ConcatV2 axis");
    Shape s = *first;
    for (int k = 1; k < n_values; k++) {
        const Shape *o = in_shape(g, n, k);
        if (in_dtype(g, n, k) != dtype)
            return err_set(err, ERR_INPUT, "ConcatV2 input %d is %s, input 0 is %s", k, dtype_name(in_dtype(g, n, k)), dtype_name(dtype));
        bool ok = o->rank == first->rank;
        for (int i = 0; ok && i < first->rank; i++)
            if (i != axis && o->dim[i] != first->dim[i]) ok = false;
        if (!ok)
            return err_set(err, ERR_INPUT, "ConcatV2 input %d has shape %s, incompatible with %s on axis %d",
                           k, shape_str(o, sa, sizeof sa), shape_str(first, sb, sizeof sb), axis);
        if (o->dim[axis] > INT64_MAX - s.dim[axis]) /* four [0, 2^62] would wrap to [0, 0] */
            return err_set(err, ERR_INPUT, "ConcatV2: the inputs' sizes on axis %d add up past 2^63", axis);
        s.dim[axis] += o->dim[axis];
    }
    return infer_set_out(n, 0, dtype, &s, err);
}

int infer_pack(Graph *g, Node *n, Err *err) {
    char sa[128], sb[128];
    const Shape *first = in_shape(g, n, 0);
    int dtype = in_dtype(g, n, 0);
    int64_t attr_n = node_attr_i(n, "N", n->n_inputs);
    if (attr_n != n->n_inputs) return err_set(err, ERR_INPUT, "Pack has N = %lld but %d inputs", (long long)attr_n, n->n_inputs);
    for (int k = 1; k < n->n_inputs; k++) {
        if (in_dtype(g, n, k) != dtype)
            return err_set(err, ERR_INPUT, "Pack input %d is %s, input 0 is %s", k, dtype_name(in_dtype(g, n, k)), dtype_name(dtype));
        if (!shape_equal(in_shape(g, n, k), first))
            return err_set(err, ERR_INPUT, "Pack input %d has shape %s, input 0 has %s", k,
                           shape_str(in_shape(g, n, k), sa, sizeof sa), shape_str(first, sb, sizeof sb));
    }
    if (first->rank + 1 > MAX_RANK) return err_set(err, ERR_INPUT, "Pack output rank would exceed %d", MAX_RANK);
    int64_t axis = node_attr_i(n, "axis", 0);
    if (axis < -(first->rank + 1) || axis > first->rank)
        return err_set(err, ERR_INPUT, "Pack axis %lld is not in [%d, %d]", (long long)axis, -(first->rank + 1), first->rank);
    if (axis < 0) axis += first->rank + 1;
    Shape s = {.rank = first->rank + 1};
    for (int i = 0, j = 0; i < s.rank; i++) s.dim[i] = i == axis ? n->n_inputs : first->dim[j++];
    return infer_set_out(n, 0, dtype, &s, err);
}

int infer_split(Graph *g, Node *n, Err *err) {
    char sa[128];
    int64_t axis_v;
    if (known_scalar(g, n, 0, "Split axis", &axis_v, err)) return -1;
    const Shape *in = in_shape(g, n, 1);
    int axis = 0;
    if (infer_axis(axis_v, in->rank, &axis, err)) return err_prefix(err, "Split axis");
    int64_t num = node_attr_i(n, "num_split", 0);
    if (num < 1 || num > MAX_PIECES)
        return err_set(err, ERR_INPUT, "Split num_split %lld is not in [1, %d]", (long long)num, MAX_PIECES);
    if (in->dim[axis] % num != 0)
        return err_set(err, ERR_INPUT, "Split: dimension %d of %s (size %lld) is not divisible by num_split %lld",
                       axis, shape_str(in, sa, sizeof sa), (long long)in->dim[axis], (long long)num);
    Shape s = *in;
    s.dim[axis] = in->dim[axis] / num;
    for (int64_t k = 0; k < num; k++)
        if (infer_set_out(n, (int)k, in_dtype(g, n, 1), &s, err)) return -1;
    return 0;
}

int infer_split_v(Graph *g, Node *n, Err *err) {
    char sa[128];
    const Shape *in = in_shape(g, n, 0);
    int64_t axis_v;
    if (known_scalar(g, n, 2, "SplitV axis", &axis_v, err)) return -1;
    int axis = 0;
    if (infer_axis(axis_v, in->rank, &axis, err)) return err_prefix(err, "SplitV axis");
    int64_t num = node_attr_i(n, "num_split", 0);
    if (num < 1 || num > MAX_PIECES)
        return err_set(err, ERR_INPUT, "SplitV num_split %lld is not in [1, %d]", (long long)num, MAX_PIECES);
    int64_t *sizes = malloc((size_t)num * sizeof *sizes);
    if (!sizes) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = -1;
    int k = infer_known_i64(g, n, 1, sizes, (int)num, err);
    if (k < 0) { err_prefix(err, "SplitV size_splits"); goto done; }
    if (k != num) { err_set(err, ERR_INPUT, "SplitV has %d size_splits but num_split %lld", k, (long long)num); goto done; }
    int unknown = -1;
    bool too_big = false;
    int64_t total = 0, dim = in->dim[axis];
    for (int i = 0; i < k; i++) {
        if (sizes[i] == -1) {
            if (unknown >= 0) { err_set(err, ERR_INPUT, "SplitV size_splits has more than one -1"); goto done; }
            unknown = i;
        } else if (sizes[i] < 0) {
            err_set(err, ERR_INPUT, "SplitV size_splits[%d] = %lld is negative", i, (long long)sizes[i]);
            goto done;
        } else if (sizes[i] > dim - total) {
            too_big = true; /* checked before adding so the sum cannot overflow */
        } else {
            total += sizes[i];
        }
    }
    if (too_big || (unknown < 0 && total != dim)) {
        err_set(err, ERR_INPUT, "SplitV size_splits must sum to %lld (dimension %d of %s)",
                (long long)dim, axis, shape_str(in, sa, sizeof sa));
        goto done;
    }
    if (unknown >= 0) sizes[unknown] = dim - total;
    for (int i = 0; i < k; i++) {
        Shape s = *in;
        s.dim[axis] = sizes[i];
        if (infer_set_out(n, i, in_dtype(g, n, 0), &s, err)) goto done;
    }
    rc = 0;
done:
    free(sizes);
    return rc;
}

int infer_unpack(Graph *g, Node *n, Err *err) {
    char sa[128];
    const Shape *in = in_shape(g, n, 0);
    if (in->rank == 0) return err_set(err, ERR_INPUT, "Unpack cannot unpack a scalar");
    int axis = 0;
    if (infer_axis(node_attr_i(n, "axis", 0), in->rank, &axis, err)) return err_prefix(err, "Unpack axis");
    int64_t num = node_attr_i(n, "num", in->dim[axis]);
    if (num > MAX_PIECES) return err_set(err, ERR_INPUT, "Unpack num %lld exceeds %d", (long long)num, MAX_PIECES);
    if (num != in->dim[axis])
        return err_set(err, ERR_INPUT, "Unpack num = %lld but dimension %d of %s has size %lld",
                       (long long)num, axis, shape_str(in, sa, sizeof sa), (long long)in->dim[axis]);
    Shape s = {.rank = in->rank - 1};
    for (int i = 0, j = 0; i < in->rank; i++)
        if (i != axis) s.dim[j++] = in->dim[i];
    for (int64_t k = 0; k < num; k++)
        if (infer_set_out(n, (int)k, in_dtype(g, n, 0), &s, err)) return -1;
    return 0;
}

int64_t flops_concat(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_pack(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_split(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_split_v(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_unpack(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
