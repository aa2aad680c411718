/* saved_model.c - reading a SavedModel directory: the MetaGraph by tag set, the signature, the
 * checkpoint's object graph (variable -> checkpoint key), then freeze.c (see saved_model.h). */
#include "saved_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "freeze.h"
#include "saved_model.pb-c.h"
#include "tensor_bundle.h"

static bool bin_eq(const ProtobufCBinaryData *b, const char *s, size_t n) { return b->len == n && !memcmp(b->data, s, n); }

/* does the MetaGraph's tag set equal the comma list `want`? (order and repeats ignored) */
static bool tags_match(const Grappo__Tf__MetaGraphDef *mg, const char *want) {
    size_t n_tags = mg->meta_info_def ? mg->meta_info_def->n_tags : 0;
    ProtobufCBinaryData *tags = n_tags ? mg->meta_info_def->tags : NULL;
    size_t n_want = 0;
    for (const char *p = want; *p;) { /* every wanted tag is present */
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        bool found = false;
        for (size_t i = 0; i < n_tags && !found; i++) found = bin_eq(&tags[i], p, n);
        if (n && !found) return false;
        n_want += n > 0;
        p += n + (c != NULL);
    }
    for (size_t i = 0; i < n_tags; i++) { /* and every present tag is wanted */
        bool found = false;
        for (const char *p = want; *p && !found;) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            found = bin_eq(&tags[i], p, n);
            p += n + (c != NULL);
        }
        if (!found) return false;
    }
    return n_want > 0 || n_tags == 0;
}

static void describe_tags(const Grappo__Tf__SavedModel *sm, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = 0;
    for (size_t m = 0; m < sm->n_meta_graphs && at + 4 < cap; m++) {
        const Grappo__Tf__MetaGraphDef *mg = sm->meta_graphs[m];
        at += (size_t)snprintf(buf + at, cap - at, "%s{", m ? ", " : "");
        size_t n = mg->meta_info_def ? mg->meta_info_def->n_tags : 0;
        for (size_t i = 0; i < n && at + 4 < cap; i++)
            at += (size_t)snprintf(buf + at, cap - at, "%s%.*s", i ? "," : "", (int)mg->meta_info_def->tags[i].len,
                                   (const char *)mg->meta_info_def->tags[i].data);
        if (at + 2 < cap) at += (size_t)snprintf(buf + at, cap - at, "}");
    }
}

/* object id -> checkpoint key of its VARIABLE_VALUE, from the checkpoint's object graph */
static int object_keys(TensorBundle *vars, char ***keys, int *n, Err *err) {
    *keys = NULL;
    *n = 0;
    if (!vars || !tensor_bundle_has(vars, "_CHECKPOINTABLE_OBJECT_GRAPH")) return 0;
    uint8_t *data;
    size_t len;
    if (tensor_bundle_read_string(vars, "_CHECKPOINTABLE_OBJECT_GRAPH", &data, &len, err)) return -1;
    Grappo__Tf__TrackableObjectGraph *og = grappo__tf__trackable_object_graph__unpack(NULL, len, data);
    free(data);
    if (!og) return err_set(err, ERR_INPUT, "malformed _CHECKPOINTABLE_OBJECT_GRAPH");
    int rc = 0;
    *keys = calloc(og->n_nodes + 1, sizeof **keys);
    if (!*keys) rc = err_set(err, ERR_RUNTIME, "out of memory");
    for (size_t i = 0; !rc && i < og->n_nodes; i++) {
        for (size_t a = 0; a < og->nodes[i]->n_attributes; a++) {
            const Grappo__Tf__TrackableObjectGraph__TrackableObject__SerializedTensor *t = og->nodes[i]->attributes[a];
            if (!bin_eq(&t->name, "VARIABLE_VALUE", 14) || !t->checkpoint_key.len ||
                memchr(t->checkpoint_key.data, 0, t->checkpoint_key.len))
                continue;
            char *k = malloc(t->checkpoint_key.len + 1);
            if (!k) { rc = err_set(err, ERR_RUNTIME, "out of memory"); break; }
            memcpy(k, t->checkpoint_key.data, t->checkpoint_key.len);
            k[t->checkpoint_key.len] = 0;
            free((*keys)[i]);
            (*keys)[i] = k;
        }
    }
    *n = (int)og->n_nodes;
    grappo__tf__trackable_object_graph__free_unpacked(og, NULL);
    return rc;
}

