/* freeze_emit.c - for freezing: final node names (signature keys first, clashes suffixed) and the
 * frozen GraphDef bytes (attributes copied verbatim, Consts made from variables). */
#include "freeze_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the frozen GraphDef ---- */

static void put_int_attr(ByteBuf *node, const char *key, int64_t i) {
    Grappo__Tf__AttrValue v = GRAPPO__TF__ATTR_VALUE__INIT;
    v.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_I;
    v.i = i;
    nd_put_attr_value(node, key, &v);
}

static void ref_text(const Fz *z, FRef r, char *buf, size_t cap) {
    if (r.port) snprintf(buf, cap, "%s:%d", z->fn[r.node].name, r.port);
    else snprintf(buf, cap, "%s", z->fn[r.node].name);
}

int fz_emit_node(Fz *z, int k, ByteBuf *out) {
    const FNode *f = &z->fn[k];
    ByteBuf nb = {0};
    nd_put_str_field(&nb, 1, f->name);
    nd_put_str_field(&nb, 2, f->op);
    char buf[2048];
    for (int i = 0; i < f->n_in; i++) {
        ref_text(z, f->in[i], buf, sizeof buf);
        nd_put_str_field(&nb, 3, buf);
    }
    for (int i = 0; i < f->n_ctrl; i++) {
        snprintf(buf, sizeof buf, "^%s", z->fn[f->ctrl[i]].name);
        nd_put_str_field(&nb, 3, buf);
    }
    if (tensor_has_data(&f->value)) {
        nd_put_const_attrs(&nb, f->value.dtype, &f->value.shape, tensor_data(&f->value), tensor_nbytes(&f->value));
    } else if (f->is_gather) {
        nd_put_type_attr(&nb, "Tparams", f->src ? fz_attr_type(f->src, "dtype") : DT_FLOAT);
        nd_put_type_attr(&nb, "Tindices", f->src ? fz_attr_type(f->src, "Tindices") : DT_INT32);
        nd_put_type_attr(&nb, "Taxis", DT_INT32);
        put_int_attr(&nb, "batch_dims", f->gather_batch_dims);
    } else if (f->out_dtype) {
        nd_put_type_attr(&nb, "T", f->out_dtype);
    } else if (f->src) {
        for (int i = 0; i < f->src->n_attr; i++) {
            const AttrRaw *a = &f->src->attr[i];
            if (!strcmp(a->key, "_class")) continue; /* colocation with nodes that are gone */
            nd_put_attr(&nb, a->key, a->val, a->len);
        }
    }
    bb_len_field(out, 1, nb.data, nb.len);
    int oom = nb.oom;
    bb_free(&nb);
    return oom ? err_set(z->err, ERR_RUNTIME, "out of memory") : 0;
}

/* The names taken so far (pointers to FNode names, not owned): open addressing. */
typedef struct NameSet {
    const char **slot;
    size_t cap; /* power of two, more than twice the names added */
} NameSet;

static bool ns_has(const NameSet *ns, const char *name) {
    for (size_t h = fz_hash(name) & (ns->cap - 1);; h = (h + 1) & (ns->cap - 1)) {
        if (!ns->slot[h]) return false;
        if (!strcmp(ns->slot[h], name)) return true;
    }
}

static void ns_add(NameSet *ns, const char *name) {
    size_t h = fz_hash(name) & (ns->cap - 1);
    while (ns->slot[h]) h = (h + 1) & (ns->cap - 1);
    ns->slot[h] = name;
}

/* Takes node k's name, or (when taken) its name with the first free _1, _2, ... appended. */
static int take_name(Fz *z, NameSet *ns, int k) {
    if (ns_has(ns, z->fn[k].name)) {
        size_t n = strlen(z->fn[k].name) + 16;
        char *name = malloc(n);
        if (!name) return err_set(z->err, ERR_RUNTIME, "out of memory");
        for (int suffix = 1;; suffix++) {
            snprintf(name, n, "%s_%d", z->fn[k].name, suffix);
            if (!ns_has(ns, name)) break;
        }
        free(z->fn[k].name);
        z->fn[k].name = name;
    }
    ns_add(ns, z->fn[k].name);
    return 0;
}

/* Final names: the signature's inputs get their keys, then the outputs' Identities theirs,
 * then every other live node keeps its name unless taken (inlined names can clash). */
int fz_assign_names(Fz *z, const FreezeSpec *s, const int *in_nodes, int first_out) {
    size_t live = 0;
    for (int k = 0; k < z->n_fn; k++) live += z->fn[k].live;
    NameSet ns = {NULL, 16};
    while (ns.cap < 2 * live + 2) ns.cap *= 2;
    if (!(ns.slot = calloc(ns.cap, sizeof *ns.slot))) return err_set(z->err, ERR_RUNTIME, "out of memory");
    int rc = 0;
    for (int i = 0; !rc && i < s->n_inputs; i++) {
        FNode *f = &z->fn[in_nodes[i]];
        free(f->name);
        if (!(f->name = strdup(s->inputs[i].key))) rc = err_set(z->err, ERR_RUNTIME, "out of memory");
        else if (ns_has(&ns, f->name)) rc = err_set(z->err, ERR_INPUT, "signature input '%s' is given twice", f->name);
        else ns_add(&ns, f->name);
    }
    for (int k = first_out; !rc && k < first_out + s->n_outputs; k++) rc = take_name(z, &ns, k);
    for (int k = 0; !rc && k < z->n_fn; k++) {
        bool is_input = false;
        for (int i = 0; i < s->n_inputs && !is_input; i++) is_input = in_nodes[i] == k;
        if (z->fn[k].live && !is_input && (k < first_out || k >= first_out + s->n_outputs)) rc = take_name(z, &ns, k);
    }
    free(ns.slot);
    return rc;
}

