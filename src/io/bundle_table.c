/* bundle_table.c - LevelDB table reader for TensorBundle indexes (see bundle_table.h).
 *
 * Layout (LevelDB's table format, which TensorFlow's core/lib/io/table uses unchanged):
 *   [data block]* [metaindex block] [index block] [footer: 48 bytes]
 *   footer = metaindex handle, index handle (varint offset, varint size each), zero padding
 *            to 40 bytes, then the fixed64 magic.
 *   block  = entries, restart offsets (fixed32 each), restart count (fixed32), followed in the
 *            file by a 5-byte trailer: compression type (0 none, 1 snappy) and the masked
 *            CRC-32C of block + type byte.
 *   entry  = varint shared, varint unshared, varint value length, key suffix, value. */
#include "bundle_table.h"

#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

#define TABLE_MAGIC 0xdb4775248b80fb57ull
#define FOOTER_LEN 48
#define TRAILER_LEN 5

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* varint of at most 64 bits; -1 when truncated or longer than 10 bytes */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1) return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) { *out = v; return 0; }
    }
    return -1;
}

typedef struct Handle {
    uint64_t offset, size;
} Handle;

static int read_handle(const uint8_t **p, const uint8_t *end, Handle *h) {
    return varint(p, end, &h->offset) || varint(p, end, &h->size) ? -1 : 0;
}

/* Checks a block handle against the file and the block's trailer; returns its contents. */
static int load_block(const uint8_t *data, size_t len, Handle h, const char *which, const uint8_t **out,
                      size_t *out_len, Err *err) {
    if (h.offset > len || h.size > len - h.offset || len - h.offset - h.size < TRAILER_LEN)
        return err_set(err, ERR_INPUT, "%s block (offset %llu, size %llu) lies outside the file (%zu bytes): truncated",
                       which, (unsigned long long)h.offset, (unsigned long long)h.size, len);
    const uint8_t *b = data + h.offset;
    const uint8_t *trailer = b + h.size;
    uint32_t want = get32(trailer + 1);
    uint32_t got = crc32c_mask(crc32c_extend(crc32c(b, h.size), trailer, 1));
    if (want != got)
        return err_set(err, ERR_INPUT, "%s block at offset %llu: bad CRC (stored %08x, computed %08x)", which,
                       (unsigned long long)h.offset, want, got);
    if (trailer[0] == 1)
        return err_set(err, ERR_INPUT, "%s block at offset %llu is snappy-compressed, which grappo does not read", which,
                       (unsigned long long)h.offset);
    if (trailer[0] != 0)
        return err_set(err, ERR_INPUT, "%s block at offset %llu: unknown compression type %u", which,
                       (unsigned long long)h.offset, trailer[0]);
    *out = b;
    *out_len = h.size;
    return 0;
}

/* Calls fn for every entry of a block, keys rebuilt from their shared prefixes. */
typedef int (*EntryFn)(void *ctx, const char *key, size_t klen, const uint8_t *val, size_t vlen, Err *err);

static int walk_block(const uint8_t *b, size_t n, size_t offset, const char *which, EntryFn fn, void *ctx, Err *err) {
    if (n < 4) return err_set(err, ERR_INPUT, "%s block at offset %zu is shorter than its restart count", which, offset);
    uint32_t restarts = get32(b + n - 4);
    if (restarts > (n - 4) / 4)
        return err_set(err, ERR_INPUT, "%s block at offset %zu: %u restart points do not fit in %zu bytes", which, offset,
                       restarts, n);
    const uint8_t *p = b, *end = b + n - 4 - 4 * (size_t)restarts;
    for (uint32_t k = 0; k < restarts; k++)
        if (get32(end + 4 * k) > (size_t)(end - b))
            return err_set(err, ERR_INPUT, "%s block at offset %zu: restart point %u lies outside the block", which,
                           offset, k);
    char *key = NULL;
    size_t klen = 0;
    int rc = 0;
    while (p < end) {
        uint64_t shared, unshared, vlen;
        if (varint(&p, end, &shared) || varint(&p, end, &unshared) || varint(&p, end, &vlen)) {
            rc = err_set(err, ERR_INPUT, "%s block at offset %zu: bad varint in an entry header (overflow or truncated)",
                         which, offset);
            break;
        }
        if (shared > klen || unshared > (uint64_t)(end - p) || vlen > (uint64_t)(end - p) - unshared ||
            shared + unshared > BUNDLE_TABLE_MAX_KEY) {
            rc = err_set(err, ERR_INPUT, "%s block at offset %zu: entry lengths run past the block", which, offset);
            break;
        }
        char *nk = realloc(key, (size_t)(shared + unshared) + 1);
        if (!nk) { rc = err_set(err, ERR_RUNTIME, "out of memory"); break; }
        key = nk;
        memcpy(key + shared, p, (size_t)unshared);
        klen = (size_t)(shared + unshared);
        key[klen] = 0;
        p += unshared;
        if ((rc = fn(ctx, key, klen, p, (size_t)vlen, err))) break;
        p += vlen;
    }
    free(key);
    return rc;
}

