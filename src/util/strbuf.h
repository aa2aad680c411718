/* strbuf.h - a growing string for text built piece by piece (reports, SVG): printf appends,
 * an allocation failure is remembered (later appends do nothing) and reported once at the end
 * by strbuf_finish, so builders need not check every call. */
#ifndef GRAPPO_STRBUF_H
#define GRAPPO_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct StrBuf { char *s; size_t len, cap; bool oom; } StrBuf; /* {0} is empty */

void strbuf_printf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* the string (malloc'd, caller frees; "" when nothing was appended), or NULL when memory ran
   out (the buffer is freed) */
char *strbuf_finish(StrBuf *b);

#endif
