/* graphdef_load.c - GraphDef bytes -> Graph.
 *
 * The outer GraphDef and each NodeDef are walked field by field (pb_wire.h) so that fields
 * grappo does not model keep their exact bytes (Graph.extra, Node.extra). Attribute values are
 * unpacked with protobuf-c and converted by attr_proto.c. Inputs are resolved only after every
 * node exists, because a NodeDef may name nodes that come later in the file. */
#include "graphdef.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "../graph/mem_budget.h"
#include "attr_proto.h"
#include "input_file.h"
#include "graphdef.pb-c.h"
#include "pb_wire.h"

/* field numbers (TensorFlow's) */
enum { GRAPH_NODE = 1, GRAPH_VERSIONS = 4 };
enum { NODE_NAME = 1, NODE_OP = 2, NODE_INPUT = 3, NODE_DEVICE = 4, NODE_ATTR = 5 };
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 };

/* one NodeDef.input string, resolved once all nodes exist */
typedef struct InputText {
    int node;
    const uint8_t *text;
    size_t len;
} InputText;

typedef struct Loader {
    Graph *g;
    TensorBudget budget;
    InputText *inputs;
    size_t n_inputs, cap_inputs;
} Loader;

/* NUL-terminated copy of a protobuf string (the caller has rejected embedded NULs) */
static char *span_str(const uint8_t *p, size_t len) {
    char *s = malloc(len + 1);
    if (!s) return NULL;
    if (len) memcpy(s, p, len);
    s[len] = 0;
    return s;
}

static bool has_nul(const uint8_t *p, size_t len) { return len && memchr(p, 0, len) != NULL; }

static int push_input(Loader *L, int node, const uint8_t *text, size_t len, Err *err) {
    if (L->n_inputs == L->cap_inputs) {
        size_t cap = L->cap_inputs ? 2 * L->cap_inputs : 64;
        InputText *p = realloc(L->inputs, cap * sizeof *p);
        if (!p) return err_set(err, ERR_RUNTIME, "out of memory");
        L->inputs = p;
        L->cap_inputs = cap;
    }
    L->inputs[L->n_inputs++] = (InputText){node, text, len};
    return 0;
}

/* One map<string, AttrValue> entry: {1: key, 2: value}. A repeated key replaces the earlier
 * value (node_attr_put clears the slot), as protobuf map parsing does. */
