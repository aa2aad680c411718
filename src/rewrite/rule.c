/* rule.c - the rule registry (generated from rules.def), fresh site lists, and rule_apply:
 * the one way a rule changes a graph (stale-site check, dead-node removal, re-inference,
 * the check that every graph output survived by name and was not folded into a Const,
 * validation, version bump). */
#include "rule.h"

#include <stdlib.h>
#include <string.h>

#include "../runtime/ref.h"

#define RULE(sym) extern const RuleDef sym;
#include "rules.def"
#undef RULE

static const RuleDef *const registry[] = {
#define RULE(sym) &sym,
#include "rules.def"
#undef RULE
    NULL, /* keeps the array non-empty */
};

const RuleDef *const *rules_all(int *count) {
    if (count) *count = (int)(sizeof registry / sizeof registry[0]) - 1;
    return registry;
}

const RuleDef *rule_by_name(const char *name) {
    int n;
    const RuleDef *const *all = rules_all(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    return NULL;
}

int sitelist_push(SiteList *l, const Site *s, Err *err) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        Site *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return err_set(err, ERR_RUNTIME, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *s;
    return 0;
}

void sitelist_free(SiteList *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

int rule_sites(const RuleDef *r, const Graph *g, SiteList *out, Err *err) {
    out->n = 0;
    /* TF1 conditionals and loops: which nodes run, and how often, depends on dead branches and
       frames (control edges from a pivot, back edges); no rule knows that, so none rewrites such
       a graph (nor one holding TensorArray/TensorList state) */
    if (graph_has_tf1_control_flow(g)) return 0;
    GraphUses u;
    if (graph_uses(g, &u, err)) return -1;
    int rc = r->find(g, &u, out, err);
    graph_uses_free(&u);
    if (rc < 0) return err_prefix(err, "rule %s", r->name);
    for (int k = 0; k < out->n; k++) out->v[k].version = g->version;
    return 0;
}

/* The graph's outputs before a rewrite: name, port, and whether the producer was a Const. */
typedef struct OutputSnap {
    int n;
    char **name;
    int *port;
    bool *was_const;
} OutputSnap;

static void snap_free(OutputSnap *o) {
    for (int k = 0; k < o->n; k++) free(o->name[k]);
    free(o->name);
    free(o->port);
    free(o->was_const);
}

static int snap_take(const Graph *g, OutputSnap *o, Err *err) {
    o->n = g->n_outputs;
    o->name = calloc((size_t)o->n + 1, sizeof *o->name);
    o->port = calloc((size_t)o->n + 1, sizeof *o->port);
    o->was_const = calloc((size_t)o->n + 1, sizeof *o->was_const);
    if (!o->name || !o->port || !o->was_const) { o->n = 0; snap_free(o); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int k = 0; k < o->n; k++) {
        const Node *p = g->nodes[g->outputs[k].node];
        o->name[k] = strdup(p->name);
        o->port[k] = g->outputs[k].port;
        o->was_const[k] = p->op == OP_CONST;
        if (!o->name[k]) { snap_free(o); return err_set(err, ERR_RUNTIME, "out of memory"); }
    }
    return 0;
}

/* Every output keeps its name and port, and is not turned into a Const (which a GraphDef
   does not count as an output): the graph's interface survives every rewrite. */
static int snap_check(const Graph *g, const OutputSnap *o, const RuleDef *r, Err *err) {
    for (int k = 0; k < o->n; k++) {
        int i = graph_find(g, o->name[k]);
        bool found = i >= 0 && (o->was_const[k] || g->nodes[i]->op != OP_CONST);
        if (found && !(k < g->n_outputs && g->outputs[k].node == i && g->outputs[k].port == o->port[k])) {
            found = false; /* outputs usually keep their order: scan only when they did not */
            for (int j = 0; j < g->n_outputs && !found; j++) found = g->outputs[j].node == i && g->outputs[j].port == o->port[k];
        }
        if (!found)
            return err_set(err, ERR_RUNTIME, "rule %s removed or folded away the graph output '%s:%d' (outputs must survive every rewrite)",
                           r->name, o->name[k], o->port[k]);
    }
    return 0;
}

int rule_apply(const RuleDef *r, Graph *g, const Site *s, Err *err) {
    if (s->version != g->version)
        return err_set(err, ERR_RUNTIME, "rule %s: site found in graph version %llu, graph is at %llu (stale site)", r->name,
                       (unsigned long long)s->version, (unsigned long long)g->version);
    for (int k = 0; k < s->n; k++)
        if (s->nodes[k] < 0 || s->nodes[k] >= g->n_nodes) return err_set(err, ERR_RUNTIME, "rule %s: site refers to no node", r->name);
    OutputSnap outs;
    if (snap_take(g, &outs, err)) return -1;
    int rc = -1;
    if (r->apply(g, s, err)) { err_prefix(err, "rule %s at '%s'", r->name, g->nodes[s->nodes[0]]->name); goto done; }
    g->version++;
    if (graph_remove_dead(g, err) < 0) { err_prefix(err, "rule %s", r->name); goto done; }
    if (graph_reinfer(g, ref_eval_node, NULL, err)) { err_prefix(err, "rule %s: the rewritten graph does not infer", r->name); goto done; }
    if (snap_check(g, &outs, r, err)) goto done;
    if (graph_validate(g, err)) { err_prefix(err, "rule %s: the rewritten graph is invalid", r->name); goto done; }
    rc = 0;
done:
    snap_free(&outs);
    return rc;
}
