/* ref_tensor_array.c - TensorArray and TensorList on the reference runtime (ref_tensor_array.h).
 *
 * TensorArray is TensorFlow's mutable array behind a resource handle: writes change it in place
 * (the flow output orders reads after writes). TensorList is a value: SetItem returns a new list
 * (here a copy of the element table; the element tensors themselves are shared). Semantics as
 * TensorFlow's kernels: an index outside [0, size) is an error (a TensorArray with
 * dynamic_size grows on write, a TensorList SetItem with resize_if_index_out_of_bounds grows),
 * writing a TensorArray element twice is an error, an element never written reads as zeros when
 * its shape is fully known (else an error), every element stacked or gathered must have the same
 * shape. A TensorArray with clear_after_read (TensorFlow's default) forgets an element once it
 * is read (Read, Gather, Concat): reading it again is an error. */
#include "ref_tensor_array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Arr {
    bool is_list;
    int dtype;
    Shape elem;     /* declared element shape (rank -1: unknown) */
    bool dynamic;   /* TensorArray dynamic_size / resizable list */
    int64_t n;
    Tensor *el;     /* n entries; no buffer: never written */
    bool *set;
    bool clear_after_read;
    bool *cleared;  /* read once with clear_after_read */
} Arr;

struct TaTable {
    Arr *a;
    int n, cap;
};

bool ta_is_op(int op) { return op > OP_UNKNOWN && op < OP_COUNT && ref_kernels[op] == ref_tensor_array; }

static bool is_list_op(int op) {
    return op == OP_TENSOR_LIST_RESERVE || op == OP_TENSOR_LIST_FROM_TENSOR || op == OP_TENSOR_LIST_GET_ITEM ||
           op == OP_TENSOR_LIST_SET_ITEM || op == OP_TENSOR_LIST_STACK || op == OP_TENSOR_LIST_LENGTH;
}

TaTable *ta_table_new(void) { return calloc(1, sizeof(TaTable)); }

static void arr_clear(Arr *a) {
    for (int64_t k = 0; k < a->n; k++) tensor_release(&a->el[k]);
    free(a->el);
    free(a->set);
    free(a->cleared);
    memset(a, 0, sizeof *a);
}

void ta_table_free(TaTable *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) arr_clear(&t->a[i]);
    free(t->a);
    free(t);
}

static int arr_resize(Arr *a, int64_t n, Err *err) {
    if (n < 0 || n > (int64_t)1 << 28) return err_set(err, ERR_INPUT, "array size %lld is out of range", (long long)n);
    Tensor *el = realloc(a->el, sizeof *el * (size_t)(n + 1));
    if (!el) return err_set(err, ERR_RUNTIME, "out of memory");
    a->el = el;
    bool *set = realloc(a->set, sizeof *set * (size_t)(n + 1));
    if (!set) return err_set(err, ERR_RUNTIME, "out of memory");
    a->set = set;
    bool *cl = realloc(a->cleared, sizeof *cl * (size_t)(n + 1));
    if (!cl) return err_set(err, ERR_RUNTIME, "out of memory");
    a->cleared = cl;
    for (int64_t k = a->n; k < n; k++) { a->el[k] = (Tensor){0}; a->set[k] = a->cleared[k] = false; }
    a->n = n;
    return 0;
}

/* a new array; its handle into out */
static int arr_new(TaTable *t, Tensor *out, Arr **res, Err *err) {
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        Arr *a = realloc(t->a, sizeof *a * (size_t)cap);
        if (!a) return err_set(err, ERR_RUNTIME, "out of memory");
        t->a = a;
        t->cap = cap;
    }
    Arr *a = &t->a[t->n];
    memset(a, 0, sizeof *a);
    a->elem = shape_unknown();
    Shape s = {.rank = 0};
    int32_t id = t->n++;
    *res = a;
    return tensor_from_data(out, DT_INT32, &s, &id, sizeof id, err);
}

