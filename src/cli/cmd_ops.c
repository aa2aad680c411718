/* cmd_ops.c - `grappo ops FILE.pb`: which ops of a graph run on which runtime (reference
 * kernel; on the fast runtime a oneDNN/native kernel, the reference kernel inside the arena,
 * or with run-time shapes outside it), and which grappo cannot execute. Always exit 0 once the
 * file is read: the answer, not the verdict, is the point. `grappo ops --list` prints the op
 * table itself as Markdown (docs/ops.md's coverage table is that output). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../runtime/plan.h"

#define MAX_SPECS 64
#define MAX_IMPLS 8

static void help(void) {
    printf("usage: grappo ops FILE.pb|zoo:NAME [--input-shape NAME=D1,D2,...] [--json]\n"
           "       grappo ops --list\n"
           "\n"
           "For every op type of the graph: how many nodes, whether the reference runtime has a kernel,\n"
           "and how the fast runtime runs its nodes: a oneDNN or native kernel (named), the reference\n"
           "kernel inside the static arena (\"ref\"), the reference kernel with shapes known only at run\n"
           "time outside the arena (\"ref dynamic\"), a view, a constant folded at load - or not at all.\n"
           "Ops grappo cannot execute are listed with their counts; the exit code is 0 all the same.\n"
           "--list prints every op grappo knows (the op table) as a Markdown table.\n");
}

typedef struct OpRow {
    const char *op;
    int count;
    bool reference;
    int n_impl;
    char impl[MAX_IMPLS][64];
    int impl_count[MAX_IMPLS];
} OpRow;

static int by_count(const void *a, const void *b) {
    const OpRow *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    return strcmp(x->op, y->op);
}

static void add_impl(OpRow *r, const char *what) {
    for (int k = 0; k < r->n_impl; k++)
        if (!strcmp(r->impl[k], what)) { r->impl_count[k]++; return; }
    if (r->n_impl == MAX_IMPLS) { /* the last slot collects the rest */
        snprintf(r->impl[MAX_IMPLS - 1], sizeof r->impl[0], "other kernels");
        r->impl_count[MAX_IMPLS - 1]++;
        return;
    }
    snprintf(r->impl[r->n_impl], sizeof r->impl[0], "%.63s", what);
    r->impl_count[r->n_impl++] = 1;
}

static const char *fast_label(const PlanNodeSupport *s) {
    switch (s->kind) {
    case PLAN_NODE_FAST: return s->impl;
    case PLAN_NODE_REF: return "ref";
    case PLAN_NODE_DYNAMIC: return "ref dynamic";
    case PLAN_NODE_VIEW: return "view";
    case PLAN_NODE_CONST: return "constant";
    case PLAN_NODE_INPUT: return "input";
    case PLAN_NODE_UNSUPPORTED: return "no";
    case PLAN_NODE_BLOCKED: return "after an unsupported op";
    case PLAN_NODE_ERROR: return "error";
    }
    return "?";
}

static void print_list(void) {
    printf("| op | reference kernel | output size |\n|---|---|---|\n");
    for (int i = 1; i < OP_COUNT; i++) {
        const OpDef *d = op_def((OpId)i);
        printf("| %s | yes | %s |\n", d->tf_name,
               d->flags & OPF_CONTROL    ? "from its function bodies (dynamic)"
               : d->flags & OPF_DEADNESS ? "from shapes; reference frame interpreter (both runtimes)"
               : d->flags & OPF_DYNAMIC  ? "depends on values (dynamic)"
                                         : "from shapes");
    }
}

