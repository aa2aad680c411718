/* labels.h - a labels file: one integer class (>= 0) per line, line i labelling the i-th
 * evaluation row (the i-th image in file-name order, or the i-th row across the .npy batches).
 * Spaces and tabs around a number and a CR before the newline are allowed; a last line without
 * a newline counts; empty lines, signs other than none, fractions and anything else do not. */
#ifndef GRAPPO_LABELS_H
#define GRAPPO_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

#define LABELS_MAX_ROWS 10000000
#define LABELS_MAX_CLASS 1000000000

/* *labels malloc'd (caller frees), *n rows; ERR_INPUT "what: line N: ..." */
int labels_parse(const uint8_t *data, size_t len, const char *what, int32_t **labels, int *n, Err *err);
int labels_load(const char *path, int32_t **labels, int *n, Err *err);

#endif
