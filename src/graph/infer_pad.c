/* infer_pad.c - shape inference for Pad, PadV2 and MirrorPad (FLOPs: none). */
#include "infer.h"

#include <string.h>

/* Reads paddings ([rank, 2], known) into before/after and checks them. mirror_offset is -1
   for plain padding (any non-negative amount), 1 for REFLECT, 0 for SYMMETRIC (amount must
   be at most dim - offset). */
static int read_paddings(const Graph *g, const Node *n, int mirror_offset, Shape *out, Err *err) {
    const Shape *in = in_shape(g, n, 0), *ps = in_shape(g, n, 1);
    char sa[128];
    if (ps->rank != 2 || ps->dim[0] != in->rank || ps->dim[1] != 2)
        return err_set(err, ERR_INPUT, "paddings must have shape [%d,2] for an input of rank %d, got %s",
                       in->rank, in->rank, shape_str(ps, sa, sizeof sa));
    int64_t p[2 * MAX_RANK];
    const Tensor *known = &in_val(g, n, 1)->known;
    if (!tensor_has_data(known)) {
        infer_known_i64(g, n, 1, p, 2 * MAX_RANK, err); /* fails, with a message naming the producer */
        return err_prefix(err, "paddings");
    }
    Tensor flat = *known; /* [rank, 2] read as a vector */
    flat.shape = (Shape){.rank = 1, .dim = {tensor_numel(known)}};
    int k = tensor_to_i64(&flat, p, 2 * MAX_RANK, err);
    if (k < 0) return err_prefix(err, "paddings");
    if (k != 2 * in->rank) return err_set(err, ERR_INPUT, "paddings has %d values, expected %d", k, 2 * in->rank);
    *out = *in;
    for (int i = 0; i < in->rank; i++) {
        int64_t before = p[2 * i], after = p[2 * i + 1];
        if (before < 0 || after < 0)
            return err_set(err, ERR_INPUT, "paddings for dimension %d must be non-negative, got (%lld, %lld)",
                           i, (long long)before, (long long)after);
        if (mirror_offset >= 0 && (before > in->dim[i] - mirror_offset || after > in->dim[i] - mirror_offset))
            return err_set(err, ERR_INPUT, "MirrorPad %s paddings (%lld, %lld) for dimension %d of size %lld must be %s the size",
                           mirror_offset ? "REFLECT" : "SYMMETRIC", (long long)before, (long long)after, i,
                           (long long)in->dim[i], mirror_offset ? "less than" : "no greater than");
        if (before > INT64_MAX / 4 || after > INT64_MAX / 4 || in->dim[i] > INT64_MAX / 4)
            return err_set(err, ERR_INPUT, "paddings for dimension %d are too large", i);
        out->dim[i] = before + in->dim[i] + after;
    }
    return 0;
}

int infer_pad(Graph *g, Node *n, Err *err) {
    Shape s;
    if (read_paddings(g, n, -1, &s, err)) return -1;
    if (n->op == OP_PAD_V2) {
        if (in_shape(g, n, 2)->rank != 0) return err_set(err, ERR_INPUT, "PadV2 constant_values must be a scalar");
        if (in_dtype(g, n, 2) != in_dtype(g, n, 0))
            return err_set(err, ERR_INPUT, "PadV2 constant_values is %s, input is %s",
                           dtype_name(in_dtype(g, n, 2)), dtype_name(in_dtype(g, n, 0)));
    }
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

int infer_mirror_pad(Graph *g, Node *n, Err *err) {
    const char *mode = node_attr_s(n, "mode", "");
    int offset;
    if (!strcmp(mode, "REFLECT")) offset = 1;
    else if (!strcmp(mode, "SYMMETRIC")) offset = 0;
    else return err_set(err, ERR_INPUT, "MirrorPad mode must be REFLECT or SYMMETRIC, got \"%s\"", mode);
    Shape s;
    if (read_paddings(g, n, offset, &s, err)) return -1;
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

int64_t flops_pad(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_mirror_pad(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
