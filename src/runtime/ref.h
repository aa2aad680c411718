/* ref.h - the reference runtime: portable C kernels written for clarity, and an executor
 * that runs a Graph on named inputs. This is the numerical oracle every fast kernel and
 * every rewrite is checked against.
 *
 * Kernel contract (ref_<stem> for every stem in graph/ops.def):
 *   int ref_<stem>(const Node *n, const Tensor *in, Tensor *out, Err *err);
 * in[0..n->n_inputs) are the input values; out[0..n->n_outputs) arrive allocated (zeroed)
 * with the dtype and shape shape inference gave n->outputs[i]. A kernel may replace out[i]
 * (tensor_release then tensor_share) to alias an input, as Identity and Reshape do.
 * Kernels read attributes from n. They return 0, or -1 with err set (ERR_RUNTIME for an
 * unsupported dtype/attribute combination, naming it). Accumulation is in double where
 * cheap. */
#ifndef GRAPPO_REF_H
#define GRAPPO_REF_H

#include "../graph/graph.h"

typedef int (*RefKernel)(const Node *n, const Tensor *in, Tensor *out, Err *err);

#define OP(id, name, min_in, max_in, stem, flags) int ref_##stem(const Node *n, const Tensor *in, Tensor *out, Err *err);
#include "../graph/ops.def"
#undef OP

extern const RefKernel ref_kernels[OP_COUNT];

/* Runs node `node` of g on inputs `in`, allocating out[0..n_outputs) from the inferred
   output shapes. Matches NodeEvalFn (ctx unused) so graph_infer can fold with it. */
int ref_eval_node(void *ctx, const Graph *g, int node, const Tensor *in, Tensor *out, Err *err);

/* Runs n's reference kernel on allocated outputs (with bf16/f16 emulation where it applies);
   the building block of ref_eval_node and of the plan's fallback steps. */
int ref_kernel_call(const Node *n, const Tensor *in, Tensor *out, Err *err);

/* Data-dependent shapes (ref_dyn.c). A node is dynamic when an output has neither a known
   value nor a fully known shape after inference (Where, NMS, and what depends on them). */
bool ref_node_is_dynamic(const Node *n);
/* Like ref_eval_node, but infers a dynamic node's output shapes again from the actual inputs
   first; outputs whose size only the kernel learns are allocated by the kernel. */
int ref_dyn_eval_node(const Graph *g, int node, const Tensor *in, Tensor *out, Err *err);
/* The same for any node: output shapes inferred again from in (a TF1 loop variable whose shape
   changes between iterations: ref_frame.c) */
int ref_reinfer_eval_node(const Graph *g, int node, const Tensor *in, Tensor *out, Err *err);
/* For OPF_DYNAMIC kernels: out arrives without a buffer when its shape was unknown before the
   run; this allocates it with `shape`, or checks a prepared output has that many elements. */
int ref_dyn_output(const Node *n, Tensor *out, int dtype, const Shape *shape, Err *err);

/* TF2 control flow (ref_ctrl.c): runs While / If / Case node `node` of g, whose function
   bodies are in g->funcs, allocating out[0..n_outputs). ref_dyn_eval_node sends such nodes
   here; they are always dynamic (ref_node_is_dynamic). */
int ref_ctrl_eval(const Graph *g, int node, const Tensor *in, Tensor *out, Err *err);
/* iterations after which a While is taken to never end (bad input, ERR_INPUT); process-wide,
   n <= 0 restores the default */
#define REF_MAX_LOOP_ITERATIONS_DEFAULT 100000L
void ref_set_max_loop_iterations(long n);
long ref_max_loop_iterations(void);

/* TF1 conditionals (ref_dead.c): runs Switch / _SwitchN / Merge node `node` on inputs whose
   dead flags are in_dead; sets out[k] (shared, no copy) and out_dead[k]. */
int ref_dead_eval(const Graph *g, int node, const Tensor *in, const bool *in_dead, Tensor *out, bool *out_dead, Err *err);

