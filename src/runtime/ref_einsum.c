/* ref_einsum.c - reference kernel for Einsum (the equation's meaning: graph/einsum.h).
 *
 * Every output element is the sum, over the labels missing from the output, of the product of
 * the inputs at the positions the labels pick. Each input and the output get one stride per
 * label (a label repeated in a subscript adds its axes' strides: the diagonal; a broadcast
 * ellipsis axis of size 1 gets stride 0), then two odometers walk the output's labels and,
 * inside, the summed labels. Labels in one of two inputs only and not in the output are summed
 * out of that input first (as TensorFlow does), so their cost adds instead of multiplying. Floats accumulate in double and are rounded once (float16 and
 * bfloat16 included); int32/int64 accumulate in uint64 and wrap as TensorFlow's do. An output
 * label repeated puts values on the diagonal; the rest stays zero (outputs arrive zeroed). */
#include <stdlib.h>
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

static void walk_push(Walk *w, int l, int64_t size, int64_t s0, int64_t s1, int64_t s2) {
    w->lab[w->n] = l;
    w->size[w->n] = size;
    w->stride[0][w->n] = s0;
    w->stride[1][w->n] = s1;
    w->stride[2][w->n] = s2;
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

/* an operand as the contraction reads it: the tensor, or its copy with its private labels
   summed away (double for floats, uint64 for integers) */
typedef struct Src {
    const void *p;
    int dt;
    double *rd;
    uint64_t *ri;
} Src;

static inline double src_f(const Src *s, int64_t i) {
    return s->rd ? s->rd[i] : s->dt == DT_FLOAT ? ((const float *)s->p)[i] : elem_get_f(s->p, s->dt, i);
}
static inline uint64_t src_i(const Src *s, int64_t i) { return s->ri ? s->ri[i] : (uint64_t)elem_get_i(s->p, s->dt, i); }

static bool is_private(const EinsumSpec *s, int n_in, int k, int l) {
    return n_in == 2 && s->count[k][l] && !s->count[1 - k][l] && !s->in_out[l];
}

/* Sums input k over its private labels (in k alone, not in the output) into a copy over its
   other labels, as TensorFlow does before contracting: "a,b->" then costs a + b, not a * b.
   st[l] becomes the copy's stride (0 for a broadcast axis of size 1). */
static int pre_reduce(const EinsumSpec *s, int n_in, int k, const Shape *sh, Src *src, int64_t *st, Err *err) {
    bool any = false;
    for (int l = 0; l < s->n_labels; l++) any |= is_private(s, n_in, k, l);
    if (!any) return 0;
    int64_t isz[EINSUM_MAX_LABELS], rs[EINSUM_MAX_LABELS], numel = 1;
    for (int a = s->in_rank[k] - 1; a >= 0; a--) isz[s->in_lab[k][a]] = sh->dim[a];
    Walk keep = {0}, sum = {0};
    for (int l = s->n_labels - 1; l >= 0; l--) {
        if (!s->count[k][l] || is_private(s, n_in, k, l)) continue;
        rs[l] = numel;
        numel *= isz[l];
    }
    for (int l = 0; l < s->n_labels; l++) {
        if (!s->count[k][l]) continue;
        if (is_private(s, n_in, k, l)) walk_push(&sum, l, s->size[l], st[l], 0, 0);
        else walk_push(&keep, l, isz[l], st[l], rs[l], 0);
    }
    bool is_f = dtype_is_float(src->dt);
    src->rd = is_f ? calloc((size_t)numel, sizeof *src->rd) : NULL;
    src->ri = is_f ? NULL : calloc((size_t)numel, sizeof *src->ri);
    if (!src->rd && !src->ri) return err_set(err, ERR_RUNTIME, "Einsum: out of memory");
    int64_t kidx[EINSUM_MAX_LABELS] = {0}, koff[3] = {0, 0, 0};
    do {
        int64_t sidx[EINSUM_MAX_LABELS] = {0}, soff[3] = {koff[0], 0, 0};
        double acc = 0;
        uint64_t iacc = 0;
        do {
            if (is_f) acc += src_f(&(Src){src->p, src->dt, NULL, NULL}, soff[0]);
            else iacc += (uint64_t)elem_get_i(src->p, src->dt, soff[0]);
        } while (walk_next(&sum, sidx, soff));
        if (is_f) src->rd[koff[1]] = acc;
        else src->ri[koff[1]] = iacc;
    } while (walk_next(&keep, kidx, koff));
    for (int l = 0; l < s->n_labels; l++)
        st[l] = !s->count[k][l] || is_private(s, n_in, k, l) || (isz[l] == 1 && s->size[l] != 1) ? 0 : rs[l];
    return 0;
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
    const void *x0 = tensor_data(&in[0]), *x1 = n_in == 2 ? tensor_data(&in[1]) : NULL;
    void *y = tensor_mut(&out[0]);
    if (!x0 || (n_in == 2 && !x1) || !y) return err_set(err, ERR_RUNTIME, "missing input or output data");
    Src src[2] = {{x0, dt, NULL, NULL}, {x1, dt, NULL, NULL}};
    int rc = -1;
    for (int k = 0; k < n_in; k++)
        if (pre_reduce(&s, n_in, k, shapes[k], &src[k], st[k], err)) goto done;
    Walk outer = {0}, inner = {0};
    for (int l = 0; l < s.n_labels; l++) {
        if (is_private(&s, n_in, 0, l) || is_private(&s, n_in, 1, l)) continue; /* summed already */
        walk_push(s.in_out[l] ? &outer : &inner, l, s.size[l], st[0][l], st[1][l], st[2][l]);
    }
    bool is_f = dtype_is_float(dt);
    int64_t oidx[EINSUM_MAX_LABELS] = {0}, ooff[3] = {0, 0, 0};
    do {
        int64_t iidx[EINSUM_MAX_LABELS] = {0}, ioff[3] = {ooff[0], ooff[1], 0};
        double acc = 0;
        uint64_t iacc = 0;
        do {
            if (is_f) {
                double v = src_f(&src[0], ioff[0]);
                if (n_in == 2) v *= src_f(&src[1], ioff[1]);
                acc += v;
            } else {
                uint64_t v = src_i(&src[0], ioff[0]);
                if (n_in == 2) v *= src_i(&src[1], ioff[1]);
                iacc += v;
            }
        } while (walk_next(&inner, iidx, ioff));
        if (dt == DT_FLOAT) ((float *)y)[ooff[2]] = (float)acc;
        else if (is_f) elem_set_f(y, dt, ooff[2], acc);
        else elem_set_i(y, dt, ooff[2], iacc);
    } while (walk_next(&outer, oidx, ooff));
    rc = 0;
done:
    for (int k = 0; k < 2; k++) {
        free(src[k].rd);
        free(src[k].ri);
    }
    return rc;
}
