/* rules_simplify.c - graph simplifications that change no value:
 *
 *   remove_identity  Identity / StopGradient / IdentityN / Snapshot that is not a graph output
 *                    and has no control edges in or out => its readers read its inputs
 *   cse              two nodes with the same op, inputs (in order), attributes and device, no
 *                    control inputs => readers of one read the other; Consts merge when dtype,
 *                    shape and bytes agree (tensors up to CSE_MAX_CONST_BYTES)
 *
 * (NoOps without readers and other dead nodes are removed by rule_apply after any rewrite.) */
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "fold_util.h"
#include "rule.h"

/* ---- remove_identity ---- */

static bool is_identity_like(const Node *n) {
    if (n->op == OP_IDENTITY || n->op == OP_STOP_GRADIENT || n->op == OP_IDENTITY_N) return n->n_inputs == n->n_outputs;
    /* Snapshot (not in ops.def): a copy of its input */
    return n->op == OP_UNKNOWN && !strcmp(n->op_name, "Snapshot") && n->n_inputs == 1 && n->n_outputs == 1;
}

static int find_identity(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (!is_identity_like(n) || n->n_inputs < 1 || n->n_ctrl || fold_has_ctrl_readers(g, u, i) ||
            fold_is_graph_output(g, i))
            continue;
        Site s = {.n = 1, .nodes = {i}};
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_identity(Graph *g, const Site *s, Err *err) {
    int i = s->nodes[0];
    const Node *n = g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++)
        if (edit_replace_uses(g, (ValueRef){i, k}, n->inputs[k], err)) return -1;
    return 0;
}

const RuleDef remove_identity = {
    .name = "remove_identity",
    .family = "simplify",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Identity/StopGradient/IdentityN/Snapshot (not a graph output, no control edges) => readers read its input",
    .find = find_identity,
    .apply = apply_identity,
};

/* ---- cse ---- */

#define CSE_MAX_CONST_BYTES ((size_t)16 << 20)

static bool bytes_equal(const void *a, size_t na, const void *b, size_t nb) {
    return na == nb && (na == 0 || !memcmp(a, b, na));
}

static bool tensor_equal(const Tensor *a, const Tensor *b) {
    if (a->dtype != b->dtype || !shape_equal(&a->shape, &b->shape)) return false;
    if (!tensor_has_data(a) || !tensor_has_data(b)) return false;
    if (tensor_nbytes(a) > CSE_MAX_CONST_BYTES) return false;
    return bytes_equal(tensor_data(a), tensor_nbytes(a), tensor_data(b), tensor_nbytes(b));
}

static bool str_equal(const AttrStr *a, const AttrStr *b) { return bytes_equal(a->data, a->len, b->data, b->len); }

static bool list_equal(const AttrList *a, const AttrList *b) {
    if (a->kind != b->kind || a->n != b->n) return false;
    for (int k = 0; k < a->n; k++) {
        switch (a->kind) {
        case ATTR_STRING: if (!str_equal(&a->s[k], &b->s[k])) return false; break;
        case ATTR_INT: if (a->i[k] != b->i[k]) return false; break;
        case ATTR_FLOAT: if (memcmp(&a->f[k], &b->f[k], sizeof a->f[k])) return false; break;
        case ATTR_BOOL: if (a->b[k] != b->b[k]) return false; break;
        case ATTR_TYPE: if (a->type[k] != b->type[k]) return false; break;
        case ATTR_SHAPE: if (!shape_equal(&a->shape[k], &b->shape[k])) return false; break;
        case ATTR_TENSOR: if (!tensor_equal(&a->tensor[k], &b->tensor[k])) return false; break;
        default: return false;
        }
    }
    return true;
}

/* typed comparison; raw bytes only for kinds kept opaque (func, placeholder) and tensors of
   dtypes grappo holds no data for */
static bool attr_equal(const Attr *a, const Attr *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case ATTR_NONE: return true;
    case ATTR_STRING: return str_equal(&a->s, &b->s);
    case ATTR_INT: return a->i == b->i;
    case ATTR_FLOAT: return !memcmp(&a->f, &b->f, sizeof a->f);
    case ATTR_BOOL: return a->b == b->b;
    case ATTR_TYPE: return a->type == b->type;
    case ATTR_SHAPE: return shape_equal(&a->shape, &b->shape);
    case ATTR_TENSOR:
        if (!tensor_has_data(&a->tensor) && !tensor_has_data(&b->tensor))
            return a->raw && b->raw && a->tensor.dtype == b->tensor.dtype && a->raw_len <= CSE_MAX_CONST_BYTES &&
                   bytes_equal(a->raw, a->raw_len, b->raw, b->raw_len);
        return tensor_equal(&a->tensor, &b->tensor);
    case ATTR_LIST: return list_equal(&a->list, &b->list);
    default: return a->raw && b->raw && bytes_equal(a->raw, a->raw_len, b->raw, b->raw_len);
    }
}

