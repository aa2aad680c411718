/* freeze.c - inlining a SavedModel's function calls and turning its variables into constants
 * (see freeze.h for what the result is).
 *
 * The MetaGraph's GraphDef is walked by hand (NodeDefs keep their attribute bytes, which are
 * copied verbatim into the frozen GraphDef); the library is unpacked with protobuf-c. Every
 * node of the top graph and of every function instance becomes a node of one flat list
 * (FNode); a call becomes the flat nodes of its callee's body, its outputs mapped to the
 * body's return values. Then variables become Consts, whatever the signature's outputs do not
 * need is dropped, and the flat list is serialized as a GraphDef and parsed by
 * graphdef_parse, so the result is exactly what loading an equivalent frozen .pb gives. */
#include "freeze.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/graph_func.h"
#include "freeze_int.h"
#include "graphdef.h"

struct Call;
typedef struct Scope {
    Fz *z;
    const NDef *nodes;
    int n;
    const Func *func; /* NULL: the top graph */
    char *prefix;
    const FRef *args;
    int n_args;
    int *flat;          /* flat index of each normal node, -1 for calls */
    struct Call **calls; /* instance of each call node, once made */
    char *state;        /* 0 untouched, 1 being instantiated, 2 done */
    int *hash;          /* open addressing: node index + 1 */
    int hash_cap;
    const struct Scope *parent;
    int depth;
} Scope;

typedef struct Call {
    FRef *outs;
    int n_outs;
} Call;

/* ---- scopes ---- */

static int scope_find(const Scope *S, const char *name) {
    uint32_t m = (uint32_t)S->hash_cap - 1;
    for (uint32_t h = fz_hash(name) & m;; h = (h + 1) & m) {
        int v = S->hash[h];
        if (!v) return -1;
        if (!strcmp(S->nodes[v - 1].name, name)) return v - 1;
    }
}

static int scope_init(Scope *S, Fz *z, const NDef *nodes, int n, const Func *func, const char *prefix,
                      const FRef *args, int n_args, const Scope *parent) {
    memset(S, 0, sizeof *S);
    S->z = z;
    S->nodes = nodes;
    S->n = n;
    S->func = func;
    S->args = args;
    S->n_args = n_args;
    S->parent = parent;
    S->depth = parent ? parent->depth + 1 : 0;
    S->hash_cap = 16;
    while (S->hash_cap < 2 * n + 2) S->hash_cap *= 2;
    S->prefix = strdup(prefix);
    S->flat = calloc((size_t)n + 1, sizeof *S->flat);
    S->calls = calloc((size_t)n + 1, sizeof *S->calls);
    S->state = calloc((size_t)n + 1, 1);
    S->hash = calloc((size_t)S->hash_cap, sizeof *S->hash);
    if (!S->prefix || !S->flat || !S->calls || !S->state || !S->hash) return err_set(z->err, ERR_RUNTIME, "out of memory");
    uint32_t m = (uint32_t)S->hash_cap - 1;
    for (int i = 0; i < n; i++) {
        if (scope_find(S, nodes[i].name) >= 0)
            return err_set(z->err, ERR_INPUT, "%s%s: duplicate node name '%s'", func ? "function " : "graph",
                           func ? func->name : "", nodes[i].name);
        uint32_t h = fz_hash(nodes[i].name) & m;
        while (S->hash[h]) h = (h + 1) & m;
        S->hash[h] = i + 1;
    }
    return 0;
}

static void scope_free(Scope *S) {
    if (S->calls)
        for (int i = 0; i < S->n; i++)
            if (S->calls[i]) {
                free(S->calls[i]->outs);
                free(S->calls[i]);
            }
    free(S->calls);
    free(S->flat);
    free(S->state);
    free(S->hash);
    free(S->prefix);
}

static int run_scope(Scope *S);
static int instantiate(Scope *S, int j);
static int instantiate_body(Scope *S, int j, const NDef *d);

/* where a node's messages point: "function 'f', node 'n'" or "node 'n'" */
static int fail_at(Scope *S, int j) {
    if (S->z->located) return -1; /* one location, the innermost: the message stays one short line */
    S->z->located = true;
    if (S->func) return err_prefix(S->z->err, "function '%s', node '%s'", S->func->name, S->nodes[j].name);
    return err_prefix(S->z->err, "node '%s'", S->nodes[j].name);
}

