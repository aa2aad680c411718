/* tensor.c - Shape helpers and reference-counted tensor buffers. */
#include "tensor.h"

#include "mem_budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The only process-wide state outside cli/: byte counters for memory accounting. They are
 * statistics, never control flow, and atomic so threads can allocate. */
static atomic_size_t live_bytes, peak_bytes;

size_t tensor_live_bytes(void) { return atomic_load(&live_bytes); }
size_t tensor_peak_bytes(void) { return atomic_load(&peak_bytes); }
void tensor_reset_peak(void) { atomic_store(&peak_bytes, atomic_load(&live_bytes)); }

static void account(ptrdiff_t delta) {
    size_t now = atomic_fetch_add(&live_bytes, (size_t)delta) + (size_t)delta;
    size_t peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {}
}

Shape shape_make(int rank, const int64_t *dims) {
    Shape s = {.rank = rank};
    for (int i = 0; i < rank && i < MAX_RANK; i++) s.dim[i] = dims[i];
    return s;
}

Shape shape_scalar(void) { return (Shape){.rank = 0}; }
Shape shape_unknown(void) { return (Shape){.rank = -1}; }

bool shape_is_known(const Shape *s) {
    if (s->rank < 0) return false;
    for (int i = 0; i < s->rank; i++)
        if (s->dim[i] < 0) return false;
    return true;
}

bool shape_equal(const Shape *a, const Shape *b) {
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i]) return false;
    return true;
}

int64_t shape_numel(const Shape *s) {
    if (!shape_is_known(s)) return -1;
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->dim[i] != 0 && n > INT64_MAX / s->dim[i]) return -2;
        n *= s->dim[i];
    }
    return n;
}

char *shape_str(const Shape *s, char *buf, size_t cap) {
    if (s->rank < 0) { snprintf(buf, cap, "<unknown>"); return buf; }
    size_t k = 0;
    k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "[");
    for (int i = 0; i < s->rank; i++) {
        if (s->dim[i] < 0) k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "%s?", i ? "," : "");
        else k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "%s%lld", i ? "," : "", (long long)s->dim[i]);
    }
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}

static TensorBuf *buf_new(size_t nbytes) {
    TensorBuf *b = malloc(sizeof *b);
    if (!b) return NULL;
    size_t rounded = (nbytes + 63) & ~(size_t)63;
    b->data = aligned_alloc(64, rounded ? rounded : 64);
    if (!b->data) { free(b); return NULL; }
    memset(b->data, 0, rounded ? rounded : 64);
    b->nbytes = nbytes;
    b->owned = true;
    atomic_init(&b->refs, 1);
    account((ptrdiff_t)nbytes);
    return b;
}

int tensor_wrap(Tensor *t, int dtype, const Shape *shape, void *data, Err *err) {
    memset(t, 0, sizeof *t);
    int64_t n = shape_numel(shape);
    if (n < 0 || !dtype_size(dtype)) return err_set(err, ERR_INPUT, "cannot wrap a tensor of unknown shape or opaque dtype");
    TensorBuf *b = malloc(sizeof *b);
    if (!b) return err_set(err, ERR_RUNTIME, "out of memory");
    b->data = data;
    b->nbytes = (size_t)n * dtype_size(dtype);
    b->owned = false;
    atomic_init(&b->refs, 1);
    t->dtype = dtype;
    t->shape = *shape;
    t->buf = b;
    return 0;
}

int tensor_alloc(Tensor *t, int dtype, const Shape *shape, Err *err) {
    memset(t, 0, sizeof *t);
    if (!dtype_is_supported(dtype))
        return err_set(err, ERR_INPUT, "cannot allocate a tensor of dtype %s (%d)", dtype_name(dtype), dtype);
    int64_t n = shape_numel(shape);
    char sb[96];
    if (n == -1) return err_set(err, ERR_INPUT, "cannot allocate a tensor of unknown shape %s", shape_str(shape, sb, sizeof sb));
    if (n < 0 || (uint64_t)n > TENSOR_MAX_BYTES / dtype_size(dtype))
        return err_set(err, ERR_INPUT, "tensor of shape %s is too large (limit %zu bytes)", shape_str(shape, sb, sizeof sb), TENSOR_MAX_BYTES);
    if (!mem_budget_allows((size_t)n * dtype_size(dtype))) {
        char what[160];
        snprintf(what, sizeof what, "a tensor of shape %s and dtype %s", shape_str(shape, sb, sizeof sb), dtype_name(dtype));
        return mem_budget_check((size_t)n * dtype_size(dtype), what, err);
    }
    TensorBuf *b = buf_new((size_t)n * dtype_size(dtype));
    if (!b) return err_set(err, ERR_RUNTIME, "out of memory allocating %lld elements", (long long)n);
    t->dtype = dtype;
    t->shape = *shape;
    t->buf = b;
    return 0;
}

