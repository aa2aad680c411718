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
#include "graphdef.h"
#include "pb_wire.h"
#include "saved_model.pb-c.h"

typedef struct AttrRaw {
    char *key;
    const uint8_t *val;
    size_t len;
} AttrRaw;

typedef struct NDef {
    char *name, *op;
    char **in;
    int n_in;
    AttrRaw *attr;
    int n_attr;
} NDef;

typedef struct Func {
    const Grappo__Tf__FunctionDef *fd;
    char *name;
    NDef *nodes;
    int n_nodes;
    bool parsed;
} Func;

typedef struct FRef {
    int node, port;
} FRef;

typedef struct FNode {
    char *name;
    char *op;       /* owned */
    const NDef *src; /* attributes come from here (NULL for nodes made here) */
    FRef *in;
    int n_in;
    int *ctrl;
    int n_ctrl;
    Tensor value;   /* Const made from a variable */
    char *key;      /* VarHandleOp / VariableV2: its checkpoint key, once matched */
    int out_dtype;  /* for output Identity nodes: attr T */
    int64_t gather_batch_dims; /* ResourceGather -> GatherV2 */
    bool is_gather;
    bool live;
} FNode;

typedef struct Fz {
    const FreezeSpec *s;
    Err *err;
    NDef *top;
    int n_top;
    Grappo__Tf__FunctionDefLibrary *lib;
    const uint8_t *lib_raw; /* the library field as read (re-emitted for control flow) */
    size_t lib_raw_len;
    Func *funcs;
    int n_funcs;
    FNode *fn;
    int n_fn, cap_fn;
    int active; /* calls being instantiated right now (recursion depth of instantiate) */
} Fz;

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

/* ---- small helpers ---- */