/* Output `arg:idx` (function bodies) or port idx (top graph, arg NULL) of node j. */
static int node_output(Scope *S, int j, const char *arg, int idx, FRef *out) {
    Fz *z = S->z;
    const NDef *d = &S->nodes[j];
    bool bad;
    const Func *callee = fz_callee_of(z, d, &bad);
    if (bad) return err_set(z->err, ERR_INPUT, "calls a function that is not in the library");
    if (callee) {
        if (instantiate(S, j)) return -1;
        const Call *c = S->calls[j];
        int port = idx;
        if (arg && !fz_is_call_op(d->op)) { /* direct call: the callee's output argument names */
            const Grappo__Tf__OpDef *sig = callee->fd->signature;
            port = -1;
            for (size_t k = 0; sig && k < sig->n_output_arg; k++)
                if (sig->output_arg[k]->name.len == strlen(arg) && !memcmp(sig->output_arg[k]->name.data, arg, strlen(arg)))
                    port = (int)k + idx;
        }
        if (port < 0 || port >= c->n_outs)
            return err_set(z->err, ERR_INPUT, "output %s:%d of call '%s' does not exist", arg ? arg : "", idx, d->name);
        *out = c->outs[port];
        return 0;
    }
    int port = arg ? fz_op_out_port(d->op, arg, idx) : idx;
    if (port < 0 || port > GRAPHDEF_MAX_PORT)
        return err_set(z->err, ERR_INPUT, "'%s' has no output '%s:%d'", d->name, arg ? arg : "", idx);
    *out = (FRef){S->flat[j], port};
    return 0;
}

static int parse_idx(const char *s, int *out) {
    if (!*s) return -1;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (*s - '0')) > GRAPHDEF_MAX_PORT) return -1;
    }
    *out = (int)v;
    return 0;
}

/* A data reference in scope S -> flat reference. */
static int resolve_data(Scope *S, const char *text, FRef *out) {
    Fz *z = S->z;
    char buf[1024];
    if (strlen(text) >= sizeof buf) return err_set(z->err, ERR_INPUT, "input name too long");
    strcpy(buf, text);
    char *c1 = strchr(buf, ':');
    if (S->func) {
        if (!c1) { /* an input argument of the function */
            const Grappo__Tf__OpDef *sig = S->func->fd->signature;
            for (size_t k = 0; sig && k < sig->n_input_arg && (int)k < S->n_args; k++)
                if (sig->input_arg[k]->name.len == strlen(buf) && !memcmp(sig->input_arg[k]->name.data, buf, strlen(buf))) {
                    *out = S->args[k];
                    return 0;
                }
            int j = scope_find(S, buf);
            if (j >= 0) return node_output(S, j, NULL, 0, out);
            return err_set(z->err, ERR_INPUT, "input '%s' names no argument or node", text);
        }
        *c1 = 0;
        char *arg = c1 + 1, *c2 = strchr(arg, ':');
        int idx = 0;
        if (c2) {
            *c2 = 0;
            if (parse_idx(c2 + 1, &idx)) return err_set(z->err, ERR_INPUT, "input '%s': bad index", text);
        }
        int j = scope_find(S, buf);
        if (j < 0) return err_set(z->err, ERR_INPUT, "input '%s' names no node", text);
        return node_output(S, j, arg, idx, out);
    }
    int port = 0;
    if (c1) {
        *c1 = 0;
        if (parse_idx(c1 + 1, &port)) return err_set(z->err, ERR_INPUT, "input '%s': bad port", text);
    }
    int j = scope_find(S, buf);
    if (j < 0) return err_set(z->err, ERR_INPUT, "input '%s' names no node", text);
    return node_output(S, j, NULL, port, out);
}

/* How many flat nodes one call of f makes (nested calls counted through), saturated just past
 * FREEZE_MAX_NODES, so a call tree that fans out is refused before it is built. Recursion and
 * nesting past FREEZE_MAX_DEPTH count as 1 here (bounded stack); instantiate reports them. */
