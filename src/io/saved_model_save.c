/* saved_model_save.c - writing a frozen Graph as a SavedModel directory that TensorFlow loads
 * (tf.saved_model.load(DIR).signatures["serving_default"]) and TF Serving serves: one
 * MetaGraphDef tagged "serve" holding the GraphDef and a "serving_default" predict signature,
 * and an empty variables/ (the graph is frozen). See saved_model.h. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "saved_model.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "graphdef.h"
#include "saved_model.pb-c.h"

typedef struct SigTensor {
    char key[512];
    char name[600];
    Grappo__Tf__TensorInfo info;
    Grappo__Tf__TensorShapeProto shape;
    Grappo__Tf__TensorShapeProto__Dim dims[MAX_RANK], *dp[MAX_RANK];
    Grappo__Tf__SignatureDef__InputsEntry entry;
    Grappo__Tf__SignatureDef__OutputsEntry oentry;
} SigTensor;

static void fill(SigTensor *t, const char *key, const char *node, int port, int dtype, const Shape *sh) {
    snprintf(t->key, sizeof t->key, "%s", key);
    snprintf(t->name, sizeof t->name, "%s:%d", node, port);
    grappo__tf__tensor_info__init(&t->info);
    grappo__tf__tensor_shape_proto__init(&t->shape);
    t->info.name.data = (uint8_t *)t->name;
    t->info.name.len = strlen(t->name);
    t->info.dtype = dtype;
    if (sh && sh->rank >= 0) {
        for (int i = 0; i < sh->rank; i++) {
            grappo__tf__tensor_shape_proto__dim__init(&t->dims[i]);
            t->dims[i].size = sh->dim[i];
            t->dp[i] = &t->dims[i];
        }
        t->shape.n_dim = (size_t)sh->rank;
        t->shape.dim = t->dp;
    } else {
        t->shape.unknown_rank = true;
    }
    t->info.tensor_shape = &t->shape;
    grappo__tf__signature_def__inputs_entry__init(&t->entry);
    t->entry.key = t->key;
    t->entry.value = &t->info;
    grappo__tf__signature_def__outputs_entry__init(&t->oentry);
    t->oentry.key = t->key;
    t->oentry.value = &t->info;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int serialize(const Graph *g, uint8_t **out, size_t *out_len, Err *err) {
    uint8_t *gd = NULL;
    size_t gd_len = 0;
    if (graphdef_serialize(g, &gd, &gd_len, err)) return -1;
    int n_in = 0;
    for (int i = 0; i < g->n_nodes; i++) n_in += graph_node(g, i)->op == OP_PLACEHOLDER;
    SigTensor *ins = calloc((size_t)n_in + 1, sizeof *ins), *outs = calloc((size_t)g->n_outputs + 1, sizeof *outs);
    Grappo__Tf__SignatureDef__InputsEntry **ie = calloc((size_t)n_in + 1, sizeof *ie);
    Grappo__Tf__SignatureDef__OutputsEntry **oe = calloc((size_t)g->n_outputs + 1, sizeof *oe);
    int rc = 0;
    if (!ins || !outs || !ie || !oe) rc = err_set(err, ERR_RUNTIME, "out of memory");
    for (int i = 0, k = 0; !rc && i < g->n_nodes; i++) {
        const Node *n = graph_node(g, i);
        if (n->op != OP_PLACEHOLDER) continue;
        const Attr *a = node_attr_find(n, "shape"); /* keeps unknown (batch) dims */
        const Shape *sh = a && a->kind == ATTR_SHAPE ? &a->shape : n->n_outputs ? &n->outputs[0].shape : NULL;
        int dt = node_attr_type(n, "dtype", n->n_outputs ? n->outputs[0].dtype : DT_FLOAT);
        fill(&ins[k], n->name, n->name, 0, dt, sh);
        ie[k] = &ins[k].entry;
        k++;
    }
    for (int i = 0; !rc && i < g->n_outputs; i++) {
        ValueRef v = g->outputs[i];
        const Node *n = graph_node(g, v.node);
        char key[512];
        if (v.port) snprintf(key, sizeof key, "%s_%d", n->name, v.port);
        else snprintf(key, sizeof key, "%s", n->name);
        const Value *val = graph_value(g, v);
        if (val->dtype == DT_INVALID) {
            rc = err_set(err, ERR_INPUT, "output '%s' has no known dtype (infer the graph first)", key);
            break;
        }
        Shape sh = val->shape;
        if (sh.rank > 0) sh.dim[0] = -1; /* the batch dimension stays free, as in the input */
        fill(&outs[i], key, n->name, v.port, val->dtype, &sh);
        oe[i] = &outs[i].oentry;
    }
    if (!rc) {
        Grappo__Tf__SignatureDef sig = GRAPPO__TF__SIGNATURE_DEF__INIT;
        sig.n_inputs = (size_t)n_in;
        sig.inputs = ie;
        sig.n_outputs = (size_t)g->n_outputs;
        sig.outputs = oe;
        static const char method[] = "tensorflow/serving/predict";
        sig.method_name.data = (uint8_t *)method;
        sig.method_name.len = sizeof method - 1;
        Grappo__Tf__MetaGraphDef__SignatureDefEntry se = GRAPPO__TF__META_GRAPH_DEF__SIGNATURE_DEF_ENTRY__INIT;
        se.key = "serving_default";
        se.value = &sig;
        Grappo__Tf__MetaGraphDef__SignatureDefEntry *sep = &se;
        Grappo__Tf__MetaGraphDef__MetaInfoDef info = GRAPPO__TF__META_GRAPH_DEF__META_INFO_DEF__INIT;
        ProtobufCBinaryData tag = {5, (uint8_t *)"serve"};
        info.n_tags = 1;
        info.tags = &tag;
        Grappo__Tf__MetaGraphDef mg = GRAPPO__TF__META_GRAPH_DEF__INIT;
        mg.meta_info_def = &info;
        mg.graph_def.data = gd;
        mg.graph_def.len = gd_len;
        mg.n_signature_def = 1;
        mg.signature_def = &sep;
        Grappo__Tf__MetaGraphDef *mgp = &mg;
        Grappo__Tf__SavedModel sm = GRAPPO__TF__SAVED_MODEL__INIT;
        sm.saved_model_schema_version = 1;
        sm.n_meta_graphs = 1;
        sm.meta_graphs = &mgp;
        *out_len = grappo__tf__saved_model__get_packed_size(&sm);
        if (!(*out = malloc(*out_len + 1))) rc = err_set(err, ERR_RUNTIME, "out of memory");
        else grappo__tf__saved_model__pack(&sm, *out);
    }
    free(ins);
    free(outs);
    free(ie);
    free(oe);
    free(gd);
    return rc;
}

