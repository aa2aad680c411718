/* attr_proto.c - AttrValue / TensorProto / TensorShapeProto <-> Attr / Tensor / Shape.
 *
 * Decoding unpacks with protobuf-c (graphdef.proto) and converts; tensors get their full data
 * (tensor_content, or the typed *_val fields with TensorFlow's splat rule). Encoding builds
 * protobuf-c messages on the stack / heap that point at grappo's own arrays, packs them, and
 * frees only the scaffolding. */
#include "attr_proto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "graphdef.pb-c.h"

typedef Grappo__Tf__AttrValue PbAttr;
typedef Grappo__Tf__AttrValue__ListValue PbList;
typedef Grappo__Tf__TensorProto PbTensor;
typedef Grappo__Tf__TensorShapeProto PbShape;
typedef Grappo__Tf__TensorShapeProto__Dim PbDim;

/* ------------------------------------------------------------------------------------------
 * decoding */

/* allow_unknown: shape attributes may have unknown rank and -1 dims; tensor shapes may not */
static int shape_decode(const PbShape *sp, bool allow_unknown, Shape *out, Err *err) {
    memset(out, 0, sizeof *out);
    if (!sp) return 0; /* absent TensorShapeProto = scalar */
    if (sp->unknown_rank) {
        if (!allow_unknown) return err_set(err, ERR_INPUT, "tensor shape has unknown rank");
        if (sp->n_dim) return err_set(err, ERR_INPUT, "shape has unknown rank and %zu dimensions", sp->n_dim);
        out->rank = -1;
        return 0;
    }
    if (sp->n_dim > MAX_RANK)
        return err_set(err, ERR_INPUT, "shape has rank %zu, more than the supported %d", sp->n_dim, MAX_RANK);
    out->rank = (int)sp->n_dim;
    for (size_t k = 0; k < sp->n_dim; k++) {
        int64_t d = sp->dim[k]->size;
        if (d < (allow_unknown ? -1 : 0))
            return err_set(err, ERR_INPUT, "shape has negative dimension %lld (axis %zu)", (long long)d, k);
        out->dim[k] = d;
    }
    return 0;
}

/* Fills n elements of dst (element size es) from m source values, TensorFlow's way: fewer
 * values than elements repeat the last one; no values leave zeros; extra values are ignored.
 * get(src, k, dst_elem) converts source value k into one destination element. */
typedef void (*ValGet)(const void *src, size_t k, void *dst);
static void fill_splat(uint8_t *dst, size_t es, int64_t n, const void *src, size_t m, ValGet get) {
    if (m == 0 || n == 0) return;
    size_t copy = (uint64_t)n < m ? (size_t)n : m;
    for (size_t k = 0; k < copy; k++) get(src, k, dst + k * es);
    for (size_t k = copy; k < (size_t)n; k++) memcpy(dst + k * es, dst + (copy - 1) * es, es);
}

static void get_f32(const void *s, size_t k, void *d) { memcpy(d, (const float *)s + k, 4); }
static void get_i32(const void *s, size_t k, void *d) { memcpy(d, (const int32_t *)s + k, 4); }
static void get_i8(const void *s, size_t k, void *d) { *(int8_t *)d = (int8_t)((const int32_t *)s)[k]; }
static void get_u8(const void *s, size_t k, void *d) { *(uint8_t *)d = (uint8_t)((const int32_t *)s)[k]; }
static void get_i64(const void *s, size_t k, void *d) { memcpy(d, (const int64_t *)s + k, 8); }
static void get_f64(const void *s, size_t k, void *d) { memcpy(d, (const double *)s + k, 8); }
static void get_u16(const void *s, size_t k, void *d) {
    uint16_t h = (uint16_t)((const int32_t *)s)[k];
    memcpy(d, &h, 2);
}
static void get_bool(const void *s, size_t k, void *d) { *(uint8_t *)d = ((const protobuf_c_boolean *)s)[k] ? 1 : 0; }