static int64_t expanded_size(Fz *z, Func *f, int depth) {
    if (f->size_state == 2) return f->size;
    if (f->size_state == 1 || depth > FREEZE_MAX_DEPTH) return 1; /* instantiate reports these */
    if (fz_parse_func(f, z->err)) return -1;
    f->size_state = 1;
    int64_t n = 0;
    for (int i = 0; i < f->n_nodes && n <= FREEZE_MAX_NODES; i++) {
        bool bad;
        Func *c = (Func *)fz_callee_of(z, &f->nodes[i], &bad);
        int64_t k = c ? expanded_size(z, c, depth + 1) : 1;
        if (k < 0) return -1;
        n += k;
    }
    f->size = n > FREEZE_MAX_NODES ? FREEZE_MAX_NODES + 1 : n;
    f->size_state = 2;
    return f->size;
}

/* Instantiates call node j of S (once): its callee's body, arguments bound to its inputs. */
static int instantiate(Scope *S, int j) {
    Fz *z = S->z;
    if (S->state[j] == 2) return 0;
    const NDef *d = &S->nodes[j];
    if (S->state[j] == 1) return err_set(z->err, ERR_INPUT, "call '%s' depends on its own outputs", d->name);
    if (z->active >= FREEZE_MAX_ACTIVE)
        return err_set(z->err, ERR_INPUT, "more than %d function calls feed each other in a chain", FREEZE_MAX_ACTIVE);
    S->state[j] = 1;
    z->active++;
    int rc = instantiate_body(S, j, d);
    z->active--;
    return rc;
}

static int instantiate_body(Scope *S, int j, const NDef *d) {
    Fz *z = S->z;
    bool bad;
    Func *callee = (Func *)fz_callee_of(z, d, &bad);
    for (const Scope *p = S; p; p = p->parent)
        if (p->func == callee)
            return err_set(z->err, ERR_INPUT, "function '%s' calls itself (recursion cannot be inlined)", callee->name);
    if (S->depth + 1 > FREEZE_MAX_DEPTH) return err_set(z->err, ERR_INPUT, "function calls nested deeper than %d", FREEZE_MAX_DEPTH);
    if (fz_parse_func(callee, z->err)) return -1;
    int64_t size = expanded_size(z, callee, 0);
    if (size < 0) return -1;
    if (z->n_fn + size > FREEZE_MAX_NODES)
        return err_set(z->err, ERR_INPUT, "inlining the function calls makes more than %d nodes", FREEZE_MAX_NODES);
    const Grappo__Tf__OpDef *sig = callee->fd->signature;
    int n_args = 0;
    for (int i = 0; i < d->n_in; i++) n_args += d->in[i][0] != '^';
    int want = sig ? (int)sig->n_input_arg : 0;
    if (n_args != want)
        return err_set(z->err, ERR_INPUT, "passes %d arguments to '%s', which takes %d", n_args, callee->name, want);
    FRef *args = calloc((size_t)n_args + 1, sizeof *args);
    if (!args) return err_set(z->err, ERR_RUNTIME, "out of memory");
    int k = 0, rc = 0;
    for (int i = 0; i < d->n_in && !rc; i++)
        if (d->in[i][0] != '^') rc = resolve_data(S, d->in[i], &args[k++]);
    if (rc) {
        free(args);
        return -1;
    }
    size_t plen = strlen(S->prefix) + strlen(d->name) + 2;
    char *prefix = malloc(plen);
    Call *c = calloc(1, sizeof *c);
    int n_outs = sig ? (int)sig->n_output_arg : 0;
    if (c) c->outs = calloc((size_t)n_outs + 1, sizeof *c->outs);
    if (!prefix || !c || !c->outs) {
        free(args);
        free(prefix);
        if (c) free(c->outs);
        free(c);
        return err_set(z->err, ERR_RUNTIME, "out of memory");
    }
    snprintf(prefix, plen, "%s%s/", S->prefix, d->name);
    c->n_outs = n_outs;
    Scope T;
    rc = scope_init(&T, z, callee->nodes, callee->n_nodes, callee, prefix, args, n_args, S);
    if (!rc) rc = run_scope(&T);
    for (int o = 0; o < n_outs && !rc; o++) { /* outputs: ret[output arg name] */
        const ProtobufCBinaryData *name = &sig->output_arg[o]->name;
        const char *val = NULL;
        for (size_t r = 0; r < callee->fd->n_ret; r++)
            if (strlen(callee->fd->ret[r]->key) == name->len && !memcmp(callee->fd->ret[r]->key, name->data, name->len))
                val = callee->fd->ret[r]->value;
        if (!val) rc = err_set(z->err, ERR_INPUT, "function '%s' returns nothing for output %d", callee->name, o);
        else if (resolve_data(&T, val, &c->outs[o])) {
            if (!z->located) rc = err_prefix(z->err, "function '%s', return value", callee->name);
            rc = -1;
            z->located = true;
        }
    }
    scope_free(&T);
    free(prefix);
    free(args);
    if (rc) {
        free(c->outs);
        free(c);
        return -1;
    }
    S->calls[j] = c;
    S->state[j] = 2;
    return 0;
}