int savedmodel_output_check(const char *dir, Err *err) {
    size_t n = strlen(dir) + 32;
    char *base = strdup(dir), *path = malloc(n);
    int rc = 0;
    if (!base || !path) {
        rc = err_set(err, ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (size_t l = strlen(base); l > 1 && base[l - 1] == '/'; l--) base[l - 1] = 0;
    struct stat st;
    if (!stat(base, &st)) {
        snprintf(path, n, "%s/saved_model.pb", base);
        if (!S_ISDIR(st.st_mode) || stat(path, &st))
            rc = err_set(err, ERR_INPUT, "%s exists and is not a SavedModel directory: not replacing it", base);
        goto done;
    }
    snprintf(path, n, "%s", base);
    char *slash = strrchr(path, '/');
    if (slash == path) slash[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(path, n, ".");
    if (stat(path, &st) || !S_ISDIR(st.st_mode) || access(path, W_OK))
        rc = err_set(err, ERR_INPUT, "%s: its directory %s does not exist or is not writable", dir, path);
done:
    free(base);
    free(path);
    return rc;
}

int savedmodel_save(const Graph *g, const char *dir, Err *err) {
    uint8_t *data = NULL;
    size_t len = 0;
    if (serialize(g, &data, &len, err)) return err_prefix(err, "%s", dir);
    size_t n = strlen(dir) + 64;
    char *base = strdup(dir), *tmp = malloc(n), *path = malloc(n), *old = malloc(n);
    int rc = 0;
    if (!base || !tmp || !path || !old) {
        rc = err_set(err, ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (size_t l = strlen(base); l > 1 && base[l - 1] == '/'; l--) base[l - 1] = 0; /* "out/" -> "out" */
    snprintf(tmp, n, "%s.tmpXXXXXX", base);
    if (!mkdtemp(tmp)) {
        rc = err_set(err, ERR_INPUT, "%s: cannot create a directory next to it (%s)", dir, strerror(errno));
        tmp[0] = 0;
        goto done;
    }
    snprintf(path, n, "%s/variables", tmp);
    if (mkdir(path, 0755)) {
        rc = err_set(err, ERR_RUNTIME, "%s: %s", path, strerror(errno));
        goto done;
    }
    snprintf(path, n, "%s/saved_model.pb", tmp);
    if (atomic_write_file(path, data, len, err)) {
        rc = -1;
        goto done;
    }
    if (savedmodel_output_check(dir, err)) { /* checked again now: an earlier SavedModel, nothing else */
        rc = -1;
        goto done;
    }
    struct stat st;
    if (!stat(base, &st)) {
        snprintf(old, n, "%s.oldXXXXXX", base);
        if (!mkdtemp(old) || rmdir(old) || rename(base, old)) {
            rc = err_set(err, ERR_RUNTIME, "%s: cannot move the old SavedModel aside (%s)", base, strerror(errno));
            goto done;
        }
        if (rename(tmp, base)) {
            rc = err_set(err, ERR_RUNTIME, "%s: %s", base, strerror(errno));
            if (rename(old, base)) { /* leave the old one where it was */ }
            goto done;
        }
        rm_tree(old);
    } else if (rename(tmp, base)) {
        rc = err_set(err, ERR_INPUT, "%s: %s", base, strerror(errno));
        goto done;
    }
    tmp[0] = 0;
done:
    if (tmp && tmp[0]) rm_tree(tmp);
    free(base);
    free(tmp);
    free(path);
    free(old);
    free(data);
    return rc;
}
