/* pb_wire.c - reading protobuf fields one at a time, and the ByteBuf writer. */
#include "pb_wire.h"

#include <stdlib.h>
#include <string.h>

static int read_varint(PbReader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return -1;
        uint8_t byte = *r->p++;
        /* the 10th byte may only carry the top bit of a 64-bit value */
        if (shift == 63 && byte > 1) return -1;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) { *out = v; return 0; }
    }
    return -1;
}

int pb_next_field(PbReader *r, PbField *f, const char **why) {
    static const char *no_why;
    if (!why) why = &no_why;
    if (r->p >= r->end) return 0;
    memset(f, 0, sizeof *f);
    f->raw = r->p;
    uint64_t tag;
    if (read_varint(r, &tag)) { *why = "truncated or overlong field tag"; return -1; }
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) { *why = "invalid field number"; return -1; }
    f->number = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    switch (f->wire) {
    case PB_VARINT:
        if (read_varint(r, &f->varint)) { *why = "truncated varint"; return -1; }
        break;
    case PB_I64:
    case PB_I32: {
        size_t n = f->wire == PB_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) { *why = "truncated fixed-width field"; return -1; }
        f->data = r->p;
        f->len = n;
        r->p += n;
        break;
    }
    case PB_LEN: {
        uint64_t n;
        if (read_varint(r, &n)) { *why = "truncated length"; return -1; }
        if (n > (uint64_t)(r->end - r->p)) { *why = "length runs past the end of the data"; return -1; }
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        break;
    }
    default: /* groups (deprecated, never used by TensorFlow) and reserved wire types */
        *why = "unsupported wire type";
        return -1;
    }
    f->raw_len = (size_t)(r->p - f->raw);
    return 1;
}

void bb_free(ByteBuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

uint8_t *bb_reserve(ByteBuf *b, size_t n) {
    if (b->oom) return NULL;
    if (n > SIZE_MAX / 2 - b->len) { b->oom = true; return NULL; }
    if (!b->data || b->len + n > b->cap) { /* also for n == 0: the result is never NULL + 0 */
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) { b->oom = true; return NULL; }
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

void bb_put(ByteBuf *b, const void *data, size_t len) {
    uint8_t *p = bb_reserve(b, len);
    if (!p) return;
    if (len) memcpy(p, data, len);
    b->len += len;
}

void bb_varint(ByteBuf *b, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    bb_put(b, tmp, n);
}

void bb_tag(ByteBuf *b, uint32_t number, int wire) { bb_varint(b, ((uint64_t)number << 3) | (uint64_t)wire); }

void bb_len_field(ByteBuf *b, uint32_t number, const void *data, size_t len) {
    bb_tag(b, number, PB_LEN);
    bb_varint(b, len);
    bb_put(b, data, len);
}
