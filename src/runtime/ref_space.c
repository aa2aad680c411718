/* ref_space.c - reference DepthToSpace / SpaceToDepth (NHWC) and SpaceToBatchND /
 * BatchToSpaceND.
 *
 * DepthToSpace: out[n, h*b + i, w*b + j, c] = in[n, h, w, (i*b + j)*C' + c]; SpaceToDepth is its
 * inverse. SpaceToBatchND: output batch index = (block offset, row-major over the M block
 * dims) * N + n, and out[ob, i_1.., rest] = padded_in[n, i_1*b_1 + o_1, .., rest] (padding
 * reads 0); BatchToSpaceND is the inverse with crops instead of paddings. */
#include <string.h>

#include "ref_array.h"

int ref_depth_space(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t es;
    if (ref_elem_size(n, &in[0], &es, err)) return -1;
    int64_t b = node_attr_i(n, "block_size", 2);
    bool d2s = n->op == OP_DEPTH_TO_SPACE;
    /* walk the space-side tensor [N, H, W, C] (out for D2S, in for S2D) */
    const Shape *sp = d2s ? &out[0].shape : &in[0].shape;
    int64_t N = sp->dim[0], H = sp->dim[1], W = sp->dim[2], C = sp->dim[3];
    int64_t Hd = H / b, Wd = W / b, Cd = C * b * b;
    const char *x = tensor_data(&in[0]);
    char *y = tensor_mut(&out[0]);
    if (tensor_numel(&out[0]) == 0) return 0;
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
                int64_t sp_off = ((nn * H + h) * W + w) * C;
                int64_t dp_off = ((nn * Hd + h / b) * Wd + w / b) * Cd + ((h % b) * b + (w % b)) * C;
                if (d2s) memcpy(y + sp_off * (int64_t)es, x + dp_off * (int64_t)es, (size_t)C * es);
                else memcpy(y + dp_off * (int64_t)es, x + sp_off * (int64_t)es, (size_t)C * es);
            }
    return 0;
}

int ref_space_batch(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t es;
    if (ref_elem_size(n, &in[0], &es, err)) return -1;
    int64_t block[MAX_RANK], pads[2 * MAX_RANK];
    int m = ref_read_ints(n, &in[1], "block_shape", block, MAX_RANK, err);
    if (m < 0) return -1;
    if (tensor_numel(&in[2]) != 2 * m || !tensor_data(&in[2])) return err_set(err, ERR_RUNTIME, "%s: paddings/crops must be [%d, 2]", n->op_name, m);
    for (int i = 0; i < 2 * m; i++) pads[i] = ref_index_at(&in[2], i);
    bool s2b = n->op == OP_SPACE_TO_BATCH_ND;
    /* batch side = out for S2B, in for B2S; space side the other one */
    const Shape *bs = s2b ? &out[0].shape : &in[0].shape, *ss = s2b ? &in[0].shape : &out[0].shape;
    int rank = bs->rank;
    int64_t N = ss->dim[0], inner = ref_dims_product(bs, 1 + m, rank);
    int64_t bstr[MAX_RANK], sstr[MAX_RANK];
    ref_strides(bs, bstr);
    ref_strides(ss, sstr);
    const char *x = tensor_data(&in[0]);
    char *y = tensor_mut(&out[0]);
    int64_t total_rows = ref_dims_product(bs, 0, 1 + m);
    if (tensor_numel(&out[0]) == 0) return 0;
    for (int64_t row = 0; row < total_rows; row++) {
        /* batch-side coordinates (ob, i_1 .. i_m) of this row */
        int64_t rem = row, idx[MAX_RANK];
        for (int d = m; d >= 0; d--) { idx[d] = rem % bs->dim[d]; rem /= bs->dim[d]; }
        int64_t ob = idx[0], nn = ob % N, boff = ob / N, off[MAX_RANK];
        for (int d = m - 1; d >= 0; d--) { off[d] = boff % block[d]; boff /= block[d]; }
        int64_t s_off = nn * sstr[0];
        bool inside = true;
        for (int d = 0; d < m; d++) {
            int64_t pos = idx[1 + d] * block[d] + off[d] - pads[2 * d]; /* space-side coordinate */
            if (pos < 0 || pos >= ss->dim[1 + d]) { inside = false; break; }
            s_off += pos * sstr[1 + d];
        }
        int64_t b_off = row * inner;
        if (s2b) {
            if (inside) memcpy(y + b_off * (int64_t)es, x + s_off * (int64_t)es, (size_t)inner * es);
            else memset(y + b_off * (int64_t)es, 0, (size_t)inner * es);
        } else if (inside) {
            memcpy(y + s_off * (int64_t)es, x + b_off * (int64_t)es, (size_t)inner * es);
        }
    }
    return 0;
}