/* Flat nodes for every ordinary node of S, their inputs, then every call not yet made. */
static int run_scope(Scope *S) {
    Fz *z = S->z;
    for (int j = 0; j < S->n; j++) {
        const NDef *d = &S->nodes[j];
        bool bad;
        const Func *callee = fz_callee_of(z, d, &bad);
        if (bad) return err_set(z->err, ERR_INPUT, "%s calls a function that is not in the library", d->op), fail_at(S, j);
        if (callee) {
            S->flat[j] = -1;
            continue;
        }
        if (!fz_op_known(z, d->op)) return err_set(z->err, ERR_INPUT, "unknown op '%s'", d->op), fail_at(S, j);
        if ((S->flat[j] = fz_add_flat(z, S->prefix, d->name, d->op, d)) < 0) return -1;
    }
    for (int j = 0; j < S->n; j++) {
        const NDef *d = &S->nodes[j];
        if (S->flat[j] < 0) continue;
        for (int i = 0; i < d->n_in; i++) {
            if (d->in[i][0] == '^') {
                int c = scope_find(S, d->in[i] + 1);
                if (c < 0) return err_set(z->err, ERR_INPUT, "control input '%s' names no node", d->in[i]), fail_at(S, j);
                if (S->flat[c] < 0 || fz_ctrl_droppable(S->nodes[c].op)) continue;
                if (fz_add_ctrl(z, S->flat[j], S->flat[c])) return -1;
                continue;
            }
            FRef r;
            if (resolve_data(S, d->in[i], &r)) return fail_at(S, j);
            if (fz_add_in(z, S->flat[j], r)) return -1;
        }
    }
    for (int j = 0; j < S->n; j++)
        if (S->flat[j] < 0 && instantiate(S, j)) return fail_at(S, j);
    return 0;
}

/* TF2: each top-level call's trailing inputs are the captures its concrete function is bound
 * to (SavedConcreteFunction.bound_inputs: object-graph node ids); an id's checkpoint key is
 * its VARIABLE_VALUE attribute in the checkpoint's object graph. */
static int match_bound_inputs(Fz *z, Scope *top) {
    const Grappo__Tf__SavedObjectGraph *og = z->s->objects;
    if (!og) return 0;
    for (int j = 0; j < top->n; j++) {
        const NDef *d = &top->nodes[j];
        bool bad;
        const Func *callee = fz_callee_of(z, d, &bad);
        if (!callee) continue;
        const Grappo__Tf__SavedConcreteFunction *cf = NULL;
        for (size_t i = 0; i < og->n_concrete_functions; i++)
            if (!strcmp(og->concrete_functions[i]->key, callee->name)) cf = og->concrete_functions[i]->value;
        if (!cf) continue;
        int n_data = 0;
        for (int i = 0; i < d->n_in; i++) n_data += d->in[i][0] != '^';
        if ((int)cf->n_bound_inputs > n_data) continue;
        int first = n_data - (int)cf->n_bound_inputs, k = 0;
        for (int i = 0; i < d->n_in; i++) {
            if (d->in[i][0] == '^') continue;
            int pos = k++;
            if (pos < first) continue;
            int id = cf->bound_inputs[pos - first];
            if (id < 0 || id >= z->s->n_object_keys || !z->s->object_keys[id]) continue;
            FRef r;
            if (resolve_data(top, d->in[i], &r)) return fail_at(top, j);
            FNode *v = &z->fn[fz_trace(z, r).node];
            if (strcmp(v->op, "VarHandleOp") || v->key) continue;
            if (!(v->key = strdup(z->s->object_keys[id]))) return err_set(z->err, ERR_RUNTIME, "out of memory");
        }
    }
    return 0;
}

