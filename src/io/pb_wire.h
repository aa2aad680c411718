/* pb_wire.h - the protobuf wire format at the level of single fields, for the parts of a
 * GraphDef that io/ frames by hand (the outer GraphDef and NodeDef messages, whose unmodelled
 * fields must be kept byte for byte), and a growable byte buffer to write into. */
#ifndef GRAPPO_PB_WIRE_H
#define GRAPPO_PB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_SGROUP = 3, PB_EGROUP = 4, PB_I32 = 5 };

/* One field of a message. For PB_LEN, data/len is the payload; for PB_VARINT, varint is the
 * value; raw/raw_len is the whole field (tag included), for copying it verbatim. */
typedef struct PbField {
    uint32_t number;
    int wire;
    uint64_t varint;
    const uint8_t *data;
    size_t len;
    const uint8_t *raw;
    size_t raw_len;
} PbField;

typedef struct PbReader {
    const uint8_t *p, *end;
} PbReader;

static inline PbReader pb_reader(const uint8_t *data, size_t len) {
    static const uint8_t nothing[1];
    if (!data) data = nothing, len = 0; /* NULL + 0 is undefined behaviour in C */
    PbReader r = {data, data + len};
    return r;
}

/* Reads the next field: 1 = got one, 0 = end of message, -1 = malformed (bad varint, length
 * past the end, field number 0, group or reserved wire type). *why says which on -1. */
int pb_next_field(PbReader *r, PbField *f, const char **why);

/* Growable output buffer. Allocation failure sets `oom` and turns later writes into no-ops,
 * so writers check once at the end. */
typedef struct ByteBuf {
    uint8_t *data;
    size_t len, cap;
    bool oom;
} ByteBuf;

void bb_free(ByteBuf *b);
void bb_put(ByteBuf *b, const void *data, size_t len);
void bb_varint(ByteBuf *b, uint64_t v);
void bb_tag(ByteBuf *b, uint32_t number, int wire);
/* a length-delimited field: tag, length, payload */
void bb_len_field(ByteBuf *b, uint32_t number, const void *data, size_t len);
/* makes room for n more bytes and returns where they go (NULL after OOM); the caller then
 * writes them and adds n to b->len */
uint8_t *bb_reserve(ByteBuf *b, size_t n);

#endif
