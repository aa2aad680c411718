/* cost_key.c - which nodes are kernels, and the key that names a kernel configuration.
 *
 * A key holds everything a kernel's speed depends on and nothing else:
 *   "<op>|in=<dtype><shape>[k],...|out=<dtype><shape>,...|<attr>=<value>;..."
 * where "k" marks a compile-time constant input (the plan prepacks it once), attributes are
 * sorted by name, and attributes whose name starts with '_' are left out: TensorFlow's
 * bookkeeping ("_output_shapes", "_class") and grappo's private ones ("_grappo_calib_*":
 * calibration ranges do not change speed). Node names and weight values never enter a key.
 * Attribute values are written in a canonical text form; tensors, opaque functions and lists
 * longer than KEY_LIST_MAX elements are written as a 64-bit FNV hash of their contents.
 * Characters that could break the cache's line format (tab, newline) or the key's own
 * separators are percent-encoded, so keys are single tokens. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost_internal.h"

#define KEY_LIST_MAX 16


bool cost_input_is_const(const Graph *g, const Node *n, int k) {
    return tensor_has_data(&node_input_value(g, n, k)->known);
}

bool cost_node_is_kernel(const Graph *g, int node) {
    const Node *n = g->nodes[node];
    if (n->op == OP_PLACEHOLDER || n->op == OP_CONST || n->n_outputs == 0) return false;
    bool all_known = true;
    for (int k = 0; k < n->n_outputs; k++)
        if (!tensor_has_data(&n->outputs[k].known)) all_known = false;
    if (all_known) return false; /* folded at inference: the plan reads it as a constant */
    if (n->op != OP_UNKNOWN && (op_def(n->op)->flags & OPF_VIEW)) return false;
    return true;
}

/* a growable string; `oom` is sticky */
typedef struct Sb {
    char *p;
    size_t n, cap;
    bool oom;
} Sb;

static void sb_putn(Sb *sb, const char *s, size_t len) {
    if (sb->oom) return;
    if (sb->n + len + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 256;
        while (sb->n + len + 1 > cap) cap *= 2;
        char *p = realloc(sb->p, cap);
        if (!p) { sb->oom = true; return; }
        sb->p = p;
        sb->cap = cap;
    }
    memcpy(sb->p + sb->n, s, len);
    sb->n += len;
    sb->p[sb->n] = 0;
}

static void sb_puts(Sb *sb, const char *s) { sb_putn(sb, s, strlen(s)); }

static void sb_printf(Sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(Sb *sb, const char *fmt, ...) {
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0) return;
    sb_putn(sb, buf, (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1);
}

/* strings: keep [A-Za-z0-9_.:/+-], percent-encode everything else (tab, newline, the key's
   separators '|' ';' '=' ',' '#' '[' ']', bytes >= 0x80, NUL) */
static void sb_escaped(Sb *sb, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                     c == ':' || c == '/' || c == '+' || c == '-';
        if (plain) sb_putn(sb, (const char *)&c, 1);
        else sb_printf(sb, "%%%02X", c);
    }
}

static void sb_hash(Sb *sb, uint64_t h) { sb_printf(sb, "#%016" PRIx64, h); }

static void sb_shape(Sb *sb, const Shape *s) {
    char buf[160];
    sb_puts(sb, shape_str(s, buf, sizeof buf));
}

/* a tensor attribute: dtype, shape and a hash of its bytes (values may change the kernel,
   e.g. a constant folded into the attribute, but are too long to spell out) */
static void sb_tensor(Sb *sb, const Tensor *t) {
    sb_puts(sb, "T(");
    sb_puts(sb, dtype_name(t->dtype));
    sb_shape(sb, &t->shape);
    if (tensor_has_data(t)) sb_hash(sb, fnv1a64(FNV1A_OFFSET, tensor_data(t), tensor_nbytes(t)));
    sb_puts(sb, ")");
}

static void sb_list_item(Sb *sb, const AttrList *l, int k) {
    switch (l->kind) {
    case ATTR_STRING: sb_escaped(sb, l->s[k].data, l->s[k].len); break;
    case ATTR_INT: sb_printf(sb, "%lld", (long long)l->i[k]); break;
    case ATTR_FLOAT: sb_printf(sb, "%.9g", (double)l->f[k]); break;
    case ATTR_BOOL: sb_puts(sb, l->b[k] ? "t" : "f"); break;
    case ATTR_TYPE: sb_puts(sb, dtype_name(l->type[k])); break;
    case ATTR_SHAPE: sb_shape(sb, &l->shape[k]); break;
    case ATTR_TENSOR: sb_tensor(sb, &l->tensor[k]); break;
    default: sb_puts(sb, "?"); break;
    }
}

