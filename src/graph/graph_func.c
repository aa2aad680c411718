/* graph_func.c - the table of function bodies a Graph's control-flow nodes call, and which
 * attributes of those nodes name them. See graph_func.h. */
#include <stdlib.h>
#include <string.h>

#include "graph_func.h"

const GraphFunc *graph_func_find(const Graph *g, const char *name) {
    if (!g->funcs || !name) return NULL;
    for (int i = 0; i < g->funcs->n; i++)
        if (!strcmp(g->funcs->f[i].name, name)) return &g->funcs->f[i];
    return NULL;
}

int graph_func_add(Graph *g, const char *name, Graph *body, Err *err) {
    if (!g->funcs && !(g->funcs = calloc(1, sizeof *g->funcs))) goto oom;
    g->funcs->refs = g->funcs->refs ? g->funcs->refs : 1;
    GraphFuncs *t = g->funcs;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 4;
        GraphFunc *p = realloc(t->f, (size_t)cap * sizeof *p);
        if (!p) goto oom;
        t->f = p;
        t->cap = cap;
    }
    GraphFunc *f = &t->f[t->n];
    if (!(f->name = strdup(name))) goto oom;
    f->body = body;
    f->n_rets = body->n_outputs;
    f->n_args = 0;
    for (int i = 0; i < body->n_nodes; i++) f->n_args += body->nodes[i]->op == OP_PLACEHOLDER;
    t->n++;
    return 0;
oom:
    graph_free(body);
    return err_set(err, ERR_RUNTIME, "out of memory");
}

GraphFuncs *graph_funcs_share(GraphFuncs *f) {
    if (f) f->refs++;
    return f;
}

void graph_funcs_release(GraphFuncs *f) {
    if (!f || --f->refs > 0) return;
    for (int i = 0; i < f->n; i++) {
        free(f->f[i].name);
        graph_free(f->f[i].body);
    }
    free(f->f);
    free(f);
}

bool op_is_functional_control_flow(OpId op) {
    return op == OP_WHILE || op == OP_STATELESS_WHILE || op == OP_IF || op == OP_STATELESS_IF || op == OP_CASE ||
           op == OP_STATELESS_CASE;
}

static const char *func_attr(const Node *n, const char *key, Err *err) {
    const Attr *a = node_attr_find(n, key);
    if (!a || a->kind != ATTR_FUNC || !a->s.data || !*a->s.data) {
        err_set(err, ERR_INPUT, "node '%s' (%s) has no function attribute '%s'", n->name, n->op_name, key);
        return NULL;
    }
    return a->s.data;
}

int node_called_funcs(const Node *n, const char **names, int cap, Err *err) {
    if (n->op == OP_WHILE || n->op == OP_STATELESS_WHILE || n->op == OP_IF || n->op == OP_STATELESS_IF) {
        bool w = n->op == OP_WHILE || n->op == OP_STATELESS_WHILE;
        if (cap < 2) return err_set(err, ERR_RUNTIME, "internal: node_called_funcs cap");
        if (!(names[0] = func_attr(n, w ? "cond" : "then_branch", err))) return -1;
        if (!(names[1] = func_attr(n, w ? "body" : "else_branch", err))) return -1;
        return 2;
    }
    if (n->op == OP_CASE || n->op == OP_STATELESS_CASE) {
        const Attr *a = node_attr_find(n, "branches");
        if (!a || a->kind != ATTR_LIST || a->list.kind != ATTR_FUNC || !a->list.s || a->list.n < 1)
            return err_set(err, ERR_INPUT, "node '%s' (%s) has no function list 'branches'", n->name, n->op_name);
        if (a->list.n > cap) return err_set(err, ERR_INPUT, "node '%s' (%s) has %d branches, more than %d", n->name, n->op_name, a->list.n, cap);
        for (int k = 0; k < a->list.n; k++) names[k] = a->list.s[k].data;
        return a->list.n;
    }
    return 0;
}
