/* infer_space.c - shape inference for the block rearrangements DepthToSpace, SpaceToDepth
 * (NHWC, attr block_size) and SpaceToBatchND, BatchToSpaceND (block_shape [M] and
 * paddings/crops [M, 2] must be known before running). FLOPs: none. */
#include <string.h>

#include "infer.h"

int infer_depth_space(Graph *g, Node *n, Err *err) {
    const Shape *x = in_shape(g, n, 0);
    int64_t b = node_attr_i(n, "block_size", 0);
    if (b > 4096) return err_set(err, ERR_INPUT, "block_size %lld is absurd", (long long)b);
    const char *fmt = node_attr_s(n, "data_format", "NHWC");
    if (strcmp(fmt, "NHWC")) return err_set(err, ERR_INPUT, "data_format %s is not supported (NHWC)", fmt);
    if (b < 2) return err_set(err, ERR_INPUT, "block_size must be at least 2, got %lld", (long long)b);
    if (x->rank != 4) return err_set(err, ERR_INPUT, "input must be 4-D NHWC, got rank %d", x->rank);
    Shape s = *x;
    if (n->op == OP_DEPTH_TO_SPACE) {
        if (x->dim[3] % (b * b)) return err_set(err, ERR_INPUT, "depth %lld is not divisible by block_size^2 = %lld", (long long)x->dim[3], (long long)(b * b));
        s.dim[1] *= b; s.dim[2] *= b; s.dim[3] /= b * b;
    } else {
        if (x->dim[1] % b || x->dim[2] % b)
            return err_set(err, ERR_INPUT, "height %lld and width %lld must be divisible by block_size %lld", (long long)x->dim[1], (long long)x->dim[2], (long long)b);
        s.dim[1] /= b; s.dim[2] /= b; s.dim[3] *= b * b;
    }
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

/* reads block_shape (input 1) and paddings/crops (input 2); returns M or -1 */
static int space_batch_params(const Graph *g, const Node *n, int64_t *block, int64_t *pads, Err *err) {
    int m = infer_known_i64(g, n, 1, block, MAX_RANK, err);
    if (m < 0) return err_prefix(err, "block_shape");
    const Tensor *pt = &in_val(g, n, 2)->known;
    const char *what = n->op == OP_SPACE_TO_BATCH_ND ? "paddings" : "crops";
    if (!tensor_has_data(pt) || (pt->dtype != DT_INT32 && pt->dtype != DT_INT64))
        return err_set(err, ERR_INPUT, "%s must be a known int32/int64 [M, 2] tensor (a constant)", what);
    int64_t p = tensor_numel(pt);
    if (p > 2 * MAX_RANK) return err_set(err, ERR_INPUT, "%s has too many values", what);
    for (int64_t i = 0; i < p; i++) pads[i] = (int64_t)tensor_get(pt, i);
    if (p != 2 * m) return err_set(err, ERR_INPUT, "%s must be [%d, 2]", what, m);
    /* bounds that keep every product below 2^62: anything larger is not a real model */
    const int64_t big = (int64_t)1 << 20;
    int64_t prod = 1;
    for (int i = 0; i < m; i++) {
        if (block[i] < 1 || block[i] > big) return err_set(err, ERR_INPUT, "block_shape[%d] = %lld must be in [1, %lld]", i, (long long)block[i], (long long)big);
        if (pads[2 * i] < 0 || pads[2 * i + 1] < 0 || pads[2 * i] > big || pads[2 * i + 1] > big)
            return err_set(err, ERR_INPUT, "padding or crop in dimension %d is negative or absurd", i);
        prod *= block[i];
        if (prod > big) return err_set(err, ERR_INPUT, "block_shape's product exceeds %lld", (long long)big);
    }
    return m;
}

int infer_space_batch(Graph *g, Node *n, Err *err) {
    const Shape *x = in_shape(g, n, 0);
    int64_t block[MAX_RANK], pads[2 * MAX_RANK];
    int m = space_batch_params(g, n, block, pads, err);
    if (m < 0) return -1;
    if (x->rank < 1 + m) return err_set(err, ERR_INPUT, "input rank %d is less than 1 + %d block dimensions", x->rank, m);
    int64_t prod = 1;
    for (int i = 0; i < m; i++) prod *= block[i];
    Shape s = *x;
    if (n->op == OP_SPACE_TO_BATCH_ND) {
        s.dim[0] = x->dim[0] * prod;
        for (int i = 0; i < m; i++) {
            int64_t padded = x->dim[1 + i] + pads[2 * i] + pads[2 * i + 1];
            if (padded % block[i])
                return err_set(err, ERR_INPUT, "padded dimension %d (%lld) is not divisible by block_shape %lld", i + 1, (long long)padded, (long long)block[i]);
            s.dim[1 + i] = padded / block[i];
        }
    } else {
        if (x->dim[0] % prod) return err_set(err, ERR_INPUT, "batch %lld is not divisible by the block product %lld", (long long)x->dim[0], (long long)prod);
        s.dim[0] = x->dim[0] / prod;
        for (int i = 0; i < m; i++) {
            int64_t full = x->dim[1 + i] * block[i], cropped = full - pads[2 * i] - pads[2 * i + 1];
            if (cropped < 0) return err_set(err, ERR_INPUT, "crops in dimension %d exceed its size %lld", i + 1, (long long)full);
            s.dim[1 + i] = cropped;
        }
    }
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

int64_t flops_depth_space(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_space_batch(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
