/* graphdef_save.c - Graph -> GraphDef bytes, and atomic saving.
 *
 * The GraphDef and NodeDef framing is written by hand (tag, length, payload): modelled fields
 * from the Node, then Node.extra verbatim; after all nodes, Graph.extra verbatim. Attribute
 * values come from attr_proto.c (original bytes when present). Attributes are written sorted
 * by key, like TensorFlow's deterministic serialization, so the output depends only on the
 * graph, not on the order attributes were set in. */
#include "graphdef.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "attr_proto.h"
#include "graphdef.pb-c.h"
#include "pb_wire.h"
#include "pbtxt.h"

enum { GRAPH_NODE = 1, GRAPH_VERSIONS = 4 };
enum { NODE_NAME = 1, NODE_OP = 2, NODE_INPUT = 3, NODE_DEVICE = 4, NODE_ATTR = 5 };
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 };

static size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

static int cmp_attr_name(const void *a, const void *b) {
    const Attr *x = *(const Attr *const *)a, *y = *(const Attr *const *)b;
    return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

/* input i of n as "name" or "name:port" */
static int put_input(ByteBuf *b, const Graph *g, const Node *n, ValueRef v, Err *err) {
    if (v.node < 0 || v.node >= g->n_nodes || v.port < 0)
        return err_set(err, ERR_INPUT, "node '%s': input refers to node %d port %d, which does not exist", n->name,
                       v.node, v.port);
    const char *src = graph_node(g, v.node)->name;
    char port[16] = "";
    if (v.port > 0) snprintf(port, sizeof port, ":%d", v.port);
    size_t a = strlen(src), p = strlen(port);
    bb_tag(b, NODE_INPUT, PB_LEN);
    bb_varint(b, a + p);
    bb_put(b, src, a);
    bb_put(b, port, p);
    return 0;
}

/* one NodeDef body (without its own tag and length) into b; scratch is reused per attribute */
static int encode_node(const Graph *g, const Node *n, ByteBuf *b, ByteBuf *scratch, Err *err) {
    if (!n->name || !n->name[0]) return err_set(err, ERR_INPUT, "a node has no name");
    if (!n->op_name || !n->op_name[0]) return err_set(err, ERR_INPUT, "node '%s' has no op name", n->name);
    bb_len_field(b, NODE_NAME, n->name, strlen(n->name));
    bb_len_field(b, NODE_OP, n->op_name, strlen(n->op_name));
    for (int k = 0; k < n->n_inputs; k++)
        if (put_input(b, g, n, n->inputs[k], err)) return -1;
    /* control inputs after data inputs, as TensorFlow requires */
    for (int k = 0; k < n->n_ctrl; k++) {
        int c = n->ctrl[k];
        if (c < 0 || c >= g->n_nodes)
            return err_set(err, ERR_INPUT, "node '%s': control input refers to node %d, which does not exist", n->name, c);
        const char *src = graph_node(g, c)->name;
        size_t a = strlen(src);
        bb_tag(b, NODE_INPUT, PB_LEN);
        bb_varint(b, a + 1);
        bb_put(b, "^", 1);
        bb_put(b, src, a);
    }
    if (n->device && n->device[0]) bb_len_field(b, NODE_DEVICE, n->device, strlen(n->device));

    if (n->n_attrs > 0) {
        const Attr **order = malloc((size_t)n->n_attrs * sizeof *order);
        if (!order) return err_set(err, ERR_RUNTIME, "out of memory");
        for (int k = 0; k < n->n_attrs; k++) order[k] = &n->attrs[k];
        qsort(order, (size_t)n->n_attrs, sizeof *order, cmp_attr_name);
        for (int k = 0; k < n->n_attrs; k++) {
            const Attr *a = order[k];
            const char *key = a->name ? a->name : "";
            scratch->len = 0;
            if (attr_encode(a, scratch, err)) {
                free(order);
                return err_prefix(err, "node '%s'", n->name);
            }
            /* map entry {1: key, 2: value} */
            size_t klen = strlen(key), vlen = scratch->len;
            size_t entry = 1 + varint_size(klen) + klen + 1 + varint_size(vlen) + vlen;
            bb_tag(b, NODE_ATTR, PB_LEN);
            bb_varint(b, entry);
            bb_len_field(b, ENTRY_KEY, key, klen);
            bb_len_field(b, ENTRY_VALUE, scratch->data, vlen);
        }
        free(order);
    }
    if (n->extra_len) bb_put(b, n->extra, n->extra_len);
    return 0;
}

/* Graph.extra verbatim, except that a VersionDef (field 4) whose producer differs from
 * g->producer is re-encoded with g->producer (its other fields kept), and a graph with a
 * producer but no VersionDef (built in memory) gets one. */
static int put_graph_extra(const Graph *g, ByteBuf *out, Err *err) {
    PbReader r = pb_reader(g->extra, g->extra_len);
    PbField f;
    bool have_versions = false;
    int rc;
    while ((rc = pb_next_field(&r, &f, NULL)) == 1) {
        if (f.number != GRAPH_VERSIONS || f.wire != PB_LEN) {
            bb_put(out, f.raw, f.raw_len);
            continue;
        }
        have_versions = true;
        Grappo__Tf__VersionDef *v = grappo__tf__version_def__unpack(NULL, f.len, f.data);
        if (!v) return err_set(err, ERR_INPUT, "the graph's VersionDef is malformed");
        if (v->producer == g->producer) {
            bb_put(out, f.raw, f.raw_len);
        } else {
            v->producer = g->producer;
            size_t n = grappo__tf__version_def__get_packed_size(v);
            bb_tag(out, GRAPH_VERSIONS, PB_LEN);
            bb_varint(out, n);
            uint8_t *p = bb_reserve(out, n);
            if (p) {
                grappo__tf__version_def__pack(v, p);
                out->len += n;
            }
        }
        grappo__tf__version_def__free_unpacked(v, NULL);
    }
    if (rc < 0) return err_set(err, ERR_INPUT, "the graph's extra GraphDef fields are malformed");
    if (!have_versions && g->producer != 0) {
        Grappo__Tf__VersionDef v;
        grappo__tf__version_def__init(&v);
        v.producer = g->producer;
        uint8_t buf[16];
        size_t n = grappo__tf__version_def__pack(&v, buf);
        bb_len_field(out, GRAPH_VERSIONS, buf, n);
    }
    return 0;
}

int graphdef_serialize(const Graph *g, uint8_t **data, size_t *len, Err *err) {
    *data = NULL;
    *len = 0;
    ByteBuf out = {0}, node = {0}, scratch = {0};
    int rc = 0;
    for (int i = 0; i < g->n_nodes && rc == 0; i++) {
        node.len = 0;
        rc = encode_node(g, graph_node(g, i), &node, &scratch, err);
        if (rc == 0) bb_len_field(&out, GRAPH_NODE, node.data, node.len);
    }
    if (rc == 0) rc = put_graph_extra(g, &out, err);
    if (rc == 0 && (out.oom || node.oom || scratch.oom)) rc = err_set(err, ERR_RUNTIME, "out of memory serializing the graph");
    bb_free(&node);
    bb_free(&scratch);
    if (rc) {
        bb_free(&out);
        return -1;
    }
    /* an empty graph serializes to zero bytes; still hand back a buffer the caller can free */
    *data = out.data ? out.data : malloc(1);
    *len = out.len;
    if (!*data) return err_set(err, ERR_RUNTIME, "out of memory serializing the graph");
    return 0;
}

int graphdef_save(const Graph *g, const char *path, Err *err) {
    if (pbtxt_is_text_path(path)) return pbtxt_save(g, path, err);
    uint8_t *data;
    size_t len;
    if (graphdef_serialize(g, &data, &len, err)) return err_prefix(err, "%s", path);
    int rc = atomic_write_file(path, data, len, err);
    free(data);
    return rc;
}
