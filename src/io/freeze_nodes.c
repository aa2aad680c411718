/* freeze_nodes.c - for freezing: NodeDefs read with their attribute bytes, the function library,
 * which ops exist and which output argument is which port, and the flat graph's nodes. */
#include "freeze_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

char *fz_dupn(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

uint32_t fz_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

void fz_ndef_free(NDef *d) {
    free(d->name);
    free(d->op);
    for (int i = 0; i < d->n_in; i++) free(d->in[i]);
    free(d->in);
    for (int i = 0; i < d->n_attr; i++) free(d->attr[i].key);
    free(d->attr);
}

/* One NodeDef -> NDef (attribute values point into data). */
int fz_ndef_parse(const uint8_t *data, size_t len, NDef *d, Err *err) {
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
            if (!(d->name = fz_dupn(f.data, f.len))) return err_set(err, ERR_RUNTIME, "out of memory");
        } else if (f.number == 2) {
            free(d->op);
            if (!(d->op = fz_dupn(f.data, f.len))) return err_set(err, ERR_RUNTIME, "out of memory");
        } else if (f.number == 3) {
            char **p = realloc(d->in, (size_t)(d->n_in + 1) * sizeof *p);
            if (!p) return err_set(err, ERR_RUNTIME, "out of memory");
            d->in = p;
            if (!(d->in[d->n_in] = fz_dupn(f.data, f.len))) return err_set(err, ERR_RUNTIME, "out of memory");
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
            if (!(a[d->n_attr].key = fz_dupn(key, klen))) return err_set(err, ERR_RUNTIME, "out of memory");
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

const AttrRaw *fz_ndef_attr(const NDef *d, const char *key) {
    for (int i = d->n_attr - 1; i >= 0; i--)
        if (!strcmp(d->attr[i].key, key)) return &d->attr[i];
    return NULL;
}

Grappo__Tf__AttrValue *fz_attr_unpack(const NDef *d, const char *key) {
    const AttrRaw *a = fz_ndef_attr(d, key);
    return a ? grappo__tf__attr_value__unpack(NULL, a->len, a->val) : NULL;
}

int fz_attr_type(const NDef *d, const char *key) {
    Grappo__Tf__AttrValue *v = fz_attr_unpack(d, key);
    int t = v && v->value_case == GRAPPO__TF__ATTR_VALUE__VALUE_TYPE ? v->type : 0;
    if (v) grappo__tf__attr_value__free_unpacked(v, NULL);
    return t;
}

int64_t fz_attr_int(const NDef *d, const char *key, int64_t def) {
    Grappo__Tf__AttrValue *v = fz_attr_unpack(d, key);
    int64_t t = v && v->value_case == GRAPPO__TF__ATTR_VALUE__VALUE_I ? v->i : def;
    if (v) grappo__tf__attr_value__free_unpacked(v, NULL);
    return t;
}

const Func *fz_find_func(const Fz *z, const char *name) {
    for (int i = 0; i < z->n_funcs; i++)
        if (!strcmp(z->funcs[i].name, name)) return &z->funcs[i];
    return NULL;
}

bool fz_is_call_op(const char *op) { return !strcmp(op, "StatefulPartitionedCall") || !strcmp(op, "PartitionedCall"); }

/* The function a node calls, or NULL for an ordinary op. *bad is set when a call names a
 * function the library does not have. */
const Func *fz_callee_of(Fz *z, const NDef *d, bool *bad) {
    *bad = false;
    if (fz_is_call_op(d->op)) {
        Grappo__Tf__AttrValue *v = fz_attr_unpack(d, "f");
        const Func *f = NULL;
        if (v && v->value_case == GRAPPO__TF__ATTR_VALUE__VALUE_FUNC && v->func) {
            char *name = fz_dupn(v->func->name.data, v->func->name.len);
            f = name ? fz_find_func(z, name) : NULL;
            free(name);
        }
        if (v) grappo__tf__attr_value__free_unpacked(v, NULL);
        *bad = !f;
        return f;
    }
    return fz_find_func(z, d->op);
}

int fz_parse_func(Func *f, Err *err) {
    if (f->parsed) return 0;
    const Grappo__Tf__FunctionDef *fd = f->fd;
    f->nodes = calloc(fd->n_node_def + 1, sizeof *f->nodes);
    if (!f->nodes) return err_set(err, ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < fd->n_node_def; i++) {
        if (fz_ndef_parse(fd->node_def[i].data, fd->node_def[i].len, &f->nodes[i], err)) {
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
    "MatrixBandPart", "SoftmaxCrossEntropyWithLogits", "TruncateDiv", "DivNoNan", "Sign",
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

bool fz_op_known(Fz *z, const char *op) {
    if (op_lookup(op) != OP_UNKNOWN || fz_find_func(z, op)) return true;
    for (size_t i = 0; i < sizeof other_tf_ops / sizeof *other_tf_ops; i++)
        if (!strcmp(other_tf_ops[i], op)) return true;
    for (size_t i = 0; i < sizeof multi_out / sizeof *multi_out; i++)
        if (!strcmp(multi_out[i][0], op)) return true;
    return false;
}

/* port of output argument `arg`, element idx, of op; -1 if arg is not one of its outputs */
int fz_op_out_port(const char *op, const char *arg, int idx) {
    for (size_t i = 0; i < sizeof multi_out / sizeof *multi_out; i++) {
        if (strcmp(multi_out[i][0], op)) continue;
        for (int k = 1; k < 7 && multi_out[i][k]; k++)
            if (!strcmp(multi_out[i][k], arg)) return idx == 0 ? k - 1 : -1;
        return -1;
    }
    return idx;
}

/* ---- flat nodes ---- */

int fz_add_flat(Fz *z, const char *prefix, const char *name, const char *op, const NDef *src) {
    if (z->n_fn >= FREEZE_MAX_NODES) /* calls fanning out over nested functions grow exponentially */
        return err_set(z->err, ERR_INPUT, "inlining the function calls makes more than %d nodes", FREEZE_MAX_NODES);
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

int fz_add_in(Fz *z, int node, FRef r) {
    FNode *f = &z->fn[node];
    FRef *p = realloc(f->in, (size_t)(f->n_in + 1) * sizeof *p);
    if (!p) return err_set(z->err, ERR_RUNTIME, "out of memory");
    f->in = p;
    f->in[f->n_in++] = r;
    return 0;
}

int fz_add_ctrl(Fz *z, int node, int c) {
    FNode *f = &z->fn[node];
    int *p = realloc(f->ctrl, (size_t)(f->n_ctrl + 1) * sizeof *p);
    if (!p) return err_set(z->err, ERR_RUNTIME, "out of memory");
    f->ctrl = p;
    f->ctrl[f->n_ctrl++] = c;
    return 0;
}

/* ops whose ordering role ends with freezing: control edges from them are dropped */
bool fz_ctrl_droppable(const char *op) {
    static const char *const ops[] = {"VarHandleOp", "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp",
                                      "NoOp", "VariableV2", "Variable", "Assign", "RestoreV2", "SaveV2",
                                      "Assert", "DisableCopyOnRead", "AssignAddVariableOp", "AssignSubVariableOp"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(op, ops[i])) return true;
    return false;
}

