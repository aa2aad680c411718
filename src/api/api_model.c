/* api_model.c - grappo_model: load (through model_load, the one loader), save, interface,
 * run on the fast runtime (inputs read in place, outputs handed over in malloc'd buffers). */
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../io/graphdef.h"
#include "../optimize/model_load.h"
#include "api_internal.h"

grappo_model *api_model_wrap(Graph *g, bool borrowed) {
    grappo_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->g = g;
    m->borrowed = borrowed;
    return m;
}

GRAPPO_API int grappo_model_load(const char *path, grappo_model **out) {
    if (!out) return api_failf(GRAPPO_INPUT, "grappo_model_load: out is NULL");
    *out = NULL;
    if (!path) return api_failf(GRAPPO_INPUT, "grappo_model_load: path is NULL");
    Err err = {0};
    Graph *g = model_load(path, &err);
    if (!g) return api_fail(&err);
    if (model_prepare(g, NULL, 0, &err)) {
        err_prefix(&err, "%s", path);
        graph_free(g);
        return api_fail(&err);
    }
    if (!(*out = api_model_wrap(g, false))) {
        graph_free(g);
        return api_failf(GRAPPO_ERROR, "out of memory");
    }
    return api_ok();
}

GRAPPO_API void grappo_model_free(grappo_model *m) {
    if (!m) return;
    if (!m->borrowed) graph_free(m->g);
    free(m->inputs);
    free(m->outputs);
    plan_free(m->plan);
    free(m);
}

GRAPPO_API int grappo_model_save(const grappo_model *m, const char *path) {
    if (!m || !path) return api_failf(GRAPPO_INPUT, "grappo_model_save: model or path is NULL");
    Err err = {0};
    if (graphdef_save(m->g, path, &err)) return api_fail(&err);
    return api_ok();
}

static void describe(const Graph *g, ValueRef r, grappo_tensor *t) {
    const Value *v = graph_value(g, r);
    memset(t, 0, sizeof *t);
    t->name = g->nodes[r.node]->name;
    t->dtype = v->dtype;
    t->rank = v->shape.rank < GRAPPO_MAX_RANK ? v->shape.rank : GRAPPO_MAX_RANK;
    for (int k = 0; k < t->rank; k++) t->shape[k] = v->shape.dim[k] >= 0 ? v->shape.dim[k] : -1;
}

/* the interface, once: placeholders in node order (their declared shape: -1 where free),
   outputs in graph order */
static int interface(grappo_model *m) {
    if (m->inputs || m->outputs) return 0;
    const Graph *g = m->g;
    int n_in = 0;
    for (int i = 0; i < g->n_nodes; i++) n_in += g->nodes[i]->op == OP_PLACEHOLDER;
    m->inputs = calloc((size_t)n_in + 1, sizeof *m->inputs);
    m->outputs = calloc((size_t)g->n_outputs + 1, sizeof *m->outputs);
    if (!m->inputs || !m->outputs) {
        free(m->inputs);
        free(m->outputs);
        m->inputs = m->outputs = NULL;
        return api_failf(GRAPPO_ERROR, "out of memory");
    }
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
        describe(g, (ValueRef){i, 0}, &m->inputs[k]);
        /* the declared shape: a dynamic batch is -1 here although inference fixed it to 1 */
        const Attr *sa = node_attr_find(g->nodes[i], "shape");
        if (sa && sa->kind == ATTR_SHAPE && sa->shape.rank >= 0 && sa->shape.rank == m->inputs[k].rank)
            for (int d = 0; d < sa->shape.rank; d++) m->inputs[k].shape[d] = sa->shape.dim[d] >= 0 ? sa->shape.dim[d] : -1;
        k++;
    }
    m->n_inputs = n_in;
    for (int j = 0; j < g->n_outputs; j++) describe(g, g->outputs[j], &m->outputs[j]);
    m->n_outputs = g->n_outputs;
    return 0;
}

GRAPPO_API int grappo_model_inputs(const grappo_model *m, const grappo_tensor **info, int *n) {
    if (!m || !info || !n) return api_failf(GRAPPO_INPUT, "grappo_model_inputs: NULL argument");
    int rc = interface((grappo_model *)m);
    if (rc) return rc;
    *info = m->inputs;
    *n = m->n_inputs;
    return api_ok();
}

