/* infer_reshape.c - shape inference for the view ops Reshape, Squeeze and ExpandDims (the
 * output reinterprets the input buffer; FLOPs: none). */
#include "infer.h"

int infer_reshape(Graph *g, Node *n, Err *err) {
    const Shape *in = in_shape(g, n, 0);
    char sa[128], sb[128];
    const Shape *shape_in = in_shape(g, n, 1);
    if (shape_in->rank > 1) return err_set(err, ERR_INPUT, "Reshape shape must be a vector, got rank %d", shape_in->rank);
    int64_t want[MAX_RANK];
    int rank = infer_known_i64(g, n, 1, want, MAX_RANK, err);
    if (rank < 0) return err_prefix(err, "Reshape shape");
    int64_t numel = shape_numel(in);
    Shape s = shape_make(rank, want);
    int unknown = -1;
    int64_t product = 1;
    for (int i = 0; i < rank; i++) {
        if (want[i] == -1) {
            if (unknown >= 0) return err_set(err, ERR_INPUT, "Reshape shape %s has more than one -1", shape_str(&s, sb, sizeof sb));
            unknown = i;
        } else if (want[i] < 0) {
            return err_set(err, ERR_INPUT, "Reshape shape %s has a negative dimension", shape_str(&s, sb, sizeof sb));
        } else {
            if (want[i] != 0 && product > INT64_MAX / want[i])
                return err_set(err, ERR_INPUT, "Reshape shape %s is too large", shape_str(&s, sb, sizeof sb));
            product *= want[i];
        }
    }
    if (unknown >= 0) {
        if (product == 0)
            return err_set(err, ERR_INPUT, "Reshape cannot infer the -1 in %s when the other dimensions multiply to 0",
                           shape_str(&s, sb, sizeof sb));
        if (numel % product != 0)
            return err_set(err, ERR_INPUT, "cannot reshape %s (%lld elements) to %s: not a multiple of %lld",
                           shape_str(in, sa, sizeof sa), (long long)numel, shape_str(&s, sb, sizeof sb), (long long)product);
        s.dim[unknown] = numel / product;
    } else if (product != numel) {
        return err_set(err, ERR_INPUT, "cannot reshape %s (%lld elements) to %s (%lld elements)",
                       shape_str(in, sa, sizeof sa), (long long)numel, shape_str(&s, sb, sizeof sb), (long long)product);
    }
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

/* The dims to squeeze come from attr squeeze_dims (TF GraphDefs) or axis (TF.js graphs). */
static const AttrList *squeeze_dims_attr(const Node *n) {
    const AttrList *l = node_attr_list(n, "squeeze_dims");
    if (l && l->n > 0) return l;
    const AttrList *alt = node_attr_list(n, "axis");
    return alt ? alt : l;
}

int infer_squeeze(Graph *g, Node *n, Err *err) {
    const Shape *in = in_shape(g, n, 0);
    char sa[128];
    bool drop[MAX_RANK] = {0};
    const AttrList *dims = squeeze_dims_attr(n);
    if (dims && dims->n > 0) {
        if (dims->kind != ATTR_INT) return err_set(err, ERR_INPUT, "Squeeze squeeze_dims must be a list of ints");
        for (int k = 0; k < dims->n; k++) {
            int axis;
            if (infer_axis(dims->i[k], in->rank, &axis, err)) return err_prefix(err, "Squeeze squeeze_dims");
            if (in->dim[axis] != 1)
                return err_set(err, ERR_INPUT, "cannot squeeze dim %lld of %s: its size is %lld, not 1",
                               (long long)dims->i[k], shape_str(in, sa, sizeof sa), (long long)in->dim[axis]);
            drop[axis] = true;
        }
    } else {
        for (int i = 0; i < in->rank; i++) drop[i] = in->dim[i] == 1;
    }
    Shape s = {.rank = 0};
    for (int i = 0; i < in->rank; i++)
        if (!drop[i]) s.dim[s.rank++] = in->dim[i];
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

int infer_expand_dims(Graph *g, Node *n, Err *err) {
    const Shape *in = in_shape(g, n, 0);
    int64_t axis_v[1];
    int k = infer_known_i64(g, n, 1, axis_v, 1, err);
    if (k < 0) return err_prefix(err, "ExpandDims axis");
    if (k != 1) return err_set(err, ERR_INPUT, "ExpandDims axis must hold exactly one value, got %d", k);
    if (in->rank + 1 > MAX_RANK) return err_set(err, ERR_INPUT, "ExpandDims output rank would exceed %d", MAX_RANK);
    int64_t axis = axis_v[0];
    if (axis < -in->rank - 1 || axis > in->rank)
        return err_set(err, ERR_INPUT, "ExpandDims axis %lld is not in [%d, %d]", (long long)axis, -in->rank - 1, in->rank);
    if (axis < 0) axis += in->rank + 1;
    Shape s = {.rank = in->rank + 1};
    for (int i = 0, j = 0; i < s.rank; i++) s.dim[i] = i == axis ? 1 : in->dim[j++];
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

int64_t flops_reshape(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_squeeze(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_expand_dims(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
