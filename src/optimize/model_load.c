/* model_load.c - a model spec to a Graph (see model_load.h). */
#include "model_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/graphdef.h"
#include "../runtime/ref.h"
#include "../zoo/zoo.h"

/* "zoo:NAME@key=value@..." -> a built graph */
static Graph *build_zoo_spec(const char *spec, Err *err) {
    char buf[256];
    if (strlen(spec + 4) >= sizeof buf) { err_set(err, ERR_INPUT, "%.200s...: zoo spec too long", spec); return NULL; }
    snprintf(buf, sizeof buf, "%s", spec + 4);
    ZooOpts o = zoo_opts_default();
    char *at = strchr(buf, '@');
    if (at) *at++ = 0;
    while (at && *at) {
        char *next = strchr(at, '@');
        if (next) *next++ = 0;
        char *eq = strchr(at, '=');
        char *end = NULL;
        long long v = eq ? strtoll(eq + 1, &end, 10) : -1;
        if (!eq || end == eq + 1 || *end || v < 0 || v > (1LL << 31)) {
            err_set(err, ERR_INPUT, "%s: options are @key=integer, got '%s'", spec, at);
            return NULL;
        }
        *eq = 0;
        if (!strcmp(at, "seed")) o.seed = (uint64_t)v;
        else if (!strcmp(at, "image")) o.image_size = (int)v;
        else if (!strcmp(at, "seq")) o.seq_len = (int)v;
        else if (!strcmp(at, "batch")) o.batch = (int)v;
        else if (!strcmp(at, "width")) o.width_pct = (int)v;
        else {
            err_set(err, ERR_INPUT, "%s: unknown option '%s' (seed, image, seq, batch, width)", spec, at);
            return NULL;
        }
        at = next;
    }
    Graph *g = zoo_build(buf, &o, err);
    if (!g && strchr(spec, '@')) err_prefix(err, "%s", spec);
    return g;
}

Graph *model_load_with(const char *spec, const ModelLoadOpts *opts, Err *err) {
    if (!spec || !*spec) { err_set(err, ERR_INPUT, "no model given"); return NULL; }
    if (!strncmp(spec, "zoo:", 4)) return build_zoo_spec(spec, err);
    return model_file_load(spec, opts, err);
}

Graph *model_load(const char *spec, Err *err) { return model_load_with(spec, NULL, err); }

int model_prepare(Graph *g, const InputSpec *specs, int n_specs, Err *err) {
    if (graph_validate(g, err)) return -1;
    return graph_infer(g, specs, n_specs, ref_eval_node, NULL, err);
}