/* ---- driver ---- */

static int load_graphdef(Fz *z, const uint8_t **versions, size_t *versions_len) {
    const FreezeSpec *s = z->s;
    PbReader r = pb_reader(s->graph_def, s->graph_def_len);
    PbField f;
    const char *why = "";
    int rc, cap = 0;
    while ((rc = pb_next_field(&r, &f, &why)) == 1) {
        if (f.number == 1 && f.wire == PB_LEN) {
            if (z->n_top == cap) {
                cap = cap ? 2 * cap : 64;
                NDef *p = realloc(z->top, (size_t)cap * sizeof *p);
                if (!p) return err_set(z->err, ERR_RUNTIME, "out of memory");
                z->top = p;
            }
            if (fz_ndef_parse(f.data, f.len, &z->top[z->n_top++], z->err)) return err_prefix(z->err, "graph node #%d", z->n_top - 1);
        } else if (f.number == 2 && f.wire == PB_LEN && !z->lib) {
            z->lib_raw = f.raw;
            z->lib_raw_len = f.raw_len;
            z->lib = grappo__tf__function_def_library__unpack(NULL, f.len, f.data);
            if (!z->lib) return err_set(z->err, ERR_INPUT, "malformed function library");
        } else if (f.number == 4 && f.wire == PB_LEN) {
            *versions = f.raw;
            *versions_len = f.raw_len;
        }
    }
    if (rc < 0) return err_set(z->err, ERR_INPUT, "malformed GraphDef (%s)", why);
    if (z->lib) {
        z->funcs = calloc(z->lib->n_function + 1, sizeof *z->funcs);
        if (!z->funcs) return err_set(z->err, ERR_RUNTIME, "out of memory");
        for (size_t i = 0; i < z->lib->n_function; i++) {
            const Grappo__Tf__FunctionDef *fd = z->lib->function[i];
            if (!fd->signature || !fd->signature->name.len || memchr(fd->signature->name.data, 0, fd->signature->name.len))
                return err_set(z->err, ERR_INPUT, "function #%zu has no name", i);
            Func *fn = &z->funcs[z->n_funcs++];
            fn->fd = fd;
            if (!(fn->name = fz_dupn(fd->signature->name.data, fd->signature->name.len))) return err_set(z->err, ERR_RUNTIME, "out of memory");
        }
    }
    return 0;
}

