/* graph_attr.c - reading and writing node attributes (see attr.h for the raw-bytes rule). */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

Attr *node_attr_find(const Node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

Attr *node_attr_put(Node *n, const char *name) {
    Attr *a = node_attr_find(n, name);
    if (a) {
        char *keep = a->name;
        a->name = NULL;
        attr_free(a);
        a->name = keep;
        return a;
    }
    char *nm = strdup(name);
    if (!nm) return NULL;
    Attr *attrs = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *attrs);
    if (!attrs) { free(nm); return NULL; }
    n->attrs = attrs;
    a = &n->attrs[n->n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = nm;
    return a;
}

int node_attr_remove(Node *n, const char *name) {
    Attr *a = node_attr_find(n, name);
    if (!a) return -1;
    attr_free(a);
    int i = (int)(a - n->attrs);
    memmove(&n->attrs[i], &n->attrs[i + 1], (size_t)(n->n_attrs - i - 1) * sizeof *a);
    n->n_attrs--;
    return 0;
}

int64_t node_attr_i(const Node *n, const char *name, int64_t def) {
    const Attr *a = node_attr_find(n, name);
    return a && a->kind == ATTR_INT ? a->i : def;
}
float node_attr_f(const Node *n, const char *name, float def) {
    const Attr *a = node_attr_find(n, name);
    return a && a->kind == ATTR_FLOAT ? a->f : def;
}
bool node_attr_b(const Node *n, const char *name, bool def) {
    const Attr *a = node_attr_find(n, name);
    return a && a->kind == ATTR_BOOL ? a->b : def;
}
int node_attr_type(const Node *n, const char *name, int def) {
    const Attr *a = node_attr_find(n, name);
    return a && a->kind == ATTR_TYPE ? a->type : def;
}
const char *node_attr_s(const Node *n, const char *name, const char *def) {
    const Attr *a = node_attr_find(n, name);
    return a && a->kind == ATTR_STRING && a->s.data ? a->s.data : def;
}
const AttrList *node_attr_list(const Node *n, const char *name) {
    const Attr *a = node_attr_find(n, name);
    return a && a->kind == ATTR_LIST ? &a->list : NULL;
}
const Tensor *node_attr_tensor(const Node *n, const char *name) {
    const Attr *a = node_attr_find(n, name);
    return a && a->kind == ATTR_TENSOR ? &a->tensor : NULL;
}

static Attr *put(Node *n, const char *name, AttrKind kind, Err *err) {
    Attr *a = node_attr_put(n, name);
    if (!a) { err_set(err, ERR_RUNTIME, "out of memory setting attribute '%s'", name); return NULL; }
    a->kind = kind;
    return a;
}

int node_set_attr_i(Node *n, const char *name, int64_t v, Err *err) {
    Attr *a = put(n, name, ATTR_INT, err);
    if (!a) return -1;
    a->i = v;
    return 0;
}
int node_set_attr_f(Node *n, const char *name, float v, Err *err) {
    Attr *a = put(n, name, ATTR_FLOAT, err);
    if (!a) return -1;
    a->f = v;
    return 0;
}
int node_set_attr_b(Node *n, const char *name, bool v, Err *err) {
    Attr *a = put(n, name, ATTR_BOOL, err);
    if (!a) return -1;
    a->b = v;
    return 0;
}
int node_set_attr_type(Node *n, const char *name, int dtype, Err *err) {
    Attr *a = put(n, name, ATTR_TYPE, err);
    if (!a) return -1;
    a->type = dtype;
    return 0;
}
int node_set_attr_s(Node *n, const char *name, const char *v, Err *err) {
    Attr *a = put(n, name, ATTR_STRING, err);
    if (!a) return -1;
    a->s.data = strdup(v);
    if (!a->s.data) return err_set(err, ERR_RUNTIME, "out of memory");
    a->s.len = strlen(v);
    return 0;
}
int node_set_attr_shape(Node *n, const char *name, const Shape *s, Err *err) {
    Attr *a = put(n, name, ATTR_SHAPE, err);
    if (!a) return -1;
    a->shape = *s;
    return 0;
}
int node_set_attr_tensor(Node *n, const char *name, const Tensor *t, Err *err) {
    Attr *a = put(n, name, ATTR_TENSOR, err);
    if (!a) return -1;
    a->tensor = tensor_share(t);
    return 0;
}

static AttrList *put_list(Node *n, const char *name, AttrKind elem, int count, size_t elem_size, void **arr, Err *err) {
    Attr *a = put(n, name, ATTR_LIST, err);
    if (!a) return NULL;
    a->list.kind = count ? elem : ATTR_NONE;
    a->list.n = count;
    *arr = calloc((size_t)(count ? count : 1), elem_size);
    if (!*arr) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    return &a->list;
}

int node_set_attr_list_i(Node *n, const char *name, const int64_t *v, int count, Err *err) {
    void *arr;
    AttrList *l = put_list(n, name, ATTR_INT, count, sizeof(int64_t), &arr, err);
    if (!l) return -1;
    l->i = arr;
    if (count) memcpy(l->i, v, (size_t)count * sizeof *v);
    return 0;
}
int node_set_attr_list_f(Node *n, const char *name, const float *v, int count, Err *err) {
    void *arr;
    AttrList *l = put_list(n, name, ATTR_FLOAT, count, sizeof(float), &arr, err);
    if (!l) return -1;
    l->f = arr;
    if (count) memcpy(l->f, v, (size_t)count * sizeof *v);
    return 0;
}
int node_set_attr_list_type(Node *n, const char *name, const int *v, int count, Err *err) {
    void *arr;
    AttrList *l = put_list(n, name, ATTR_TYPE, count, sizeof(int), &arr, err);
    if (!l) return -1;
    l->type = arr;
    if (count) memcpy(l->type, v, (size_t)count * sizeof *v);
    return 0;
}
int node_set_attr_list_s(Node *n, const char *name, const char *const *v, int count, Err *err) {
    void *arr;
    AttrList *l = put_list(n, name, ATTR_STRING, count, sizeof(AttrStr), &arr, err);
    if (!l) return -1;
    l->s = arr;
    for (int k = 0; k < count; k++) {
        l->s[k].data = strdup(v[k]);
        if (!l->s[k].data) return err_set(err, ERR_RUNTIME, "out of memory");
        l->s[k].len = strlen(v[k]);
    }
    return 0;
}
