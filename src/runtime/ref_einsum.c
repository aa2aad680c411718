/* ref_einsum.c - reference kernel for Einsum (the equation's meaning: graph/einsum.h).
 *
 * Every output element is the sum, over the labels missing from the output, of the product of
 * the inputs at the positions the labels pick. Each input and the output get one stride per
 * label (a label repeated in a subscript adds its axes' strides: the diagonal; a broadcast
 * ellipsis axis of size 1 gets stride 0), then two odometers walk the output's labels and,
 * inside, the summed labels. Floats accumulate in double and are rounded once (float16 and
 * bfloat16 included); int32/int64 accumulate in uint64 and wrap as TensorFlow's do. An output
 * label repeated puts values on the diagonal; the rest stays zero (outputs arrive zeroed). */
#include <string.h>

#include "../graph/einsum.h"
#include "ref.h"
#include "ref_elem.h"

typedef struct Walk {
    int n;                            /* labels walked */
    int lab[EINSUM_MAX_LABELS];
    int64_t size[EINSUM_MAX_LABELS];
    int64_t stride[3][EINSUM_MAX_LABELS]; /* per walked label: inputs 0, 1 and the output */
} Walk;

/* element strides of t per label (summed over the axes that carry it) */
static void label_strides(const EinsumSpec *s, const Shape *sh, const int *lab, int rank, int64_t *st) {
    memset(st, 0, EINSUM_MAX_LABELS * sizeof *st);
    int64_t step = 1;
    for (int a = rank - 1; a >= 0; a--) {
        if (!(sh->dim[a] == 1 && s->size[lab[a]] != 1)) st[lab[a]] += step; /* size-1 broadcast: 0 */
        step *= sh->dim[a];
    }
}

static void walk_add(Walk *w, int l, const EinsumSpec *s, int64_t st[3][EINSUM_MAX_LABELS]) {
    w->lab[w->n] = l;
    w->size[w->n] = s->size[l];
    for (int k = 0; k < 3; k++) w->stride[k][w->n] = st[k][l];
    w->n++;
}

/* advances the odometer; returns false after the last combination */
static bool walk_next(const Walk *w, int64_t *idx, int64_t off[3]) {
    for (int d = w->n - 1; d >= 0; d--) {
        for (int k = 0; k < 3; k++) off[k] += w->stride[k][d];
        if (++idx[d] < w->size[d]) return true;
        for (int k = 0; k < 3; k++) off[k] -= w->stride[k][d] * w->size[d];
        idx[d] = 0;
    }
    return false;
}

int ref_einsum(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int dt = in[0].dtype, n_in = n->n_inputs;
    const Shape *shapes[2] = {&in[0].shape, n_in == 2 ? &in[1].shape : NULL};
    EinsumSpec s;
    if (einsum_parse(node_attr_s(n, "equation", ""), n_in, shapes, &s, err)) return -1;
    Shape want = einsum_out_shape(&s);
    if (!shape_equal(&want, &out[0].shape) || out[0].dtype != dt || (n_in == 2 && in[1].dtype != dt))
        return err_set(err, ERR_RUNTIME, "Einsum: output or input dtypes/shapes differ from inference");
    for (int l = 0; l < s.n_labels; l++)
        if (s.size[l] == 0) return 0; /* empty output, or an empty sum: zeros */
    int64_t st[3][EINSUM_MAX_LABELS];
    for (int k = 0; k < 2; k++) {
        if (k < n_in) label_strides(&s, shapes[k], s.in_lab[k], s.in_rank[k], st[k]);
        else memset(st[k], 0, sizeof st[k]);
    }
    label_strides(&s, &want, s.out_lab, s.out_rank, st[2]);
    Walk outer = {0}, inner = {0};
    for (int l = 0; l < s.n_labels; l++) walk_add(s.in_out[l] ? &outer : &inner, l, &s, st);

    const void *x0 = tensor_data(&in[0]), *x1 = n_in == 2 ? tensor_data(&in[1]) : NULL;
    void *y = tensor_mut(&out[0]);
    if (!x0 || (n_in == 2 && !x1) || !y) return err_set(err, ERR_RUNTIME, "missing input or output data");
    bool is_f = dtype_is_float(dt), f32 = dt == DT_FLOAT;
    int64_t oidx[EINSUM_MAX_LABELS] = {0}, ooff[3] = {0, 0, 0};
    do {
        int64_t iidx[EINSUM_MAX_LABELS] = {0}, ioff[3] = {ooff[0], ooff[1], 0};
        double acc = 0;
        uint64_t iacc = 0;
        do {
            if (f32) {
                double v = ((const float *)x0)[ioff[0]];
                if (n_in == 2) v *= ((const float *)x1)[ioff[1]];
                acc += v;
            } else if (is_f) {
                double v = elem_get_f(x0, dt, ioff[0]);
                if (n_in == 2) v *= elem_get_f(x1, dt, ioff[1]);
                acc += v;
            } else {
                uint64_t v = (uint64_t)elem_get_i(x0, dt, ioff[0]);
                if (n_in == 2) v *= (uint64_t)elem_get_i(x1, dt, ioff[1]);
                iacc += v;
            }
        } while (walk_next(&inner, iidx, ioff));
        if (f32) ((float *)y)[ooff[2]] = (float)acc;
        else if (is_f) elem_set_f(y, dt, ooff[2], acc);
        else elem_set_i(y, dt, ooff[2], iacc);
    } while (walk_next(&outer, oidx, ooff));
    return 0;
}
