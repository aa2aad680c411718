/* crc32c.h - CRC-32C (Castagnoli), as LevelDB tables and TensorFlow's tensor bundles use it,
 * and LevelDB's "masked" form stored in block trailers and bundle entries. */
#ifndef GRAPPO_CRC32C_H
#define GRAPPO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc of data, continuing from crc (0 to start) */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t len);
static inline uint32_t crc32c(const void *data, size_t len) { return crc32c_extend(0, data, len); }
/* the stored form: rotated right by 15 bits plus a constant */
static inline uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

#endif
