/* tensor_bundle.c - TensorBundle checkpoints: index entries (BundleHeaderProto,
 * BundleEntryProto) over bundle_table.c, tensor bytes from the data shards (see
 * tensor_bundle.h). */
#include "tensor_bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "bundle_table.h"
#include "crc32c.h"
#include "ordered_code.h"
#include "saved_model.pb-c.h"

struct TensorBundle {
    char *prefix;
    char *index_path;
    uint8_t *owned; /* the index bytes when we read them */
    BundleTable table;
    int num_shards;
};

#define MAX_SHARDS 100000

static int parse_header(TensorBundle *b, Err *err) {
    const TableEntry *h = bundle_table_find(&b->table, "");
    if (!h) return err_set(err, ERR_INPUT, "no bundle header (the entry under the empty key)");
    Grappo__Tf__BundleHeaderProto *p = grappo__tf__bundle_header_proto__unpack(NULL, h->value_len, h->value);
    if (!p) return err_set(err, ERR_INPUT, "malformed bundle header");
    int rc = 0;
    if (p->endianness != 0) rc = err_set(err, ERR_INPUT, "big-endian bundle: not supported");
    else if (p->num_shards < 1 || p->num_shards > MAX_SHARDS)
        rc = err_set(err, ERR_INPUT, "bundle header declares %d shards", p->num_shards);
    else b->num_shards = p->num_shards;
    grappo__tf__bundle_header_proto__free_unpacked(p, NULL);
    return rc;
}

TensorBundle *tensor_bundle_parse(const uint8_t *data, size_t len, const char *prefix, Err *err) {
    TensorBundle *b = calloc(1, sizeof *b);
    size_t plen = strlen(prefix);
    if (!b || !(b->prefix = strdup(prefix)) || !(b->index_path = malloc(plen + 7))) {
        err_set(err, ERR_RUNTIME, "out of memory");
        tensor_bundle_close(b);
        return NULL;
    }
    snprintf(b->index_path, plen + 7, "%s.index", prefix);
    if (bundle_table_parse(data, len, b->index_path, &b->table, err)) {
        tensor_bundle_close(b);
        return NULL;
    }
    if (parse_header(b, err)) {
        err_prefix(err, "%s", b->index_path);
        tensor_bundle_close(b);
        return NULL;
    }
    return b;
}

TensorBundle *tensor_bundle_open(const char *prefix, Err *err) {
    size_t plen = strlen(prefix);
    char *path = malloc(plen + 7);
    if (!path) {
        err_set(err, ERR_RUNTIME, "out of memory");
        return NULL;
    }
    snprintf(path, plen + 7, "%s.index", prefix);
    uint8_t *data;
    size_t len;
    int rc = read_file_bytes(path, &data, &len, err);
    free(path);
    if (rc) return NULL;
    TensorBundle *b = tensor_bundle_parse(data, len, prefix, err);
    if (!b) {
        free(data);
        return NULL;
    }
    b->owned = data;
    return b;
}

void tensor_bundle_close(TensorBundle *b) {
    if (!b) return;
    bundle_table_free(&b->table);
    free(b->owned);
    free(b->prefix);
    free(b->index_path);
    free(b);
}

bool tensor_bundle_has(const TensorBundle *b, const char *key) {
    return *key && bundle_table_find(&b->table, key) != NULL;
}

/* Reads size bytes at offset from a shard, checking the shard is long enough. */
static int read_shard(const char *path, int64_t offset, int64_t size, void *dst, const char *label, Err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, ERR_INPUT, "%s: cannot open (missing shard for %s)", path, label);
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st) || offset < 0 || size < 0 || offset > (int64_t)st.st_size ||
        size > (int64_t)st.st_size - offset)
        rc = err_set(err, ERR_INPUT, "%s: short shard: %s wants bytes %lld..%lld of %lld", path, label,
                     (long long)offset, (long long)(offset + size), (long long)st.st_size);
    else if (fseeko(f, (off_t)offset, SEEK_SET) || (size && fread(dst, 1, (size_t)size, f) != (size_t)size))
        rc = err_set(err, ERR_INPUT, "%s: read error at %s", path, label);
    fclose(f);
    return rc;
}

/* where a slice lies in its variable */
typedef struct Box {
    int rank;
    int64_t start[MAX_RANK], len[MAX_RANK];
} Box;

