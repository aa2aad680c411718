/* tfjs.c - TensorFlow.js graph models (see tfjs.h).
 *
 * model.json's modelTopology is a GraphDef in protobuf's JSON mapping; every node is turned
 * back into a binary NodeDef (attributes re-encoded as AttrValue with protobuf-c) and the
 * weights of weightsManifest become the `value` of the Const nodes of the same name. Weight
 * groups are the concatenation of their shard files, each weight taking numel * element size
 * bytes in manifest order; quantized weights are dequantized as TensorFlow.js does
 * (uint8/uint16: q * scale + min; float16: to float32). The GraphDef is then loaded by
 * graphdef_parse, so a model.json gives the same Graph as the frozen .pb it was converted from. */
#include "tfjs.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "graphdef.h"
#include "graphdef.pb-c.h"
#include "nodedef_write.h"
#include "pb_wire.h"

static const struct {
    const char *name;
    int dt;
} tf_types[] = {{"DT_FLOAT", 1}, {"DT_DOUBLE", 2}, {"DT_INT32", 3}, {"DT_UINT8", 4}, {"DT_INT16", 5},
                {"DT_INT8", 6}, {"DT_STRING", 7}, {"DT_INT64", 9}, {"DT_BOOL", 10}, {"DT_BFLOAT16", 14},
                {"DT_HALF", 19}, {"DT_RESOURCE", 20}, {"DT_VARIANT", 21}, {"DT_UINT16", 17}, {"DT_UINT32", 22},
                {"DT_UINT64", 23}, {"DT_COMPLEX64", 8}};

/* JSON numbers are doubles: convert without the undefined behaviour of out-of-range casts */
static int64_t clamp_i64(double v) {
    if (!(v == v)) return 0;
    if (v >= 9.2e18) return INT64_MAX;
    if (v <= -9.2e18) return INT64_MIN;
    return (int64_t)v;
}

static float to_float(double v) {
    if (v > 3.4e38) return 3.4e38f * 10.0f; /* inf */
    if (v < -3.4e38) return -3.4e38f * 10.0f;
    return (float)v;
}

static int tf_type(const cJSON *j) {
    if (cJSON_IsNumber(j)) {
        int64_t v = clamp_i64(j->valuedouble);
        return v >= 0 && v < 1000 ? (int)v : -1;
    }
    if (!cJSON_IsString(j)) return -1;
    for (size_t i = 0; i < sizeof tf_types / sizeof *tf_types; i++)
        if (!strcmp(tf_types[i].name, j->valuestring)) return tf_types[i].dt;
    return -1;
}

static int64_t json_i64(const cJSON *j) {
    if (cJSON_IsString(j)) return strtoll(j->valuestring, NULL, 10);
    if (cJSON_IsNumber(j)) return clamp_i64(j->valuedouble);
    return 0;
}

static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* base64 (standard or URL alphabet, padding optional) into out (capacity >= 3/4 of len) */
static size_t b64decode(const char *s, uint8_t *out) {
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *s; s++) {
        int v = b64val((unsigned char)*s);
        if (v < 0) continue;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

typedef struct Pool { /* allocations an AttrValue under construction points to */
    void *p[4096];
    int n;
} Pool;

static void *palloc(Pool *pool, size_t n) {
    if (pool->n >= 4096) return NULL;
    void *p = calloc(1, n ? n : 1);
    if (p) pool->p[pool->n++] = p;
    return p;
}

static Grappo__Tf__TensorShapeProto *make_shape(Pool *pool, const cJSON *j) {
    Grappo__Tf__TensorShapeProto *s = palloc(pool, sizeof *s);
    if (!s) return NULL;
    grappo__tf__tensor_shape_proto__init(s);
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(j, "dim");
    s->unknown_rank = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "unknownRank"));
    int n = cJSON_IsArray(dims) ? cJSON_GetArraySize(dims) : 0;
    if (n > 64) n = 64;
    s->dim = palloc(pool, (size_t)n * sizeof *s->dim);
    if (!s->dim) return NULL;
    for (int i = 0; i < n; i++) {
        Grappo__Tf__TensorShapeProto__Dim *d = palloc(pool, sizeof *d);
        if (!d) return NULL;
        grappo__tf__tensor_shape_proto__dim__init(d);
        d->size = json_i64(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(dims, i), "size"));
        s->dim[i] = d;
    }
    s->n_dim = (size_t)n;
    return s;
}