static int parse_attr_entry(Node *n, const uint8_t *data, size_t len, TensorBudget *budget, Err *err) {
    static const uint8_t empty[1];
    PbReader r = pb_reader(data, len);
    PbField f;
    const char *why = "";
    const uint8_t *key = empty, *val = empty;
    size_t klen = 0, vlen = 0;
    int rc;
    while ((rc = pb_next_field(&r, &f, &why)) == 1) {
        if (f.number != ENTRY_KEY && f.number != ENTRY_VALUE) continue;
        if (f.wire != PB_LEN)
            return err_set(err, ERR_INPUT, "malformed attribute entry (field %u has wire type %d)", f.number, f.wire);
        if (f.number == ENTRY_KEY) { key = f.data; klen = f.len; }
        else { val = f.data; vlen = f.len; }
    }
    if (rc < 0) return err_set(err, ERR_INPUT, "malformed attribute entry (%s)", why);
    if (klen == 0) return err_set(err, ERR_INPUT, "attribute with an empty name");
    if (has_nul(key, klen)) return err_set(err, ERR_INPUT, "attribute name contains a NUL byte");
    char *name = span_str(key, klen);
    if (!name) return err_set(err, ERR_RUNTIME, "out of memory");
    Attr *a = node_attr_put(n, name);
    if (!a) {
        free(name);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    rc = attr_decode(val, vlen, a, budget, err);
    if (rc) err_prefix(err, "attribute '%s'", name);
    free(name);
    return rc;
}

/* Text fields of a NodeDef, checked: not containing NUL (grappo names are C strings). */
static int take_text(const PbField *f, const uint8_t **p, size_t *len, const char *what, int index, Err *err) {
    if (f->wire != PB_LEN)
        return err_set(err, ERR_INPUT, "node #%d: field %s has wire type %d, not a string", index, what, f->wire);
    if (has_nul(f->data, f->len)) return err_set(err, ERR_INPUT, "node #%d: %s contains a NUL byte", index, what);
    *p = f->data;
    *len = f->len;
    return 0;
}

/* Creates the node of one NodeDef (index = its position in the file, for messages). */
static int parse_node(Loader *L, const uint8_t *data, size_t len, int index, Err *err) {
    Graph *g = L->g;
    const uint8_t *name = NULL, *op = NULL, *device = NULL;
    size_t name_len = 0, op_len = 0, device_len = 0;
    size_t first_input = L->n_inputs;
    ByteBuf extra = {0};
    PbReader r = pb_reader(data, len);
    PbField f;
    const char *why = "";
    int rc;

    /* pass 1: identity, inputs (as text), unmodelled fields */
    while ((rc = pb_next_field(&r, &f, &why)) == 1) {
        switch (f.number) {
        case NODE_NAME: rc = take_text(&f, &name, &name_len, "name", index, err); break;
        case NODE_OP: rc = take_text(&f, &op, &op_len, "op", index, err); break;
        case NODE_DEVICE: rc = take_text(&f, &device, &device_len, "device", index, err); break;
        case NODE_INPUT:
            if (f.wire != PB_LEN) rc = err_set(err, ERR_INPUT, "node #%d: input has wire type %d, not a string", index, f.wire);
            else rc = push_input(L, -1, f.data, f.len, err); /* node index filled below */
            break;
        case NODE_ATTR:
            if (f.wire != PB_LEN) rc = err_set(err, ERR_INPUT, "node #%d: attr has wire type %d", index, f.wire);
            else rc = 0;
            break;
        default: /* experimental_debug_info, experimental_type, anything newer: kept verbatim */
            bb_put(&extra, f.raw, f.raw_len);
            rc = 0;
        }
        if (rc) goto fail;
    }
    if (rc < 0) {
        err_set(err, ERR_INPUT, "node #%d: malformed NodeDef (%s)", index, why);
        goto fail;
    }
    if (extra.oom) { err_set(err, ERR_RUNTIME, "out of memory"); goto fail; }
    if (name_len == 0) { err_set(err, ERR_INPUT, "node #%d has an empty name", index); goto fail; }

    char *name_s = span_str(name, name_len), *op_s = span_str(op, op_len);
    if (!name_s || !op_s) {
        free(name_s);
        free(op_s);
        err_set(err, ERR_RUNTIME, "out of memory");
        goto fail;
    }
    int node;
    if (strchr(name_s, ':') || name_s[0] == '^') /* would be ambiguous in input strings */
        node = err_set(err, ERR_INPUT, "node name '%s' contains ':' or starts with '^'", name_s);
    else if (graph_find(g, name_s) >= 0) node = err_set(err, ERR_INPUT, "duplicate node name '%s'", name_s);
    else if (op_len == 0) node = err_set(err, ERR_INPUT, "node '%s' has an empty op", name_s);
    else if ((node = graph_add_node(g, name_s, op_s, err)) < 0) {
        if (strlen(name_s) > GRAPH_MAX_NAME) err_prefix(err, "node #%d", index); /* the message shows the name's start */
        else err_prefix(err, "node '%s'", name_s);
    }
    free(name_s);
    free(op_s);
    if (node < 0) goto fail;
    for (size_t k = first_input; k < L->n_inputs; k++) L->inputs[k].node = node;

    Node *n = graph_node(g, node);
    n->extra = extra.data;
    n->extra_len = extra.len;
    extra = (ByteBuf){0};
    if (device_len) {
        char *dev = span_str(device, device_len);
        rc = dev ? node_set_device(n, dev, err) : err_set(err, ERR_RUNTIME, "out of memory");
        free(dev);
        if (rc) return err_prefix(err, "node '%s'", n->name);
    }

    /* pass 2: attributes (the framing was checked in pass 1) */
    r = pb_reader(data, len);
    while (pb_next_field(&r, &f, NULL) == 1) {
        if (f.number != NODE_ATTR) continue;
        if (parse_attr_entry(n, f.data, f.len, &L->budget, err)) return err_prefix(err, "node '%s'", n->name);
    }
    return 0;
fail:
    bb_free(&extra);
    return -1;
}

/* Parses the port after ':' in an input: decimal digits only, at most GRAPHDEF_MAX_PORT. */
static int parse_port(const char *s, int *port) {
    if (!*s) return -1;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
        if (v > GRAPHDEF_MAX_PORT) return -1;
    }
    *port = (int)v;
    return 0;
}

