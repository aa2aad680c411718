/* graph.h - the IR: a Graph of Nodes whose outputs are Values.
 *
 * SSA-like: every Value is produced by exactly one node output (node index, port). Nodes
 * refer to their inputs by ValueRef and to control dependencies by node index. Nodes live
 * in g->nodes[0..n_nodes) behind pointers (a Node* stays valid while nodes are added);
 * indices change only when nodes are removed (graph_remove_nodes remaps every reference).
 *
 * A Node keeps its TensorFlow identity: name, op name (also for ops grappo does not know,
 * op == OP_UNKNOWN), device, attributes, and `extra` - NodeDef fields grappo does not model,
 * kept as raw protobuf bytes by io/ and re-emitted unchanged. */
#ifndef GRAPPO_GRAPH_H
#define GRAPPO_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"
#include "attr.h"
#include "op.h"
#include "tensor.h"

typedef struct ValueRef {
    int node;
    int port;
} ValueRef;

typedef struct Value {
    int dtype;   /* DT_INVALID until inferred (or when unknowable, e.g. unknown op) */
    Shape shape; /* rank -1 until inferred */
    Tensor known; /* the value itself when known before running (Consts, small shape math);
                     known.buf == NULL otherwise */
} Value;

typedef struct Node {
    char *name;
    char *op_name; /* TensorFlow op type string, always set */
    OpId op;       /* OP_UNKNOWN for ops outside ops.def */
    char *device;  /* may be NULL */
    int n_inputs;
    ValueRef *inputs;
    int n_ctrl;
    int *ctrl; /* control dependencies: indices of nodes that must run first */
    int n_attrs;
    Attr *attrs;
    int n_outputs;
    Value *outputs;
    uint8_t *extra; /* unmodelled NodeDef fields, raw protobuf (owned by io's encoding) */
    size_t extra_len;
} Node;

typedef struct NameIndex NameIndex; /* private hash table name -> node index */

typedef struct Graph {
    int n_nodes, cap;
    Node **nodes;
    NameIndex *index;
    /* the graph's outputs: what must be kept alive and what `run` fetches by default.
       io sets them to the data outputs nobody consumes; the zoo sets them explicitly */
    int n_outputs;
    ValueRef *outputs;
    int producer; /* VersionDef.producer, or 0 */
    uint8_t *extra; /* GraphDef fields other than node (versions, library, unknown), raw */
    size_t extra_len;
    /* bumped by every rewrite (rule_apply): a rewrite site remembers the version it was
       found in, so a stale site is refused instead of applied to the wrong nodes */
    uint64_t version;
    /* bodies of the functions control-flow nodes call (graph_func.h), NULL without any;
       shared by clones */
    struct GraphFuncs *funcs;
} Graph;

/* Longest node name accepted (bytes): longer ones are bad input everywhere (loading, inspect,
 * run), so that every message can name a node in full. */
#define GRAPH_MAX_NAME 1023

/* ---- construction ---- */
Graph *graph_new(void);
void graph_free(Graph *g);
/* Appends a node; returns its index or -1 (duplicate or empty name, OOM). op is looked up
   from op_name. */
int graph_add_node(Graph *g, const char *name, const char *op_name, Err *err);
int node_add_input(Graph *g, int node, ValueRef v, Err *err);
int node_add_ctrl(Graph *g, int node, int ctrl_node, Err *err);
int node_set_device(Node *n, const char *device, Err *err);
/* resizes the output array; new Values start unknown */
int node_set_num_outputs(Node *n, int n_outputs, Err *err);
int graph_add_output(Graph *g, ValueRef v, Err *err);
/* Renames a node (the new name must be free) / swaps two nodes' names. Rewrites use these so
   the node that replaces another keeps the name users fetch. */
int graph_rename_node(Graph *g, int node, const char *name, Err *err);
int graph_swap_names(Graph *g, int a, int b, Err *err);