Graph *freeze_graph(const FreezeSpec *s, Err *err) {
    Fz z = {.s = s, .err = err};
    Scope top = {0};
    Graph *g = NULL;
    ByteBuf out = {0};
    FRef *outs = NULL;
    const uint8_t *versions = NULL;
    size_t versions_len = 0;
    int rc = load_graphdef(&z, &versions, &versions_len);
    if (!rc) rc = scope_init(&top, &z, z.top, z.n_top, NULL, "", NULL, 0, NULL);
    if (!rc) rc = run_scope(&top);
    /* variables: through the object graph, else through the restore ops */
    if (!rc) rc = match_bound_inputs(&z, &top);
    if (!rc) fz_match_restore_ops(&z);
    /* inputs: the Placeholders, renamed to their keys */
    int *in_nodes = calloc((size_t)s->n_inputs + 1, sizeof *in_nodes);
    if (!in_nodes && !rc) rc = err_set(err, ERR_RUNTIME, "out of memory");
    for (int i = 0; !rc && i < s->n_inputs; i++) {
        FRef r;
        if (resolve_data(&top, s->inputs[i].tensor, &r)) rc = err_prefix(err, "signature input '%s'", s->inputs[i].key);
        else if (r.port != 0 || (strcmp(z.fn[r.node].op, "Placeholder") && strcmp(z.fn[r.node].op, "PlaceholderWithDefault")))
            rc = err_set(err, ERR_INPUT, "signature input '%s' (%s) is not a Placeholder", s->inputs[i].key, s->inputs[i].tensor);
        else {
            in_nodes[i] = r.node;
            FNode *f = &z.fn[r.node];
            if (strcmp(f->op, "Placeholder")) { /* fed by the caller: its default does not matter */
                free(f->op);
                if (!(f->op = strdup("Placeholder"))) rc = err_set(err, ERR_RUNTIME, "out of memory");
                f->n_in = f->n_ctrl = 0;
            }
        }
    }
    /* outputs: an Identity per key */
    outs = calloc((size_t)s->n_outputs + 1, sizeof *outs);
    if (!outs && !rc) rc = err_set(err, ERR_RUNTIME, "out of memory");
    int first_out = z.n_fn;
    for (int i = 0; !rc && i < s->n_outputs; i++) {
        FRef r;
        if (resolve_data(&top, s->outputs[i].tensor, &r)) { rc = err_prefix(err, "signature output '%s'", s->outputs[i].key); break; }
        int k = fz_add_flat(&z, "", s->outputs[i].key, "Identity", NULL);
        if (k < 0 || fz_add_in(&z, k, r)) { rc = -1; break; }
        z.fn[k].out_dtype = s->outputs[i].dtype ? s->outputs[i].dtype : DT_FLOAT;
        outs[i] = (FRef){k, 0};
    }
    if (!rc) rc = fz_mark_live(&z, outs, s->n_outputs);
    for (int i = 0; !rc && i < s->n_inputs; i++) z.fn[in_nodes[i]].live = true;
    if (!rc) rc = fz_assign_names(&z, s, in_nodes, first_out);
    free(in_nodes);
    /* emit: live nodes, the output Identities last (in key order: they become the graph's outputs) */
    for (int k = 0; !rc && k < z.n_fn; k++)
        if (z.fn[k].live && (k < first_out || k >= first_out + s->n_outputs)) rc = fz_emit_node(&z, k, &out);
    for (int k = first_out; !rc && k < first_out + s->n_outputs; k++) rc = fz_emit_node(&z, k, &out);
    /* control flow that stays (While, If, Case) calls functions of the library: keep it */
    bool keep_lib = false;
    for (int k = 0; !rc && k < z.n_fn && !keep_lib; k++)
        keep_lib = z.fn[k].live && op_is_functional_control_flow(op_lookup(z.fn[k].op));
    if (!rc && keep_lib && z.lib_raw) bb_put(&out, z.lib_raw, z.lib_raw_len);
    if (!rc && versions) bb_put(&out, versions, versions_len);
    if (!rc && out.oom) rc = err_set(err, ERR_RUNTIME, "out of memory");
    if (!rc) {
        g = graphdef_parse(out.data, out.len, s->what, err);
        if (g) {
            /* exactly the signature's outputs, in its order */
            g->n_outputs = 0;
            for (int i = 0; i < s->n_outputs; i++) {
                int j = graph_find(g, z.fn[outs[i].node].name);
                if (j < 0 || graph_add_output(g, (ValueRef){j, 0}, err)) {
                    graph_free(g);
                    g = NULL;
                    break;
                }
            }
        }
    } else {
        err_prefix(err, "%s", s->what ? s->what : "<saved model>");
    }
    bb_free(&out);
    free(outs);
    scope_free(&top);
    for (int i = 0; i < z.n_top; i++) fz_ndef_free(&z.top[i]);
    free(z.top);
    for (int i = 0; i < z.n_funcs; i++) {
        for (int k = 0; k < z.funcs[i].n_nodes; k++) fz_ndef_free(&z.funcs[i].nodes[k]);
        free(z.funcs[i].nodes);
        free(z.funcs[i].name);
    }
    free(z.funcs);
    if (z.lib) grappo__tf__function_def_library__free_unpacked(z.lib, NULL);
    for (int k = 0; k < z.n_fn; k++) {
        free(z.fn[k].name);
        free(z.fn[k].op);
        free(z.fn[k].in);
        free(z.fn[k].ctrl);
        free(z.fn[k].key);
        free(z.fn[k].slice);
        tensor_release(&z.fn[k].value);
    }
    free(z.fn);
    return g;
}

