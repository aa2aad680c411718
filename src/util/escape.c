/* escape.c - escaping control bytes in text meant for one line (see escape.h). */
#include "escape.h"

#include <stdio.h>
#include <string.h>

char *str_escape(char *dst, size_t cap, const char *src) {
    if (!cap) return dst;
    size_t k = 0;
    for (const unsigned char *s = (const unsigned char *)src; *s; s++) {
        char tmp[5];
        size_t n;
        if (!esc_is_control(*s)) { tmp[0] = (char)*s; n = 1; }
        else if (*s == '\n') { memcpy(tmp, "\\n", 2); n = 2; }
        else if (*s == '\r') { memcpy(tmp, "\\r", 2); n = 2; }
        else if (*s == '\t') { memcpy(tmp, "\\t", 2); n = 2; }
        else { snprintf(tmp, sizeof tmp, "\\x%02x", *s); n = 4; }
        if (k + n >= cap) break;
        memcpy(dst + k, tmp, n);
        k += n;
    }
    dst[k] = 0;
    return dst;
}
