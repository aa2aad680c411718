/* dtype.h - element types. The numbering is TensorFlow's DataType enum (types.proto), so a
 * dtype read from a GraphDef is stored as is and written back unchanged, even when grappo
 * cannot compute with it ("opaque": double, string, complex, resource, ...). */
#ifndef GRAPPO_DTYPE_H
#define GRAPPO_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum DType {
    DT_INVALID = 0,
    DT_FLOAT = 1,
    DT_DOUBLE = 2, /* computed by the reference kernels only (no fast kernel takes it) */
    DT_INT32 = 3,
    DT_UINT8 = 4,
    DT_INT16 = 5, /* opaque */
    DT_INT8 = 6,
    DT_STRING = 7, /* opaque */
    DT_INT64 = 9,
    DT_BOOL = 10,
    DT_BFLOAT16 = 14,
    DT_HALF = 19,
    DT_RESOURCE = 20, /* opaque */
    DT_VARIANT = 21,  /* a TensorList handle where computed: dtype_as_computed */
} DType;

/* the dtype grappo holds a value declared as dt in: a variant (a TensorList, the loop variable
 * of a TF2 While carrying a TensorArray) is an int32 scalar naming the list in the run's table
 * (runtime/ref_tensor_array.c), as the TensorList ops' outputs are; every other dtype itself */
int dtype_as_computed(int dt);

/* true for the dtypes grappo computes with: float32, float64, float16, bfloat16, int8, uint8,
 * int32, int64, bool. Every other value (including TF's *_REF = code + 100) is opaque. */
bool dtype_is_supported(int dt);
bool dtype_is_float(int dt); /* float32, float64, float16, bfloat16 */
/* bytes per element; 0 for opaque dtypes */
size_t dtype_size(int dt);
/* numpy-style name ("float32", "int64", ...); "dtype(N)" style for opaque ones is written
 * into a static table entry, so never NULL */
const char *dtype_name(int dt);
/* inverse of dtype_name for the supported dtypes, also accepts TF names ("DT_FLOAT");
 * returns DT_INVALID when unknown */
int dtype_from_name(const char *name);

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);         /* round to nearest even */
float bfloat16_to_float(uint16_t b);
uint16_t float_to_bfloat16(float f);     /* round to nearest even, NaN kept NaN */

#endif
