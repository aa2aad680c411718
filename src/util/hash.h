/* hash.h - FNV-1a (64-bit), the one non-cryptographic hash grappo uses for cache keys, file
 * checksums and signatures: simple, deterministic on every machine, good enough for these. */
#ifndef GRAPPO_HASH_H
#define GRAPPO_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FNV1A_OFFSET 0xcbf29ce484222325ull

/* h continued over n bytes (start with FNV1A_OFFSET) */
static inline uint64_t fnv1a64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static inline uint64_t fnv1a64_str(uint64_t h, const char *s) { return fnv1a64(h, s, strlen(s)); }

/* h combined with one more 64-bit value (order matters) */
static inline uint64_t hash_mix64(uint64_t h, uint64_t x) {
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

#endif
