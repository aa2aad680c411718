/* craftpb.h - a tiny GraphDef writer for tests that need hostile or unusual graphs byte for
 * byte (huge attributes, splatted constants, odd names) that the builders would refuse.
 * Messages are built bottom-up into growing byte buffers:
 *   Pb n = pb_node("y", "Relu", (const char *[]){"x"}, 1); pb_attr(&n, "T", pb_a_type(DT_FLOAT));
 *   Pb g = {0}; pb_add_node(&g, &n);  ... graphdef_parse(g.p, g.n, ...)
 * Every function takes ownership of the Pb values it is given (they are freed). */
#ifndef GRAPPO_CRAFTPB_H
#define GRAPPO_CRAFTPB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/dtype.h"

typedef struct Pb { uint8_t *p; size_t n, cap; } Pb;

static inline void pb_bytes(Pb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n) cap *= 2;
        b->p = realloc(b->p, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void pb_varint(Pb *b, uint64_t v) {
    uint8_t t[10];
    int k = 0;
    do { t[k] = (uint8_t)(v & 0x7f); v >>= 7; if (v) t[k] |= 0x80; k++; } while (v);
    pb_bytes(b, t, (size_t)k);
}
static inline void pb_key(Pb *b, unsigned field, unsigned wire) { pb_varint(b, (uint64_t)field << 3 | wire); }
static inline void pb_vi(Pb *b, unsigned field, uint64_t v) { pb_key(b, field, 0); pb_varint(b, v); }
static inline void pb_ld(Pb *b, unsigned field, const void *d, size_t n) { pb_key(b, field, 2); pb_varint(b, n); pb_bytes(b, d, n); }
static inline void pb_str(Pb *b, unsigned field, const char *s) { pb_ld(b, field, s, strlen(s)); }
/* appends sub as a length-delimited field and frees it */
static inline void pb_sub(Pb *b, unsigned field, Pb *sub) { pb_ld(b, field, sub->p, sub->n); free(sub->p); memset(sub, 0, sizeof *sub); }

/* TensorShapeProto */
static inline Pb pb_shape(int rank, const int64_t *dims) {
    Pb s = {0};
    for (int i = 0; i < rank; i++) { Pb d = {0}; pb_vi(&d, 1, (uint64_t)dims[i]); pb_sub(&s, 2, &d); }
    return s;
}
/* TensorProto with repeated float_val / int_val (a splat when fewer values than elements) */
static inline Pb pb_tensor(int dtype, int rank, const int64_t *dims, const float *f, int nf, const int64_t *iv, int ni) {
    Pb t = {0}, sh = pb_shape(rank, dims), packed = {0};
    pb_vi(&t, 1, (uint64_t)dtype);
    pb_sub(&t, 2, &sh);
    if (nf) { pb_bytes(&packed, f, sizeof(float) * (size_t)nf); pb_sub(&t, 5, &packed); }
    if (ni) { for (int i = 0; i < ni; i++) pb_varint(&packed, (uint64_t)iv[i]); pb_sub(&t, dtype == 9 ? 10 : 7, &packed); }
    return t;
}
/* AttrValue */
static inline Pb pb_a_i(int64_t v) { Pb a = {0}; pb_vi(&a, 3, (uint64_t)v); return a; }
static inline Pb pb_a_s(const char *s) { Pb a = {0}; pb_str(&a, 2, s); return a; }
static inline Pb pb_a_type(int t) { Pb a = {0}; pb_vi(&a, 6, (uint64_t)t); return a; }
static inline Pb pb_a_shape(int rank, const int64_t *dims) { Pb a = {0}, s = pb_shape(rank, dims); pb_sub(&a, 7, &s); return a; }
static inline Pb pb_a_tensor(Pb *t) { Pb a = {0}; pb_sub(&a, 8, t); return a; }
static inline Pb pb_a_ints(int n, const int64_t *v) {
    Pb a = {0}, l = {0}, packed = {0};
    for (int i = 0; i < n; i++) pb_varint(&packed, (uint64_t)v[i]);
    pb_sub(&l, 3, &packed);
    pb_sub(&a, 1, &l);
    return a;
}
static inline Pb pb_a_strs(int n, const char *const *v) {
    Pb a = {0}, l = {0};
    for (int i = 0; i < n; i++) pb_str(&l, 2, v[i]);
    pb_sub(&a, 1, &l);
    return a;
}
/* NodeDef */
static inline Pb pb_node(const char *name, const char *op, const char *const *inputs, int n_inputs) {
    Pb n = {0};
    pb_str(&n, 1, name);
    pb_str(&n, 2, op);
    for (int i = 0; i < n_inputs; i++) pb_str(&n, 3, inputs[i]);
    return n;
}
static inline void pb_attr(Pb *node, const char *key, Pb value) {
    Pb e = {0};
    pb_str(&e, 1, key);
    pb_sub(&e, 2, &value);
    pb_sub(node, 5, &e);
}
static inline void pb_add_node(Pb *graph, Pb *node) { pb_sub(graph, 1, node); }

/* common nodes */
static inline void pb_placeholder(Pb *g, const char *name, int dtype, int rank, const int64_t *dims) {
    Pb n = pb_node(name, "Placeholder", NULL, 0);
    pb_attr(&n, "dtype", pb_a_type(dtype));
    pb_attr(&n, "shape", pb_a_shape(rank, dims));
    pb_add_node(g, &n);
}
static inline void pb_const(Pb *g, const char *name, Pb *tensor, int dtype) {
    Pb n = pb_node(name, "Const", NULL, 0);
    pb_attr(&n, "dtype", pb_a_type(dtype));
    pb_attr(&n, "value", pb_a_tensor(tensor));
    pb_add_node(g, &n);
}
static inline void pb_unary(Pb *g, const char *name, const char *op, const char *x) {
    Pb n = pb_node(name, op, (const char *[]){x}, 1);
    pb_attr(&n, "T", pb_a_type(1));
    pb_add_node(g, &n);
}

/* issue 11's splat: four float Consts of 2^30 elements each, one stored value splatted (16 GiB
   declared in a few hundred bytes), summed by AddN "s" */
static inline void pb_splat_graph(Pb *g) {
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "c%d", i);
        Pb t = pb_tensor(DT_FLOAT, 1, (int64_t[]){(int64_t)1 << 30}, (float[]){1}, 1, NULL, 0);
        pb_const(g, name, &t, DT_FLOAT);
    }
    Pb n = pb_node("s", "AddN", (const char *[]){"c0", "c1", "c2", "c3"}, 4);
    pb_attr(&n, "T", pb_a_type(DT_FLOAT));
    pb_attr(&n, "N", pb_a_i(4));
    pb_add_node(g, &n);
}

#endif
