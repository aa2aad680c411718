/* ordered_code.h - the key under which a TensorBundle stores one slice of a partitioned
 * variable. TensorFlow builds it with OrderedCode, an order-preserving byte encoding: the
 * number 0, the variable's name, the slice's rank, then each dimension's start and length
 * (-1 for "the whole dimension") as signed numbers. Such keys begin with a 0 byte, so they sort
 * before every variable name and never collide with one. */
#ifndef GRAPPO_ORDERED_CODE_H
#define GRAPPO_ORDERED_CODE_H

#include <stdint.h>

#include "pb_wire.h"

/* Appends the OrderedCode encodings (checked against keys TensorFlow wrote, see
 * tests/test_partitioned.c). */
void oc_put_unsigned(ByteBuf *out, uint64_t x);
void oc_put_signed(ByteBuf *out, int64_t v);
void oc_put_string(ByteBuf *out, const char *s, size_t len);

/* The key of the slice start[d], length[d] (d < rank) of variable `name`. */
void oc_slice_key(ByteBuf *out, const char *name, int rank, const int64_t *start, const int64_t *length);

#endif
