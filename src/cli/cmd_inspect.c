/* cmd_inspect.c - `grappo inspect FILE.pb`: op histogram, parameters, FLOPs, inputs and
 * outputs with shapes and dtypes, memory estimate. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../graph/mem_budget.h"
#include "../util/escape.h"
#include "../runtime/ref.h"

#define MAX_SPECS 64

static void help(void) {
    printf("usage: grappo inspect FILE.pb|zoo:NAME [--input-shape NAME=D1,D2,...] [--json]\n"
           "\n"
           "Prints the op histogram, parameter count, FLOPs (a multiply-add counts 2), the inputs and\n"
           "outputs with shapes and dtypes, and a memory estimate (weights + peak activations of the\n"
           "reference schedule). Unknown input dims default to 1 unless --input-shape sets them.\n");
}

typedef struct OpCount { const char *op; int count; int64_t flops; } OpCount;

static int cmp_count(const void *a, const void *b) {
    const OpCount *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    return strcmp(x->op, y->op);
}

static void value_desc(const Graph *g, ValueRef v, char *buf, size_t cap) {
    char nb[256], eb[256], sb[96];
    const Value *val = graph_value(g, v);
    snprintf(buf, cap, "%-40s %-9s %s", str_escape(eb, sizeof eb, graph_ref_name(g, v, nb, sizeof nb)), dtype_name(val->dtype),
             shape_str(&val->shape, sb, sizeof sb));
}

int cmd_inspect(int argc, char **argv) {
    Args a = {argc, argv, 1, "inspect"};
    const char *path = NULL, *v;
    bool json = false, bad = false;
    InputSpec specs[MAX_SPECS];
    int n_specs = 0, rc = EXIT_OK;
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_flag(&a, "--json")) json = true;
        else if (arg_opt(&a, "--input-shape", &v, &bad)) {
            if (bad || n_specs == MAX_SPECS || !parse_input_shape("inspect", v, &specs[n_specs])) { rc = EXIT_USAGE; goto out; }
            n_specs++;
        } else if (argv[a.i][0] == '-') { rc = cli_usage_error("inspect", "unknown option '%s'", argv[a.i]); goto out; }
        else if (!path) path = argv[a.i];
        else { rc = cli_usage_error("inspect", "unexpected argument '%s'", argv[a.i]); goto out; }
        if (bad) { rc = EXIT_USAGE; goto out; }
    }
    if (!path) { rc = cli_usage_error("inspect", "which model file?"); goto out; }
    Err err = {0};
    Graph *g = cli_load_model(path, &err);
    if (!g) { rc = cli_fail(&err); goto out; }
    if (cli_prepare(g, specs, n_specs, &err)) { err_prefix(&err, "%s", path); rc = cli_fail(&err); graph_free(g); goto out; }

    OpCount *ops = calloc((size_t)g->n_nodes + 1, sizeof *ops);
    int n_ops = 0, n_unknown = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_UNKNOWN) n_unknown++;
        int k = 0;
        while (k < n_ops && strcmp(ops[k].op, n->op_name)) k++;
        if (k == n_ops) ops[n_ops++].op = n->op_name;
        ops[k].count++;
        ops[k].flops += node_flops(g, n);
    }
    qsort(ops, (size_t)n_ops, sizeof *ops, cmp_count);
    int64_t wbytes, params = graph_param_count(g, &wbytes);
    int64_t flops = graph_flops(g);
    int64_t act = graph_activation_peak(g, &err);
    char b1[32], b2[32], b3[32], line[512];

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", path);
        cJSON_AddNumberToObject(o, "nodes", g->n_nodes);
        cJSON_AddNumberToObject(o, "producer", g->producer);
        cJSON_AddNumberToObject(o, "parameters", (double)params);
        cJSON_AddNumberToObject(o, "weight_bytes", (double)wbytes);
        cJSON_AddNumberToObject(o, "flops", (double)flops);
        cJSON_AddNumberToObject(o, "activation_peak_bytes", (double)act);
        cJSON_AddNumberToObject(o, "memory_estimate_bytes", (double)(wbytes + (act > 0 ? act : 0)));
        cJSON_AddNumberToObject(o, "memory_budget_bytes", (double)mem_budget());
        int n_dyn = 0;
        for (int i = 0; i < g->n_nodes; i++) n_dyn += g->nodes[i]->op != OP_UNKNOWN && ref_node_is_dynamic(g->nodes[i]);
        cJSON_AddNumberToObject(o, "dynamic_nodes", n_dyn);
        if (n_unknown) {
            Err why;
            graph_check_executable(g, NULL, &why);
            cJSON_AddStringToObject(o, "cannot_run", why.msg);
        }
        cJSON *h = cJSON_AddObjectToObject(o, "ops");
        for (int k = 0; k < n_ops; k++) cJSON_AddNumberToObject(h, ops[k].op, ops[k].count);
        cJSON *io[2] = {cJSON_AddArrayToObject(o, "inputs"), cJSON_AddArrayToObject(o, "outputs")};
        for (int side = 0; side < 2; side++) {
            int count = side ? g->n_outputs : g->n_nodes;
            for (int k = 0; k < count; k++) {
                ValueRef r = side ? g->outputs[k] : (ValueRef){k, 0};
                if (!side && g->nodes[k]->op != OP_PLACEHOLDER) continue;
                const Value *val = graph_value(g, r);
                cJSON *e = cJSON_CreateObject();
                char nb[256];
                cJSON_AddStringToObject(e, "name", graph_ref_name(g, r, nb, sizeof nb));
                cJSON_AddStringToObject(e, "dtype", dtype_name(val->dtype));
                cJSON *dims = cJSON_AddArrayToObject(e, "shape");
                for (int d = 0; d < val->shape.rank; d++) cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)val->shape.dim[d]));
                cJSON_AddItemToArray(io[side], e);
            }
        }
        char *s = cJSON_Print(o);
        printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(o);
    } else {
        printf("%s: %d nodes, %d op types%s\n", path, g->n_nodes, n_ops, n_unknown ? " (some unknown to grappo: kept as is)" : "");
        if (n_unknown) {
            Err why;
            graph_check_executable(g, NULL, &why);
            printf("cannot run: %s\n", why.msg);
        }
        printf("parameters  %s (%s)\n", fmt_count((double)params, b1, sizeof b1), fmt_bytes((double)wbytes, b2, sizeof b2));
        printf("FLOPs       %s per run\n", fmt_count((double)flops, b1, sizeof b1));
        double peak = (double)wbytes + (double)(act > 0 ? act : 0);
        printf("memory      %s estimated = weights %s + peak activations %s\n", fmt_bytes(peak, b1, sizeof b1),
               fmt_bytes((double)wbytes, b2, sizeof b2), fmt_bytes((double)(act > 0 ? act : 0), b3, sizeof b3));
        printf("            memory budget %s%s\n", fmt_bytes((double)mem_budget(), b1, sizeof b1),
               peak > (double)mem_budget() ? ": over it, run would refuse this graph (--max-memory)" : "");
        int n_dyn = 0;
        for (int i = 0; i < g->n_nodes; i++) n_dyn += g->nodes[i]->op != OP_UNKNOWN && ref_node_is_dynamic(g->nodes[i]);
        if (n_dyn)
            printf("dynamic     %d nodes have shapes known only at run time (Where, NonMaxSuppression, ... and what reads them);\n"
                   "            the memory estimate leaves them out (grappo run measures them)\n", n_dyn);
        printf("\ninputs\n");
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == OP_PLACEHOLDER) {
                value_desc(g, (ValueRef){i, 0}, line, sizeof line);
                /* a dimension the file leaves free (a dynamic batch) shows as '?', as in error
                   messages, unless --input-shape fixed it */
                const Attr *sa = node_attr_find(g->nodes[i], "shape");
                bool given = false;
                for (int k = 0; k < n_specs; k++) given |= !strcmp(specs[k].name, g->nodes[i]->name);
                if (!given && sa && sa->kind == ATTR_SHAPE && sa->shape.rank == graph_value(g, (ValueRef){i, 0})->shape.rank) {
                    char nb[256], sb[96];
                    snprintf(line, sizeof line, "%-40s %-9s %s", graph_ref_name(g, (ValueRef){i, 0}, nb, sizeof nb),
                             dtype_name(graph_value(g, (ValueRef){i, 0})->dtype), shape_str(&sa->shape, sb, sizeof sb));
                }
                printf("  %s\n", line);
            }
        printf("outputs\n");
        for (int k = 0; k < g->n_outputs; k++) { value_desc(g, g->outputs[k], line, sizeof line); printf("  %s\n", line); }
        printf("\n%-28s %6s %12s\n", "op", "count", "FLOPs");
        for (int k = 0; k < n_ops; k++)
            printf("%-28s %6d %12s%s\n", str_escape(line, sizeof line, ops[k].op), ops[k].count, ops[k].flops ? fmt_count((double)ops[k].flops, b1, sizeof b1) : "-",
                   op_lookup(ops[k].op) == OP_UNKNOWN ? "  (unknown op)" : "");
    }
    free(ops);
    graph_free(g);
out:
    for (int k = 0; k < n_specs; k++) free((char *)specs[k].name);
    return rc;
}