/* ---- lookup ---- */
int graph_find(const Graph *g, const char *name); /* index or -1 */
/* parses "name", "name:port" (also "^name" = control, reported as port -1) */
int graph_parse_ref(const Graph *g, const char *text, ValueRef *out, Err *err);
/* "name" for port 0, "name:port" otherwise, into buf */
const char *graph_ref_name(const Graph *g, ValueRef v, char *buf, size_t cap);
static inline Node *graph_node(const Graph *g, int i) { return g->nodes[i]; }
static inline Value *graph_value(const Graph *g, ValueRef v) { return &g->nodes[v.node]->outputs[v.port]; }
static inline const Value *node_input_value(const Graph *g, const Node *n, int i) {
    return graph_value(g, n->inputs[i]);
}

/* ---- attributes ---- */
Attr *node_attr_find(const Node *n, const char *name); /* NULL if absent */
/* Returns the attribute slot `name`, creating it or clearing an existing one (kind NONE,
   raw dropped). NULL on OOM. io fills such slots directly; others use the setters. */
Attr *node_attr_put(Node *n, const char *name);
int node_attr_remove(Node *n, const char *name);
/* getters with a default for an absent attribute or wrong kind */
int64_t node_attr_i(const Node *n, const char *name, int64_t def);
float node_attr_f(const Node *n, const char *name, float def);
bool node_attr_b(const Node *n, const char *name, bool def);
int node_attr_type(const Node *n, const char *name, int def);
const char *node_attr_s(const Node *n, const char *name, const char *def);
const AttrList *node_attr_list(const Node *n, const char *name); /* NULL unless a list */
const Tensor *node_attr_tensor(const Node *n, const char *name);  /* NULL unless a tensor */
/* setters: return 0 or -1 (OOM) */
int node_set_attr_i(Node *n, const char *name, int64_t v, Err *err);
int node_set_attr_f(Node *n, const char *name, float v, Err *err);
int node_set_attr_b(Node *n, const char *name, bool v, Err *err);
int node_set_attr_type(Node *n, const char *name, int dtype, Err *err);
int node_set_attr_s(Node *n, const char *name, const char *v, Err *err);
int node_set_attr_shape(Node *n, const char *name, const Shape *s, Err *err);
int node_set_attr_tensor(Node *n, const char *name, const Tensor *t, Err *err); /* shares t */
int node_set_attr_list_i(Node *n, const char *name, const int64_t *v, int count, Err *err);
int node_set_attr_list_f(Node *n, const char *name, const float *v, int count, Err *err);
int node_set_attr_list_s(Node *n, const char *name, const char *const *v, int count, Err *err);
int node_set_attr_list_type(Node *n, const char *name, const int *v, int count, Err *err);

/* ---- structure ---- */
/* Topological order honouring data and control edges (Kahn's algorithm, ties broken by node
   index so the order is deterministic). order must hold n_nodes ints. The edges into a Merge
   from a NextIteration (a TF1 while loop's iterations) are back edges, left out of the order;
   any other cycle is an ERR_INPUT naming the nodes on it. */
int graph_topo_order(const Graph *g, int *order, Err *err);
/* the edge from node src into node dst is a TF1 loop's back edge (NextIteration -> Merge) */
bool graph_is_back_edge(const Graph *g, int src, const Node *dst);
/* How many TF1 loop frames each node's outputs are seen inside (0: outside any loop): an Enter
   adds one to its input's, an Exit takes one away, other nodes take their first (data, else
   control) input's. Needs
   a topological order (graph_topo_order); a node read only inside a loop is no graph output. */
void graph_loop_depths(const Graph *g, const int *order, int *depth);
/* g holds an OPF_DEADNESS op (TF1 control flow, TensorArray/TensorList): rewrites leave it untouched */
bool graph_has_tf1_control_flow(const Graph *g);
/* Consumers of every node, as CSR: users of node i are use_node[use_start[i] .. use_start[i+1])
   (data and control uses; a node consuming twice appears twice). */
typedef struct GraphUses {
    int *use_start; /* n_nodes + 1 */
    int *use_node;
} GraphUses;
int graph_uses(const Graph *g, GraphUses *u, Err *err);
void graph_uses_free(GraphUses *u);

/* Structural checks: input indices and ports in range, arity against the op table, graph
   outputs valid, no cycles, dtypes of inputs matching what producers declare (after
   inference). ERR_INPUT with the offending node's name. */
int graph_validate(const Graph *g, Err *err);

