/* escape.h - the one place that makes untrusted text (node names, op names, attribute strings,
 * file names from a model) safe to print on one line: control bytes (newline, carriage return,
 * tab, the ESC of terminal escape sequences, DEL, ...) become visible escapes ("\n", "\x1b").
 * err_set/err_prefix pass every message through it, so an error is always one line; the CLI
 * uses it where it prints names outside errors. */
#ifndef GRAPPO_ESCAPE_H
#define GRAPPO_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* true for bytes that must not reach a terminal raw */
static inline bool esc_is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* Writes src into dst[cap] with control bytes escaped, NUL-terminated, truncated at a whole
   escape; returns dst. */
char *str_escape(char *dst, size_t cap, const char *src);

#endif
