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
static int read_shard(const char *path, int64_t offset, int64_t size, void *dst, const char *key, Err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, ERR_INPUT, "%s: cannot open (missing shard for '%s')", path, key);
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st) || offset < 0 || size < 0 || offset > (int64_t)st.st_size ||
        size > (int64_t)st.st_size - offset)
        rc = err_set(err, ERR_INPUT, "%s: short shard: '%s' wants bytes %lld..%lld of %lld", path, key,
                     (long long)offset, (long long)(offset + size), (long long)st.st_size);
    else if (fseeko(f, (off_t)offset, SEEK_SET) || (size && fread(dst, 1, (size_t)size, f) != (size_t)size))
        rc = err_set(err, ERR_INPUT, "%s: read error at '%s'", path, key);
    fclose(f);
    return rc;
}

int tensor_bundle_read(TensorBundle *b, const char *key, Tensor *out, Err *err) {
    memset(out, 0, sizeof *out);
    const TableEntry *e = *key ? bundle_table_find(&b->table, key) : NULL;
    if (!e) return err_set(err, ERR_INPUT, "%s: no checkpoint entry '%s'", b->index_path, key);
    Grappo__Tf__BundleEntryProto *p = grappo__tf__bundle_entry_proto__unpack(NULL, e->value_len, e->value);
    if (!p) return err_set(err, ERR_INPUT, "%s: malformed entry '%s'", b->index_path, key);
    int rc = 0;
    Shape shape = {.rank = 0};
    size_t esize = dtype_size(p->dtype);
    if (p->n_slices)
        rc = err_set(err, ERR_INPUT, "%s: '%s' is a partitioned variable (saved in %zu slices): partitioned variables are not supported",
                     b->index_path, key, p->n_slices);
    else if (!esize || p->dtype == DT_STRING)
        rc = err_set(err, ERR_INPUT, "%s: '%s' has dtype %d, which grappo cannot load", b->index_path, key, p->dtype);
    else if (!p->shape || p->shape->unknown_rank || p->shape->n_dim > MAX_RANK)
        rc = err_set(err, ERR_INPUT, "%s: '%s' has no usable shape", b->index_path, key);
    else if (p->shard_id < 0 || p->shard_id >= b->num_shards)
        rc = err_set(err, ERR_INPUT, "%s: '%s' names shard %d of %d", b->index_path, key, p->shard_id, b->num_shards);
    if (!rc) {
        shape.rank = (int)p->shape->n_dim;
        for (int i = 0; i < shape.rank; i++) shape.dim[i] = p->shape->dim[i]->size;
        int64_t numel = shape_numel(&shape);
        if (!shape_is_known(&shape) || numel < 0 || (uint64_t)numel > TENSOR_MAX_BYTES / esize ||
            (int64_t)((size_t)numel * esize) != p->size)
            rc = err_set(err, ERR_INPUT, "%s: '%s' holds %lld bytes, not what its dtype and shape need", b->index_path,
                         key, (long long)p->size);
    }
    if (!rc && tensor_alloc(out, p->dtype, &shape, err)) rc = err_prefix(err, "%s: '%s'", b->index_path, key);
    if (!rc) {
        size_t plen = strlen(b->prefix) + 32;
        char *shard = malloc(plen);
        if (!shard) rc = err_set(err, ERR_RUNTIME, "out of memory");
        else {
            snprintf(shard, plen, "%s.data-%05d-of-%05d", b->prefix, p->shard_id, b->num_shards);
            void *dst = tensor_mut(out);
            rc = read_shard(shard, p->offset, p->size, dst, key, err);
            if (!rc) {
                uint32_t crc = crc32c_mask(crc32c(dst, (size_t)p->size));
                if (crc != p->crc32c)
                    rc = err_set(err, ERR_INPUT, "%s: '%s': bad CRC (stored %08x, computed %08x)", shard, key, p->crc32c, crc);
            }
            free(shard);
        }
        if (rc) tensor_release(out);
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
            rc = read_shard(shard, p->offset, p->size, buf, key, err);
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