static int bytes_field(Pool *pool, const cJSON *j, ProtobufCBinaryData *out) {
    if (!cJSON_IsString(j)) return -1;
    size_t n = strlen(j->valuestring);
    uint8_t *b = palloc(pool, n);
    if (!b) return -1;
    out->len = b64decode(j->valuestring, b);
    out->data = b;
    return 0;
}

/* JSON AttrValue -> protobuf-c AttrValue; -1 for kinds not handled (func, tensor lists, ...) */
static int make_attr(Pool *pool, const cJSON *j, Grappo__Tf__AttrValue *v) {
    grappo__tf__attr_value__init(v);
    const cJSON *x;
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "s"))) {
        v->value_case = GRAPPO__TF__ATTR_VALUE__VALUE_S;
        return bytes_field(pool, x, &v->s);
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "i"))) {
        v->value_case = GRAPPO__TF__ATTR_VALUE__VALUE_I;
        v->i = json_i64(x);
        return 0;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "f"))) {
        v->value_case = GRAPPO__TF__ATTR_VALUE__VALUE_F;
        v->f = to_float(cJSON_IsNumber(x) ? x->valuedouble : cJSON_IsString(x) ? strtod(x->valuestring, NULL) : 0);
        return 0;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "b"))) {
        v->value_case = GRAPPO__TF__ATTR_VALUE__VALUE_B;
        v->b = cJSON_IsTrue(x);
        return 0;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "type"))) {
        v->value_case = GRAPPO__TF__ATTR_VALUE__VALUE_TYPE;
        v->type = tf_type(x);
        return v->type < 0 ? -1 : 0;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "shape"))) {
        v->value_case = GRAPPO__TF__ATTR_VALUE__VALUE_SHAPE;
        return (v->shape = make_shape(pool, x)) ? 0 : -1;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "list"))) {
        Grappo__Tf__AttrValue__ListValue *l = palloc(pool, sizeof *l);
        if (!l) return -1;
        grappo__tf__attr_value__list_value__init(l);
        v->value_case = GRAPPO__TF__ATTR_VALUE__VALUE_LIST;
        v->list = l;
        const cJSON *a;
        int n;
        if (cJSON_IsArray(a = cJSON_GetObjectItemCaseSensitive(x, "i")) && (n = cJSON_GetArraySize(a)) > 0) {
            if (!(l->i = palloc(pool, (size_t)n * sizeof *l->i))) return -1;
            for (int k = 0; k < n; k++) l->i[k] = json_i64(cJSON_GetArrayItem(a, k));
            l->n_i = (size_t)n;
        }
        if (cJSON_IsArray(a = cJSON_GetObjectItemCaseSensitive(x, "f")) && (n = cJSON_GetArraySize(a)) > 0) {
            if (!(l->f = palloc(pool, (size_t)n * sizeof *l->f))) return -1;
            for (int k = 0; k < n; k++) l->f[k] = to_float(cJSON_GetArrayItem(a, k)->valuedouble);
            l->n_f = (size_t)n;
        }
        if (cJSON_IsArray(a = cJSON_GetObjectItemCaseSensitive(x, "b")) && (n = cJSON_GetArraySize(a)) > 0) {
            if (!(l->b = palloc(pool, (size_t)n * sizeof *l->b))) return -1;
            for (int k = 0; k < n; k++) l->b[k] = cJSON_IsTrue(cJSON_GetArrayItem(a, k));
            l->n_b = (size_t)n;
        }
        if (cJSON_IsArray(a = cJSON_GetObjectItemCaseSensitive(x, "type")) && (n = cJSON_GetArraySize(a)) > 0) {
            if (!(l->type = palloc(pool, (size_t)n * sizeof *l->type))) return -1;
            for (int k = 0; k < n; k++)
                if ((l->type[k] = tf_type(cJSON_GetArrayItem(a, k))) < 0) return -1;
            l->n_type = (size_t)n;
        }
        if (cJSON_IsArray(a = cJSON_GetObjectItemCaseSensitive(x, "s")) && (n = cJSON_GetArraySize(a)) > 0) {
            if (!(l->s = palloc(pool, (size_t)n * sizeof *l->s))) return -1;
            for (int k = 0; k < n; k++)
                if (bytes_field(pool, cJSON_GetArrayItem(a, k), &l->s[k])) return -1;
            l->n_s = (size_t)n;
        }
        if (cJSON_IsArray(a = cJSON_GetObjectItemCaseSensitive(x, "shape")) && (n = cJSON_GetArraySize(a)) > 0) {
            if (!(l->shape = palloc(pool, (size_t)n * sizeof *l->shape))) return -1;
            for (int k = 0; k < n; k++)
                if (!(l->shape[k] = make_shape(pool, cJSON_GetArrayItem(a, k)))) return -1;
            l->n_shape = (size_t)n;
        }
        return 0;
    }
    return -1;
}