/* TF1 loops and every graph holding an OPF_DEADNESS op (ref_frame.c): ref_run hands such a
   graph to this frame interpreter (same contract as ref_run). */
struct RefFeed;
struct RefStats;
int ref_frame_run(const Graph *g, const struct RefFeed *feeds, int n_feeds, const ValueRef *fetch, int n_fetch, Tensor *out,
                  struct RefStats *stats, Err *err);
/* whether ref_run hands g (its nodes needed[i], NULL = all) to ref_frame_run */
bool ref_frame_needed(const Graph *g, const bool *needed);

/* Which nodes the fetches need (ref_needed.c; the one walk of ref_run, ref_frame_run and
   plan_compile): needed[i] set for every node reached back from the fetched nodes over data and
   control inputs (TF1 back edges included), needed zeroed by the caller or holding nodes
   already marked. REF_NEEDED_SKIP_SHAPE_ONLY: not through an input read only for its
   inferred shape (Shape); REF_NEEDED_STOP_AT_KNOWN: not through a node whose outputs are all
   known (Consts, values folded at inference). ERR_INPUT on a fetch outside the graph. */
enum { REF_NEEDED_SKIP_SHAPE_ONLY = 1u, REF_NEEDED_STOP_AT_KNOWN = 2u };
int ref_mark_needed(const Graph *g, const ValueRef *fetch, int n_fetch, unsigned flags, bool *needed, Err *err);
/* input k of nd is read only for its shape (Shape), which inference knows: its producer need
   not run for it (the fast runtime folds such Shapes) */
bool ref_shape_only_input(const Graph *g, const Node *nd, int k);
/* every output of n known at inference (a Const, a folded value): nothing of it runs */
bool ref_all_outputs_known(const Node *n);
/* adds what a SKIP_SHAPE_ONLY walk left out: the producers of the Shape inputs of needed
   nodes, and what they need (the frame interpreter runs every node as it comes) */
int ref_needed_add_shape_inputs(const Graph *g, bool *needed, Err *err);
/* ref_frame_run with the needed nodes already marked (ref_mark_needed without flags, or
   completed by ref_needed_add_shape_inputs); needed is borrowed */
int ref_frame_run_needed(const Graph *g, const bool *needed, const struct RefFeed *feeds, int n_feeds, const ValueRef *fetch,
                         int n_fetch, Tensor *out, struct RefStats *stats, Err *err);

typedef struct RefFeed {
    const char *name; /* placeholder name ("x" or "x:0") */
    Tensor value;
} RefFeed;

/* The same with the bodies run by another executor (the fast runtime compiles each body, once
   per argument shapes, as its own plan: plan_ctrl.c). prepare gets a body inferred for the
   actual shapes (it lives until release) and returns the executor's state, NULL on error. */
typedef struct CtrlRunner {
    void *ctx;
    void *(*prepare)(void *ctx, const Graph *body, Err *err);
    int (*run)(void *state, const RefFeed *feeds, int n_feeds, Tensor *out, Err *err);
    void (*release)(void *state);
} CtrlRunner;
int ref_ctrl_eval_with(const Graph *g, int node, const Tensor *in, Tensor *out, const CtrlRunner *r, Err *err);

typedef struct RefStats {
    double total_ms;
    double *node_ms;   /* optional: caller-provided array of n_nodes, per-node wall time */
    size_t peak_bytes; /* peak of live activation bytes in this schedule (weights excluded) */
    size_t weight_bytes; /* bytes of Const values */
} RefStats;

/* Executes g (which must have been through graph_infer with shapes matching the feeds):
   every needed node once in topological order, freeing each value after its last use.
   fetch lists the values to return (into out[0..n_fetch), caller releases); fetch == NULL
   means the graph outputs. stats may be NULL. */
int ref_run(const Graph *g, const RefFeed *feeds, int n_feeds, const ValueRef *fetch, int n_fetch,
            Tensor *out, RefStats *stats, Err *err);

#endif