/* "[0:4, 3:6]" */
static void box_text(const Box *box, char *buf, size_t n) {
    size_t at = 0;
    buf[0] = 0;
    for (int d = 0; d < box->rank && at < n; d++) {
        int w = snprintf(buf + at, n - at, "%s%lld:%lld", d ? ", " : "[", (long long)box->start[d],
                         (long long)(box->start[d] + box->len[d]));
        if (w < 0) return;
        at += (size_t)w;
    }
    if (at < n) snprintf(buf + at, n - at, "]");
}

/* how errors name an entry: "'w'", or "'w' slice [0:4, 3:6]" for a slice */
static void entry_label(const char *key, const Box *box, char *buf, size_t n) {
    char where[256] = "";
    if (box) box_text(box, where, sizeof where);
    snprintf(buf, n, box ? "'%s' slice %s" : "'%s'%s", key, where);
}

/* The dtype and shape of an entry that holds bytes of its own (a variable's or a slice's),
 * checked against each other, the entry's size and the shard count. */
static int entry_shape(const TensorBundle *b, const Grappo__Tf__BundleEntryProto *p, const char *label, Shape *shape,
                       Err *err) {
    size_t esize = dtype_size(p->dtype);
    if (!esize || p->dtype == DT_STRING)
        return err_set(err, ERR_INPUT, "%s: %s has dtype %d, which grappo cannot load", b->index_path, label, p->dtype);
    if (!p->shape || p->shape->unknown_rank || p->shape->n_dim > MAX_RANK)
        return err_set(err, ERR_INPUT, "%s: %s has no usable shape", b->index_path, label);
    shape->rank = (int)p->shape->n_dim;
    for (int i = 0; i < shape->rank; i++) shape->dim[i] = p->shape->dim[i]->size;
    int64_t numel = shape_numel(shape);
    if (!shape_is_known(shape) || numel < 0 || (uint64_t)numel > TENSOR_MAX_BYTES / esize)
        return err_set(err, ERR_INPUT, "%s: %s has no usable shape", b->index_path, label);
    if (p->n_slices) return 0; /* the bytes are in the slices */
    if (p->shard_id < 0 || p->shard_id >= b->num_shards)
        return err_set(err, ERR_INPUT, "%s: %s names shard %d of %d", b->index_path, label, p->shard_id, b->num_shards);
    if ((int64_t)((size_t)numel * esize) != p->size)
        return err_set(err, ERR_INPUT, "%s: %s holds %lld bytes, not what its dtype and shape need", b->index_path,
                       label, (long long)p->size);
    return 0;
}

/* An entry's p->size bytes into dst, their masked CRC-32C checked. */
static int entry_bytes(const TensorBundle *b, const Grappo__Tf__BundleEntryProto *p, const char *label, void *dst,
                       Err *err) {
    size_t plen = strlen(b->prefix) + 32;
    char *shard = malloc(plen);
    if (!shard) return err_set(err, ERR_RUNTIME, "out of memory");
    snprintf(shard, plen, "%s.data-%05d-of-%05d", b->prefix, p->shard_id, b->num_shards);
    int rc = read_shard(shard, p->offset, p->size, dst, label, err);
    if (!rc) {
        uint32_t crc = crc32c_mask(crc32c(dst, (size_t)p->size));
        if (crc != p->crc32c)
            rc = err_set(err, ERR_INPUT, "%s: %s: bad CRC (stored %08x, computed %08x)", shard, label, p->crc32c, crc);
    }
    free(shard);
    return rc;
}

/* Copies a box of elements between the tensor `full` (of shape `shape`) and a dense row-major
 * buffer holding just the box: into full when into_full, out of it otherwise. */
static void copy_box(uint8_t *full, const Shape *shape, const Box *box, uint8_t *dense, size_t esize, bool into_full) {
    int r = box->rank;
    for (int d = 0; d < r; d++)
        if (!box->len[d]) return;
    int64_t stride[MAX_RANK];
    stride[r - 1] = 1;
    for (int d = r - 2; d >= 0; d--) stride[d] = stride[d + 1] * shape->dim[d + 1];
    size_t row = (size_t)box->len[r - 1] * esize;
    int64_t idx[MAX_RANK] = {0}; /* position inside the box over dims 0..r-2 */
    for (;;) {
        int64_t at = box->start[r - 1];
        for (int d = 0; d < r - 1; d++) at += (box->start[d] + idx[d]) * stride[d];
        if (into_full) memcpy(full + (size_t)at * esize, dense, row);
        else memcpy(dense, full + (size_t)at * esize, row);
        dense += row;
        int d = r - 2;
        while (d >= 0 && ++idx[d] == box->len[d]) idx[d--] = 0;
        if (d < 0) return;
    }
}