/* one side of a signature (inputs or outputs: two map types of the same shape) */
typedef struct SigSide {
    size_t n;
    const char *const *keys;
    const Grappo__Tf__TensorInfo *const *infos;
} SigSide;

static int sig_tensors(const SigSide *side, FreezeTensor **out, char ***names, const char *what, Err *err) {
    size_t n = side->n;
    *out = calloc(n + 1, sizeof **out);
    *names = calloc(n + 1, sizeof **names);
    if (!*out || !*names) return err_set(err, ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const Grappo__Tf__TensorInfo *ti = side->infos[i];
        if (!ti || !ti->name.len || memchr(ti->name.data, 0, ti->name.len) || !side->keys[i] || !*side->keys[i])
            return err_set(err, ERR_INPUT, "signature %s #%zu has no tensor name (sparse and composite tensors are not supported)",
                           what, i);
        if (!((*names)[i] = malloc(ti->name.len + 1))) return err_set(err, ERR_RUNTIME, "out of memory");
        memcpy((*names)[i], ti->name.data, ti->name.len);
        (*names)[i][ti->name.len] = 0;
        (*out)[i] = (FreezeTensor){side->keys[i], (*names)[i], ti->dtype};
    }
    /* key order, so the graph's inputs and outputs do not depend on the file's map order */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp((*out)[j - 1].key, (*out)[j].key) > 0; j--) {
            FreezeTensor t = (*out)[j];
            (*out)[j] = (*out)[j - 1];
            (*out)[j - 1] = t;
        }
    return 0;
}

