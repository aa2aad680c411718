/* ref_ctrl.c - TF2 functional control flow on the reference path: While / StatelessWhile,
 * If / StatelessIf, Case / StatelessCase.
 *
 * Each call runs a function body (graph_func.h: one Graph per function, built at load) through
 * ref_run: the body is cloned and inferred for the shapes of the actual arguments, and that
 * instance is reused while the shapes stay the same (a loop whose variables keep their shapes
 * infers its body once). A While evaluates cond on the loop variables, and while it is true runs
 * body on them; `parallel_iterations` is ignored (iterations run one after another). A loop
 * that has not ended after ref_max_loop_iterations() iterations is bad input (a loop that never
 * ends). The results must have the dtypes the node declares (T / Tout) and, where inference
 * gave the node's outputs a static shape (output_shapes), exactly that shape: readers were
 * planned for it. Both runtimes run these nodes here (the fast runtime as dynamic steps, with
 * its bodies compiled as plans of their own through a CtrlRunner: plan_ctrl.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph_func.h"
#include "ref.h"

static long max_loop_iterations = REF_MAX_LOOP_ITERATIONS_DEFAULT;

void ref_set_max_loop_iterations(long n) { max_loop_iterations = n > 0 ? n : REF_MAX_LOOP_ITERATIONS_DEFAULT; }
long ref_max_loop_iterations(void) { return max_loop_iterations; }

int ref_ctrl(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)in; (void)out;
    return err_set(err, ERR_RUNTIME, "node '%s' (%s): control flow runs only through ref_ctrl_eval", n->name, n->op_name);
}

/* a body instantiated for one set of argument shapes */
typedef struct Inst {
    const GraphFunc *f;
    const char *role;
    const CtrlRunner *r; /* NULL: ref_run */
    void *state;         /* r's, for g */
    Graph *g;
    Shape *shapes;
    int n;
} Inst;

static void inst_free(Inst *I) {
    if (I->state) I->r->release(I->state);
    graph_free(I->g);
    free(I->shapes);
    memset(I, 0, sizeof *I);
}

static int inst_prepare(Inst *I, const Tensor *args, int n, Err *err) {
    if (I->g && I->n == n) {
        bool same = true;
        for (int k = 0; k < n && same; k++) same = shape_equal(&I->shapes[k], &args[k].shape);
        if (same) return 0;
    }
    if (I->state) I->r->release(I->state);
    I->state = NULL;
    graph_free(I->g);
    I->g = NULL;
    free(I->shapes);
    I->shapes = calloc((size_t)n + 1, sizeof *I->shapes);
    InputSpec *specs = calloc((size_t)n + 1, sizeof *specs);
    char (*names)[32] = calloc((size_t)n + 1, sizeof *names);
    int rc = -1;
    if (!I->shapes || !specs || !names) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    if (!(I->g = graph_clone(I->f->body, err))) goto done;
    for (int k = 0; k < n; k++) {
        snprintf(names[k], sizeof names[k], FUNC_ARG_FMT, k);
        specs[k] = (InputSpec){names[k], args[k].shape, args[k].dtype};
        I->shapes[k] = args[k].shape;
    }
    I->n = n;
    rc = graph_infer(I->g, specs, n, ref_eval_node, NULL, err);
    if (!rc && I->r && !(I->state = I->r->prepare(I->r->ctx, I->g, err))) rc = -1;
done:
    free(specs);
    free(names);
    if (rc) {
        graph_free(I->g);
        I->g = NULL;
        err_prefix(err, "%s function '%s'", I->role, I->f->name);
    }
    return rc;
}

