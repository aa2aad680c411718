/* infer_slice.c - shape inference for Slice and StridedSlice (FLOPs: none, they move data).
 * StridedSlice's index logic lives in strided_slice.c, shared with the kernel. */
#include "infer.h"
#include "strided_slice.h"

/* Reads a known index vector that must have exactly `want` entries. */
static int read_vec(const Graph *g, const Node *n, int i, const char *what, int64_t *out, int cap, int want, Err *err) {
    int k = infer_known_i64(g, n, i, out, cap, err);
    if (k < 0) return err_prefix(err, "%s", what);
    if (want >= 0 && k != want) return err_set(err, ERR_INPUT, "%s has %d entries, input rank is %d", what, k, want);
    return k;
}

int infer_slice(Graph *g, Node *n, Err *err) {
    const Shape *in = in_shape(g, n, 0);
    int64_t begin[MAX_RANK], size[MAX_RANK];
    if (read_vec(g, n, 1, "begin", begin, MAX_RANK, in->rank, err) < 0) return -1;
    if (read_vec(g, n, 2, "size", size, MAX_RANK, in->rank, err) < 0) return -1;
    Shape s = {.rank = in->rank};
    for (int i = 0; i < in->rank; i++) {
        int64_t dim = in->dim[i];
        if (begin[i] < 0 || begin[i] > dim)
            return err_set(err, ERR_INPUT, "Slice begin[%d] = %lld is not in [0, %lld]", i, (long long)begin[i], (long long)dim);
        int64_t len = size[i] == -1 ? dim - begin[i] : size[i];
        if (len < 0 || begin[i] + len > dim)
            return err_set(err, ERR_INPUT, "Slice size[%d] = %lld with begin %lld exceeds dimension %lld",
                           i, (long long)size[i], (long long)begin[i], (long long)dim);
        s.dim[i] = len;
    }
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

int infer_strided_slice(Graph *g, Node *n, Err *err) {
    int64_t begin[STRIDED_SLICE_MAX_SPEC + 1], end[STRIDED_SLICE_MAX_SPEC + 1], strides[STRIDED_SLICE_MAX_SPEC + 1];
    int nb = read_vec(g, n, 1, "begin", begin, STRIDED_SLICE_MAX_SPEC + 1, -1, err);
    if (nb < 0) return -1;
    int ne = read_vec(g, n, 2, "end", end, STRIDED_SLICE_MAX_SPEC + 1, -1, err);
    if (ne < 0) return -1;
    int ns = read_vec(g, n, 3, "strides", strides, STRIDED_SLICE_MAX_SPEC + 1, -1, err);
    if (ns < 0) return -1;
    if (nb != ne || nb != ns)
        return err_set(err, ERR_INPUT, "StridedSlice begin, end and strides must have equal lengths (got %d, %d, %d)", nb, ne, ns);
    StridedSliceMasks m = {
        .begin = node_attr_i(n, "begin_mask", 0),
        .end = node_attr_i(n, "end_mask", 0),
        .ellipsis = node_attr_i(n, "ellipsis_mask", 0),
        .new_axis = node_attr_i(n, "new_axis_mask", 0),
        .shrink_axis = node_attr_i(n, "shrink_axis_mask", 0),
    };
    StridedSliceDense d;
    if (strided_slice_canonicalize(in_shape(g, n, 0), begin, end, strides, nb, &m, &d, err)) return -1;
    return infer_set_out(n, 0, in_dtype(g, n, 0), &d.final_shape, err);
}

int64_t flops_slice(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_strided_slice(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