Graph *savedmodel_parse(const uint8_t *data, size_t len, const char *what, const char *vars_prefix,
                        const SavedModelOpts *opts, Err *err) {
    const char *tags = opts && opts->tags && *opts->tags ? opts->tags : "serve";
    const char *signame = opts && opts->signature && *opts->signature ? opts->signature : "serving_default";
    Graph *g = NULL;
    TensorBundle *vars = NULL;
    char **keys = NULL, **in_names = NULL, **out_names = NULL;
    int n_keys = 0;
    FreezeTensor *ins = NULL, *outs = NULL;
    size_t n_in = 0, n_out = 0;
    Grappo__Tf__SavedModel *sm = grappo__tf__saved_model__unpack(NULL, len, data);
    if (!sm) {
        err_set(err, ERR_INPUT, "%s: not a valid SavedModel (truncated or corrupt protobuf)", what);
        return NULL;
    }
    const Grappo__Tf__MetaGraphDef *mg = NULL;
    for (size_t m = 0; m < sm->n_meta_graphs && !mg; m++)
        if (tags_match(sm->meta_graphs[m], tags)) mg = sm->meta_graphs[m];
    const Grappo__Tf__SignatureDef *sig = NULL;
    if (!mg) {
        char avail[256];
        describe_tags(sm, avail, sizeof avail);
        err_set(err, ERR_INPUT, "%s: no MetaGraph with tag set {%s} (the file has: %s)", what, tags,
                sm->n_meta_graphs ? avail : "none");
        goto done;
    }
    for (size_t i = 0; i < mg->n_signature_def; i++)
        if (!strcmp(mg->signature_def[i]->key, signame)) sig = mg->signature_def[i]->value;
    if (!sig) {
        char avail[256] = "";
        size_t at = 0;
        for (size_t i = 0; i < mg->n_signature_def && at + 4 < sizeof avail; i++)
            if (strncmp(mg->signature_def[i]->key, "__", 2))
                at += (size_t)snprintf(avail + at, sizeof avail - at, "%s%s", at ? ", " : "", mg->signature_def[i]->key);
        err_set(err, ERR_INPUT, "%s: no signature '%s' (the MetaGraph has: %s)", what, signame, at ? avail : "none");
        goto done;
    }
    if (!sig->n_outputs) {
        err_set(err, ERR_INPUT, "%s: signature '%s' has no outputs", what, signame);
        goto done;
    }
    n_in = sig->n_inputs;
    n_out = sig->n_outputs;
    const char **keys_in = calloc(n_in + 1, sizeof *keys_in), **keys_out = calloc(n_out + 1, sizeof *keys_out);
    const Grappo__Tf__TensorInfo **ti_in = calloc(n_in + 1, sizeof *ti_in), **ti_out = calloc(n_out + 1, sizeof *ti_out);
    int side_rc = !keys_in || !keys_out || !ti_in || !ti_out ? err_set(err, ERR_RUNTIME, "out of memory") : 0;
    for (size_t i = 0; !side_rc && i < n_in; i++) keys_in[i] = sig->inputs[i]->key, ti_in[i] = sig->inputs[i]->value;
    for (size_t i = 0; !side_rc && i < n_out; i++) keys_out[i] = sig->outputs[i]->key, ti_out[i] = sig->outputs[i]->value;
    SigSide in_side = {n_in, keys_in, ti_in}, out_side = {n_out, keys_out, ti_out};
    if (!side_rc) side_rc = sig_tensors(&in_side, &ins, &in_names, "input", err) || sig_tensors(&out_side, &outs, &out_names, "output", err);
    free(keys_in);
    free(keys_out);
    free(ti_in);
    free(ti_out);
    if (side_rc) {
        err_prefix(err, "%s: signature '%s'", what, signame);
        goto done;
    }
    if (vars_prefix) {
        if (!(vars = tensor_bundle_open(vars_prefix, err))) goto done;
        if (object_keys(vars, &keys, &n_keys, err)) {
            err_prefix(err, "%s.index", vars_prefix);
            goto done;
        }
    }
    FreezeSpec spec = {
        .graph_def = mg->graph_def.data,
        .graph_def_len = mg->graph_def.len,
        .vars = vars,
        .objects = mg->object_graph_def,
        .object_keys = keys,
        .n_object_keys = n_keys,
        .inputs = ins,
        .outputs = outs,
        .n_inputs = (int)n_in,
        .n_outputs = (int)n_out,
        .what = what,
    };
    g = freeze_graph(&spec, err);
done:
    for (int i = 0; keys && i < n_keys; i++) free(keys[i]);
    free(keys);
    for (size_t i = 0; in_names && i < n_in; i++) free(in_names[i]);
    for (size_t i = 0; out_names && i < n_out; i++) free(out_names[i]);
    free(in_names);
    free(out_names);
    free(ins);
    free(outs);
    tensor_bundle_close(vars);
    grappo__tf__saved_model__free_unpacked(sm, NULL);
    return g;
}

Graph *savedmodel_load(const char *dir, const SavedModelOpts *opts, Err *err) {
    size_t n = strlen(dir) + 64;
    char *pb = malloc(n), *vars = malloc(n), *index = malloc(n);
    Graph *g = NULL;
    if (!pb || !vars || !index) {
        err_set(err, ERR_RUNTIME, "out of memory");
        goto done;
    }
    snprintf(pb, n, "%s/saved_model.pb", dir);
    snprintf(vars, n, "%s/variables/variables", dir);
    snprintf(index, n, "%s/variables/variables.index", dir);
    struct stat st;
    if (stat(pb, &st)) {
        snprintf(pb, n, "%s/saved_model.pbtxt", dir);
        if (!stat(pb, &st)) err_set(err, ERR_INPUT, "%s: text SavedModels are not supported (save in binary form)", pb);
        else err_set(err, ERR_INPUT, "%s: not a SavedModel directory (no saved_model.pb)", dir);
        goto done;
    }
    uint8_t *data;
    size_t len;
    if (read_file_bytes(pb, &data, &len, err)) goto done;
    g = savedmodel_parse(data, len, pb, stat(index, &st) ? NULL : vars, opts, err);
    free(data);
done:
    free(pb);
    free(vars);
    free(index);
    return g;
}