/* runs the body on args into outs[0..f->n_rets) */
static int inst_run(Inst *I, const Tensor *args, int n, Tensor *outs, Err *err) {
    if (inst_prepare(I, args, n, err)) return -1;
    RefFeed *feeds = calloc((size_t)n + 1, sizeof *feeds);
    char (*names)[32] = calloc((size_t)n + 1, sizeof *names);
    if (!feeds || !names) {
        free(feeds); free(names);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    for (int k = 0; k < n; k++) {
        snprintf(names[k], sizeof names[k], FUNC_ARG_FMT, k);
        feeds[k] = (RefFeed){names[k], args[k]};
    }
    int rc = I->r ? I->r->run(I->state, feeds, n, outs, err) : ref_run(I->g, feeds, n, NULL, 0, outs, NULL, err);
    free(feeds);
    free(names);
    return rc ? err_prefix(err, "%s function '%s'", I->role, I->f->name) : 0;
}

/* TensorFlow's ToBool: a scalar is its value != 0, any other tensor is "not empty" */
static bool to_bool(const Tensor *t) {
    if (t->shape.rank == 0) return tensor_get(t, 0) != 0;
    return tensor_numel(t) > 0;
}

static const GraphFunc *func(const Graph *g, const Node *n, const char *name, Err *err) {
    const GraphFunc *f = graph_func_find(g, name);
    if (!f) err_set(err, ERR_INPUT, "function '%s' was not loaded with the graph", name);
    return f;
}

/* results against what the node declares: dtype (T / Tout), and the shape where static */
static int check_results(const Node *n, const Tensor *res, int n_res, Err *err) {
    for (int k = 0; k < n_res && k < n->n_outputs; k++) {
        const Value *v = &n->outputs[k];
        char a[96], b[96];
        if (v->dtype != DT_INVALID && res[k].dtype != v->dtype)
            return err_set(err, ERR_INPUT, "result %d is %s, but the node declares %s", k, dtype_name(res[k].dtype), dtype_name(v->dtype));
        if (shape_is_known(&v->shape) && !shape_equal(&v->shape, &res[k].shape))
            return err_set(err, ERR_INPUT, "result %d has shape %s, but the node declares %s", k, shape_str(&res[k].shape, a, sizeof a),
                           shape_str(&v->shape, b, sizeof b));
    }
    return 0;
}

static int run_while(const Graph *g, const Node *n, const Tensor *in, Tensor *out, const CtrlRunner *r, Err *err) {
    const char *names[2];
    if (node_called_funcs(n, names, 2, err) != 2) return -1;
    Inst cond = {.role = "cond", .r = r, .f = func(g, n, names[0], err)}, body = {.role = "body", .r = r, .f = func(g, n, names[1], err)};
    if (!cond.f || !body.f) return -1;
    int nv = n->n_inputs, rc = -1;
    if (cond.f->n_args != nv || cond.f->n_rets != 1 || body.f->n_args != nv || body.f->n_rets != nv)
        return err_set(err, ERR_INPUT, "cond/body arity does not match the %d loop variables", nv);
    Tensor *vars = calloc((size_t)nv + 1, sizeof *vars), *next = calloc((size_t)nv + 1, sizeof *next);
    if (!vars || !next) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    for (int k = 0; k < nv; k++) vars[k] = tensor_share(&in[k]);
    for (long it = 0;; it++) {
        Tensor c = {0};
        if (inst_run(&cond, vars, nv, &c, err)) goto done;
        if (c.dtype != DT_BOOL && c.shape.rank != 0) {
            tensor_release(&c);
            err_set(err, ERR_INPUT, "cond function '%s' returns a non-scalar %s", cond.f->name, dtype_name(c.dtype));
            goto done;
        }
        bool go = to_bool(&c);
        tensor_release(&c);
        if (!go) break;
        if (it >= max_loop_iterations) {
            err_set(err, ERR_INPUT, "the loop did not end after %ld iterations (the limit; --max-loop-iterations raises it)", max_loop_iterations);
            goto done;
        }
        if (inst_run(&body, vars, nv, next, err)) goto done;
        for (int k = 0; k < nv; k++) {
            if (next[k].dtype != vars[k].dtype) {
                err_set(err, ERR_INPUT, "body function '%s' turns loop variable %d from %s into %s", body.f->name, k,
                        dtype_name(vars[k].dtype), dtype_name(next[k].dtype));
                for (int j = 0; j < nv; j++) tensor_release(&next[j]);
                goto done;
            }
            tensor_release(&vars[k]);
            vars[k] = next[k];
            next[k] = (Tensor){0};
        }
    }
    if (check_results(n, vars, nv, err)) goto done;
    for (int k = 0; k < nv; k++) { out[k] = vars[k]; vars[k] = (Tensor){0}; }
    rc = 0;
done:
    if (vars) for (int k = 0; k < nv; k++) tensor_release(&vars[k]);
    free(vars);
    free(next);
    inst_free(&cond);
    inst_free(&body);
    return rc;
}

/* If / Case: input 0 selects the branch, the others are its arguments */
static int run_branch(const Graph *g, const Node *n, const Tensor *in, Tensor *out, const CtrlRunner *r, Err *err) {
    const char *names[256];
    int nb = node_called_funcs(n, names, 256, err);
    if (nb < 1) return -1;
    int pick;
    if (n->op == OP_IF || n->op == OP_STATELESS_IF) {
        pick = to_bool(&in[0]) ? 0 : 1;
    } else {
        if (in[0].dtype != DT_INT32 || in[0].shape.rank != 0) return err_set(err, ERR_INPUT, "branch_index must be an int32 scalar");
        double v = tensor_get(&in[0], 0);
        pick = v < 0 || v >= nb ? nb - 1 : (int)v; /* out of range: the last branch (TensorFlow's default) */
    }
    Inst b = {.role = n->op == OP_IF || n->op == OP_STATELESS_IF ? (pick ? "else_branch" : "then_branch") : "branch",
              .r = r, .f = func(g, n, names[pick], err)};
    if (!b.f) return -1;
    if (b.f->n_args != n->n_inputs - 1 || b.f->n_rets != n->n_outputs)
        return err_set(err, ERR_INPUT, "branch '%s' takes %d arguments and returns %d values; the node has %d and %d", b.f->name,
                       b.f->n_args, b.f->n_rets, n->n_inputs - 1, n->n_outputs);
    int rc = inst_run(&b, in + 1, n->n_inputs - 1, out, err);
    if (!rc && check_results(n, out, n->n_outputs, err)) {
        for (int k = 0; k < n->n_outputs; k++) tensor_release(&out[k]);
        rc = -1;
    }
    inst_free(&b);
    return rc;
}

int ref_ctrl_eval(const Graph *g, int node, const Tensor *in, Tensor *out, Err *err) {
    return ref_ctrl_eval_with(g, node, in, out, NULL, err);
}

int ref_ctrl_eval_with(const Graph *g, int node, const Tensor *in, Tensor *out, const CtrlRunner *r, Err *err) {
    const Node *n = g->nodes[node];
    for (int k = 0; k < n->n_outputs; k++) out[k] = (Tensor){0};
    if (!op_is_functional_control_flow(n->op)) return err_set(err, ERR_RUNTIME, "internal: node '%s' (%s) is not TF2 control flow", n->name, n->op_name);
    bool w = n->op == OP_WHILE || n->op == OP_STATELESS_WHILE;
    int rc = w ? run_while(g, n, in, out, r, err) : run_branch(g, n, in, out, r, err);
    return rc ? err_prefix(err, "node '%s' (%s)", n->name, n->op_name) : 0;
}