static int tensor_decode(const PbTensor *tp, Tensor *out, TensorBudget *budget, Err *err) {
    memset(out, 0, sizeof *out);
    Shape shape;
    char sb[128];
    if (shape_decode(tp->tensor_shape, false, &shape, err)) return -1;
    int64_t n = shape_numel(&shape);
    if (n < 0) return err_set(err, ERR_INPUT, "tensor shape %s has too many elements", shape_str(&shape, sb, sizeof sb));
    int dt = tp->dtype;
    if (!dtype_is_supported(dt)) {
        /* opaque dtype (string, double, unknown codes, ...): shape only, bytes stay in raw */
        out->dtype = dt;
        out->shape = shape;
        return 0;
    }
    size_t es = dtype_size(dt);
    size_t limit = budget->max_tensor_bytes < TENSOR_MAX_BYTES ? budget->max_tensor_bytes : TENSOR_MAX_BYTES;
    if ((uint64_t)n > limit / es)
        return err_set(err, ERR_INPUT, "tensor of shape %s and dtype %s is too large (limit %zu bytes)",
                       shape_str(&shape, sb, sizeof sb), dtype_name(dt), limit);
    size_t nbytes = (size_t)n * es;
    if (nbytes > budget->max_total_bytes - budget->used)
        return err_set(err, ERR_INPUT, "tensors in this graph exceed the limit of %zu bytes in total",
                       budget->max_total_bytes);
    if (tp->tensor_content.len != 0 && tp->tensor_content.len != nbytes)
        return err_set(err, ERR_INPUT, "tensor_content has %zu bytes but shape %s of %s needs %zu",
                       tp->tensor_content.len, shape_str(&shape, sb, sizeof sb), dtype_name(dt), nbytes);
    if (tensor_alloc(out, dt, &shape, err)) return -1;
    budget->used += nbytes;
    uint8_t *d = out->buf->data;
    if (tp->tensor_content.len) {
        memcpy(d, tp->tensor_content.data, nbytes);
        if (dt == DT_BOOL) /* anything but 0/1 in a bool would be undefined to read as bool */
            for (size_t k = 0; k < nbytes; k++) d[k] = d[k] != 0;
        return 0;
    }
    switch (dt) {
    case DT_FLOAT: fill_splat(d, es, n, tp->float_val, tp->n_float_val, get_f32); break;
    case DT_INT32: fill_splat(d, es, n, tp->int_val, tp->n_int_val, get_i32); break;
    case DT_INT8: fill_splat(d, es, n, tp->int_val, tp->n_int_val, get_i8); break;
    case DT_UINT8: fill_splat(d, es, n, tp->int_val, tp->n_int_val, get_u8); break;
    case DT_INT64: fill_splat(d, es, n, tp->int64_val, tp->n_int64_val, get_i64); break;
    case DT_DOUBLE: fill_splat(d, es, n, tp->double_val, tp->n_double_val, get_f64); break;
    case DT_BOOL: fill_splat(d, es, n, tp->bool_val, tp->n_bool_val, get_bool); break;
    case DT_HALF: case DT_BFLOAT16: fill_splat(d, es, n, tp->half_val, tp->n_half_val, get_u16); break;
    default: break;
    }
    return 0;
}

/* copies a protobuf bytes value into a NUL-terminated AttrStr */
static int str_decode(const ProtobufCBinaryData *b, AttrStr *out, Err *err) {
    out->data = malloc(b->len + 1);
    if (!out->data) return err_set(err, ERR_RUNTIME, "out of memory");
    if (b->len) memcpy(out->data, b->data, b->len);
    out->data[b->len] = 0;
    out->len = b->len;
    return 0;
}

static void *alloc_array(size_t n, size_t size) { return calloc(n ? n : 1, size); }