static bool boxes_overlap(const Box *a, const Box *b) {
    for (int d = 0; d < a->rank; d++) {
        int64_t lo = a->start[d] > b->start[d] ? a->start[d] : b->start[d];
        int64_t ea = a->start[d] + a->len[d], eb = b->start[d] + b->len[d];
        if (lo >= (ea < eb ? ea : eb)) return false;
    }
    return true;
}

#define MAX_SLICES 4096

/* A partitioned variable: its entry p lists where its slices lie; each slice is an entry of
 * its own under an OrderedCode key. The slices must lie inside the shape, not overlap and
 * cover it; each must have the variable's dtype and the slice's shape. */
static int read_partitioned(TensorBundle *b, const char *key, const Grappo__Tf__BundleEntryProto *p,
                            const Shape *shape, Tensor *out, Err *err) {
    char label[512], other[256], dims[128];
    size_t esize = dtype_size(p->dtype);
    if (shape->rank < 1)
        return err_set(err, ERR_INPUT, "%s: '%s' is a scalar saved in %zu slices", b->index_path, key, p->n_slices);
    if (p->n_slices > MAX_SLICES)
        return err_set(err, ERR_INPUT, "%s: '%s' is saved in %zu slices (at most %d are read)", b->index_path, key,
                       p->n_slices, MAX_SLICES);
    Box *box = calloc(p->n_slices, sizeof *box);
    if (!box) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = 0;
    int64_t covered = 0;
    for (size_t i = 0; i < p->n_slices && !rc; i++) {
        const Grappo__Tf__TensorSliceProto *sp = p->slices[i];
        Box *x = &box[i];
        x->rank = shape->rank;
        if (sp->n_extent != (size_t)shape->rank) {
            rc = err_set(err, ERR_INPUT, "%s: '%s': slice %zu has %zu dimensions, the variable %d", b->index_path, key,
                         i, sp->n_extent, shape->rank);
            break;
        }
        bool inside = true;
        for (int d = 0; d < shape->rank; d++) {
            const Grappo__Tf__TensorSliceProto__Extent *e = sp->extent[d];
            bool has_len = e->has_length_case == GRAPPO__TF__TENSOR_SLICE_PROTO__EXTENT__HAS_LENGTH_LENGTH;
            x->start[d] = e->start;
            x->len[d] = has_len ? e->length : shape->dim[d];
            if (e->start < 0 || x->len[d] < 0 || e->start > shape->dim[d] || x->len[d] > shape->dim[d] - e->start)
                inside = false;
        }
        entry_label(key, x, label, sizeof label);
        if (!inside) {
            rc = err_set(err, ERR_INPUT, "%s: %s lies outside the variable's shape %s", b->index_path, label,
                         shape_str(shape, dims, sizeof dims));
            break;
        }
        Shape bs = {.rank = x->rank};
        for (int d = 0; d < x->rank; d++) bs.dim[d] = x->len[d];
        covered += shape_numel(&bs);
        for (size_t j = 0; j < i && !rc; j++)
            if (boxes_overlap(&box[j], x)) {
                box_text(&box[j], other, sizeof other);
                rc = err_set(err, ERR_INPUT, "%s: %s overlaps slice %s", b->index_path, label, other);
            }
    }
    if (!rc && covered != shape_numel(shape))
        rc = err_set(err, ERR_INPUT, "%s: '%s': its %zu slices cover %lld of its %lld elements (a slice is missing)",
                     b->index_path, key, p->n_slices, (long long)covered, (long long)shape_numel(shape));
    if (!rc && tensor_alloc(out, p->dtype, shape, err)) rc = err_prefix(err, "%s: '%s'", b->index_path, key);
    ByteBuf k = {0};
    for (size_t i = 0; i < p->n_slices && !rc; i++) {
        const Box *x = &box[i];
        entry_label(key, x, label, sizeof label);
        k.len = 0;
        oc_slice_key(&k, key, x->rank, x->start, x->len);
        if (k.oom) {
            rc = err_set(err, ERR_RUNTIME, "out of memory");
            break;
        }
        const TableEntry *e = bundle_table_find_bytes(&b->table, k.data, k.len);
        if (!e) {
            rc = err_set(err, ERR_INPUT, "%s: %s: no checkpoint entry for it", b->index_path, label);
            break;
        }
        Grappo__Tf__BundleEntryProto *sp = grappo__tf__bundle_entry_proto__unpack(NULL, e->value_len, e->value);
        if (!sp) {
            rc = err_set(err, ERR_INPUT, "%s: %s: malformed entry", b->index_path, label);
            break;
        }
        Shape ss;
        if (sp->dtype != p->dtype)
            rc = err_set(err, ERR_INPUT, "%s: %s has dtype %d, the variable %d", b->index_path, label, sp->dtype,
                         p->dtype);
        else if (sp->n_slices)
            rc = err_set(err, ERR_INPUT, "%s: %s is itself saved in slices", b->index_path, label);
        else if (!entry_shape(b, sp, label, &ss, err)) {
            bool same = ss.rank == x->rank;
            for (int d = 0; same && d < x->rank; d++) same = ss.dim[d] == x->len[d];
            if (!same) rc = err_set(err, ERR_INPUT, "%s: %s is stored with shape %s", b->index_path, label, shape_str(&ss, dims, sizeof dims));
        } else
            rc = -1;
        uint8_t *tmp = NULL;
        if (!rc && sp->size && !(tmp = malloc((size_t)sp->size))) rc = err_set(err, ERR_RUNTIME, "out of memory");
        if (!rc && sp->size) rc = entry_bytes(b, sp, label, tmp, err);
        if (!rc && sp->size) copy_box(tensor_mut(out), shape, x, tmp, esize, true);
        free(tmp);
        grappo__tf__bundle_entry_proto__free_unpacked(sp, NULL);
    }
    bb_free(&k);
    free(box);
    if (rc) tensor_release(out);
    return rc;
}