int cmd_ops(int argc, char **argv) {
    Args a = {argc, argv, 1, "ops"};
    const char *path = NULL, *v;
    bool json = false, bad = false, list = false;
    InputSpec specs[MAX_SPECS];
    int n_specs = 0, rc = EXIT_OK;
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_flag(&a, "--json")) json = true;
        else if (arg_flag(&a, "--list")) list = true;
        else if (arg_opt(&a, "--input-shape", &v, &bad)) {
            if (bad || n_specs == MAX_SPECS || !parse_input_shape("ops", v, &specs[n_specs])) { rc = EXIT_USAGE; goto out; }
            n_specs++;
        } else if (argv[a.i][0] == '-') { rc = cli_usage_error("ops", "unknown option '%s'", argv[a.i]); goto out; }
        else if (!path) path = argv[a.i];
        else { rc = cli_usage_error("ops", "unexpected argument '%s'", argv[a.i]); goto out; }
        if (bad) { rc = EXIT_USAGE; goto out; }
    }
    if (list) { print_list(); goto out; }
    if (!path) { rc = cli_usage_error("ops", "which model file?"); goto out; }
    Err err = {0};
    Graph *g = cli_load_model(path, &err);
    if (!g) { rc = cli_fail(&err); goto out; }
    /* a graph that cannot be prepared (a TF1 loop is a cycle) still gets its op list */
    Err why = {0};
    bool prepared = cli_prepare(g, specs, n_specs, &why) == 0;
    PlanNodeSupport *sup = calloc((size_t)g->n_nodes + 1, sizeof *sup);
    OpRow *rows = calloc((size_t)g->n_nodes + 1, sizeof *rows);
    if (!sup || !rows) { err_set(&err, ERR_RUNTIME, "out of memory"); rc = cli_fail(&err); goto free_all; }
    if (prepared && plan_probe(g, NULL, sup, &why)) prepared = false;
    int n_rows = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        int k = 0;
        while (k < n_rows && strcmp(rows[k].op, n->op_name)) k++;
        if (k == n_rows) { rows[n_rows].op = n->op_name; rows[n_rows].reference = n->op != OP_UNKNOWN; n_rows++; }
        rows[k].count++;
        add_impl(&rows[k], prepared ? fast_label(&sup[i]) : n->op == OP_UNKNOWN ? "no" : "-");
    }
    qsort(rows, (size_t)n_rows, sizeof *rows, by_count);
    int types = 0, nodes = graph_unsupported_ops(g, NULL, NULL, 0, &types);
    Err verdict = {0};
    bool runs = prepared && graph_check_executable(g, NULL, &verdict) == 0;
    if (!prepared) verdict = why;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", path);
        cJSON_AddNumberToObject(o, "nodes", g->n_nodes);
        cJSON_AddBoolToObject(o, "runs", runs);
        if (!runs) cJSON_AddStringToObject(o, "why_not", verdict.msg);
        cJSON_AddNumberToObject(o, "unsupported_nodes", nodes);
        cJSON *arr = cJSON_AddArrayToObject(o, "ops");
        for (int k = 0; k < n_rows; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "op", rows[k].op);
            cJSON_AddNumberToObject(e, "nodes", rows[k].count);
            cJSON_AddBoolToObject(e, "reference", rows[k].reference);
            cJSON *f = cJSON_AddObjectToObject(e, "fast");
            for (int j = 0; j < rows[k].n_impl; j++) cJSON_AddNumberToObject(f, rows[k].impl[j], rows[k].impl_count[j]);
            cJSON_AddItemToArray(arr, e);
        }
        char *s = cJSON_Print(o);
        printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(o);
    } else {
        printf("%s: %d nodes, %d op types; ", path, g->n_nodes, n_rows);
        if (runs) printf("every op runs on both runtimes\n");
        else if (nodes) printf("%d op type%s (%d node%s) grappo cannot execute\n", types, types == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s");
        else printf("cannot run\n");
        if (!runs) printf("  %s\n", verdict.msg);
        printf("\n%-28s %6s  %-9s  %s\n", "op", "nodes", "reference", "fast runtime");
        for (int k = 0; k < n_rows; k++) {
            printf("%-28s %6d  %-9s  ", rows[k].op, rows[k].count, rows[k].reference ? "yes" : "no");
            for (int j = 0; j < rows[k].n_impl; j++) {
                if (rows[k].n_impl > 1 || rows[k].impl_count[j] != rows[k].count) printf("%s%s x%d", j ? ", " : "", rows[k].impl[j], rows[k].impl_count[j]);
                else printf("%s", rows[k].impl[j]);
            }
            printf("\n");
        }
        if (prepared)
            printf("\nfast runtime: a kernel name is oneDNN's or grappo's native kernel; ref = reference kernel in the\n"
                   "static arena; ref dynamic = reference kernel, shapes known only at run time, outside the arena\n");
    }
free_all:
    free(sup);
    free(rows);
    graph_free(g);
out:
    for (int k = 0; k < n_specs; k++) free((char *)specs[k].name);
    return rc;
}
