/* attr_proto.h - conversions between grappo's attribute/tensor/shape values and the protobuf
 * messages of graphdef.proto (AttrValue, TensorProto, TensorShapeProto), both directions.
 * Used by graphdef_load.c and graphdef_save.c; not a public API. */
#ifndef GRAPPO_ATTR_PROTO_H
#define GRAPPO_ATTR_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "../graph/attr.h"
#include "pb_wire.h"

/* How many tensor bytes decoding may materialise. A splat TensorProto ("one value, shape
 * [1e9]") expands far beyond the size of the file, so the bound is checked before allocating.
 * used accumulates over every tensor decoded with the same budget. */
typedef struct TensorBudget {
    size_t max_tensor_bytes; /* per tensor */
    size_t max_total_bytes;  /* all tensors together */
    size_t used;
} TensorBudget;

/* Decodes a serialized AttrValue into the slot a (whose name is already set and whose other
 * fields are empty): fills kind and the typed fields and keeps a copy of the bytes in a->raw.
 * On failure a may hold partial contents, all owned (attr_free releases them). */
int attr_decode(const uint8_t *data, size_t len, Attr *a, TensorBudget *budget, Err *err);

/* Appends the serialized AttrValue for a: a->raw verbatim when present, otherwise encoded
 * from the typed fields (tensors as tensor_content). Fails for kinds that only exist as raw
 * bytes (func, placeholder) when the raw bytes are missing, and for tensors without data. */
int attr_encode(const Attr *a, ByteBuf *out, Err *err);

#endif