typedef struct Weight {
    const char *name;
    int dtype; /* of the decoded tensor */
    Shape shape;
    uint8_t *data; /* decoded, owned */
    size_t nbytes;
} Weight;

/* Reads every weight group; w gets n entries. */
static int load_weights(const char *dir, const cJSON *manifest, Weight **w, int *n, const char *what, Err *err) {
    *w = NULL;
    *n = 0;
    int cap = 0;
    const cJSON *group;
    cJSON_ArrayForEach(group, manifest) {
        ByteBuf all = {0};
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(group, "paths"), *p;
        cJSON_ArrayForEach(p, paths) {
            if (!cJSON_IsString(p) || strstr(p->valuestring, "..")) {
                bb_free(&all);
                return err_set(err, ERR_INPUT, "%s: bad weight shard path", what);
            }
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, p->valuestring);
            uint8_t *data;
            size_t len;
            if (read_file_bytes(path, &data, &len, err)) {
                bb_free(&all);
                return err_prefix(err, "%s: weight shard", what);
            }
            bb_put(&all, data, len);
            free(data);
        }
        if (all.oom) return err_set(err, ERR_RUNTIME, "out of memory");
        size_t at = 0;
        const cJSON *spec;
        cJSON_ArrayForEach(spec, cJSON_GetObjectItemCaseSensitive(group, "weights")) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(spec, "name");
            const cJSON *shape = cJSON_GetObjectItemCaseSensitive(spec, "shape");
            const cJSON *dt = cJSON_GetObjectItemCaseSensitive(spec, "dtype");
            const cJSON *q = cJSON_GetObjectItemCaseSensitive(spec, "quantization");
            int rc = 0;
            Weight x = {0};
            if (!cJSON_IsString(name) || !cJSON_IsString(dt) || !cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > MAX_RANK)
                rc = err_set(err, ERR_INPUT, "%s: malformed weight entry", what);
            if (!rc) {
                x.name = name->valuestring;
                x.shape.rank = cJSON_GetArraySize(shape);
                for (int i = 0; i < x.shape.rank; i++) x.shape.dim[i] = json_i64(cJSON_GetArrayItem(shape, i));
                int64_t numel = shape_numel(&x.shape);
                const char *d = dt->valuestring;
                x.dtype = !strcmp(d, "float32") ? DT_FLOAT : !strcmp(d, "int32") ? DT_INT32 : !strcmp(d, "bool") ? DT_BOOL : 0;
                const char *qd = q ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "dtype")) : NULL;
                size_t stored = qd ? (!strcmp(qd, "uint8") ? 1 : !strcmp(qd, "uint16") || !strcmp(qd, "float16") ? 2 : 0)
                                   : dtype_size(x.dtype);
                if (!x.dtype || !stored || (qd && x.dtype != DT_FLOAT))
                    rc = err_set(err, ERR_INPUT, "%s: weight '%s' has dtype %s%s%s, which grappo does not read", what,
                                 x.name, d, qd ? " quantized as " : "", qd ? qd : "");
                else if (!shape_is_known(&x.shape) || numel < 0 || (uint64_t)numel > TENSOR_MAX_BYTES / 4 ||
                         (size_t)numel * stored > all.len - at)
                    rc = err_set(err, ERR_INPUT, "%s: weight '%s' runs past the end of its shards (%zu bytes)", what,
                                 x.name, all.len);
                if (!rc) {
                    x.nbytes = (size_t)numel * dtype_size(x.dtype);
                    x.data = malloc(x.nbytes + 1);
                    if (!x.data) rc = err_set(err, ERR_RUNTIME, "out of memory");
                }
                if (!rc) {
                    const uint8_t *src = all.data ? all.data + at : x.data; /* no shards: only empty weights get here */
                    if (!qd) {
                        if (x.nbytes) memcpy(x.data, src, x.nbytes);
                    }
                    else {
                        float *o = (float *)x.data;
                        double scale = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(q, "scale"));
                        double min = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(q, "min"));
                        for (int64_t i = 0; i < numel; i++) {
                            if (!strcmp(qd, "uint8")) o[i] = to_float(src[i] * scale + min);
                            else {
                                uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
                                o[i] = !strcmp(qd, "float16") ? half_to_float(h) : to_float(h * scale + min);
                            }
                        }
                    }
                    at += (size_t)numel * stored;
                    if (*n == cap) {
                        cap = cap ? 2 * cap : 64;
                        Weight *nw = realloc(*w, (size_t)cap * sizeof *nw);
                        if (!nw) rc = err_set(err, ERR_RUNTIME, "out of memory");
                        else *w = nw;
                    }
                    if (!rc) (*w)[(*n)++] = x;
                    else free(x.data);
                }
            }
            if (rc) {
                bb_free(&all);
                return -1;
            }
        }
        bb_free(&all);
    }
    return 0;
}