static Arr *arr_get(TaTable *t, const Tensor *h, bool list, Err *err) {
    if (h->dtype != DT_INT32 || h->shape.rank != 0 || !tensor_has_data(h)) {
        err_set(err, ERR_INPUT, "the handle is not a %s handle", list ? "TensorList" : "TensorArray");
        return NULL;
    }
    int32_t id = *(const int32_t *)tensor_data(h);
    if (id < 0 || id >= t->n || t->a[id].is_list != list) {
        err_set(err, ERR_INPUT, "the handle names no %s", list ? "TensorList" : "TensorArray");
        return NULL;
    }
    return &t->a[id];
}

static int scalar_out(Tensor *out, int dtype, double v, Err *err) {
    Shape s = {.rank = 0};
    if (tensor_alloc(out, dtype, &s, err)) return -1;
    tensor_set(out, 0, v);
    return 0;
}

static int read_index(const Tensor *t, int64_t *v, Err *err) {
    if ((t->dtype != DT_INT32 && t->dtype != DT_INT64) || t->shape.rank != 0 || !tensor_has_data(t))
        return err_set(err, ERR_INPUT, "index must be an int32 scalar");
    *v = (int64_t)tensor_get(t, 0);
    return 0;
}

/* a shape given as a tensor (TensorList's element_shape: -1 dims unknown, scalar -1 unknown rank) */
static int shape_from_tensor(const Tensor *t, Shape *s, Err *err) {
    if (t->shape.rank == 0) { *s = shape_unknown(); return 0; }
    int64_t d[MAX_RANK];
    int k = tensor_to_i64(t, d, MAX_RANK, err);
    if (k < 0) return err_prefix(err, "element_shape");
    *s = shape_make(k, d);
    for (int i = 0; i < k; i++) if (d[i] < -1) return err_set(err, ERR_INPUT, "element_shape has dimension %lld", (long long)d[i]);
    return 0;
}

/* a and b may describe the same tensor; the merge into *m (unknown where both are) */
static bool shape_merge(const Shape *a, const Shape *b, Shape *m) {
    if (a->rank < 0) { *m = *b; return true; }
    if (b->rank < 0) { *m = *a; return true; }
    if (a->rank != b->rank) return false;
    *m = *a;
    for (int i = 0; i < a->rank; i++) {
        if (a->dim[i] >= 0 && b->dim[i] >= 0 && a->dim[i] != b->dim[i]) return false;
        if (a->dim[i] < 0) m->dim[i] = b->dim[i];
    }
    return true;
}

static int check_element(const Arr *a, const Tensor *v, Err *err) {
    char sa[96], sb[96];
    Shape m;
    if (v->dtype != a->dtype)
        return err_set(err, ERR_INPUT, "the array holds %s, got %s", dtype_name(a->dtype), dtype_name(v->dtype));
    if (!shape_merge(&a->elem, &v->shape, &m))
        return err_set(err, ERR_INPUT, "element shape %s is not the array's %s", shape_str(&v->shape, sa, sizeof sa), shape_str(&a->elem, sb, sizeof sb));
    return 0;
}

/* element k, or zeros of the element shape when it was never written (hint: a shape the op
   was given) */
static int element(Arr *a, int64_t k, const Shape *hint, Tensor *out, Err *err) {
    if (a->cleared[k])
        return err_set(err, ERR_INPUT, "could not read index %lld twice because it was cleared after a previous read (clear_after_read)", (long long)k);
    if (a->set[k]) {
        *out = tensor_share(&a->el[k]);
        if (a->clear_after_read && !a->is_list) { tensor_release(&a->el[k]); a->set[k] = false; a->cleared[k] = true; }
        return 0;
    }
    Shape s;
    char sb[96];
    if (!shape_merge(&a->elem, hint, &s) || !shape_is_known(&s)) {
        for (int64_t j = 0; j < a->n && !shape_is_known(&s); j++)
            if (a->set[j]) s = a->el[j].shape; /* the shape the others have */
    }
    if (!shape_is_known(&s))
        return err_set(err, ERR_INPUT, "element %lld was never written and the element shape %s is not fully defined", (long long)k,
                       shape_str(&s, sb, sizeof sb));
    return tensor_alloc(out, a->dtype, &s, err);
}

