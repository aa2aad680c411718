/* err.c - filling and prefixing Err values. Every message is passed through str_escape, so
 * names taken from a model (which may hold newlines or terminal escapes) cannot break the
 * one-line rule. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

/* escapes msg in place (already escaped text has no control bytes left: idempotent) */
static void escape_msg(Err *err) {
    bool dirty = false;
    for (const char *c = err->msg; *c; c++) dirty |= esc_is_control((unsigned char)*c);
    if (!dirty) return;
    char tmp[sizeof err->msg];
    str_escape(tmp, sizeof tmp, err->msg);
    memcpy(err->msg, tmp, sizeof tmp);
}

int err_set(Err *err, ErrCode code, const char *fmt, ...) {
    if (!err) return -1;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    escape_msg(err);
    return -1;
}

int err_prefix(Err *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[sizeof err->msg], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* "prefix: old", truncated to fit; assembled by hand to keep the truncation explicit */
    size_t p = strlen(prefix), o = strlen(old), cap = sizeof err->msg - 1;
    if (p > cap) p = cap;
    memcpy(err->msg, prefix, p);
    size_t k = p;
    if (k + 2 <= cap) { err->msg[k++] = ':'; err->msg[k++] = ' '; }
    if (o > cap - k) o = cap - k;
    memcpy(err->msg + k, old, o);
    err->msg[k + o] = 0;
    escape_msg(err);
    return -1;
}