GRAPPO_API int grappo_model_outputs(const grappo_model *m, const grappo_tensor **info, int *n) {
    if (!m || !info || !n) return api_failf(GRAPPO_INPUT, "grappo_model_outputs: NULL argument");
    int rc = interface((grappo_model *)m);
    if (rc) return rc;
    *info = m->outputs;
    *n = m->n_outputs;
    return api_ok();
}

GRAPPO_API void grappo_tensors_free(grappo_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) {
        free(t[i].data);
        t[i].data = NULL;
        t[i].nbytes = 0;
    }
}

GRAPPO_API int grappo_model_run(grappo_model *m, const grappo_tensor *inputs, int n_inputs, grappo_tensor *outputs, int n_outputs) {
    if (!m || (n_inputs && !inputs) || !outputs) return api_failf(GRAPPO_INPUT, "grappo_model_run: NULL argument");
    if (n_outputs != m->g->n_outputs)
        return api_failf(GRAPPO_INPUT, "grappo_model_run: the model has %d outputs, the caller gave room for %d", m->g->n_outputs, n_outputs);
    int rc = interface(m);
    if (rc) return rc;
    Err err = {0};
    if (!m->plan) {
        PlanOpts po = {.threads = 0};
        m->plan = plan_compile(m->g, NULL, 0, &po, &err);
        if (!m->plan) return api_fail(&err);
    }
    RefFeed *feeds = calloc((size_t)n_inputs + 1, sizeof *feeds);
    Tensor *outs = calloc((size_t)n_outputs + 1, sizeof *outs);
    if (!feeds || !outs) { free(feeds); free(outs); return api_failf(GRAPPO_ERROR, "out of memory"); }
    rc = GRAPPO_OK;
    for (int i = 0; i < n_inputs && !rc; i++) {
        const grappo_tensor *t = &inputs[i];
        if (!t->name) { rc = api_failf(GRAPPO_INPUT, "input %d has no name", i); break; }
        if (t->rank < 0 || t->rank > GRAPPO_MAX_RANK) { rc = api_failf(GRAPPO_INPUT, "input '%s': rank %d", t->name, t->rank); break; }
        Shape sh = {.rank = t->rank};
        for (int k = 0; k < t->rank; k++) sh.dim[k] = t->shape[k];
        feeds[i].name = t->name;
        if (tensor_wrap(&feeds[i].value, t->dtype, &sh, t->data, &err)) { rc = api_fail(&err); break; }
        if (tensor_nbytes(&feeds[i].value) != t->nbytes)
            rc = api_failf(GRAPPO_INPUT, "input '%s': %zu bytes given, its dtype and shape need %zu", t->name, t->nbytes,
                           tensor_nbytes(&feeds[i].value));
    }
    if (!rc && plan_run(m->plan, feeds, n_inputs, outs, NULL, &err)) rc = api_fail(&err);
    for (int j = 0; j < n_outputs; j++) {
        grappo_tensor *o = &outputs[j];
        memset(o, 0, sizeof *o);
        if (rc) continue;
        const Tensor *t = &outs[j];
        o->name = m->outputs[j].name;
        o->dtype = t->dtype;
        o->rank = t->shape.rank;
        for (int k = 0; k < t->shape.rank && k < GRAPPO_MAX_RANK; k++) o->shape[k] = t->shape.dim[k];
        o->nbytes = tensor_nbytes(t);
        o->data = malloc(o->nbytes ? o->nbytes : 1);
        if (!o->data) { rc = api_failf(GRAPPO_ERROR, "out of memory"); continue; }
        if (o->nbytes) memcpy(o->data, tensor_data(t), o->nbytes);
    }
    if (rc) grappo_tensors_free(outputs, n_outputs);
    for (int j = 0; j < n_outputs; j++) tensor_release(&outs[j]);
    for (int i = 0; i < n_inputs; i++) tensor_release(&feeds[i].value);
    free(outs);
    free(feeds);
    return rc ? rc : api_ok();
}