/* Resolves every input text to a data edge or control edge. maxport[j] becomes the highest
 * port of node j anything reads; consumed[j] whether anything uses node j at all. */
static int resolve_inputs(Loader *L, int *maxport, bool *consumed, Err *err) {
    Graph *g = L->g;
    for (size_t k = 0; k < L->n_inputs; k++) {
        const InputText *t = &L->inputs[k];
        Node *n = graph_node(g, t->node);
        int tlen = t->len > 200 ? 200 : (int)t->len; /* for messages */
        if (t->len == 0) return err_set(err, ERR_INPUT, "node '%s': empty input name", n->name);
        if (has_nul(t->text, t->len)) return err_set(err, ERR_INPUT, "node '%s': input contains a NUL byte", n->name);
        char *s = span_str(t->text, t->len);
        if (!s) return err_set(err, ERR_RUNTIME, "out of memory");
        int rc = 0;
        if (s[0] == '^') {
            int j = graph_find(g, s + 1);
            if (j < 0) rc = err_set(err, ERR_INPUT, "node '%s': control input '%.*s' names no node", n->name, tlen, t->text);
            else if (node_add_ctrl(g, t->node, j, err)) rc = err_prefix(err, "node '%s'", n->name);
            else consumed[j] = true;
        } else {
            int port = 0;
            char *colon = strrchr(s, ':');
            if (colon && parse_port(colon + 1, &port)) {
                rc = err_set(err, ERR_INPUT, "node '%s': input '%.*s' has a bad port (expected 0..%d)", n->name,
                             tlen, t->text, GRAPHDEF_MAX_PORT);
            } else {
                if (colon) *colon = 0;
                int j = graph_find(g, s);
                if (j < 0) {
                    rc = err_set(err, ERR_INPUT, "node '%s': input '%.*s' names no node", n->name, tlen, t->text);
                } else if (node_add_input(g, t->node, (ValueRef){j, port}, err)) {
                    rc = err_prefix(err, "node '%s'", n->name);
                } else {
                    if (port > maxport[j]) maxport[j] = port;
                    consumed[j] = true;
                }
            }
        }
        free(s);
        if (rc) return -1;
    }
    return 0;
}

/* Provisional output counts and the graph outputs (see graphdef.h). */
static int set_outputs(Graph *g, const int *maxport, const bool *consumed, Err *err) {
    int64_t total = 0;
    for (int i = 0; i < g->n_nodes; i++) total += maxport[i] + 1;
    if (total > GRAPHDEF_MAX_OUTPUTS)
        return err_set(err, ERR_INPUT, "inputs refer to %lld node outputs, more than the supported %d",
                       (long long)total, GRAPHDEF_MAX_OUTPUTS);
    for (int i = 0; i < g->n_nodes; i++)
        if (node_set_num_outputs(graph_node(g, i), maxport[i] + 1, err)) return -1;
    /* a value nobody reads inside a TF1 loop (an inner loop's unused Exit) is no output: only
       values outside loops can be fetched (without a valid order the cycle is reported later) */
    int *order = malloc(sizeof *order * ((size_t)g->n_nodes + 1)), *depth = calloc((size_t)g->n_nodes + 1, sizeof *depth);
    if (!order || !depth) { free(order); free(depth); return err_set(err, ERR_RUNTIME, "out of memory"); }
    Err ignore;
    if (!graph_topo_order(g, order, &ignore)) graph_loop_depths(g, order, depth);
    free(order);
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = graph_node(g, i);
        if (consumed[i] || n->n_outputs == 0 || depth[i] > 0) continue;
        if (n->op == OP_CONST || n->op == OP_PLACEHOLDER || n->op == OP_NO_OP) continue;
        if (graph_add_output(g, (ValueRef){i, 0}, err)) { free(depth); return -1; }
    }
    free(depth);
    return 0;
}

