/* graph_func.h - the function bodies of TF2 functional control flow (While, If, Case and their
 * Stateless forms), each instantiated as its own Graph.
 *
 * io builds them when it loads a graph whose nodes name functions of the GraphDef's library
 * (io/graphdef_funcs.c); the library itself stays in Graph.extra as raw bytes and is written
 * back unchanged. A body Graph has one Placeholder per argument, named FUNC_ARG_FMT with the
 * argument's index, and its graph outputs are the function's results in order. Its Placeholders
 * carry no shape: the runtime infers a clone of the body for the shapes of each call
 * (runtime/ref_ctrl.c). The table is immutable once built and shared (reference counted) by a
 * graph's clones, so rewrites of the outer graph never touch a body. */
#ifndef GRAPPO_GRAPH_FUNC_H
#define GRAPPO_GRAPH_FUNC_H

#include "graph.h"

#define FUNC_ARG_FMT "arg_%d"
#define FUNC_RET_FMT "ret_%d"

typedef struct GraphFunc {
    char *name;
    Graph *body;
    int n_args, n_rets;
} GraphFunc;

typedef struct GraphFuncs {
    int refs;
    int n, cap;
    GraphFunc *f;
} GraphFuncs;

/* the body of function `name` of g's library, NULL when g has none by that name */
const GraphFunc *graph_func_find(const Graph *g, const char *name);
/* adds body (taking ownership, also on failure) to g's table, creating it; -1 on OOM */
int graph_func_add(Graph *g, const char *name, Graph *body, Err *err);
GraphFuncs *graph_funcs_share(GraphFuncs *f);
void graph_funcs_release(GraphFuncs *f);

/* TF2 control-flow ops: While/StatelessWhile, If/StatelessIf, Case/StatelessCase */
bool op_is_functional_control_flow(OpId op);
/* the names of the functions node n calls (its cond/body, then/else branches or branches), in
   the order: While cond, body; If then, else; Case branches. Returns how many, up to cap, or -1
   when an attribute is missing (message names it). */
int node_called_funcs(const Node *n, const char **names, int cap, Err *err);

#endif
