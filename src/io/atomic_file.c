/* atomic_file.c - temp-file-and-rename writes, whole-file reads. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pb_wire.h"

static int write_all(int fd, const uint8_t *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* best effort: make the rename itself durable */
static void sync_parent_dir(const char *path) {
    char *dir = strdup(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else strcpy(dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* A path the user got wrong (missing directory, no permission, a directory in the way) is bad
 * input; anything else (disk full, I/O error) is a runtime failure. */
static ErrCode code_for(int e) {
    switch (e) {
    case ENOENT: case ENOTDIR: case EACCES: case EPERM: case EROFS: case EISDIR: case ENAMETOOLONG: case ELOOP:
        return ERR_INPUT;
    default:
        return ERR_RUNTIME;
    }
}

int atomic_write_file(const char *path, const void *data, size_t len, Err *err) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp) return err_set(err, ERR_RUNTIME, "out of memory writing '%s'", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return err_set(err, code_for(e), "cannot write '%s': cannot create a temporary file: %s", path, strerror(e));
    }
    /* mkstemp makes the file 0600; give the result the mode an existing destination has, or
       the usual 0644 for a new file */
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
    const char *step = NULL;
    if (write_all(fd, data, len)) step = "write";
    else if (fchmod(fd, mode)) step = "chmod";
    else if (fsync(fd)) step = "fsync";
    int e = errno;
    if (close(fd) && !step) {
        step = "close";
        e = errno;
    }
    if (!step && rename(tmp, path)) {
        step = "rename";
        e = errno;
    }
    if (step) {
        unlink(tmp);
        free(tmp);
        return err_set(err, code_for(e), "cannot write '%s': %s failed: %s", path, step, strerror(e));
    }
    free(tmp);
    sync_parent_dir(path);
    return 0;
}

int read_file_bytes(const char *path, uint8_t **data, size_t *len, Err *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, ERR_INPUT, "cannot open '%s': %s", path, strerror(errno));
    ByteBuf b = {0};
    const size_t chunk = 1 << 16;
    for (;;) {
        uint8_t *p = bb_reserve(&b, chunk);
        if (!p) {
            fclose(f);
            bb_free(&b);
            return err_set(err, ERR_RUNTIME, "out of memory reading '%s'", path);
        }
        size_t n = fread(p, 1, chunk, f);
        b.len += n;
        if (n < chunk) break;
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        bb_free(&b);
        return err_set(err, ERR_INPUT, "cannot read '%s': %s", path, strerror(e));
    }
    fclose(f);
    *data = b.data ? b.data : malloc(1);
    *len = b.len;
    if (!*data) return err_set(err, ERR_RUNTIME, "out of memory reading '%s'", path);
    return 0;
}