static int finish_graph(Loader *L, Err *err) {
    int n = L->g->n_nodes;
    int *maxport = calloc((size_t)n + 1, sizeof *maxport);
    bool *consumed = calloc((size_t)n + 1, sizeof *consumed);
    int rc;
    if (!maxport || !consumed) rc = err_set(err, ERR_RUNTIME, "out of memory");
    else rc = resolve_inputs(L, maxport, consumed, err) || set_outputs(L->g, maxport, consumed, err) ? -1 : 0;
    free(maxport);
    free(consumed);
    return rc;
}

static int parse_versions(Graph *g, const PbField *f, Err *err) {
    if (f->wire != PB_LEN) return err_set(err, ERR_INPUT, "not a valid GraphDef (versions has wire type %d)", f->wire);
    Grappo__Tf__VersionDef *v = grappo__tf__version_def__unpack(NULL, f->len, f->data);
    if (!v) return err_set(err, ERR_INPUT, "not a valid GraphDef (malformed versions)");
    g->producer = v->producer;
    grappo__tf__version_def__free_unpacked(v, NULL);
    return 0;
}

Graph *graphdef_parse_limited(const uint8_t *data, size_t len, const char *what, const GraphdefLimits *limits,
                              Err *err) {
    if (!what) what = "<graphdef>";
    Loader L = {0};
    L.budget.max_tensor_bytes = limits && limits->max_tensor_bytes ? limits->max_tensor_bytes : TENSOR_MAX_BYTES;
    L.budget.max_total_bytes = limits && limits->max_total_bytes ? limits->max_total_bytes : SIZE_MAX;
    ByteBuf extra = {0};
    Graph *g = NULL;
    char largest[128], whatc[200];
    size_t declared = graphdef_declared_tensor_bytes(data, len, largest, sizeof largest);
    if (!mem_budget_allows(declared)) {
        snprintf(whatc, sizeof whatc, "the graph's constants (the largest in node '%s')", largest);
        mem_budget_check(declared, whatc, err);
        goto fail;
    }
    g = L.g = graph_new();
    if (!g) {
        err_set(err, ERR_RUNTIME, "out of memory");
        goto fail;
    }
    PbReader r = pb_reader(data, len);
    const uint8_t *base = r.p; /* data, or a stand-in when data is NULL */
    PbField f;
    const char *why = "";
    int rc, node_no = 0;
    PbField lib = {0};
    while ((rc = pb_next_field(&r, &f, &why)) == 1) {
        if (f.number == 2 && f.wire == PB_LEN && !lib.raw) lib = f; /* the function library */
        if (f.number == GRAPH_NODE) {
            if (f.wire != PB_LEN) {
                err_set(err, ERR_INPUT, "not a valid GraphDef (field 1 has wire type %d, expected a NodeDef)", f.wire);
                goto fail;
            }
            if (parse_node(&L, f.data, f.len, node_no++, err)) goto fail;
        } else {
            /* library, the deprecated version, versions, unknown fields: kept verbatim */
            if (f.number == GRAPH_VERSIONS && parse_versions(g, &f, err)) goto fail;
            bb_put(&extra, f.raw, f.raw_len);
        }
    }
    if (rc < 0) {
        err_set(err, ERR_INPUT, "not a valid GraphDef (%s, in the field at byte %zu of %zu)", why,
                (size_t)(f.raw - base), len);
        goto fail;
    }
    if (extra.oom) {
        err_set(err, ERR_RUNTIME, "out of memory");
        goto fail;
    }
    g->extra = extra.data;
    g->extra_len = extra.len;
    extra = (ByteBuf){0};
    if (finish_graph(&L, err)) goto fail;
    /* bodies of While / If / Case, each as its own graph */
    if (graphdef_build_funcs(g, lib.raw, lib.raw_len, lib.data, lib.len, err)) goto fail;
    free(L.inputs);
    return g;
fail:
    err_prefix(err, "%s", what);
    bb_free(&extra);
    free(L.inputs);
    if (g) graph_free(g);
    return NULL;
}

Graph *graphdef_parse(const uint8_t *data, size_t len, const char *what, Err *err) {
    return graphdef_parse_limited(data, len, what, NULL, err);
}

Graph *graphdef_load(const char *path, Err *err) {
    uint8_t *data;
    size_t len;
    if (read_input_file(path, GRAPHDEF_MAX_FILE_BYTES, &data, &len, err)) return NULL;
    Graph *g = graphdef_parse(data, len, path, err);
    free(data);
    return g;
}