/* ---- one function as its own graph (control-flow bodies) ---- */

static void put_func_attr(ByteBuf *node, const char *key, const char *fname) {
    ByteBuf nal = {0}, av = {0};
    nd_put_str_field(&nal, 1, fname);        /* NameAttrList.name */
    bb_len_field(&av, 10, nal.data, nal.len); /* AttrValue.func */
    nd_put_attr(node, key, av.data, av.len);
    if (nal.oom || av.oom) node->oom = true;
    bb_free(&nal);
    bb_free(&av);
}

Graph *freeze_function(const uint8_t *lib_field, size_t lib_field_len, const Grappo__Tf__FunctionDefLibrary *lib,
                       const char *fname, Err *err) {
    const Grappo__Tf__OpDef *sig = NULL;
    for (size_t i = 0; lib && i < lib->n_function && !sig; i++) {
        const Grappo__Tf__OpDef *s = lib->function[i]->signature;
        if (s && s->name.len == strlen(fname) && !memcmp(s->name.data, fname, s->name.len)) sig = s;
    }
    if (!sig) {
        err_set(err, ERR_INPUT, "function '%s' is not in the graph's function library", fname);
        return NULL;
    }
    int n_in = (int)sig->n_input_arg, n_out = (int)sig->n_output_arg;
    FreezeTensor *ins = calloc((size_t)n_in + 1, sizeof *ins), *outs = calloc((size_t)n_out + 1, sizeof *outs);
    char (*names)[48] = calloc((size_t)(2 * n_in + 2 * n_out) + 1, sizeof *names);
    ByteBuf gd = {0};
    Graph *g = NULL;
    if (!ins || !outs || !names) {
        err_set(err, ERR_RUNTIME, "out of memory");
        goto done;
    }
    ByteBuf call = {0};
    nd_put_str_field(&call, 1, "call");
    nd_put_str_field(&call, 2, "PartitionedCall");
    for (int k = 0; k < n_in; k++) {
        int dt = sig->input_arg[k]->type;
        if (dt == 0) {
            bb_free(&call);
            err_set(err, ERR_INPUT, "function '%s': argument %d has no concrete dtype", fname, k);
            goto done;
        }
        char *an = names[k];
        snprintf(an, 48, FUNC_ARG_FMT, k);
        ByteBuf ph = {0};
        nd_put_str_field(&ph, 1, an);
        nd_put_str_field(&ph, 2, "Placeholder");
        nd_put_type_attr(&ph, "dtype", dt);
        bb_len_field(&gd, 1, ph.data, ph.len);
        if (ph.oom) gd.oom = true;
        bb_free(&ph);
        nd_put_str_field(&call, 3, an);
        ins[k] = (FreezeTensor){an, an, dt};
    }
    put_func_attr(&call, "f", fname);
    bb_len_field(&gd, 1, call.data, call.len);
    if (call.oom) gd.oom = true;
    bb_free(&call);
    bb_put(&gd, lib_field, lib_field_len);
    for (int k = 0; k < n_out; k++) {
        char *key = names[2 * n_in + 2 * k], *t = names[2 * n_in + 2 * k + 1];
        snprintf(key, 48, FUNC_RET_FMT, k);
        snprintf(t, 48, "call:%d", k);
        outs[k] = (FreezeTensor){key, t, sig->output_arg[k]->type};
    }
    if (gd.oom) {
        err_set(err, ERR_RUNTIME, "out of memory");
        goto done;
    }
    char what[300];
    snprintf(what, sizeof what, "function '%.200s'", fname);
    FreezeSpec spec = {.graph_def = gd.data, .graph_def_len = gd.len, .inputs = ins, .outputs = outs,
                       .n_inputs = n_in, .n_outputs = n_out, .what = what};
    g = freeze_graph(&spec, err);
done:
    bb_free(&gd);
    free(ins);
    free(outs);
    free(names);
    return g;
}
