/* ref_topk.c - reference TopKV2: the k largest entries of each last-dimension row, largest
 * first; equal values keep their index order (lower index first), as TensorFlow guarantees.
 * NaN (whose place TensorFlow leaves unspecified: it depends on positions) ranks below every
 * number here. */
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "ref_elem.h"

typedef struct Item {
    double v;
    int64_t iv;
    int64_t idx;
    bool fl;
} Item;

static int item_cmp(const void *pa, const void *pb) {
    const Item *a = pa, *b = pb;
    if (a->fl) {
        bool na = a->v != a->v, nb = b->v != b->v;
        if (na != nb) return na ? 1 : -1;
        if (!na && a->v != b->v) return a->v > b->v ? -1 : 1;
    } else if (a->iv != b->iv) {
        return a->iv > b->iv ? -1 : 1;
    }
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int ref_topk(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)n;
    const Tensor *x = &in[0];
    int dt = x->dtype;
    int64_t len = x->shape.dim[x->shape.rank - 1], rows = len ? tensor_numel(x) / len : 0;
    if (tensor_numel(&in[1]) != 1) return err_set(err, ERR_RUNTIME, "TopKV2 k must be a scalar");
    int64_t k = (int64_t)tensor_get(&in[1], 0);
    if (k < 0 || k > len) return err_set(err, ERR_RUNTIME, "TopKV2 k = %lld is not in [0, %lld]", (long long)k, (long long)len);
    if (out[0].shape.dim[out[0].shape.rank - 1] != k || tensor_numel(&out[0]) != rows * k)
        return err_set(err, ERR_RUNTIME, "TopKV2 output does not hold k = %lld columns", (long long)k);
    if (rows * k == 0) return 0;
    Item *items = malloc(sizeof *items * (size_t)len);
    if (!items) return err_set(err, ERR_RUNTIME, "out of memory");
    const void *xd = tensor_data(x);
    void *vals = tensor_mut(&out[0]), *idx = tensor_mut(&out[1]);
    bool fl = dtype_is_float(dt);
    size_t es = dtype_size(dt);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < len; j++) {
            int64_t e = r * len + j;
            items[j] = (Item){fl ? elem_get_f(xd, dt, e) : 0, fl ? 0 : elem_get_i(xd, dt, e), j, fl};
        }
        qsort(items, (size_t)len, sizeof *items, item_cmp); /* the comparator is total: stable */
        for (int64_t j = 0; j < k; j++) {
            memcpy((char *)vals + (r * k + j) * (int64_t)es, (const char *)xd + (r * len + items[j].idx) * (int64_t)es, es);
            elem_set_i(idx, out[1].dtype, r * k + j, (uint64_t)items[j].idx);
        }
    }
    free(items);
    return 0;
}
