/* atomic_file.h - whole-file reads, and writes that never leave a half-written file: data goes
 * to a temporary file in the destination's directory, is flushed to disk, and is renamed over
 * the destination only when everything succeeded. */
#ifndef GRAPPO_ATOMIC_FILE_H
#define GRAPPO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

/* mkstemp + write + fsync + rename; on any failure the temporary file is removed and the
 * destination is untouched. Errors name the path: ERR_INPUT when the path itself is wrong
 * (missing directory, no permission, a directory in the way), ERR_RUNTIME otherwise. */
int atomic_write_file(const char *path, const void *data, size_t len, Err *err);

/* Reads a whole file into *data (malloc'd, caller frees) and *len. ERR_INPUT naming the path
 * when it cannot be opened or read. */
int read_file_bytes(const char *path, uint8_t **data, size_t *len, Err *err);

#endif
