/* attr.c - freeing and copying attributes. */
#include "attr.h"

#include <stdlib.h>
#include <string.h>

static void list_free(AttrList *l) {
    for (int k = 0; k < l->n; k++) {
        if (l->s) free(l->s[k].data);
        if (l->tensor) tensor_release(&l->tensor[k]);
    }
    free(l->s); free(l->i); free(l->f); free(l->b); free(l->type); free(l->shape); free(l->tensor);
    memset(l, 0, sizeof *l);
}

void attr_drop_raw(Attr *a) {
    free(a->raw);
    a->raw = NULL;
    a->raw_len = 0;
}

void attr_free(Attr *a) {
    free(a->name);
    free(a->s.data);
    tensor_release(&a->tensor);
    list_free(&a->list);
    free(a->raw);
    memset(a, 0, sizeof *a);
}

static void *dup_mem(const void *p, size_t n, bool *ok) {
    if (!p) return NULL;
    void *q = malloc(n ? n : 1);
    if (!q) { *ok = false; return NULL; }
    memcpy(q, p, n);
    return q;
}

static AttrStr dup_str(AttrStr s, bool *ok) {
    AttrStr r = {0};
    if (!s.data) return r;
    r.data = malloc(s.len + 1);
    if (!r.data) { *ok = false; return r; }
    memcpy(r.data, s.data, s.len);
    r.data[s.len] = 0;
    r.len = s.len;
    return r;
}

int attr_copy(Attr *dst, const Attr *src, Err *err) {
    bool ok = true;
    memset(dst, 0, sizeof *dst);
    *dst = *src;
    dst->name = src->name ? strdup(src->name) : NULL;
    if (src->name && !dst->name) ok = false;
    dst->s = dup_str(src->s, &ok);
    dst->tensor = tensor_share(&src->tensor);
    dst->raw = dup_mem(src->raw, src->raw_len, &ok);
    const AttrList *l = &src->list;
    AttrList *d = &dst->list;
    size_t n = (size_t)l->n;
    d->s = NULL; d->tensor = NULL;
    if (l->s) {
        d->s = calloc(n ? n : 1, sizeof *d->s);
        if (!d->s) ok = false;
        else for (size_t k = 0; k < n; k++) d->s[k] = dup_str(l->s[k], &ok);
    }
    d->i = dup_mem(l->i, n * sizeof *l->i, &ok);
    d->f = dup_mem(l->f, n * sizeof *l->f, &ok);
    d->b = dup_mem(l->b, n * sizeof *l->b, &ok);
    d->type = dup_mem(l->type, n * sizeof *l->type, &ok);
    d->shape = dup_mem(l->shape, n * sizeof *l->shape, &ok);
    if (l->tensor) {
        d->tensor = calloc(n ? n : 1, sizeof *d->tensor);
        if (!d->tensor) ok = false;
        else for (size_t k = 0; k < n; k++) d->tensor[k] = tensor_share(&l->tensor[k]);
    }
    if (!ok) {
        attr_free(dst);
        return err_set(err, ERR_RUNTIME, "out of memory copying attribute");
    }
    return 0;
}

const char *attr_kind_name(AttrKind k) {
    static const char *names[] = {"none", "string", "int", "float", "bool", "type",
                                  "shape", "tensor", "func", "placeholder", "list"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}
