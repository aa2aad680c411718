/* atomic_file.h - whole-file reads, and writes that never leave a half-written file: data goes
 * to a temporary file in the destination's directory, is flushed to disk, and is renamed over
 * the destination only when everything succeeded. What a destination may be is decided here,
 * once: a regular file (replaced; a read-only one is refused), a new file in a writable
 * directory, a symlink (followed deliberately: the file it points to is replaced, the link
 * stays; a dangling one is refused), a character device or FIFO (written through in place:
 * `-o /dev/null` never replaces /dev/null); directories, block devices and sockets are refused.
 * Several outputs of one command are checked before any work (output_check), staged at the end
 * (output_stage: complete temporary files) and committed together (outputs_commit). */
#ifndef GRAPPO_ATOMIC_FILE_H
#define GRAPPO_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

/* mkstemp + write + fsync + rename; on any failure the temporary file is removed and the
 * destination is untouched. Errors name the path: ERR_INPUT when the path itself is wrong
 * (missing directory, no permission, a directory in the way), ERR_RUNTIME otherwise. */
int atomic_write_file(const char *path, const void *data, size_t len, Err *err);

/* Checks, without writing, that `path` is a destination output_stage would accept (see the top
   of this file); ERR_INPUT naming the path and the reason otherwise. */
int output_check(const char *path, Err *err);

/* One staged output: the data in a complete, flushed temporary file next to the destination,
   or (devices, FIFOs) kept to be written through at commit. */
typedef struct OutputStage {
    char *target;      /* the file written (a symlink resolved) */
    char *tmp;         /* the temporary file, NULL when written through */
    const void *data;  /* written through at commit (borrowed) */
    size_t len;
} OutputStage;

/* Stages data for path (data must stay valid until commit when path is a device or FIFO). On
   failure nothing is left on disk. */
int output_stage(OutputStage *s, const char *path, const void *data, size_t len, Err *err);
/* Renames every staged file over its destination (then writes the devices/FIFOs through).
   A failure removes the temporary files not yet renamed. Frees the stages either way. */
int outputs_commit(OutputStage *s, int n, Err *err);
/* Removes the temporary files and frees the stages. */
void outputs_abort(OutputStage *s, int n);
/* true when a and b name the same existing file (after symlinks), or are the same string */
bool output_same_file(const char *a, const char *b);

/* Reads a whole file into *data (malloc'd, caller frees) and *len. ERR_INPUT naming the path
 * when it cannot be opened or read. */
int read_file_bytes(const char *path, uint8_t **data, size_t *len, Err *err);

#endif