static void sb_attr_value(Sb *sb, const Attr *a) {
    switch (a->kind) {
    case ATTR_NONE: sb_puts(sb, "-"); break;
    case ATTR_STRING: sb_escaped(sb, a->s.data, a->s.len); break;
    case ATTR_INT: sb_printf(sb, "%lld", (long long)a->i); break;
    case ATTR_FLOAT: sb_printf(sb, "%.9g", (double)a->f); break;
    case ATTR_BOOL: sb_puts(sb, a->b ? "t" : "f"); break;
    case ATTR_TYPE: sb_puts(sb, dtype_name(a->type)); break;
    case ATTR_SHAPE: sb_shape(sb, &a->shape); break;
    case ATTR_TENSOR: sb_tensor(sb, &a->tensor); break;
    case ATTR_FUNC:
    case ATTR_PLACEHOLDER:
        sb_puts(sb, "raw");
        sb_hash(sb, fnv1a64(FNV1A_OFFSET, a->raw, a->raw ? a->raw_len : 0));
        break;
    case ATTR_LIST: {
        const AttrList *l = &a->list;
        if (l->n <= KEY_LIST_MAX) {
            sb_puts(sb, "[");
            for (int k = 0; k < l->n; k++) {
                if (k) sb_puts(sb, ",");
                sb_list_item(sb, l, k);
            }
            sb_puts(sb, "]");
            break;
        }
        /* long list: its canonical text, hashed */
        Sb tmp = {0};
        for (int k = 0; k < l->n; k++) {
            sb_list_item(&tmp, l, k);
            sb_puts(&tmp, ",");
        }
        if (tmp.oom) sb->oom = true;
        sb_printf(sb, "[n=%d", l->n);
        sb_hash(sb, fnv1a64(FNV1A_OFFSET, tmp.p, tmp.n));
        sb_puts(sb, "]");
        free(tmp.p);
        break;
    }
    }
}

static int cmp_attr_ptr(const void *a, const void *b) {
    const Attr *x = *(const Attr *const *)a, *y = *(const Attr *const *)b;
    return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static void sb_value(Sb *sb, const Value *v) {
    sb_puts(sb, dtype_name(v->dtype));
    sb_shape(sb, &v->shape);
}

bool cost_kernel_key(const Graph *g, int node, char *buf, size_t cap) {
    if (cap) buf[0] = 0;
    if (node < 0 || node >= g->n_nodes || !cost_node_is_kernel(g, node)) return false;
    const Node *n = g->nodes[node];
    Sb sb = {0};
    sb_escaped(&sb, n->op_name, strlen(n->op_name));
    sb_puts(&sb, "|in=");
    for (int k = 0; k < n->n_inputs; k++) {
        if (k) sb_puts(&sb, ",");
        sb_value(&sb, node_input_value(g, n, k));
        if (cost_input_is_const(g, n, k)) sb_puts(&sb, "k");
    }
    sb_puts(&sb, "|out=");
    for (int k = 0; k < n->n_outputs; k++) {
        if (k) sb_puts(&sb, ",");
        sb_value(&sb, &n->outputs[k]);
    }
    sb_puts(&sb, "|");
    const Attr **attrs = malloc(sizeof *attrs * (size_t)(n->n_attrs ? n->n_attrs : 1));
    if (!attrs) sb.oom = true;
    int na = 0;
    for (int k = 0; attrs && k < n->n_attrs; k++)
        if (n->attrs[k].name && n->attrs[k].name[0] != '_') attrs[na++] = &n->attrs[k];
    if (attrs) qsort(attrs, (size_t)na, sizeof *attrs, cmp_attr_ptr);
    for (int k = 0; k < na; k++) {
        if (k) sb_puts(&sb, ";");
        sb_escaped(&sb, attrs[k]->name, strlen(attrs[k]->name));
        sb_puts(&sb, "=");
        sb_attr_value(&sb, attrs[k]);
    }
    free(attrs);
    if (sb.oom || cap == 0) {
        /* out of memory: an op-only key would merge unrelated kernels; the hash of nothing
           still names the op, which is the best we can do without memory */
        if (cap) snprintf(buf, cap, "%s#oom", n->op_name);
        free(sb.p);
        return true;
    }
    if (sb.n < cap) {
        memcpy(buf, sb.p, sb.n + 1);
    } else {
        /* too long: a prefix, then the hash of the whole key, so distinct keys stay distinct */
        char tail[24];
        snprintf(tail, sizeof tail, "#%016" PRIx64, fnv1a64(FNV1A_OFFSET, sb.p, sb.n));
        size_t tl = strlen(tail);
        if (cap > tl) {
            size_t keep = cap - 1 - tl;
            memcpy(buf, sb.p, keep);
            memcpy(buf + keep, tail, tl + 1);
        } else {
            memcpy(buf, tail + tl - (cap - 1), cap); /* absurdly small cap: the hash's last digits */
        }
    }
    free(sb.p);
    return true;
}