int tensor_bundle_read(TensorBundle *b, const char *key, Tensor *out, Err *err) {
    memset(out, 0, sizeof *out);
    const TableEntry *e = *key ? bundle_table_find(&b->table, key) : NULL;
    if (!e) return err_set(err, ERR_INPUT, "%s: no checkpoint entry '%s'", b->index_path, key);
    Grappo__Tf__BundleEntryProto *p = grappo__tf__bundle_entry_proto__unpack(NULL, e->value_len, e->value);
    if (!p) return err_set(err, ERR_INPUT, "%s: malformed entry '%s'", b->index_path, key);
    char label[512];
    entry_label(key, NULL, label, sizeof label);
    Shape shape = {.rank = 0};
    int rc = entry_shape(b, p, label, &shape, err);
    if (!rc && p->n_slices) rc = read_partitioned(b, key, p, &shape, out, err);
    else if (!rc) {
        if (tensor_alloc(out, p->dtype, &shape, err)) rc = err_prefix(err, "%s: '%s'", b->index_path, key);
        else if ((rc = entry_bytes(b, p, label, tensor_mut(out), err))) tensor_release(out);
    }
    grappo__tf__bundle_entry_proto__free_unpacked(p, NULL);
    return rc;
}

/* A string tensor's bytes in a shard: the varint length of every element, the masked CRC-32C
 * of those lengths (4 bytes), then the elements' bytes. Only scalars are read here. */
