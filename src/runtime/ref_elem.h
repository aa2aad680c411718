/* ref_elem.h - typed element access shared by the elementwise, cast and reduction reference
 * kernels: read any supported dtype as double or int64, write double or wrapped integers back.
 *
 * Float values are carried as double. Writing a double into a 16-bit float goes through float
 * with round-to-odd, so the final rounding to half/bfloat16 is the correctly rounded
 * (nearest-even) result of the double, not a double rounding. Integer results are carried as
 * uint64 and truncated to the destination width (two's complement wrap), so integer overflow
 * is defined behaviour everywhere. */
#ifndef GRAPPO_REF_ELEM_H
#define GRAPPO_REF_ELEM_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../graph/dtype.h"

/* v rounded to float such that the last mantissa bit records inexactness (round to odd).
   Rounding that float once more to a type with at most 22 mantissa bits gives the same
   result as rounding v directly. */
static inline float elem_double_to_float_odd(double v) {
    float f = (float)v;
    if (isfinite(f) && (double)f != v) {
        uint32_t u;
        memcpy(&u, &f, 4);
        if (!(u & 1u)) /* nearest neighbour is even: the other neighbour (towards v) is odd */
            f = nextafterf(f, v > (double)f ? INFINITY : -INFINITY);
    }
    return f;
}

/* element i of a float32/float64/float16/bfloat16 buffer, as double */
static inline double elem_get_f(const void *p, int dtype, int64_t i) {
    switch (dtype) {
    case DT_FLOAT: return ((const float *)p)[i];
    case DT_DOUBLE: return ((const double *)p)[i];
    case DT_HALF: return half_to_float(((const uint16_t *)p)[i]);
    case DT_BFLOAT16: return bfloat16_to_float(((const uint16_t *)p)[i]);
    default: return 0.0;
    }
}

/* stores v rounded to nearest even into element i of a float32/float64/float16/bfloat16 buffer
   (float64: v itself) */
static inline void elem_set_f(void *p, int dtype, int64_t i, double v) {
    switch (dtype) {
    case DT_FLOAT: ((float *)p)[i] = (float)v; break;
    case DT_DOUBLE: ((double *)p)[i] = v; break;
    case DT_HALF: ((uint16_t *)p)[i] = float_to_half(elem_double_to_float_odd(v)); break;
    case DT_BFLOAT16: ((uint16_t *)p)[i] = float_to_bfloat16(elem_double_to_float_odd(v)); break;
    default: break;
    }
}

/* element i of an integer or bool buffer, sign-extended to int64 */
static inline int64_t elem_get_i(const void *p, int dtype, int64_t i) {
    switch (dtype) {
    case DT_INT8: return ((const int8_t *)p)[i];
    case DT_UINT8: return ((const uint8_t *)p)[i];
    case DT_INT32: return ((const int32_t *)p)[i];
    case DT_INT64: return ((const int64_t *)p)[i];
    case DT_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return 0;
    }
}

/* Stores the low bits of v into element i of an integer buffer (two's complement wrap: the
   unsigned-to-signed conversion is implementation-defined in C, modulo 2^N in gcc/clang, never
   undefined). bool stores v != 0. */
static inline void elem_set_i(void *p, int dtype, int64_t i, uint64_t v) {
    switch (dtype) {
    case DT_INT8: ((int8_t *)p)[i] = (int8_t)(uint8_t)v; break;
    case DT_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case DT_INT32: ((int32_t *)p)[i] = (int32_t)(uint32_t)v; break;
    case DT_INT64: ((int64_t *)p)[i] = (int64_t)v; break;
    case DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: break;
    }
}

/* v wrapped to the width and signedness of an integer dtype, then sign-extended back (what
   storing and re-loading would give) */
static inline int64_t elem_wrap_i(int dtype, uint64_t v) {
    switch (dtype) {
    case DT_INT8: return (int8_t)(uint8_t)v;
    case DT_UINT8: return (uint8_t)v;
    case DT_INT32: return (int32_t)(uint32_t)v;
    case DT_BOOL: return v != 0;
    default: return (int64_t)v;
    }
}

static inline int elem_is_int(int dtype) {
    return dtype == DT_INT8 || dtype == DT_UINT8 || dtype == DT_INT32 || dtype == DT_INT64;
}

/* smallest and largest value of an integer dtype */
static inline int64_t elem_int_min(int dtype) {
    switch (dtype) {
    case DT_INT8: return INT8_MIN;
    case DT_UINT8: return 0;
    case DT_INT32: return INT32_MIN;
    case DT_BOOL: return 0;
    default: return INT64_MIN;
    }
}
static inline int64_t elem_int_max(int dtype) {
    switch (dtype) {
    case DT_INT8: return INT8_MAX;
    case DT_UINT8: return UINT8_MAX;
    case DT_INT32: return INT32_MAX;
    case DT_BOOL: return 1;
    default: return INT64_MAX;
    }
}

#endif
