/* input_file.h - reading a model or data file a user names, with bounds: only regular files
 * (not /dev/zero, a FIFO or a directory), and at most a cap that is what the format can
 * legitimately hold, checked against the file's size before anything is allocated. */
#ifndef GRAPPO_INPUT_FILE_H
#define GRAPPO_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

/* A GraphDef is one protobuf message, which protobuf limits to 2 GiB (TensorFlow refuses
 * larger ones too). */
#define GRAPHDEF_MAX_FILE_BYTES ((size_t)2 << 30)

/* Reads the whole regular file `path` into *data (malloc'd, caller frees) and *len, if it has
 * at most max_bytes and no more than the memory budget (graph/mem_budget.h) leaves. ERR_INPUT
 * naming the path: cannot open, not a regular file, too large. */
int read_input_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len, Err *err);

#endif