static char *dupn(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static uint32_t hash_str(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void ndef_free(NDef *d) {
    free(d->name);
    free(d->op);
    for (int i = 0; i < d->n_in; i++) free(d->in[i]);
    free(d->in);
    for (int i = 0; i < d->n_attr; i++) free(d->attr[i].key);
    free(d->attr);
}

/* One NodeDef -> NDef (attribute values point into data). */
static int ndef_parse(const uint8_t *data, size_t len, NDef *d, Err *err) {
    memset(d, 0, sizeof *d);
    PbReader r = pb_reader(data, len);
    PbField f;
    const char *why = "";
    int rc;
    while ((rc = pb_next_field(&r, &f, &why)) == 1) {
        if (f.number > 5 || f.number == 4) continue;
        if (f.wire != PB_LEN) return err_set(err, ERR_INPUT, "malformed NodeDef (field %u)", f.number);
        if (memchr(f.data, 0, f.len) && f.number != 5) return err_set(err, ERR_INPUT, "NodeDef text with a NUL byte");
        if (f.number == 1) {
            free(d->name);
            if (!(d->name = dupn(f.data, f.len))) return err_set(err, ERR_RUNTIME, "out of memory");
        } else if (f.number == 2) {
            free(d->op);
            if (!(d->op = dupn(f.data, f.len))) return err_set(err, ERR_RUNTIME, "out of memory");
        } else if (f.number == 3) {
            char **p = realloc(d->in, (size_t)(d->n_in + 1) * sizeof *p);
            if (!p) return err_set(err, ERR_RUNTIME, "out of memory");
            d->in = p;
            if (!(d->in[d->n_in] = dupn(f.data, f.len))) return err_set(err, ERR_RUNTIME, "out of memory");
            d->n_in++;
        } else { /* attr entry {1: key, 2: value} */
            PbReader e = pb_reader(f.data, f.len);
            PbField g;
            const uint8_t *key = NULL, *val = NULL;
            size_t klen = 0, vlen = 0;
            while ((rc = pb_next_field(&e, &g, &why)) == 1) {
                if (g.wire != PB_LEN) continue;
                if (g.number == 1) key = g.data, klen = g.len;
                if (g.number == 2) val = g.data, vlen = g.len;
            }
            if (rc < 0 || !key || memchr(key, 0, klen)) return err_set(err, ERR_INPUT, "malformed attribute entry");
            AttrRaw *a = realloc(d->attr, (size_t)(d->n_attr + 1) * sizeof *a);
            if (!a) return err_set(err, ERR_RUNTIME, "out of memory");
            d->attr = a;
            if (!(a[d->n_attr].key = dupn(key, klen))) return err_set(err, ERR_RUNTIME, "out of memory");
            a[d->n_attr].val = val;
            a[d->n_attr].len = vlen;
            d->n_attr++;
        }
    }
    if (rc < 0) return err_set(err, ERR_INPUT, "malformed NodeDef (%s)", why);
    if (!d->name || !*d->name) return err_set(err, ERR_INPUT, "a NodeDef without a name");
    if (!d->op || !*d->op) return err_set(err, ERR_INPUT, "node '%s' has no op", d->name);
    return 0;
}

static const AttrRaw *ndef_attr(const NDef *d, const char *key) {
    for (int i = d->n_attr - 1; i >= 0; i--)
        if (!strcmp(d->attr[i].key, key)) return &d->attr[i];
    return NULL;
}

static Grappo__Tf__AttrValue *attr_unpack(const NDef *d, const char *key) {
    const AttrRaw *a = ndef_attr(d, key);
    return a ? grappo__tf__attr_value__unpack(NULL, a->len, a->val) : NULL;
}

static int attr_type(const NDef *d, const char *key) {
    Grappo__Tf__AttrValue *v = attr_unpack(d, key);
    int t = v && v->value_case == GRAPPO__TF__ATTR_VALUE__VALUE_TYPE ? v->type : 0;
    if (v) grappo__tf__attr_value__free_unpacked(v, NULL);
    return t;
}

static int64_t attr_int(const NDef *d, const char *key, int64_t def) {
    Grappo__Tf__AttrValue *v = attr_unpack(d, key);
    int64_t t = v && v->value_case == GRAPPO__TF__ATTR_VALUE__VALUE_I ? v->i : def;
    if (v) grappo__tf__attr_value__free_unpacked(v, NULL);
    return t;
}

static const Func *find_func(const Fz *z, const char *name) {
    for (int i = 0; i < z->n_funcs; i++)
        if (!strcmp(z->funcs[i].name, name)) return &z->funcs[i];
    return NULL;
}

static bool is_call_op(const char *op) { return !strcmp(op, "StatefulPartitionedCall") || !strcmp(op, "PartitionedCall"); }

/* The function a node calls, or NULL for an ordinary op. *bad is set when a call names a
 * function the library does not have. */
static const Func *callee_of(Fz *z, const NDef *d, bool *bad) {
    *bad = false;
    if (is_call_op(d->op)) {
        Grappo__Tf__AttrValue *v = attr_unpack(d, "f");
        const Func *f = NULL;
        if (v && v->value_case == GRAPPO__TF__ATTR_VALUE__VALUE_FUNC && v->func) {
            char *name = dupn(v->func->name.data, v->func->name.len);
            f = name ? find_func(z, name) : NULL;
            free(name);
        }
        if (v) grappo__tf__attr_value__free_unpacked(v, NULL);
        *bad = !f;
        return f;
    }
    return find_func(z, d->op);
}

static int parse_func(Func *f, Err *err) {
    if (f->parsed) return 0;
    const Grappo__Tf__FunctionDef *fd = f->fd;
    f->nodes = calloc(fd->n_node_def + 1, sizeof *f->nodes);
    if (!f->nodes) return err_set(err, ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < fd->n_node_def; i++) {
        if (ndef_parse(fd->node_def[i].data, fd->node_def[i].len, &f->nodes[i], err)) {
            f->n_nodes = (int)i + 1;
            return err_prefix(err, "function '%s'", f->name);
        }
    }
    f->n_nodes = (int)fd->n_node_def;
    f->parsed = true;
    return 0;
}

/* ---- ops: which output argument is which port ---- */

/* Ops whose outputs are several arguments of one tensor each (port = position). Every other
 * op has a single output argument (possibly a list): port = idx. */
static const char *const multi_out[][7] = {
    {"FusedBatchNorm", "y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", NULL},
    {"FusedBatchNormV2", "y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", NULL},
    {"FusedBatchNormV3", "y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"},
    {"_FusedBatchNormEx", "y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"},
    {"Unique", "y", "idx", NULL},
    {"UniqueV2", "y", "idx", NULL},
    {"UniqueWithCounts", "y", "idx", "count", NULL},
    {"TopK", "values", "indices", NULL},
    {"TopKV2", "values", "indices", NULL},
    {"Switch", "output_false", "output_true", NULL},
    {"Merge", "output", "value_index", NULL},
    {"QuantizeV2", "output", "output_min", "output_max", NULL},
    {"BroadcastGradientArgs", "r0", "r1", NULL},
    {"NonMaxSuppressionV4", "selected_indices", "valid_outputs", NULL},
    {"NonMaxSuppressionV5", "selected_indices", "selected_scores", "valid_outputs", NULL},
    {"Svd", "s", "u", "v", NULL},
    {"Qr", "q", "r", NULL},
};

/* TensorFlow ops grappo's op table does not have but that appear in SavedModels; anything in
 * neither list (nor the function library) is an unknown op. */
static const char *const other_tf_ops[] = {
    "VarHandleOp", "ReadVariableOp", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
    "VarIsInitializedOp", "DisableCopyOnRead", "ResourceGather", "VariableV2", "Variable", "Assign",
    "RestoreV2", "SaveV2", "MergeV2Checkpoints", "ShardedFilename", "StringJoin", "StaticRegexFullMatch",
    "Select", "SelectV2", "Einsum", "Erfc", "Less", "LessEqual", "Greater", "GreaterEqual", "Equal", "NotEqual",
    "LogicalAnd", "LogicalOr", "LogicalNot", "Range", "Floor", "FloorDiv", "FloorMod", "Ceil", "Round", "Sin",
    "Cos", "Rank", "Size", "ZerosLike", "OnesLike", "Assert", "CheckNumerics", "PlaceholderWithDefault",
    "BroadcastTo", "BroadcastArgs", "Where", "Cumsum", "Softplus", "Softsign", "Reciprocal", "Log1p",
    "Expm1", "All", "Any", "LogSoftmax", "ClipByValue", "ResizeBicubic", "DepthToSpace", "SpaceToDepth",
    "BatchToSpaceND", "SpaceToBatchND", "ReverseV2", "ScatterNd", "GatherNd", "TensorScatterUpdate",
    "If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase", "EnsureShape", "Snapshot",
    "MatrixBandPart", "Einsum", "SoftmaxCrossEntropyWithLogits", "TruncateDiv", "DivNoNan", "Sign",
    "Atan", "Acos", "Asin", "Cosh", "Sinh", "Tan", "IsNan", "IsFinite", "MirrorPadGrad", "L2Loss",
    "LRN", "Conv3D", "MaxPool3D", "AvgPool3D", "MaxPoolV2", "Bucketize", "HashTableV2",
    "LookupTableFindV2", "NoOp", "Unique", "UniqueV2", "TopKV2", "Switch", "Merge", "QuantizeV2",
    "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5",
    "ExtractImagePatches", "Cumprod", "SegmentSum", "UnsortedSegmentSum", "InvertPermutation",
    "StatelessRandomUniformV2", "RandomUniform", "RandomStandardNormal", "Relu6Grad", "BiasAddV1",
    "Conv2DBackpropFilter", "FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxArgs", "Dequantize",
    "BatchMatMulV3", "MatrixDiag", "MatrixDiagPartV3", "MatrixSetDiagV3", "Complex", "Real", "Imag",
    "StridedSliceGrad", "SparseToDense", "ListDiff", "SplitV", "Squeeze", "Bitcast", "LeftShift",
    "RightShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Invert", "TensorListReserve",
    "TensorListFromTensor", "TensorListStack", "TensorListGetItem", "TensorListSetItem",
};

static bool op_known(Fz *z, const char *op) {
    if (op_lookup(op) != OP_UNKNOWN || find_func(z, op)) return true;
    for (size_t i = 0; i < sizeof other_tf_ops / sizeof *other_tf_ops; i++)
        if (!strcmp(other_tf_ops[i], op)) return true;
    for (size_t i = 0; i < sizeof multi_out / sizeof *multi_out; i++)
        if (!strcmp(multi_out[i][0], op)) return true;
    return false;
}

/* port of output argument `arg`, element idx, of op; -1 if arg is not one of its outputs */
static int op_out_port(const char *op, const char *arg, int idx) {
    for (size_t i = 0; i < sizeof multi_out / sizeof *multi_out; i++) {
        if (strcmp(multi_out[i][0], op)) continue;
        for (int k = 1; k < 7 && multi_out[i][k]; k++)
            if (!strcmp(multi_out[i][k], arg)) return idx == 0 ? k - 1 : -1;
        return -1;
    }
    return idx;
}

/* ---- flat nodes ---- */

static int add_flat(Fz *z, const char *prefix, const char *name, const char *op, const NDef *src) {
    if (z->n_fn == z->cap_fn) {
        int cap = z->cap_fn ? 2 * z->cap_fn : 256;
        FNode *p = realloc(z->fn, (size_t)cap * sizeof *p);
        if (!p) return err_set(z->err, ERR_RUNTIME, "out of memory");
        z->fn = p;
        z->cap_fn = cap;
    }
    FNode *f = &z->fn[z->n_fn];
    memset(f, 0, sizeof *f);
    size_t n = strlen(prefix) + strlen(name) + 1;
    f->name = malloc(n);
    f->op = strdup(op);
    if (!f->name || !f->op) {
        free(f->name);
        free(f->op);
        return err_set(z->err, ERR_RUNTIME, "out of memory");
    }
    snprintf(f->name, n, "%s%s", prefix, name);
    f->src = src;
    return z->n_fn++;
}

static int flat_add_in(Fz *z, int node, FRef r) {
    FNode *f = &z->fn[node];
    FRef *p = realloc(f->in, (size_t)(f->n_in + 1) * sizeof *p);
    if (!p) return err_set(z->err, ERR_RUNTIME, "out of memory");
    f->in = p;
    f->in[f->n_in++] = r;
    return 0;
}

static int flat_add_ctrl(Fz *z, int node, int c) {
    FNode *f = &z->fn[node];
    int *p = realloc(f->ctrl, (size_t)(f->n_ctrl + 1) * sizeof *p);
    if (!p) return err_set(z->err, ERR_RUNTIME, "out of memory");
    f->ctrl = p;
    f->ctrl[f->n_ctrl++] = c;
    return 0;
}

/* ---- scopes ---- */

static int scope_find(const Scope *S, const char *name) {
    uint32_t m = (uint32_t)S->hash_cap - 1;
    for (uint32_t h = hash_str(name) & m;; h = (h + 1) & m) {
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
        uint32_t h = hash_str(nodes[i].name) & m;
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
    if (S->func) return err_prefix(S->z->err, "function '%s', node '%s'", S->func->name, S->nodes[j].name);
    return err_prefix(S->z->err, "node '%s'", S->nodes[j].name);
}

/* Output `arg:idx` (function bodies) or port idx (top graph, arg NULL) of node j. */
static int node_output(Scope *S, int j, const char *arg, int idx, FRef *out) {
    Fz *z = S->z;
    const NDef *d = &S->nodes[j];
    bool bad;
    const Func *callee = callee_of(z, d, &bad);
    if (bad) return err_set(z->err, ERR_INPUT, "calls a function that is not in the library");
    if (callee) {
        if (instantiate(S, j)) return -1;
        const Call *c = S->calls[j];
        int port = idx;
        if (arg && !is_call_op(d->op)) { /* direct call: the callee's output argument names */
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
    int port = arg ? op_out_port(d->op, arg, idx) : idx;
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

/* ops whose ordering role ends with freezing: control edges from them are dropped */
static bool ctrl_droppable(const char *op) {
    static const char *const ops[] = {"VarHandleOp", "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp",
                                      "NoOp", "VariableV2", "Variable", "Assign", "RestoreV2", "SaveV2",
                                      "Assert", "DisableCopyOnRead", "AssignAddVariableOp", "AssignSubVariableOp"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(op, ops[i])) return true;
    return false;
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
    Func *callee = (Func *)callee_of(z, d, &bad);
    for (const Scope *p = S; p; p = p->parent)
        if (p->func == callee)
            return err_set(z->err, ERR_INPUT, "function '%s' calls itself (recursion cannot be inlined)", callee->name);
    if (S->depth + 1 > FREEZE_MAX_DEPTH) return err_set(z->err, ERR_INPUT, "function calls nested deeper than %d", FREEZE_MAX_DEPTH);
    if (parse_func(callee, z->err)) return -1;
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
        else if (resolve_data(&T, val, &c->outs[o])) rc = err_prefix(z->err, "function '%s', return value", callee->name);
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
        const Func *callee = callee_of(z, d, &bad);
        if (bad) return err_set(z->err, ERR_INPUT, "%s calls a function that is not in the library", d->op), fail_at(S, j);
        if (callee) {
            S->flat[j] = -1;
            continue;
        }
        if (!op_known(z, d->op)) return err_set(z->err, ERR_INPUT, "unknown op '%s'", d->op), fail_at(S, j);
        if ((S->flat[j] = add_flat(z, S->prefix, d->name, d->op, d)) < 0) return -1;
    }
    for (int j = 0; j < S->n; j++) {
        const NDef *d = &S->nodes[j];
        if (S->flat[j] < 0) continue;
        for (int i = 0; i < d->n_in; i++) {
            if (d->in[i][0] == '^') {
                int c = scope_find(S, d->in[i] + 1);
                if (c < 0) return err_set(z->err, ERR_INPUT, "control input '%s' names no node", d->in[i]), fail_at(S, j);
                if (S->flat[c] < 0 || ctrl_droppable(S->nodes[c].op)) continue;
                if (flat_add_ctrl(z, S->flat[j], S->flat[c])) return -1;
                continue;
            }
            FRef r;
            if (resolve_data(S, d->in[i], &r)) return fail_at(S, j);
            if (flat_add_in(z, S->flat[j], r)) return -1;
        }
    }
    for (int j = 0; j < S->n; j++)
        if (S->flat[j] < 0 && instantiate(S, j)) return fail_at(S, j);
    return 0;
}

/* ---- variables ---- */

/* follows Identity chains back to the producing flat node */
static FRef trace(const Fz *z, FRef r) {
    for (int guard = 0; guard < 1000; guard++) {
        const FNode *f = &z->fn[r.node];
        if (strcmp(f->op, "Identity") || f->n_in < 1) break;
        r = f->in[0];
    }
    return r;
}

static int var_value(Fz *z, int var_node, int dtype, Tensor *out) {
    const FNode *v = &z->fn[var_node];
    if (!v->key)
        return err_set(z->err, ERR_INPUT, "variable '%s' has no checkpoint entry", v->name);
    if (!z->s->vars) return err_set(z->err, ERR_INPUT, "variable '%s' but no variables/ checkpoint", v->name);
    if (tensor_bundle_read(z->s->vars, v->key, out, z->err)) return -1;
    if (dtype && out->dtype != dtype) {
        tensor_release(out);
        return err_set(z->err, ERR_INPUT, "variable '%s' is read as dtype %d but stored as %d", v->name, dtype, out->dtype);
    }
    return 0;
}

/* Marks the flat nodes the outputs need; turns variable reads into Consts on the way. A node
 * is pushed once, when it turns live; the nodes ResourceGather adds are live (and need nothing)
 * from the start and never pushed, so the stack never holds more than the initial node count. */
static int mark_live(Fz *z, const FRef *outs, int n_outs) {
    int *stack = malloc(((size_t)z->n_fn + 1) * sizeof *stack);
    if (!stack) return err_set(z->err, ERR_RUNTIME, "out of memory");
    int sp = 0;
    for (int i = 0; i < n_outs; i++)
        if (!z->fn[outs[i].node].live) {
            z->fn[outs[i].node].live = true;
            stack[sp++] = outs[i].node;
        }
    int rc = 0;
    while (sp && !rc) {
        int k = stack[--sp];
        FNode *f = &z->fn[k];
        const char *op = f->op;
        if (!strcmp(op, "ReadVariableOp") || !strcmp(op, "ResourceGather")) {
            FRef h = f->n_in ? trace(z, f->in[0]) : (FRef){-1, 0};
            if (h.node < 0 || (strcmp(z->fn[h.node].op, "VarHandleOp") && strcmp(z->fn[h.node].op, "VariableV2"))) {
                rc = err_set(z->err, ERR_INPUT, "node '%s': reads a resource that is not a variable", f->name);
                break;
            }
            int dtype = f->src ? attr_type(f->src, "dtype") : 0;
            if (var_value(z, h.node, dtype, &f->value)) {
                rc = err_prefix(z->err, "node '%s'", f->name);
                break;
            }
            if (!strcmp(op, "ResourceGather")) { /* -> GatherV2(Const, indices, axis) */
                f->is_gather = true;
                f->gather_batch_dims = attr_int(f->src, "batch_dims", 0);
                int p = add_flat(z, f->name, "/params", "Const", NULL);
                if (p < 0) { rc = -1; break; }
                f = &z->fn[k]; /* add_flat may move the array */
                z->fn[p].value = f->value;
                f->value = (Tensor){0};
                z->fn[p].live = true;
                int a = add_flat(z, f->name, "/axis", "Const", NULL);
                if (a < 0) { rc = -1; break; }
                f = &z->fn[k];
                int64_t axis = f->gather_batch_dims;
                Shape sc = shape_scalar();
                int32_t ax = (int32_t)axis;
                if (tensor_from_data(&z->fn[a].value, DT_INT32, &sc, &ax, sizeof ax, z->err)) { rc = -1; break; }
                z->fn[a].live = true;
                FRef idx = f->in[1];
                free(f->op);
                if (!(f->op = strdup("GatherV2"))) { rc = err_set(z->err, ERR_RUNTIME, "out of memory"); break; }
                f->in[0] = (FRef){p, 0};
                f->in[1] = idx;
                f->n_in = 2;
                if (flat_add_in(z, k, (FRef){a, 0})) { rc = -1; break; }
                f = &z->fn[k];
            } else {
                free(f->op);
                if (!(f->op = strdup("Const"))) { rc = err_set(z->err, ERR_RUNTIME, "out of memory"); break; }
                f->n_in = 0;
            }
            f->n_ctrl = 0;
        } else if (!strcmp(op, "VariableV2") || !strcmp(op, "Variable")) { /* TF1: the variable is its value */
            if (var_value(z, k, 0, &f->value)) { rc = err_prefix(z->err, "node '%s'", f->name); break; }
            free(f->op);
            if (!(f->op = strdup("Const"))) { rc = err_set(z->err, ERR_RUNTIME, "out of memory"); break; }
            f->n_in = f->n_ctrl = 0;
        } else if (!strcmp(op, "VarHandleOp") || !strcmp(op, "AssignVariableOp") || !strcmp(op, "RestoreV2") ||
                   !strcmp(op, "Assign") || !strcmp(op, "VarIsInitializedOp")) {
            rc = err_set(z->err, ERR_INPUT, "node '%s': the outputs depend on variable state (%s) that freezing cannot resolve",
                         f->name, op);
            break;
        }
        for (int i = 0; i < f->n_in; i++)
            if (!z->fn[f->in[i].node].live) {
                z->fn[f->in[i].node].live = true;
                stack[sp++] = f->in[i].node;
            }
        for (int i = 0; i < f->n_ctrl; i++)
            if (!z->fn[f->ctrl[i]].live) {
                z->fn[f->ctrl[i]].live = true;
                stack[sp++] = f->ctrl[i];
            }
    }
    free(stack);
    return rc;
}

/* TF1 checkpoints: Assign(var, Identity*(RestoreV2:k)) with RestoreV2's tensor_names a Const. */
static void match_restore_ops(Fz *z) {
    for (int k = 0; k < z->n_fn; k++) {
        const FNode *f = &z->fn[k];
        if ((strcmp(f->op, "Assign") && strcmp(f->op, "AssignVariableOp")) || f->n_in < 2) continue;
        FRef v = trace(z, f->in[0]), val = trace(z, f->in[1]);
        FNode *var = &z->fn[v.node];
        const FNode *r = &z->fn[val.node];
        if (var->key || strcmp(r->op, "RestoreV2") || r->n_in < 2) continue;
        if (strcmp(var->op, "VarHandleOp") && strcmp(var->op, "VariableV2") && strcmp(var->op, "Variable")) continue;
        const FNode *names = &z->fn[trace(z, r->in[1]).node];
        if (strcmp(names->op, "Const") || !names->src) continue;
        Grappo__Tf__AttrValue *a = attr_unpack(names->src, "value");
        if (a && a->value_case == GRAPPO__TF__ATTR_VALUE__VALUE_TENSOR && a->tensor &&
            (size_t)val.port < a->tensor->n_string_val) {
            const ProtobufCBinaryData *key = &a->tensor->string_val[val.port];
            if (key->len && !memchr(key->data, 0, key->len)) var->key = dupn(key->data, key->len);
        }
        if (a) grappo__tf__attr_value__free_unpacked(a, NULL);
    }
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
        const Func *callee = callee_of(z, d, &bad);
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
            FNode *v = &z->fn[trace(z, r).node];
            if (strcmp(v->op, "VarHandleOp") || v->key) continue;
            if (!(v->key = strdup(z->s->object_keys[id]))) return err_set(z->err, ERR_RUNTIME, "out of memory");
        }
    }
    return 0;
}

/* ---- the frozen GraphDef ---- */

static void put_str_field(ByteBuf *b, uint32_t number, const char *s) { bb_len_field(b, number, s, strlen(s)); }

static void put_attr(ByteBuf *node, const char *key, const uint8_t *val, size_t len) {
    ByteBuf e = {0};
    put_str_field(&e, 1, key);
    bb_len_field(&e, 2, val, len);
    bb_len_field(node, 5, e.data, e.len);
    if (e.oom) node->oom = true;
    bb_free(&e);
}

static void put_type_attr(ByteBuf *node, const char *key, int dtype) {
    Grappo__Tf__AttrValue v = GRAPPO__TF__ATTR_VALUE__INIT;
    v.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_TYPE;
    v.type = dtype;
    uint8_t buf[16];
    size_t n = grappo__tf__attr_value__pack(&v, buf);
    put_attr(node, key, buf, n);
}

static void put_int_attr(ByteBuf *node, const char *key, int64_t i) {
    Grappo__Tf__AttrValue v = GRAPPO__TF__ATTR_VALUE__INIT;
    v.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_I;
    v.i = i;
    uint8_t buf[16];
    size_t n = grappo__tf__attr_value__pack(&v, buf);
    put_attr(node, key, buf, n);
}

static int put_tensor_attr(ByteBuf *node, const Tensor *t, Err *err) {
    Grappo__Tf__TensorShapeProto sh = GRAPPO__TF__TENSOR_SHAPE_PROTO__INIT;
    Grappo__Tf__TensorShapeProto__Dim dims[MAX_RANK], *dp[MAX_RANK];
    for (int i = 0; i < t->shape.rank; i++) {
        grappo__tf__tensor_shape_proto__dim__init(&dims[i]);
        dims[i].size = t->shape.dim[i];
        dp[i] = &dims[i];
    }
    sh.n_dim = (size_t)t->shape.rank;
    sh.dim = dp;
    Grappo__Tf__TensorProto tp = GRAPPO__TF__TENSOR_PROTO__INIT;
    tp.dtype = t->dtype;
    tp.tensor_shape = &sh;
    tp.tensor_content.data = (uint8_t *)tensor_data(t);
    tp.tensor_content.len = tensor_nbytes(t);
    Grappo__Tf__AttrValue v = GRAPPO__TF__ATTR_VALUE__INIT;
    v.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_TENSOR;
    v.tensor = &tp;
    size_t n = grappo__tf__attr_value__get_packed_size(&v);
    uint8_t *buf = malloc(n + 1);
    if (!buf) return err_set(err, ERR_RUNTIME, "out of memory");
    grappo__tf__attr_value__pack(&v, buf);
    put_attr(node, "value", buf, n);
    free(buf);
    put_type_attr(node, "dtype", t->dtype);
    return 0;
}

static void ref_text(const Fz *z, FRef r, char *buf, size_t cap) {
    if (r.port) snprintf(buf, cap, "%s:%d", z->fn[r.node].name, r.port);
    else snprintf(buf, cap, "%s", z->fn[r.node].name);
}

static int emit_node(Fz *z, int k, ByteBuf *out) {
    const FNode *f = &z->fn[k];
    ByteBuf nb = {0};
    put_str_field(&nb, 1, f->name);
    put_str_field(&nb, 2, f->op);
    char buf[2048];
    for (int i = 0; i < f->n_in; i++) {
        ref_text(z, f->in[i], buf, sizeof buf);
        put_str_field(&nb, 3, buf);
    }
    for (int i = 0; i < f->n_ctrl; i++) {
        snprintf(buf, sizeof buf, "^%s", z->fn[f->ctrl[i]].name);
        put_str_field(&nb, 3, buf);
    }
    if (tensor_has_data(&f->value)) {
        if (put_tensor_attr(&nb, &f->value, z->err)) { bb_free(&nb); return -1; }
    } else if (f->is_gather) {
        put_type_attr(&nb, "Tparams", f->src ? attr_type(f->src, "dtype") : DT_FLOAT);
        put_type_attr(&nb, "Tindices", f->src ? attr_type(f->src, "Tindices") : DT_INT32);
        put_type_attr(&nb, "Taxis", DT_INT32);
        put_int_attr(&nb, "batch_dims", f->gather_batch_dims);
    } else if (f->out_dtype) {
        put_type_attr(&nb, "T", f->out_dtype);
    } else if (f->src) {
        for (int i = 0; i < f->src->n_attr; i++) {
            const AttrRaw *a = &f->src->attr[i];
            if (!strcmp(a->key, "_class")) continue; /* colocation with nodes that are gone */
            put_attr(&nb, a->key, a->val, a->len);
        }
    }
    bb_len_field(out, 1, nb.data, nb.len);
    int oom = nb.oom;
    bb_free(&nb);
    return oom ? err_set(z->err, ERR_RUNTIME, "out of memory") : 0;
}

/* The names taken so far (pointers to FNode names, not owned): open addressing. */
typedef struct NameSet {
    const char **slot;
    size_t cap; /* power of two, more than twice the names added */
} NameSet;

static bool ns_has(const NameSet *ns, const char *name) {
    for (size_t h = hash_str(name) & (ns->cap - 1);; h = (h + 1) & (ns->cap - 1)) {
        if (!ns->slot[h]) return false;
        if (!strcmp(ns->slot[h], name)) return true;
    }
}

static void ns_add(NameSet *ns, const char *name) {
    size_t h = hash_str(name) & (ns->cap - 1);
    while (ns->slot[h]) h = (h + 1) & (ns->cap - 1);
    ns->slot[h] = name;
}

/* Takes node k's name, or (when taken) its name with the first free _1, _2, ... appended. */
static int take_name(Fz *z, NameSet *ns, int k) {
    if (ns_has(ns, z->fn[k].name)) {
        size_t n = strlen(z->fn[k].name) + 16;
        char *name = malloc(n);
        if (!name) return err_set(z->err, ERR_RUNTIME, "out of memory");
        for (int suffix = 1;; suffix++) {
            snprintf(name, n, "%s_%d", z->fn[k].name, suffix);
            if (!ns_has(ns, name)) break;
        }
        free(z->fn[k].name);
        z->fn[k].name = name;
    }
    ns_add(ns, z->fn[k].name);
    return 0;
}

/* Final names: the signature's inputs get their keys, then the outputs' Identities theirs,
 * then every other live node keeps its name unless taken (inlined names can clash). */
static int assign_names(Fz *z, const FreezeSpec *s, const int *in_nodes, int first_out) {
    size_t live = 0;
    for (int k = 0; k < z->n_fn; k++) live += z->fn[k].live;
    NameSet ns = {NULL, 16};
    while (ns.cap < 2 * live + 2) ns.cap *= 2;
    if (!(ns.slot = calloc(ns.cap, sizeof *ns.slot))) return err_set(z->err, ERR_RUNTIME, "out of memory");
    int rc = 0;
    for (int i = 0; !rc && i < s->n_inputs; i++) {
        FNode *f = &z->fn[in_nodes[i]];
        free(f->name);
        if (!(f->name = strdup(s->inputs[i].key))) rc = err_set(z->err, ERR_RUNTIME, "out of memory");
        else if (ns_has(&ns, f->name)) rc = err_set(z->err, ERR_INPUT, "signature input '%s' is given twice", f->name);
        else ns_add(&ns, f->name);
    }
    for (int k = first_out; !rc && k < first_out + s->n_outputs; k++) rc = take_name(z, &ns, k);
    for (int k = 0; !rc && k < z->n_fn; k++) {
        bool is_input = false;
        for (int i = 0; i < s->n_inputs && !is_input; i++) is_input = in_nodes[i] == k;
        if (z->fn[k].live && !is_input && (k < first_out || k >= first_out + s->n_outputs)) rc = take_name(z, &ns, k);
    }
    free(ns.slot);
    return rc;
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
            if (ndef_parse(f.data, f.len, &z->top[z->n_top++], z->err)) return err_prefix(z->err, "graph node #%d", z->n_top - 1);
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
            if (!(fn->name = dupn(fd->signature->name.data, fd->signature->name.len))) return err_set(z->err, ERR_RUNTIME, "out of memory");
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
    if (!rc) match_restore_ops(&z);
    /* inputs: the Placeholders, renamed to their keys */
    int *in_nodes = calloc((size_t)s->n_inputs + 1, sizeof *in_nodes);
    if (!in_nodes && !rc) rc = err_set(err, ERR_RUNTIME, "out of memory");
    for (int i = 0; !rc && i < s->n_inputs; i++) {
        FRef r;
        if (resolve_data(&top, s->inputs[i].tensor, &r)) rc = err_prefix(err, "signature input '%s'", s->inputs[i].key);
        else if (r.port != 0 || strcmp(z.fn[r.node].op, "Placeholder"))
            rc = err_set(err, ERR_INPUT, "signature input '%s' (%s) is not a Placeholder", s->inputs[i].key, s->inputs[i].tensor);
        else in_nodes[i] = r.node;
    }
    /* outputs: an Identity per key */
    outs = calloc((size_t)s->n_outputs + 1, sizeof *outs);
    if (!outs && !rc) rc = err_set(err, ERR_RUNTIME, "out of memory");
    int first_out = z.n_fn;
    for (int i = 0; !rc && i < s->n_outputs; i++) {
        FRef r;
        if (resolve_data(&top, s->outputs[i].tensor, &r)) { rc = err_prefix(err, "signature output '%s'", s->outputs[i].key); break; }
        int k = add_flat(&z, "", s->outputs[i].key, "Identity", NULL);
        if (k < 0 || flat_add_in(&z, k, r)) { rc = -1; break; }
        z.fn[k].out_dtype = s->outputs[i].dtype ? s->outputs[i].dtype : DT_FLOAT;
        outs[i] = (FRef){k, 0};
    }
    if (!rc) rc = mark_live(&z, outs, s->n_outputs);
    for (int i = 0; !rc && i < s->n_inputs; i++) z.fn[in_nodes[i]].live = true;
    if (!rc) rc = assign_names(&z, s, in_nodes, first_out);
    free(in_nodes);
    /* emit: live nodes, the output Identities last (in key order: they become the graph's outputs) */
    for (int k = 0; !rc && k < z.n_fn; k++)
        if (z.fn[k].live && (k < first_out || k >= first_out + s->n_outputs)) rc = emit_node(&z, k, &out);
    for (int k = first_out; !rc && k < first_out + s->n_outputs; k++) rc = emit_node(&z, k, &out);
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
    for (int i = 0; i < z.n_top; i++) ndef_free(&z.top[i]);
    free(z.top);
    for (int i = 0; i < z.n_funcs; i++) {
        for (int k = 0; k < z.funcs[i].n_nodes; k++) ndef_free(&z.funcs[i].nodes[k]);
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
        tensor_release(&z.fn[k].value);
    }
    free(z.fn);
    return g;
}

/* ---- one function as its own graph (control-flow bodies) ---- */

static void put_func_attr(ByteBuf *node, const char *key, const char *fname) {
    ByteBuf nal = {0}, av = {0};
    put_str_field(&nal, 1, fname);        /* NameAttrList.name */
    bb_len_field(&av, 10, nal.data, nal.len); /* AttrValue.func */
    put_attr(node, key, av.data, av.len);
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
    put_str_field(&call, 1, "call");
    put_str_field(&call, 2, "PartitionedCall");
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
        put_str_field(&ph, 1, an);
        put_str_field(&ph, 2, "Placeholder");
        put_type_attr(&ph, "dtype", dt);
        bb_len_field(&gd, 1, ph.data, ph.len);
        if (ph.oom) gd.oom = true;
        bb_free(&ph);
        put_str_field(&call, 3, an);
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
