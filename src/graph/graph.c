/* graph.c - Graph construction, the name index, node inputs/outputs and value naming. */
#include "graph.h"
#include "graph_func.h"
#include "graph_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- name index: open addressing, FNV-1a, rebuilt when nodes are removed ---- */
struct NameIndex {
    int cap;   /* power of two */
    int *slot; /* node index or -1 */
};

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int index_insert(const Graph *g, NameIndex *ix, int node) {
    uint64_t h = hash_str(g->nodes[node]->name);
    for (int k = 0;; k++) {
        int pos = (int)((h + (uint64_t)k) & (uint64_t)(ix->cap - 1));
        if (ix->slot[pos] < 0) { ix->slot[pos] = node; return 0; }
    }
}

static int index_rebuild(Graph *g, int min_cap) {
    int cap = 64;
    while (cap < 2 * min_cap) cap *= 2;
    NameIndex *ix = g->index;
    if (!ix) {
        ix = calloc(1, sizeof *ix);
        if (!ix) return -1;
        g->index = ix;
    }
    int *slot = malloc((size_t)cap * sizeof *slot);
    if (!slot) return -1;
    free(ix->slot);
    ix->slot = slot;
    ix->cap = cap;
    for (int i = 0; i < cap; i++) slot[i] = -1;
    for (int i = 0; i < g->n_nodes; i++) index_insert(g, ix, i);
    return 0;
}

int graph_find(const Graph *g, const char *name) {
    if (!g->index) return -1;
    uint64_t h = hash_str(name);
    for (int k = 0; k < g->index->cap; k++) {
        int pos = (int)((h + (uint64_t)k) & (uint64_t)(g->index->cap - 1));
        int n = g->index->slot[pos];
        if (n < 0) return -1;
        if (!strcmp(g->nodes[n]->name, name)) return n;
    }
    return -1;
}

/* called by graph_edit.c after compaction */
int graph_reindex(Graph *g) { return index_rebuild(g, g->n_nodes + 1); }

/* ---- graph ---- */
Graph *graph_new(void) {
    Graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    if (index_rebuild(g, 16)) { free(g); return NULL; }
    return g;
}

void node_free(Node *n) {
    if (!n) return;
    free(n->name);
    free(n->op_name);
    free(n->device);
    free(n->inputs);
    free(n->ctrl);
    for (int i = 0; i < n->n_attrs; i++) attr_free(&n->attrs[i]);
    free(n->attrs);
    for (int i = 0; i < n->n_outputs; i++) tensor_release(&n->outputs[i].known);
    free(n->outputs);
    free(n->extra);
    free(n);
}

void graph_free(Graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) node_free(g->nodes[i]);
    free(g->nodes);
    if (g->index) free(g->index->slot);
    free(g->index);
    free(g->outputs);
    free(g->extra);
    graph_funcs_release(g->funcs);
    free(g);
}

int graph_add_node(Graph *g, const char *name, const char *op_name, Err *err) {
    if (!name || !*name) return err_set(err, ERR_INPUT, "node with an empty name");
    size_t len = strlen(name);
    if (len > GRAPH_MAX_NAME)
        return err_set(err, ERR_INPUT, "node name of %zu bytes ('%.40s...') is longer than the %d bytes grappo accepts", len, name,
                       GRAPH_MAX_NAME);
    if (!op_name || !*op_name) return err_set(err, ERR_INPUT, "node '%s' has no op", name);
    if (graph_find(g, name) >= 0) return err_set(err, ERR_INPUT, "duplicate node name '%s'", name);
    if (g->n_nodes == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        Node **nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return err_set(err, ERR_RUNTIME, "out of memory adding node '%s'", name);
        g->nodes = nodes;
        g->cap = cap;
    }
    Node *n = calloc(1, sizeof *n);
    if (!n) return err_set(err, ERR_RUNTIME, "out of memory adding node '%s'", name);
    n->name = strdup(name);
    n->op_name = strdup(op_name);
    if (!n->name || !n->op_name) { node_free(n); return err_set(err, ERR_RUNTIME, "out of memory"); }
    n->op = op_lookup(op_name);
    int idx = g->n_nodes;
    g->nodes[g->n_nodes++] = n;
    if (2 * g->n_nodes > g->index->cap) {
        if (index_rebuild(g, g->n_nodes)) { g->n_nodes--; node_free(n); return err_set(err, ERR_RUNTIME, "out of memory"); }
    } else {
        index_insert(g, g->index, idx);
    }
    return idx;
}

int node_add_input(Graph *g, int node, ValueRef v, Err *err) {
    Node *n = g->nodes[node];
    if (v.node < 0 || v.node >= g->n_nodes || v.port < 0)
        return err_set(err, ERR_INPUT, "node '%s': invalid input reference", n->name);
    ValueRef *in = realloc(n->inputs, (size_t)(n->n_inputs + 1) * sizeof *in);
    if (!in) return err_set(err, ERR_RUNTIME, "out of memory");
    n->inputs = in;
    n->inputs[n->n_inputs++] = v;
    return 0;
}

