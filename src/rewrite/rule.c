/* rule.c - the rule registry (generated from rules.def), fresh site lists, and rule_apply:
 * the one way a rule changes a graph (stale-site check, dead-node removal, re-inference,
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
    GraphUses u;
    if (graph_uses(g, &u, err)) return -1;
    int rc = r->find(g, &u, out, err);
    graph_uses_free(&u);
    if (rc < 0) return err_prefix(err, "rule %s", r->name);
    for (int k = 0; k < out->n; k++) out->v[k].version = g->version;
    return 0;
}

int rule_apply(const RuleDef *r, Graph *g, const Site *s, Err *err) {
    if (s->version != g->version)
        return err_set(err, ERR_RUNTIME, "rule %s: site found in graph version %llu, graph is at %llu (stale site)", r->name,
                       (unsigned long long)s->version, (unsigned long long)g->version);
    for (int k = 0; k < s->n; k++)
        if (s->nodes[k] < 0 || s->nodes[k] >= g->n_nodes) return err_set(err, ERR_RUNTIME, "rule %s: site refers to no node", r->name);
    if (r->apply(g, s, err)) return err_prefix(err, "rule %s at '%s'", r->name, g->nodes[s->nodes[0]]->name);
    g->version++;
    if (graph_remove_dead(g, err) < 0) return err_prefix(err, "rule %s", r->name);
    if (graph_reinfer(g, ref_eval_node, NULL, err)) return err_prefix(err, "rule %s: the rewritten graph does not infer", r->name);
    if (graph_validate(g, err)) return err_prefix(err, "rule %s: the rewritten graph is invalid", r->name);
    return 0;
}
