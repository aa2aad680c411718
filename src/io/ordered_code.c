/* ordered_code.c - OrderedCode encodings of numbers and strings, and the slice keys of
 * partitioned variables built from them (see ordered_code.h).
 *
 *  - unsigned x: one byte n (how many bytes x needs, 0 for x = 0), then x's n bytes, most
 *    significant first.
 *  - string: each 0x00 byte written 0x00 0xff, each 0xff byte 0xff 0x00, then 0x00 0x01.
 *  - signed v: the shortest n (1..10) such that v fits in 7n - 1 bits plus sign, then v's last
 *    n bytes of its two's complement (sign-extended to 10 bytes), with the length written into
 *    its top bits: n one bits followed by a zero bit, XORed in (so n = 1 flips bit 7 of the only
 *    byte, n = 2 the top two bits; for n >= 8 the marker runs into the second byte). */
#include "ordered_code.h"

void oc_put_unsigned(ByteBuf *out, uint64_t x) {
    uint8_t buf[9];
    int n = 0;
    for (uint64_t y = x; y; y >>= 8) n++;
    buf[0] = (uint8_t)n;
    for (int i = 0; i < n; i++) buf[1 + i] = (uint8_t)(x >> (8 * (n - 1 - i)));
    bb_put(out, buf, (size_t)n + 1);
}

void oc_put_string(ByteBuf *out, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == 0x00) bb_put(out, "\x00\xff", 2);
        else if (c == 0xff) bb_put(out, "\xff\x00", 2);
        else bb_put(out, &c, 1);
    }
    bb_put(out, "\x00\x01", 2);
}

void oc_put_signed(ByteBuf *out, int64_t v) {
    uint64_t mag = v < 0 ? ~(uint64_t)v : (uint64_t)v; /* bits to keep besides the sign */
    int n = 1;
    while (n < 10 && (mag >> (7 * n - 1)) != 0) n++;
    uint8_t full[10];
    uint8_t sign = v < 0 ? 0xff : 0x00;
    full[0] = full[1] = sign;
    for (int i = 0; i < 8; i++) full[2 + i] = (uint8_t)((uint64_t)v >> (8 * (7 - i)));
    uint8_t *p = full + 10 - n;
    /* n one bits then a zero, from the top of p[0] on */
    uint16_t marker = (uint16_t)(0xffffu << (16 - n)) & 0xffffu;
    p[0] ^= (uint8_t)(marker >> 8);
    if (n > 1) p[1] ^= (uint8_t)marker;
    bb_put(out, p, (size_t)n);
}

void oc_slice_key(ByteBuf *out, const char *name, int rank, const int64_t *start, const int64_t *length) {
    oc_put_unsigned(out, 0);
    size_t len = 0;
    while (name[len]) len++;
    oc_put_string(out, name, len);
    oc_put_unsigned(out, (uint64_t)rank);
    for (int d = 0; d < rank; d++) {
        oc_put_signed(out, start[d]);
        oc_put_signed(out, length[d]);
    }
}