/* elements idx[0..m) stacked on a new axis 0 */
static int stack(Arr *a, const int64_t *idx, int64_t m, const Shape *hint, Tensor *out, Err *err) {
    Shape es = *hint;
    Tensor *items = calloc((size_t)m + 1, sizeof *items);
    if (!items) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = -1;
    char sa[96], sb[96];
    for (int64_t k = 0; k < m; k++) {
        if (element(a, idx[k], hint, &items[k], err)) goto done;
        if (k == 0) es = items[0].shape;
        else if (!shape_equal(&es, &items[k].shape)) {
            err_set(err, ERR_INPUT, "elements have different shapes: %s and %s", shape_str(&es, sa, sizeof sa), shape_str(&items[k].shape, sb, sizeof sb));
            goto done;
        }
    }
    if (m == 0 && !shape_merge(&a->elem, hint, &es)) es = a->elem;
    if (!shape_is_known(&es) || es.rank >= MAX_RANK) {
        err_set(err, ERR_INPUT, "cannot stack an empty array whose element shape %s is not fully defined", shape_str(&es, sa, sizeof sa));
        goto done;
    }
    Shape s = {.rank = es.rank + 1, .dim = {m}};
    for (int i = 0; i < es.rank; i++) s.dim[i + 1] = es.dim[i];
    if (tensor_alloc(out, a->dtype, &s, err)) goto done;
    size_t bytes = (size_t)shape_numel(&es) * dtype_size(a->dtype);
    char *d = tensor_mut(out);
    for (int64_t k = 0; k < m; k++)
        if (bytes) memcpy(d + (size_t)k * bytes, tensor_data(&items[k]), bytes);
    rc = 0;
done:
    for (int64_t k = 0; k < m; k++) tensor_release(&items[k]);
    free(items);
    return rc;
}

/* slices [from, from + len) of v along axis 0, as a tensor of its own */
static int slice0(const Tensor *v, int64_t from, int64_t len, bool keep_axis, Tensor *out, Err *err) {
    Shape s = v->shape;
    if (keep_axis) s.dim[0] = len;
    else { s.rank--; for (int i = 0; i < s.rank; i++) s.dim[i] = v->shape.dim[i + 1]; }
    if (tensor_alloc(out, v->dtype, &s, err)) return -1;
    int64_t row = shape_numel(&v->shape) / (v->shape.dim[0] ? v->shape.dim[0] : 1);
    size_t bytes = (size_t)(row * len) * dtype_size(v->dtype);
    if (bytes) memcpy(tensor_mut(out), (const char *)tensor_data(v) + (size_t)(from * row) * dtype_size(v->dtype), bytes);
    return 0;
}

static int set_element(Arr *a, int64_t k, const Tensor *v, bool once, Err *err) {
    if (check_element(a, v, err)) return -1;
    if (once && (a->set[k] || a->cleared[k]))
        return err_set(err, ERR_INPUT, "could not write to TensorArray index %lld because it has already been written to", (long long)k);
    tensor_release(&a->el[k]);
    a->el[k] = tensor_share(v);
    a->set[k] = true;
    return 0;
}

static int index_ok(const Arr *a, int64_t k, const char *what, Err *err) {
    if (k < 0 || k >= a->n)
        return err_set(err, ERR_INPUT, "tried to %s index %lld but the array size is %lld", what, (long long)k, (long long)a->n);
    return 0;
}