typedef struct Ctx {
    const uint8_t *data;
    size_t len;
    BundleTable *t;
    int cap;
} Ctx;

static int add_entry(void *vctx, const char *key, size_t klen, const uint8_t *val, size_t vlen, Err *err) {
    Ctx *c = vctx;
    BundleTable *t = c->t;
    if (t->n >= BUNDLE_TABLE_MAX_ENTRIES) return err_set(err, ERR_INPUT, "more than %d entries", BUNDLE_TABLE_MAX_ENTRIES);
    /* A partitioned variable's slices are stored under binary keys that start with a 0 byte
       (ordered_code.h); every other key is a name without NUL bytes. */
    if (klen && key[0] != 0 && memchr(key, 0, klen)) return err_set(err, ERR_INPUT, "a key contains a NUL byte");
    if (t->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        TableEntry *e = realloc(t->entries, (size_t)cap * sizeof *e);
        if (!e) return err_set(err, ERR_RUNTIME, "out of memory");
        t->entries = e;
        c->cap = cap;
    }
    char *k = malloc(klen + 1);
    if (!k) return err_set(err, ERR_RUNTIME, "out of memory");
    memcpy(k, key, klen + 1);
    t->entries[t->n++] = (TableEntry){k, klen, val, vlen};
    return 0;
}

static int data_block(void *vctx, const char *key, size_t klen, const uint8_t *val, size_t vlen, Err *err) {
    (void)key;
    (void)klen;
    Ctx *c = vctx;
    const uint8_t *p = val;
    Handle h;
    if (read_handle(&p, val + vlen, &h)) return err_set(err, ERR_INPUT, "index entry: bad block handle");
    const uint8_t *b;
    size_t n;
    if (load_block(c->data, c->len, h, "data", &b, &n, err)) return -1;
    return walk_block(b, n, (size_t)h.offset, "data", add_entry, c, err);
}

int bundle_table_parse(const uint8_t *data, size_t len, const char *what, BundleTable *t, Err *err) {
    memset(t, 0, sizeof *t);
    if (!what) what = "<table>";
    Ctx c = {data, len, t, 0};
    int rc;
    if (len < FOOTER_LEN) {
        rc = err_set(err, ERR_INPUT, "file of %zu bytes is shorter than a table footer (%d): truncated", len, FOOTER_LEN);
    } else if (get64(data + len - 8) != TABLE_MAGIC) {
        rc = err_set(err, ERR_INPUT, "bad footer magic (not a TensorFlow bundle index, or truncated)");
    } else {
        const uint8_t *p = data + len - FOOTER_LEN, *end = data + len - 8;
        Handle meta, index;
        const uint8_t *b;
        size_t n;
        if (read_handle(&p, end, &meta) || read_handle(&p, end, &index))
            rc = err_set(err, ERR_INPUT, "bad block handle in the footer");
        else if (load_block(data, len, index, "index", &b, &n, err))
            rc = -1;
        else
            rc = walk_block(b, n, (size_t)index.offset, "index", data_block, &c, err);
    }
    if (rc) {
        err_prefix(err, "%s", what);
        bundle_table_free(t);
    }
    return rc;
}

void bundle_table_free(BundleTable *t) {
    for (int i = 0; i < t->n; i++) free(t->entries[i].key);
    free(t->entries);
    memset(t, 0, sizeof *t);
}

const TableEntry *bundle_table_find_bytes(const BundleTable *t, const void *key, size_t klen) {
    /* sorted in a valid file, but a hostile one need not be: linear, tables are small */
    for (int i = 0; i < t->n; i++)
        if (t->entries[i].key_len == klen && !memcmp(t->entries[i].key, key, klen)) return &t->entries[i];
    return NULL;
}

const TableEntry *bundle_table_find(const BundleTable *t, const char *key) {
    return bundle_table_find_bytes(t, key, strlen(key));
}
