/* crc32c.c - CRC-32C (polynomial 0x82F63B78, reflected), table driven, byte at a time. */
#include "crc32c.h"

#include <stdatomic.h>

static uint32_t table[256];
static atomic_int table_ready;

static void make_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
    atomic_store(&table_ready, 1);
}

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t len) {
    if (!atomic_load(&table_ready)) make_table(); /* idempotent: racing builders write equal values */
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}