static int ta_run(TaTable *t, const Node *n, const Tensor *in, Tensor *out, Err *err) {
    Arr *a = NULL;
    int64_t k = 0;
    bool list = is_list_op(n->op);
    if (n->op != OP_TENSOR_ARRAY_V3 && n->op != OP_TENSOR_LIST_RESERVE && n->op != OP_TENSOR_LIST_FROM_TENSOR &&
        !(a = arr_get(t, &in[0], list, err)))
        return -1;
    switch (n->op) {
    case OP_TENSOR_ARRAY_V3: {
        if (read_index(&in[0], &k, err)) return err_prefix(err, "size");
        if (k < 0) return err_set(err, ERR_INPUT, "size should be >= 0, got %lld", (long long)k);
        if (arr_new(t, &out[0], &a, err) || arr_resize(a, k, err)) return -1;
        a->dtype = node_attr_type(n, "dtype", DT_FLOAT);
        const Attr *es = node_attr_find(n, "element_shape");
        if (es && es->kind == ATTR_SHAPE) a->elem = es->shape;
        a->dynamic = node_attr_b(n, "dynamic_size", false);
        a->clear_after_read = node_attr_b(n, "clear_after_read", true);
        return scalar_out(&out[1], DT_FLOAT, 0, err);
    }
    case OP_TENSOR_ARRAY_WRITE_V3:
        if (read_index(&in[1], &k, err)) return -1;
        if (k >= a->n && a->dynamic && k < ((int64_t)1 << 28) && arr_resize(a, k + 1, err)) return -1;
        if (index_ok(a, k, "write to", err) || set_element(a, k, &in[2], true, err)) return -1;
        return scalar_out(&out[0], DT_FLOAT, 0, err);
    case OP_TENSOR_ARRAY_READ_V3:
        if (read_index(&in[1], &k, err) || index_ok(a, k, "read from", err)) return -1;
        return element(a, k, &a->elem, &out[0], err);
    case OP_TENSOR_ARRAY_GATHER_V3:
    case OP_TENSOR_ARRAY_SCATTER_V3: {
        int64_t m = in[1].shape.rank == 1 ? in[1].shape.dim[0] : -1;
        if (m < 0 || (in[1].dtype != DT_INT32 && in[1].dtype != DT_INT64)) return err_set(err, ERR_INPUT, "indices must be an int32 vector");
        int64_t *idx = malloc(sizeof *idx * (size_t)(m + 1));
        if (!idx) return err_set(err, ERR_RUNTIME, "out of memory");
        int rc = 0;
        for (int64_t j = 0; j < m && !rc; j++) idx[j] = (int64_t)tensor_get(&in[1], j);
        if (n->op == OP_TENSOR_ARRAY_GATHER_V3) {
            for (int64_t j = 0; j < m && !rc; j++) rc = index_ok(a, idx[j], "gather", err);
            Shape hint = a->elem, h2;
            const Attr *es = node_attr_find(n, "element_shape");
            if (es && es->kind == ATTR_SHAPE && shape_merge(&a->elem, &es->shape, &h2)) hint = h2;
            if (!rc) rc = stack(a, idx, m, &hint, &out[0], err);
        } else {
            if (in[2].shape.rank < 1 || in[2].shape.dim[0] != m)
                rc = err_set(err, ERR_INPUT, "scatter of %lld indices needs a value with %lld rows", (long long)m, (long long)m);
            for (int64_t j = 0; j < m && !rc; j++) {
                if (idx[j] >= a->n && a->dynamic && idx[j] < ((int64_t)1 << 28)) rc = arr_resize(a, idx[j] + 1, err);
                Tensor row = {0};
                if (!rc) rc = index_ok(a, idx[j], "scatter to", err);
                if (!rc) rc = slice0(&in[2], j, 1, false, &row, err);
                if (!rc) rc = set_element(a, idx[j], &row, true, err);
                tensor_release(&row);
            }
            if (!rc) rc = scalar_out(&out[0], DT_FLOAT, 0, err);
        }
        free(idx);
        return rc;
    }
    case OP_TENSOR_ARRAY_SIZE_V3:
    case OP_TENSOR_LIST_LENGTH: return scalar_out(&out[0], DT_INT32, (double)a->n, err);
    case OP_TENSOR_ARRAY_CONCAT_V3: {
        Shape lens = {.rank = 1, .dim = {a->n}}, es = {.rank = -1};
        int64_t rows = 0;
        for (k = 0; k < a->n; k++) {
            if (!a->set[k]) return err_set(err, ERR_INPUT, "could not concat: element %lld was never written%s", (long long)k, a->cleared[k] ? " (or was cleared by a read)" : "");
            const Shape *s = &a->el[k].shape;
            if (s->rank < 1) return err_set(err, ERR_INPUT, "concat needs elements of rank >= 1");
            Shape tail = {.rank = s->rank - 1};
            for (int i = 1; i < s->rank; i++) tail.dim[i - 1] = s->dim[i];
            if (es.rank >= 0 && !shape_equal(&es, &tail)) return err_set(err, ERR_INPUT, "concat: elements differ past their first dimension");
            es = tail;
            rows += s->dim[0];
        }
        if (es.rank < 0) {
            const Attr *ea = node_attr_find(n, "element_shape_except0");
            if (ea && ea->kind == ATTR_SHAPE) es = ea->shape;
            if (!shape_is_known(&es)) return err_set(err, ERR_INPUT, "concat of an empty array whose element shape is not fully defined");
        }
        if (es.rank + 1 > MAX_RANK) return err_set(err, ERR_INPUT, "concat: rank too large");
        Shape s = {.rank = es.rank + 1, .dim = {rows}};
        for (int i = 0; i < es.rank; i++) s.dim[i + 1] = es.dim[i];
        if (tensor_alloc(&out[0], a->dtype, &s, err) || tensor_alloc(&out[1], DT_INT64, &lens, err)) return -1;
        char *d = tensor_mut(&out[0]);
        int64_t *l = tensor_mut(&out[1]);
        for (k = 0; k < a->n; k++) {
            size_t b = tensor_nbytes(&a->el[k]);
            if (b) memcpy(d, tensor_data(&a->el[k]), b);
            d += b;
            l[k] = a->el[k].shape.dim[0];
        }
        if (a->clear_after_read)
            for (k = 0; k < a->n; k++) { tensor_release(&a->el[k]); a->set[k] = false; a->cleared[k] = true; }
        return 0;
    }
    case OP_TENSOR_ARRAY_SPLIT_V3: {
        int64_t lens[4096];
        int m = tensor_to_i64(&in[2], lens, 4096, err);
        if (m < 0) return err_prefix(err, "lengths");
        if (in[1].shape.rank < 1) return err_set(err, ERR_INPUT, "split needs a value of rank >= 1");
        int64_t total = 0;
        for (int j = 0; j < m; j++) {
            if (lens[j] < 0) return err_set(err, ERR_INPUT, "lengths must be >= 0");
            total += lens[j];
        }
        if (total != in[1].shape.dim[0])
            return err_set(err, ERR_INPUT, "lengths sum to %lld but the value has %lld rows", (long long)total, (long long)in[1].shape.dim[0]);
        if (m > a->n && (!a->dynamic || arr_resize(a, m, err)))
            return a->dynamic ? -1 : err_set(err, ERR_INPUT, "split into %d pieces, but the array size is %lld", m, (long long)a->n);
        int64_t from = 0;
        for (int j = 0; j < m; j++) {
            Tensor piece = {0};
            int rc = slice0(&in[1], from, lens[j], true, &piece, err);
            if (!rc) rc = set_element(a, j, &piece, true, err);
            tensor_release(&piece);
            if (rc) return -1;
            from += lens[j];
        }
        return scalar_out(&out[0], DT_FLOAT, 0, err);
    }
    case OP_TENSOR_ARRAY_CLOSE_V3: return scalar_out(&out[0], DT_FLOAT, 0, err);
    case OP_TENSOR_LIST_RESERVE: {
        Shape es;
        if (shape_from_tensor(&in[0], &es, err) || read_index(&in[1], &k, err)) return -1;
        if (k < 0) return err_set(err, ERR_INPUT, "num_elements must be >= 0, got %lld", (long long)k);
        if (arr_new(t, &out[0], &a, err)) return -1;
        a->is_list = true;
        a->dtype = node_attr_type(n, "element_dtype", DT_FLOAT);
        a->elem = es;
        return arr_resize(a, k, err);
    }
    case OP_TENSOR_LIST_FROM_TENSOR: {
        Shape es, rest = {.rank = in[0].shape.rank - 1};
        if (shape_from_tensor(&in[1], &es, err)) return -1;
        if (in[0].shape.rank < 1) return err_set(err, ERR_INPUT, "the tensor must have rank >= 1");
        for (int i = 0; i < rest.rank; i++) rest.dim[i] = in[0].shape.dim[i + 1];
        Shape m;
        if (!shape_merge(&es, &rest, &m)) return err_set(err, ERR_INPUT, "the tensor's rows do not have the element shape");
        if (arr_new(t, &out[0], &a, err)) return -1;
        a->is_list = true;
        a->dtype = in[0].dtype;
        a->elem = es;
        if (arr_resize(a, in[0].shape.dim[0], err)) return -1;
        for (k = 0; k < a->n; k++) {
            if (slice0(&in[0], k, 1, false, &a->el[k], err)) return -1;
            a->set[k] = true;
        }
        return 0;
    }
    case OP_TENSOR_LIST_GET_ITEM: {
        Shape es, m;
        if (read_index(&in[1], &k, err) || shape_from_tensor(&in[2], &es, err)) return -1;
        if (k < 0 || k >= a->n) return err_set(err, ERR_INPUT, "trying to access element %lld in a list with %lld elements", (long long)k, (long long)a->n);
        if (!shape_merge(&a->elem, &es, &m)) m = a->elem;
        return element(a, k, &m, &out[0], err);
    }
    case OP_TENSOR_LIST_SET_ITEM: {
        if (read_index(&in[1], &k, err)) return -1;
        bool grow = node_attr_b(n, "resize_if_index_out_of_bounds", false);
        if ((k < 0 || k >= a->n) && !(grow && k >= 0))
            return err_set(err, ERR_INPUT, "trying to modify element %lld in a list with %lld elements", (long long)k, (long long)a->n);
        if (check_element(a, &in[2], err)) return -1;
        /* a list is a value: the result is a new list (elements shared) */
        int src = (int)(a - t->a);
        Arr *b;
        if (arr_new(t, &out[0], &b, err)) return -1;
        a = &t->a[src]; /* the table may have moved */
        b->is_list = true;
        b->dtype = a->dtype;
        b->elem = a->elem;
        b->dynamic = a->dynamic;
        if (arr_resize(b, k >= a->n ? k + 1 : a->n, err)) return -1;
        for (int64_t j = 0; j < a->n; j++) { b->el[j] = tensor_share(&a->el[j]); b->set[j] = a->set[j]; }
        tensor_release(&b->el[k]);
        b->el[k] = tensor_share(&in[2]);
        b->set[k] = true;
        return 0;
    }
    case OP_TENSOR_LIST_STACK: {
        Shape es, m;
        if (shape_from_tensor(&in[1], &es, err)) return -1;
        if (!shape_merge(&a->elem, &es, &m)) return err_set(err, ERR_INPUT, "element_shape does not match the list's");
        int64_t want = node_attr_i(n, "num_elements", -1);
        if (want >= 0 && want != a->n) return err_set(err, ERR_INPUT, "the list has %lld elements, num_elements is %lld", (long long)a->n, (long long)want);
        int64_t *idx = malloc(sizeof *idx * (size_t)(a->n + 1));
        if (!idx) return err_set(err, ERR_RUNTIME, "out of memory");
        for (int64_t j = 0; j < a->n; j++) idx[j] = j;
        int rc = stack(a, idx, a->n, &m, &out[0], err);
        free(idx);
        return rc;
    }
    default: return err_set(err, ERR_RUNTIME, "internal: %s is not a TensorArray/TensorList op", n->op_name);
    }
}

int ta_eval(TaTable *t, const Node *n, const Tensor *in, Tensor *out, Err *err) {
    for (int k = 0; k < n->n_outputs; k++) out[k] = (Tensor){0};
    if (ta_run(t, n, in, out, err)) {
        for (int k = 0; k < n->n_outputs; k++) tensor_release(&out[k]);
        return err_prefix(err, "node '%s' (%s)", n->name, n->op_name);
    }
    return 0;
}

int ref_tensor_array(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)in; (void)out;
    return err_set(err, ERR_RUNTIME, "node '%s' (%s): TensorArray/TensorList ops run only through the frame interpreter", n->name, n->op_name);
}