static bool same_device(const Node *a, const Node *b) {
    const char *da = a->device ? a->device : "", *db = b->device ? b->device : "";
    return !strcmp(da, db);
}

static bool nodes_equal(const Node *a, const Node *b) {
    if (strcmp(a->op_name, b->op_name) || a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs ||
        a->n_attrs != b->n_attrs || !same_device(a, b))
        return false;
    for (int k = 0; k < a->n_inputs; k++)
        if (a->inputs[k].node != b->inputs[k].node || a->inputs[k].port != b->inputs[k].port) return false;
    for (int k = 0; k < a->n_attrs; k++) {
        const Attr *o = node_attr_find(b, a->attrs[k].name);
        if (!o || !attr_equal(&a->attrs[k], o)) return false;
    }
    return true;
}

static bool cse_candidate(const Node *n) {
    /* control flow (While/If/Case) is left alone: a stateful body run twice is not one run */
    return n->op != OP_UNKNOWN && n->op != OP_PLACEHOLDER && n->op != OP_NO_OP && n->n_outputs > 0 && n->n_ctrl == 0 &&
           !(op_def(n->op)->flags & (OPF_CONTROL | OPF_DEADNESS));
}

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 1099511628211ull; }

/* a hash equal nodes share: op, inputs, and for Consts the value's size and leading bytes */
static uint64_t node_hash(const Node *n) {
    uint64_t h = 1469598103934665603ull;
    for (const char *c = n->op_name; *c; c++) h = mix(h, (unsigned char)*c);
    h = mix(h, (uint64_t)n->n_inputs);
    for (int k = 0; k < n->n_inputs; k++) h = mix(mix(h, (uint64_t)n->inputs[k].node), (uint64_t)n->inputs[k].port);
    if (n->op == OP_CONST) {
        const Tensor *t = node_attr_tensor(n, "value");
        if (t && tensor_has_data(t)) {
            size_t nb = tensor_nbytes(t);
            h = mix(h, nb);
            const unsigned char *d = tensor_data(t);
            for (size_t k = 0; k < nb && k < 64; k++) h = mix(h, d[k]);
        }
    }
    return h;
}

typedef struct HashIdx {
    uint64_t h;
    int i;
} HashIdx;

static int cmp_hash(const void *pa, const void *pb) {
    const HashIdx *a = pa, *b = pb;
    if (a->h != b->h) return a->h < b->h ? -1 : 1;
    return a->i - b->i;
}

static int cmp_site(const void *pa, const void *pb) {
    const Site *a = pa, *b = pb;
    if (a->nodes[0] != b->nodes[0]) return a->nodes[0] - b->nodes[0];
    return a->nodes[1] - b->nodes[1];
}

/* the node that dies must have no control readers and no graph-output port */
static bool can_die(const Graph *g, const GraphUses *u, int i) {
    return !fold_has_ctrl_readers(g, u, i) && !fold_is_graph_output(g, i);
}

static int find_cse(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    HashIdx *hv = malloc(((size_t)g->n_nodes + 1) * sizeof *hv);
    if (!hv) return err_set(err, ERR_RUNTIME, "out of memory");
    int m = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (cse_candidate(g->nodes[i])) hv[m++] = (HashIdx){node_hash(g->nodes[i]), i};
    qsort(hv, (size_t)m, sizeof *hv, cmp_hash);
    int rc = 0;
    /* within a group of equal hashes (sorted by index), each node merges with the earliest
       equal node: the later one dies, unless only the earlier one can */
    for (int a = 0; a < m && rc == 0;) {
        int z = a;
        while (z < m && hv[z].h == hv[a].h) z++;
        for (int j = a + 1; j < z && rc == 0; j++) {
            int later = hv[j].i;
            for (int k = a; k < j; k++) {
                int earlier = hv[k].i;
                if (!nodes_equal(g->nodes[earlier], g->nodes[later])) continue;
                Site s = {.n = 2};
                if (can_die(g, u, later)) s.nodes[0] = later, s.nodes[1] = earlier;
                else if (can_die(g, u, earlier)) s.nodes[0] = earlier, s.nodes[1] = later;
                else break;
                rc = sitelist_push(out, &s, err);
                break;
            }
        }
        a = z;
    }
    free(hv);
    /* sites in node order, as every rule lists them */
    if (rc == 0 && out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_site);
    return rc;
}

/* nodes[0] dies: its readers read nodes[1] */
static int apply_cse(Graph *g, const Site *s, Err *err) {
    int dying = s->nodes[0], kept = s->nodes[1];
    for (int k = 0; k < g->nodes[dying]->n_outputs; k++)
        if (edit_replace_uses(g, (ValueRef){dying, k}, (ValueRef){kept, k}, err)) return -1;
    return 0;
}

const RuleDef cse = {
    .name = "cse",
    .family = "simplify",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "two nodes with the same op, inputs, attributes and no control inputs (or equal Consts) => one of them",
    .find = find_cse,
    .apply = apply_cse,
};
