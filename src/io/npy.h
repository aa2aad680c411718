/* npy.h - NumPy .npy files (format versions 1.0 and 2.0; 3.0 read too) <-> Tensor.
 *
 * dtypes: '<f4' float32, '<f8' float64, '<f2' float16, '<i4' int32, '<i8' int64, '|u1' uint8, '|i1' int8,
 * '|b1' bool; big-endian ('>') files are byte-swapped on load. C order only. Saving writes
 * little-endian, version 1.0 unless the header needs 2.0, the header padded with spaces to a
 * multiple of 64 bytes and ended by a newline, as numpy does. Errors are ERR_INPUT naming the
 * file (`what`). */
#ifndef GRAPPO_NPY_H
#define GRAPPO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "../graph/tensor.h"

int npy_parse(const uint8_t *data, size_t len, const char *what, Tensor *out, Err *err);
int npy_load(const char *path, Tensor *out, Err *err);
int npy_serialize(const Tensor *t, uint8_t **data, size_t *len, Err *err); /* caller frees */
int npy_save(const char *path, const Tensor *t, Err *err);                 /* atomic */

#endif
