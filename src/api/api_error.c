/* api_error.c - the calling thread's error message, the version, grappo_free. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_internal.h"

static _Thread_local char errmsg[sizeof ((Err *)0)->msg]; /* as long as any message the library makes */

GRAPPO_API const char *grappo_errmsg(void) { return errmsg; }

GRAPPO_API const char *grappo_libversion(void) { return GRAPPO_VERSION; }

GRAPPO_API int grappo_libversion_number(void) { return GRAPPO_VERSION_NUMBER; }

GRAPPO_API void grappo_free(void *p) { free(p); }

int api_ok(void) {
    errmsg[0] = 0;
    return GRAPPO_OK;
}

int api_fail(const Err *err) {
    snprintf(errmsg, sizeof errmsg, "%s", err && err->msg[0] ? err->msg : "unknown error");
    if (err && err->code == ERR_INPUT) return GRAPPO_INPUT;
    return GRAPPO_ERROR;
}

int api_failf(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return code;
}