int tensor_from_data(Tensor *t, int dtype, const Shape *shape, const void *data, size_t nbytes, Err *err) {
    if (tensor_alloc(t, dtype, shape, err)) return -1;
    if (nbytes != t->buf->nbytes) {
        size_t want = t->buf->nbytes;
        tensor_release(t);
        return err_set(err, ERR_INPUT, "tensor data has %zu bytes, shape needs %zu", nbytes, want);
    }
    if (nbytes) memcpy(t->buf->data, data, nbytes);
    return 0;
}

Tensor tensor_share(const Tensor *t) {
    if (t->buf) atomic_fetch_add(&t->buf->refs, 1);
    return *t;
}

void tensor_release(Tensor *t) {
    if (t->buf && atomic_fetch_sub(&t->buf->refs, 1) == 1) {
        if (t->buf->owned) {
            account(-(ptrdiff_t)t->buf->nbytes);
            free(t->buf->data);
        }
        free(t->buf);
    }
    memset(t, 0, sizeof *t);
}

int tensor_copy(Tensor *dst, const Tensor *src, Err *err) {
    if (!src->buf) { *dst = *src; return 0; }
    return tensor_from_data(dst, src->dtype, &src->shape, src->buf->data, src->buf->nbytes, err);
}

void *tensor_mut(Tensor *t) {
    if (!t->buf) return NULL;
    /* copy-on-write protects owned buffers shared between graph clones; a wrapped buffer (a
       plan's arena slot) is shared on purpose by the views of that slot and written in place */
    if (t->buf->owned && atomic_load(&t->buf->refs) > 1) {
        Tensor c;
        if (tensor_copy(&c, t, NULL)) return NULL;
        tensor_release(t);
        *t = c;
    }
    return t->buf->data;
}

int64_t tensor_numel(const Tensor *t) { return shape_numel(&t->shape); }
size_t tensor_nbytes(const Tensor *t) { return t->buf ? t->buf->nbytes : 0; }

double tensor_get(const Tensor *t, int64_t i) {
    const void *d = tensor_data(t);
    switch (t->dtype) {
    case DT_FLOAT: return ((const float *)d)[i];
    case DT_DOUBLE: return ((const double *)d)[i];
    case DT_HALF: return half_to_float(((const uint16_t *)d)[i]);
    case DT_BFLOAT16: return bfloat16_to_float(((const uint16_t *)d)[i]);
    case DT_INT8: return ((const int8_t *)d)[i];
    case DT_UINT8: return ((const uint8_t *)d)[i];
    case DT_INT32: return ((const int32_t *)d)[i];
    case DT_INT64: return (double)((const int64_t *)d)[i];
    case DT_BOOL: return ((const uint8_t *)d)[i] ? 1.0 : 0.0;
    default: return 0.0;
    }
}

void tensor_set(Tensor *t, int64_t i, double v) {
    void *d = t->buf->data;
    switch (t->dtype) {
    case DT_FLOAT: ((float *)d)[i] = (float)v; break;
    case DT_DOUBLE: ((double *)d)[i] = v; break;
    case DT_HALF: ((uint16_t *)d)[i] = float_to_half((float)v); break;
    case DT_BFLOAT16: ((uint16_t *)d)[i] = float_to_bfloat16((float)v); break;
    case DT_INT8: ((int8_t *)d)[i] = (int8_t)v; break;
    case DT_UINT8: ((uint8_t *)d)[i] = (uint8_t)v; break;
    case DT_INT32: ((int32_t *)d)[i] = (int32_t)v; break;
    case DT_INT64: ((int64_t *)d)[i] = (int64_t)v; break;
    case DT_BOOL: ((uint8_t *)d)[i] = v != 0.0; break;
    default: break;
    }
}

int tensor_to_i64(const Tensor *t, int64_t *out, int cap, Err *err) {
    if (!t->buf) return err_set(err, ERR_INPUT, "value is not known");
    if (t->dtype != DT_INT32 && t->dtype != DT_INT64)
        return err_set(err, ERR_INPUT, "expected an int32 or int64 tensor, got %s", dtype_name(t->dtype));
    if (t->shape.rank > 1) return err_set(err, ERR_INPUT, "expected a vector, got rank %d", t->shape.rank);
    int64_t n = tensor_numel(t);
    if (n > cap) return err_set(err, ERR_INPUT, "vector of %lld elements is longer than %d", (long long)n, cap);
    for (int64_t i = 0; i < n; i++)
        out[i] = t->dtype == DT_INT32 ? ((const int32_t *)t->buf->data)[i] : ((const int64_t *)t->buf->data)[i];
    return (int)n;
}