static int list_decode(const PbList *pl, AttrList *l, TensorBudget *budget, Err *err) {
    size_t longest = pl->n_s > pl->n_i ? pl->n_s : pl->n_i;
    if (pl->n_f > longest) longest = pl->n_f;
    if (pl->n_b > longest) longest = pl->n_b;
    if (pl->n_type > longest) longest = pl->n_type;
    if (pl->n_shape > longest) longest = pl->n_shape;
    if (pl->n_tensor > longest) longest = pl->n_tensor;
    if (pl->n_func > longest) longest = pl->n_func;
    if (longest > INT_MAX) return err_set(err, ERR_INPUT, "list of %zu values is too long", longest);
    /* the element kind is the first non-empty field; a well-formed list has only one */
    if (pl->n_s) {
        l->kind = ATTR_STRING;
        if (!(l->s = alloc_array(pl->n_s, sizeof *l->s))) goto oom;
        l->n = (int)pl->n_s;
        for (size_t k = 0; k < pl->n_s; k++)
            if (str_decode(&pl->s[k], &l->s[k], err)) return -1;
    } else if (pl->n_i) {
        l->kind = ATTR_INT;
        if (!(l->i = alloc_array(pl->n_i, sizeof *l->i))) goto oom;
        memcpy(l->i, pl->i, pl->n_i * sizeof *l->i);
        l->n = (int)pl->n_i;
    } else if (pl->n_f) {
        l->kind = ATTR_FLOAT;
        if (!(l->f = alloc_array(pl->n_f, sizeof *l->f))) goto oom;
        memcpy(l->f, pl->f, pl->n_f * sizeof *l->f);
        l->n = (int)pl->n_f;
    } else if (pl->n_b) {
        l->kind = ATTR_BOOL;
        if (!(l->b = alloc_array(pl->n_b, sizeof *l->b))) goto oom;
        for (size_t k = 0; k < pl->n_b; k++) l->b[k] = pl->b[k] != 0;
        l->n = (int)pl->n_b;
    } else if (pl->n_type) {
        l->kind = ATTR_TYPE;
        if (!(l->type = alloc_array(pl->n_type, sizeof *l->type))) goto oom;
        for (size_t k = 0; k < pl->n_type; k++) l->type[k] = pl->type[k];
        l->n = (int)pl->n_type;
    } else if (pl->n_shape) {
        l->kind = ATTR_SHAPE;
        if (!(l->shape = alloc_array(pl->n_shape, sizeof *l->shape))) goto oom;
        l->n = (int)pl->n_shape;
        for (size_t k = 0; k < pl->n_shape; k++)
            if (shape_decode(pl->shape[k], true, &l->shape[k], err)) return err_prefix(err, "shape %zu", k);
    } else if (pl->n_tensor) {
        l->kind = ATTR_TENSOR;
        if (!(l->tensor = alloc_array(pl->n_tensor, sizeof *l->tensor))) goto oom;
        l->n = (int)pl->n_tensor;
        for (size_t k = 0; k < pl->n_tensor; k++)
            if (tensor_decode(pl->tensor[k], &l->tensor[k], budget, err)) return err_prefix(err, "tensor %zu", k);
    } else if (pl->n_func) {
        l->kind = ATTR_FUNC; /* raw, plus each function's name in s (its attrs stay opaque) */
        if (!(l->s = alloc_array(pl->n_func, sizeof *l->s))) goto oom;
        l->n = (int)pl->n_func;
        for (size_t k = 0; k < pl->n_func; k++)
            if (str_decode(&pl->func[k]->name, &l->s[k], err)) return -1;
    }
    return 0;
oom:
    return err_set(err, ERR_RUNTIME, "out of memory");
}