int node_add_ctrl(Graph *g, int node, int ctrl_node, Err *err) {
    Node *n = g->nodes[node];
    if (ctrl_node < 0 || ctrl_node >= g->n_nodes)
        return err_set(err, ERR_INPUT, "node '%s': invalid control input", n->name);
    int *c = realloc(n->ctrl, (size_t)(n->n_ctrl + 1) * sizeof *c);
    if (!c) return err_set(err, ERR_RUNTIME, "out of memory");
    n->ctrl = c;
    n->ctrl[n->n_ctrl++] = ctrl_node;
    return 0;
}

int node_set_device(Node *n, const char *device, Err *err) {
    char *d = device ? strdup(device) : NULL;
    if (device && !d) return err_set(err, ERR_RUNTIME, "out of memory");
    free(n->device);
    n->device = d;
    return 0;
}

int node_set_num_outputs(Node *n, int n_outputs, Err *err) {
    if (n_outputs < 0 || n_outputs > 1 << 20) return err_set(err, ERR_INPUT, "node '%s': %d outputs", n->name, n_outputs);
    for (int i = n_outputs; i < n->n_outputs; i++) tensor_release(&n->outputs[i].known);
    Value *o = realloc(n->outputs, (size_t)(n_outputs ? n_outputs : 1) * sizeof *o);
    if (!o) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int i = n->n_outputs; i < n_outputs; i++) {
        memset(&o[i], 0, sizeof o[i]);
        o[i].shape = shape_unknown();
    }
    n->outputs = o;
    n->n_outputs = n_outputs;
    return 0;
}

int graph_add_output(Graph *g, ValueRef v, Err *err) {
    if (v.node < 0 || v.node >= g->n_nodes || v.port < 0) return err_set(err, ERR_INPUT, "invalid graph output");
    ValueRef *o = realloc(g->outputs, (size_t)(g->n_outputs + 1) * sizeof *o);
    if (!o) return err_set(err, ERR_RUNTIME, "out of memory");
    g->outputs = o;
    g->outputs[g->n_outputs++] = v;
    return 0;
}

int graph_parse_ref(const Graph *g, const char *text, ValueRef *out, Err *err) {
    bool ctrl = text[0] == '^';
    const char *name = ctrl ? text + 1 : text;
    const char *colon = strrchr(name, ':');
    size_t len = colon ? (size_t)(colon - name) : strlen(name);
    char buf[1024];
    if (len == 0 || len >= sizeof buf) return err_set(err, ERR_INPUT, "bad tensor name '%.200s'", text);
    memcpy(buf, name, len);
    buf[len] = 0;
    long port = 0;
    if (colon) {
        if (ctrl || !colon[1]) return err_set(err, ERR_INPUT, "bad tensor name '%.200s'", text);
        char *end;
        port = strtol(colon + 1, &end, 10);
        if (*end || port < 0 || port > 1 << 20) return err_set(err, ERR_INPUT, "bad output port in '%.200s'", text);
    }
    int node = graph_find(g, buf);
    if (node < 0) return err_set(err, ERR_INPUT, "'%.200s' names no node", text);
    out->node = node;
    out->port = ctrl ? -1 : (int)port;
    return 0;
}

const char *graph_ref_name(const Graph *g, ValueRef v, char *buf, size_t cap) {
    const char *name = g->nodes[v.node]->name;
    if (v.port == 0) snprintf(buf, cap, "%s", name);
    else if (v.port < 0) snprintf(buf, cap, "^%s", name);
    else snprintf(buf, cap, "%s:%d", name, v.port);
    return buf;
}

int graph_rename_node(Graph *g, int node, const char *name, Err *err) {
    if (!name || !*name) return err_set(err, ERR_INPUT, "rename: empty name");
    int other = graph_find(g, name);
    if (other == node) return 0;
    if (other >= 0) return err_set(err, ERR_INPUT, "rename: name '%s' is taken", name);
    char *copy = strdup(name);
    if (!copy) return err_set(err, ERR_RUNTIME, "out of memory");
    free(g->nodes[node]->name);
    g->nodes[node]->name = copy;
    /* the index hashes names: rebuild it (O(nodes), once per rewrite) */
    if (graph_reindex(g)) return err_set(err, ERR_RUNTIME, "out of memory");
    return 0;
}

int graph_swap_names(Graph *g, int a, int b, Err *err) {
    char *t = g->nodes[a]->name;
    g->nodes[a]->name = g->nodes[b]->name;
    g->nodes[b]->name = t;
    if (graph_reindex(g)) return err_set(err, ERR_RUNTIME, "out of memory");
    return 0;
}