static int widen(Weight *x, int declared) {
    size_t n = x->nbytes / (dtype_size(x->dtype) ? dtype_size(x->dtype) : 1);
    if (x->dtype == DT_INT32 && declared == DT_INT64) {
        int64_t *o = malloc(n * 8 + 1);
        if (!o) return -1;
        for (size_t i = 0; i < n; i++) o[i] = ((const int32_t *)x->data)[i];
        free(x->data);
        x->data = (uint8_t *)o;
        x->nbytes = n * 8;
        x->dtype = DT_INT64;
    } else if (x->dtype == DT_FLOAT && declared == 2 /* DT_DOUBLE */) {
        double *o = malloc(n * 8 + 1);
        if (!o) return -1;
        for (size_t i = 0; i < n; i++) o[i] = ((const float *)x->data)[i];
        free(x->data);
        x->data = (uint8_t *)o;
        x->nbytes = n * 8;
        x->dtype = 2;
    }
    return 0;
}

/* The signature's outputs (model.json "signature", or "userDefinedMetadata.signature" as older
   converters wrote it) are what TensorFlow.js returns. The GraphDef reader makes the unconsumed data
   outputs the graph's outputs; an output of the signature that another node also reads (centernet's
   tower_0/wh feeds tower_0/detections) is added, so rewrites keep it and `run` fetches it. Names that
   do not resolve are left alone (TensorFlow.js resolves them at execute time). */
static int add_signature_outputs(Graph *g, const cJSON *root, const char *path, Err *err) {
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(root, "signature");
    if (!cJSON_IsObject(sig))
        sig = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "userDefinedMetadata"), "signature");
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(sig, "outputs"), *o;
    if (!cJSON_IsObject(outs)) return 0;
    cJSON_ArrayForEach(o, outs) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name"));
        if (!name) continue;
        Err ignore = {0};
        ValueRef v;
        if (graph_parse_ref(g, name, &v, &ignore) || v.port < 0 || v.port >= g->nodes[v.node]->n_outputs) continue;
        bool have = false;
        for (int k = 0; k < g->n_outputs && !have; k++) have = g->outputs[k].node == v.node && g->outputs[k].port == v.port;
        if (!have && graph_add_output(g, v, err)) return err_prefix(err, "%s", path), -1;
    }
    return 0;
}