int attr_decode(const uint8_t *data, size_t len, Attr *a, TensorBudget *budget, Err *err) {
    /* protobuf-c keeps a pointer argument non-const but does not write through it */
    PbAttr *av = grappo__tf__attr_value__unpack(NULL, len, data);
    if (!av) return err_set(err, ERR_INPUT, "malformed AttrValue (%zu bytes)", len);
    if (len > 0 && !(a->raw = malloc(len))) {
        grappo__tf__attr_value__free_unpacked(av, NULL);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    if (len) memcpy(a->raw, data, len);
    a->raw_len = len;
    int rc = 0;
    switch (av->value_case) {
    case GRAPPO__TF__ATTR_VALUE__VALUE__NOT_SET: a->kind = ATTR_NONE; break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_S: a->kind = ATTR_STRING; rc = str_decode(&av->s, &a->s, err); break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_I: a->kind = ATTR_INT; a->i = av->i; break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_F: a->kind = ATTR_FLOAT; a->f = av->f; break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_B: a->kind = ATTR_BOOL; a->b = av->b != 0; break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_TYPE: a->kind = ATTR_TYPE; a->type = av->type; break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_SHAPE: a->kind = ATTR_SHAPE; rc = shape_decode(av->shape, true, &a->shape, err); break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_TENSOR: a->kind = ATTR_TENSOR; rc = tensor_decode(av->tensor, &a->tensor, budget, err); break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_PLACEHOLDER: a->kind = ATTR_PLACEHOLDER; break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_FUNC: /* the function's name in s (control flow's bodies) */
        a->kind = ATTR_FUNC;
        rc = av->func ? str_decode(&av->func->name, &a->s, err) : 0;
        break;
    case GRAPPO__TF__ATTR_VALUE__VALUE_LIST:
        a->kind = ATTR_LIST;
        rc = list_decode(av->list, &a->list, budget, err);
        break;
    default: a->kind = ATTR_NONE; break;
    }
    grappo__tf__attr_value__free_unpacked(av, NULL);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * encoding */

/* A TensorShapeProto with room for MAX_RANK dims, pointing into itself: initialise in place
 * and do not move it afterwards. */
typedef struct ShapeMsg {
    PbShape msg;
    PbDim dim[MAX_RANK];
    PbDim *dimp[MAX_RANK];
} ShapeMsg;

static void shape_msg_init(ShapeMsg *m, const Shape *s) {
    grappo__tf__tensor_shape_proto__init(&m->msg);
    if (s->rank < 0) {
        m->msg.unknown_rank = 1;
        return;
    }
    int rank = s->rank <= MAX_RANK ? s->rank : MAX_RANK;
    for (int k = 0; k < rank; k++) {
        grappo__tf__tensor_shape_proto__dim__init(&m->dim[k]);
        m->dim[k].size = s->dim[k];
        m->dimp[k] = &m->dim[k];
    }
    m->msg.n_dim = (size_t)rank;
    m->msg.dim = rank ? m->dimp : NULL;
}

typedef struct TensorMsg {
    PbTensor msg;
    ShapeMsg shape;
} TensorMsg;

static int tensor_msg_init(TensorMsg *m, const Tensor *t, Err *err) {
    grappo__tf__tensor_proto__init(&m->msg);
    shape_msg_init(&m->shape, &t->shape);
    m->msg.dtype = t->dtype;
    m->msg.tensor_shape = &m->shape.msg;
    if (t->buf) {
        m->msg.tensor_content.len = t->buf->nbytes;
        m->msg.tensor_content.data = t->buf->data;
    } else if (shape_numel(&t->shape) != 0) {
        /* writing only dtype and shape would silently turn the value into zeros */
        char sb[128];
        return err_set(err, ERR_INPUT, "tensor of dtype %s and shape %s has no data to write",
                       dtype_name(t->dtype), shape_str(&t->shape, sb, sizeof sb));
    }
    return 0;
}

/* heap scaffolding of one encoded list, freed after packing */
typedef struct ListScratch {
    ProtobufCBinaryData *s;
    protobuf_c_boolean *b;
    int32_t *type;
    ShapeMsg *shapes;
    PbShape **shapep;
    TensorMsg *tensors;
    PbTensor **tensorp;
} ListScratch;

static void list_scratch_free(ListScratch *x) {
    free(x->s); free(x->b); free(x->type); free(x->shapes); free(x->shapep); free(x->tensors); free(x->tensorp);
}

static int list_msg_init(PbList *pl, const AttrList *l, ListScratch *x, const char *name, Err *err) {
    grappo__tf__attr_value__list_value__init(pl);
    size_t n = l->n > 0 ? (size_t)l->n : 0;
    if (n == 0) return 0;
    switch (l->kind) {
    case ATTR_STRING:
        if (!(x->s = alloc_array(n, sizeof *x->s))) goto oom;
        for (size_t k = 0; k < n; k++) {
            x->s[k].len = l->s[k].len;
            x->s[k].data = (uint8_t *)l->s[k].data;
        }
        pl->n_s = n; pl->s = x->s;
        return 0;
    case ATTR_INT: pl->n_i = n; pl->i = l->i; return 0;
    case ATTR_FLOAT: pl->n_f = n; pl->f = l->f; return 0;
    case ATTR_BOOL:
        if (!(x->b = alloc_array(n, sizeof *x->b))) goto oom;
        for (size_t k = 0; k < n; k++) x->b[k] = l->b[k];
        pl->n_b = n; pl->b = x->b;
        return 0;
    case ATTR_TYPE:
        if (!(x->type = alloc_array(n, sizeof *x->type))) goto oom;
        for (size_t k = 0; k < n; k++) x->type[k] = l->type[k];
        pl->n_type = n; pl->type = x->type;
        return 0;
    case ATTR_SHAPE:
        if (!(x->shapes = alloc_array(n, sizeof *x->shapes)) || !(x->shapep = alloc_array(n, sizeof *x->shapep))) goto oom;
        for (size_t k = 0; k < n; k++) {
            shape_msg_init(&x->shapes[k], &l->shape[k]);
            x->shapep[k] = &x->shapes[k].msg;
        }
        pl->n_shape = n; pl->shape = x->shapep;
        return 0;
    case ATTR_TENSOR:
        if (!(x->tensors = alloc_array(n, sizeof *x->tensors)) || !(x->tensorp = alloc_array(n, sizeof *x->tensorp))) goto oom;
        for (size_t k = 0; k < n; k++) {
            if (tensor_msg_init(&x->tensors[k], &l->tensor[k], err))
                return err_prefix(err, "attribute '%s' tensor %zu", name, k);
            x->tensorp[k] = &x->tensors[k].msg;
        }
        pl->n_tensor = n; pl->tensor = x->tensorp;
        return 0;
    default:
        return err_set(err, ERR_INPUT, "attribute '%s': a list of %s cannot be written without its original bytes",
                       name, attr_kind_name(l->kind));
    }
oom:
    return err_set(err, ERR_RUNTIME, "out of memory encoding attribute '%s'", name);
}

int attr_encode(const Attr *a, ByteBuf *out, Err *err) {
    if (a->raw) {
        bb_put(out, a->raw, a->raw_len);
        return 0;
    }
    const char *name = a->name ? a->name : "";
    PbAttr av;
    grappo__tf__attr_value__init(&av);
    ShapeMsg shape;
    TensorMsg tensor;
    PbList list;
    ListScratch scratch = {0};
    int rc = 0;
    switch (a->kind) {
    case ATTR_NONE: break;
    case ATTR_STRING:
        av.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_S;
        av.s.len = a->s.len;
        av.s.data = (uint8_t *)a->s.data;
        break;
    case ATTR_INT: av.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_I; av.i = a->i; break;
    case ATTR_FLOAT: av.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_F; av.f = a->f; break;
    case ATTR_BOOL: av.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_B; av.b = a->b; break;
    case ATTR_TYPE: av.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_TYPE; av.type = a->type; break;
    case ATTR_SHAPE:
        shape_msg_init(&shape, &a->shape);
        av.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_SHAPE;
        av.shape = &shape.msg;
        break;
    case ATTR_TENSOR:
        if (tensor_msg_init(&tensor, &a->tensor, err)) return err_prefix(err, "attribute '%s'", name);
        av.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_TENSOR;
        av.tensor = &tensor.msg;
        break;
    case ATTR_LIST:
        rc = list_msg_init(&list, &a->list, &scratch, name, err);
        av.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_LIST;
        av.list = &list;
        break;
    default:
        return err_set(err, ERR_INPUT, "attribute '%s' of kind %s cannot be written without its original bytes",
                       name, attr_kind_name(a->kind));
    }
    if (rc == 0) {
        size_t size = grappo__tf__attr_value__get_packed_size(&av);
        uint8_t *p = bb_reserve(out, size);
        if (!p) {
            rc = err_set(err, ERR_RUNTIME, "out of memory encoding attribute '%s'", name);
        } else {
            grappo__tf__attr_value__pack(&av, p);
            out->len += size;
        }
    }
    list_scratch_free(&scratch);
    return rc;
}