int tensor_bundle_read_string(TensorBundle *b, const char *key, uint8_t **data, size_t *len, Err *err) {
    *data = NULL;
    *len = 0;
    const TableEntry *e = *key ? bundle_table_find(&b->table, key) : NULL;
    if (!e) return err_set(err, ERR_INPUT, "%s: no checkpoint entry '%s'", b->index_path, key);
    Grappo__Tf__BundleEntryProto *p = grappo__tf__bundle_entry_proto__unpack(NULL, e->value_len, e->value);
    if (!p) return err_set(err, ERR_INPUT, "%s: malformed entry '%s'", b->index_path, key);
    int rc = 0;
    uint8_t *buf = NULL;
    if (p->dtype != DT_STRING || (p->shape && p->shape->n_dim) || p->shard_id < 0 || p->shard_id >= b->num_shards ||
        p->size < 5 || (uint64_t)p->size > TENSOR_MAX_BYTES)
        rc = err_set(err, ERR_INPUT, "%s: '%s' is not a scalar string entry", b->index_path, key);
    else if (!(buf = malloc((size_t)p->size)))
        rc = err_set(err, ERR_RUNTIME, "out of memory");
    if (!rc) {
        size_t plen = strlen(b->prefix) + 32;
        char shard[4096];
        if (plen > sizeof shard) rc = err_set(err, ERR_INPUT, "%s: path too long", b->index_path);
        else {
            snprintf(shard, sizeof shard, "%s.data-%05d-of-%05d", b->prefix, p->shard_id, b->num_shards);
            char label[512];
            entry_label(key, NULL, label, sizeof label);
            rc = read_shard(shard, p->offset, p->size, buf, label, err);
            uint64_t n = 0;
            size_t at = 0;
            for (int shift = 0; !rc; shift += 7) {
                if (at >= (size_t)p->size || shift > 56) {
                    rc = err_set(err, ERR_INPUT, "%s: '%s': bad string length", shard, key);
                    break;
                }
                n |= (uint64_t)(buf[at] & 0x7f) << shift;
                if (!(buf[at++] & 0x80)) break;
            }
            if (!rc && (at + 4 > (size_t)p->size || n != (uint64_t)p->size - at - 4))
                rc = err_set(err, ERR_INPUT, "%s: '%s': string length does not match the entry size", shard, key);
            if (!rc) { /* the CRC covers each length as a little-endian uint32, not as its varint */
                uint8_t le[4];
                for (int i = 0; i < 4; i++) le[i] = (uint8_t)(n >> (8 * i));
                uint32_t crc = crc32c_extend(crc32c(le, 4), buf + at, (size_t)n + 4);
                if (crc32c_mask(crc) != p->crc32c)
                    rc = err_set(err, ERR_INPUT, "%s: '%s': bad CRC (stored %08x, computed %08x)", shard, key, p->crc32c,
                                 crc32c_mask(crc));
            }
            if (!rc) {
                memmove(buf, buf + at + 4, (size_t)n);
                *data = buf;
                *len = (size_t)n;
                buf = NULL;
            }
        }
    }
    free(buf);
    grappo__tf__bundle_entry_proto__free_unpacked(p, NULL);
    return rc;
}

/* A slice spec as RestoreV2 takes it: the full shape's dims, then per dimension "start,length"
 * or "-" (all of it), joined by ':' ("4 6 0,4:0,3"). */
static int parse_slice_spec(const char *spec, const Shape *shape, Box *box) {
    const char *p = spec;
    for (int d = 0; d < shape->rank; d++) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || *end != ' ' || v != shape->dim[d]) return -1;
        p = end + 1;
    }
    box->rank = shape->rank;
    for (int d = 0; d < shape->rank; d++) {
        if (*p == '-') {
            box->start[d] = 0, box->len[d] = shape->dim[d];
            p++;
        } else {
            char *end;
            long long st = strtoll(p, &end, 10);
            if (end == p || *end != ',') return -1;
            p = end + 1;
            long long ln = strtoll(p, &end, 10);
            if (end == p) return -1;
            p = end;
            if (st < 0 || ln < 0 || st > shape->dim[d] || ln > shape->dim[d] - st) return -1;
            box->start[d] = st, box->len[d] = ln;
        }
        if (*p != (d + 1 < shape->rank ? ':' : '\0')) return -1;
        if (*p) p++;
    }
    return 0;
}

int tensor_bundle_read_slice(TensorBundle *b, const char *key, const char *spec, Tensor *out, Err *err) {
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) return tensor_bundle_read(b, key, out, err);
    Tensor full;
    if (tensor_bundle_read(b, key, &full, err)) return -1;
    Box box = {0};
    int rc = 0;
    if (full.shape.rank < 1 || parse_slice_spec(spec, &full.shape, &box)) {
        char dims[128];
        rc = err_set(err, ERR_INPUT, "%s: '%s': slice \"%s\" does not fit its shape %s", b->index_path, key, spec,
                     shape_str(&full.shape, dims, sizeof dims));
    }
    Shape bs = {.rank = box.rank};
    for (int d = 0; !rc && d < box.rank; d++) bs.dim[d] = box.len[d];
    if (!rc && tensor_alloc(out, full.dtype, &bs, err)) rc = err_prefix(err, "%s: '%s'", b->index_path, key);
    if (!rc) copy_box((uint8_t *)tensor_mut(&full), &full.shape, &box, tensor_mut(out), dtype_size(full.dtype), false);
    tensor_release(&full);
    return rc;
}