Graph *tfjs_load(const char *path, Err *err) {
    uint8_t *text;
    size_t len;
    if (read_file_bytes(path, &text, &len, err)) return NULL;
    char *dir = strdup(path);
    Graph *g = NULL;
    if (!dir) {
        err_set(err, ERR_RUNTIME, "out of memory");
    } else {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else strcpy(dir, ".");
        g = tfjs_parse((const char *)text, len, dir, path, err);
    }
    free(dir);
    free(text);
    return g;
}

Graph *tfjs_parse(const char *text, size_t len, const char *dir, const char *path, Err *err) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    Graph *g = NULL;
    Weight *w = NULL;
    int n_w = 0;
    ByteBuf gd = {0};
    const cJSON *topo = cJSON_GetObjectItemCaseSensitive(root, "modelTopology");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(topo, "node");
    if (!root || !cJSON_IsArray(nodes)) {
        err_set(err, ERR_INPUT, "%s: not a TensorFlow.js graph model (no modelTopology.node)", path);
        goto done;
    }
    if (load_weights(dir, cJSON_GetObjectItemCaseSensitive(root, "weightsManifest"), &w, &n_w, path, err)) goto done;
    const cJSON *nd;
    cJSON_ArrayForEach(nd, nodes) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(nd, "name"));
        const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(nd, "op"));
        if (!name || !op) {
            err_set(err, ERR_INPUT, "%s: a node without name or op", path);
            goto done;
        }
        ByteBuf nb = {0};
        bb_len_field(&nb, 1, name, strlen(name));
        bb_len_field(&nb, 2, op, strlen(op));
        const cJSON *in;
        cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(nd, "input"))
            if (cJSON_IsString(in)) bb_len_field(&nb, 3, in->valuestring, strlen(in->valuestring));
        Weight *x = NULL;
        if (!strcmp(op, "Const"))
            for (int i = 0; i < n_w && !x; i++)
                if (!strcmp(w[i].name, name)) x = &w[i];
        if (x) { /* TensorFlow.js stores int64 and double Consts as int32 and float32: widen back */
            int declared = tf_type(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(nd, "attr"), "dtype"), "type"));
            if (widen(x, declared)) {
                bb_free(&nb);
                err_set(err, ERR_RUNTIME, "out of memory");
                goto done;
            }
            nd_put_const_attrs(&nb, x->dtype, &x->shape, x->data, x->nbytes);
        }
        const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(nd, "attr"), *a;
        if (attrs && !cJSON_IsObject(attrs)) {
            bb_free(&nb);
            err_set(err, ERR_INPUT, "%s: node '%s': attr is not an object", path, name);
            goto done;
        }
        cJSON_ArrayForEach(a, attrs) {
            if (!a->string) continue;
            if (x && (!strcmp(a->string, "value") || !strcmp(a->string, "dtype"))) continue;
            Pool pool = {.n = 0};
            Grappo__Tf__AttrValue v;
            int rc = make_attr(&pool, a, &v);
            if (!rc) nd_put_attr_value(&nb, a->string, &v);
            for (int i = 0; i < pool.n; i++) free(pool.p[i]);
            if (rc && strcmp(a->string, "value")) { /* a Const's value comes from the weights */
                bb_free(&nb);
                err_set(err, ERR_INPUT, "%s: node '%s': attribute '%s' is not understood", path, name, a->string);
                goto done;
            }
        }
        if (!strcmp(op, "Const") && !x) {
            bb_free(&nb);
            err_set(err, ERR_INPUT, "%s: node '%s': Const without a weight in weightsManifest", path, name);
            goto done;
        }
        bb_len_field(&gd, 1, nb.data, nb.len);
        bb_free(&nb);
    }
    if (gd.oom) {
        err_set(err, ERR_RUNTIME, "out of memory");
        goto done;
    }
    g = graphdef_parse(gd.data, gd.len, path, err);
    if (g && add_signature_outputs(g, root, path, err)) {
        graph_free(g);
        g = NULL;
    }
done:
    for (int i = 0; i < n_w; i++) free(w[i].data);
    free(w);
    bb_free(&gd);
    cJSON_Delete(root);
    return g;
}