/* Deep copy; tensor buffers are shared (copy-on-write). */
Graph *graph_clone(const Graph *g, Err *err);
/* A fingerprint of g's structure: every node's name, op, attribute count, control-input
   count, inputs (node index and port) and output dtypes and shapes, in order, and the node
   count. Weight values are not read (a rewrite that changes a weight names its new Const).
   A clone has its original's; the search memos key states and measurements on it. */
uint64_t graph_structure_hash(const Graph *g);

/* Removes the nodes with remove[i] true; fails (nothing changed) if a kept node or a graph
   output refers to a removed node. */
int graph_remove_nodes(Graph *g, const bool *remove, Err *err);
/* Removes every node the graph outputs do not need (data or control), keeping Placeholders.
   Returns the number removed or -1. */
int graph_remove_dead(Graph *g, Err *err);

/* ---- what grappo can execute (graph_support.c) ---- */
/* Switch, Merge, Enter, Exit, NextIteration, LoopCond (and their Ref variants) */
bool op_is_tf1_control_flow(const char *op_name);
/* Nodes whose op is outside the op table (among only[i] when only != NULL): returns how many,
   writes "Switch x4, Foo x1" (most frequent first) into buf and the number of op types. */
int graph_unsupported_ops(const Graph *g, const bool *only, char *buf, size_t cap, int *n_types);
/* 0, or ERR_RUNTIME naming every op grappo cannot execute with counts (TF1 control flow named
   as such, with the loop's frame) */
int graph_check_executable(const Graph *g, const bool *only, Err *err);
/* frame_name of the first Enter node, NULL without TF1 loops */
const char *graph_tf1_frame(const Graph *g);
/* when g holds a TF1 while loop (a NextIteration back edge): ERR_INPUT saying so, naming the
   frame; 0 otherwise (used where a cycle is found) */
int graph_tf1_loop_error(const Graph *g, Err *err);

/* ---- inference ---- */
typedef struct InputSpec {
    const char *name; /* Placeholder node name */
    Shape shape;      /* replaces the placeholder's (partially unknown) shape */
    int dtype;        /* DT_INVALID = keep the placeholder's dtype */
} InputSpec;

/* Evaluates one node on known input values into out[0..n_outputs) (allocated by the callee);
   the runtime supplies it so the IR can fold small shape computations without knowing
   kernels. */
typedef int (*NodeEvalFn)(void *ctx, const Graph *g, int node, const Tensor *in, Tensor *out, Err *err);

/* Resolves every Value's dtype and shape, in topological order. Placeholder dims that are
   unknown (-1) are taken from specs or default to 1. Values of at most GRAPH_FOLD_MAX_ELEMS
   elements whose inputs are all known get known values through eval (if not NULL).
   Nodes downstream of an unknown op get unknown outputs rather than an error. */
#define GRAPH_FOLD_MAX_ELEMS 4096
int graph_infer(Graph *g, const InputSpec *specs, int n_specs, NodeEvalFn eval, void *eval_ctx, Err *err);
/* Infers one node whose inputs are already inferred (for builders that add nodes one at a
   time). Same rules as graph_infer; placeholders keep their own shape attr (-1 dims -> 1). */
int graph_infer_node(Graph *g, int node, NodeEvalFn eval, void *eval_ctx, Err *err);
/* Re-runs inference after an edit, keeping every placeholder's current (already resolved)
   shape, so shapes the user gave survive rewrites. */
int graph_reinfer(Graph *g, NodeEvalFn eval, void *eval_ctx, Err *err);

/* totals over the graph (shapes must be inferred) */
int64_t graph_flops(const Graph *g);
int64_t node_flops(const Graph *g, const Node *n);
/* bytes read (inputs) + written (outputs) by one execution of the node */
int64_t node_bytes(const Graph *g, const Node *n);
/* parameter count: elements of float and 8-bit (quantized) Consts, and their bytes */
int64_t graph_param_count(const Graph *g, int64_t *bytes);
/* Peak bytes of activations (every non-Const value, views excluded) when the graph runs in
   topological order and each value is freed after its last consumer: what the reference
   executor's schedule needs besides the weights. -1 on error (cycle). */
int64_t graph_activation_peak(const Graph *g, Err *err);

#endif
