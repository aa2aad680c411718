/* graphdef_funcs.c - the function bodies of a loaded graph's TF2 control flow: which functions
 * its While / If / Case nodes call, each instantiated once (io/freeze.c's FunctionDef inlining,
 * freeze_function) as its own Graph in g->funcs, with the arity its callers need checked here,
 * so a missing body or a body of the wrong arity is a load error naming the node. Bodies with
 * control flow of their own get their bodies the same way (nesting bounded). */
#include <stdlib.h>
#include <string.h>

#include "../graph/graph_func.h"
#include "freeze.h"
#include "graphdef.h"
#include "saved_model.pb-c.h"

static _Thread_local int nesting;   /* freeze_function -> graphdef_parse -> here */
static _Thread_local long instances; /* bodies instantiated under the outermost parse */

#define MAX_BRANCHES 256

static int check_arity(const Node *n, int which, const char *fname, const GraphFunc *f, Err *err) {
    bool w = n->op == OP_WHILE || n->op == OP_STATELESS_WHILE;
    int want_args = w ? n->n_inputs : n->n_inputs - 1;
    int want_rets;
    const char *role = w ? (which == 0 ? "cond" : "body") : (n->op == OP_IF || n->op == OP_STATELESS_IF) ? (which == 0 ? "then_branch" : "else_branch") : "branch";
    if (w) {
        want_rets = which == 0 ? 1 : n->n_inputs;
    } else {
        const AttrList *tout = node_attr_list(n, "Tout");
        want_rets = tout ? tout->n : 0;
    }
    if (f->n_args != want_args)
        return err_set(err, ERR_INPUT, "node '%s' (%s): %s function '%s' takes %d arguments, but the node passes %d", n->name,
                       n->op_name, role, fname, f->n_args, want_args);
    if (f->n_rets != want_rets)
        return err_set(err, ERR_INPUT, "node '%s' (%s): %s function '%s' returns %d values, but the node needs %d", n->name,
                       n->op_name, role, fname, f->n_rets, want_rets);
    return 0;
}

int graphdef_build_funcs(Graph *g, const uint8_t *lib_field, size_t lib_field_len, const uint8_t *lib, size_t lib_len, Err *err) {
    bool any = false;
    for (int i = 0; i < g->n_nodes && !any; i++) any = op_is_functional_control_flow(g->nodes[i]->op);
    if (!any) return 0;
    if (nesting >= GRAPHDEF_MAX_FUNC_NESTING)
        return err_set(err, ERR_INPUT, "control flow nested deeper than %d function bodies (a body calling itself?)", GRAPHDEF_MAX_FUNC_NESTING);
    Grappo__Tf__FunctionDefLibrary *fl = NULL;
    if (lib_field) {
        fl = grappo__tf__function_def_library__unpack(NULL, lib_len, lib);
        if (!fl) return err_set(err, ERR_INPUT, "malformed function library");
    }
    int rc = 0;
    if (nesting == 0) instances = 0;
    nesting++;
    for (int i = 0; i < g->n_nodes && !rc; i++) {
        const Node *n = g->nodes[i];
        if (!op_is_functional_control_flow(n->op)) continue;
        const char *names[MAX_BRANCHES];
        int nf = node_called_funcs(n, names, MAX_BRANCHES, err);
        if (nf < 0) { rc = -1; break; }
        for (int k = 0; k < nf && !rc; k++) {
            const GraphFunc *f = graph_func_find(g, names[k]);
            if (!f) {
                if (!fl) {
                    rc = err_set(err, ERR_INPUT, "node '%s' (%s) calls function '%s', but the graph has no function library", n->name,
                                 n->op_name, names[k]);
                    break;
                }
                if (++instances > GRAPHDEF_MAX_FUNC_INSTANCES) {
                    rc = err_set(err, ERR_INPUT, "control flow instantiates more than %d function bodies", GRAPHDEF_MAX_FUNC_INSTANCES);
                    break;
                }
                Graph *body = freeze_function(lib_field, lib_field_len, fl, names[k], err);
                if (!body) { rc = err_prefix(err, "node '%s' (%s)", n->name, n->op_name); break; }
                if (graph_func_add(g, names[k], body, err)) { rc = -1; break; }
                f = graph_func_find(g, names[k]);
            }
            rc = check_arity(n, n->op == OP_CASE || n->op == OP_STATELESS_CASE ? 1 : k, names[k], f, err);
        }
    }
    nesting--;
    if (fl) grappo__tf__function_def_library__free_unpacked(fl, NULL);
    return rc;
}
