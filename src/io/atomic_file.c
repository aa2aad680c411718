/* atomic_file.c - temp-file-and-rename writes, staged outputs committed together, whole-file
 * reads (see atomic_file.h for what a destination may be). */
#define _XOPEN_SOURCE 700 /* realpath */
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

/* the destination's kind, a symlink followed; *target is malloc'd (the path to write) */
typedef enum DestKind { DEST_NEW, DEST_REGULAR, DEST_THROUGH } DestKind;

static int dir_of(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) return snprintf(out, cap, ".") >= (int)cap ? -1 : 0;
    if (slash == path) return snprintf(out, cap, "/") >= (int)cap ? -1 : 0;
    return snprintf(out, cap, "%.*s", (int)(slash - path), path) >= (int)cap ? -1 : 0;
}

static int resolve_dest(const char *path, char **target, DestKind *kind, Err *err) {
    *target = NULL;
    if (!*path) return err_set(err, ERR_INPUT, "cannot write '': empty path");
    struct stat st;
    char *t = NULL;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        t = realpath(path, NULL);
        if (!t) return err_set(err, ERR_INPUT, "cannot write '%s': it is a symlink to a missing or unreachable file", path);
    } else {
        t = strdup(path);
        if (!t) return err_set(err, ERR_RUNTIME, "out of memory");
    }
    char dir[4096];
    if (stat(t, &st) == 0) {
        if (S_ISDIR(st.st_mode)) { err_set(err, ERR_INPUT, "cannot write '%s': it is a directory", path); goto fail; }
        if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
            if (access(t, W_OK)) { err_set(err, ERR_INPUT, "cannot write '%s': %s", path, strerror(errno)); goto fail; }
            *kind = DEST_THROUGH;
            *target = t;
            return 0;
        }
        if (!S_ISREG(st.st_mode)) { err_set(err, ERR_INPUT, "cannot write '%s': not a regular file, character device or FIFO", path); goto fail; }
        /* root may write anything: the mode bits say what the owner meant */
        if (!(st.st_mode & 0222) || access(t, W_OK)) { err_set(err, ERR_INPUT, "cannot write '%s': it is read-only", path); goto fail; }
        *kind = DEST_REGULAR;
    } else if (errno == ENOENT) {
        *kind = DEST_NEW;
    } else {
        err_set(err, code_for(errno), "cannot write '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (dir_of(t, dir, sizeof dir)) { err_set(err, ERR_INPUT, "cannot write '%s': path too long", path); goto fail; }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) { err_set(err, ERR_INPUT, "cannot write '%s': no directory '%s'", path, dir); goto fail; }
    if (access(dir, W_OK | X_OK)) { err_set(err, code_for(errno), "cannot write '%s': directory '%s': %s", path, dir, strerror(errno)); goto fail; }
    *target = t;
    return 0;
fail:
    free(t);
    return -1;
}

int output_check(const char *path, Err *err) {
    char *t = NULL;
    DestKind kind;
    int rc = resolve_dest(path, &t, &kind, err);
    free(t);
    return rc;
}

bool output_same_file(const char *a, const char *b) {
    if (!strcmp(a, b)) return true;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int output_stage(OutputStage *s, const char *path, const void *data, size_t len, Err *err) {
    memset(s, 0, sizeof *s);
    DestKind kind;
    if (resolve_dest(path, &s->target, &kind, err)) return -1;
    if (kind == DEST_THROUGH) {
        s->data = data;
        s->len = len;
        return 0;
    }
    size_t plen = strlen(s->target);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp) { free(s->target); s->target = NULL; return err_set(err, ERR_RUNTIME, "out of memory writing '%s'", path); }
    memcpy(tmp, s->target, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        free(s->target);
        s->target = NULL;
        return err_set(err, code_for(e), "cannot write '%s': cannot create a temporary file: %s", path, strerror(e));
    }
    /* mkstemp makes the file 0600; give the result the mode an existing destination has, or
       the usual 0644 (less the umask) for a new file */
    struct stat st;
    mode_t mode;
    if (kind == DEST_REGULAR && stat(s->target, &st) == 0) mode = st.st_mode & 07777;
    else {
        mode_t um = umask(0);
        umask(um);
        mode = 0644 & ~um;
    }
    const char *step = NULL;
    if (write_all(fd, data, len)) step = "write";
    else if (fchmod(fd, mode)) step = "chmod";
    else if (fsync(fd)) step = "fsync";
    int e = errno;
    if (close(fd) && !step) {
        step = "close";
        e = errno;
    }
    if (step) {
        unlink(tmp);
        free(tmp);
        free(s->target);
        s->target = NULL;
        return err_set(err, code_for(e), "cannot write '%s': %s failed: %s", path, step, strerror(e));
    }
    s->tmp = tmp;
    return 0;
}

static void stage_free(OutputStage *s) {
    free(s->target);
    free(s->tmp);
    memset(s, 0, sizeof *s);
}

void outputs_abort(OutputStage *s, int n) {
    for (int i = 0; i < n; i++) {
        if (s[i].tmp) unlink(s[i].tmp);
        stage_free(&s[i]);
    }
}

static int write_through(const OutputStage *s, Err *err) {
    int fd = open(s->target, O_WRONLY | O_NOCTTY);
    if (fd < 0) return err_set(err, code_for(errno), "cannot write '%s': %s", s->target, strerror(errno));
    int rc = write_all(fd, s->data, s->len);
    int e = errno;
    if (close(fd) && !rc) { rc = -1; e = errno; }
    return rc ? err_set(err, code_for(e), "cannot write '%s': %s", s->target, strerror(e)) : 0;
}

int outputs_commit(OutputStage *s, int n, Err *err) {
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (!s[i].tmp || rc) continue;
        if (rename(s[i].tmp, s[i].target)) {
            rc = err_set(err, code_for(errno), "cannot write '%s': rename failed: %s", s[i].target, strerror(errno));
            continue;
        }
        sync_parent_dir(s[i].target);
        free(s[i].tmp);
        s[i].tmp = NULL;
    }
    for (int i = 0; i < n && !rc; i++)
        if (s[i].target && !s[i].tmp && s[i].data) rc = write_through(&s[i], err);
    outputs_abort(s, n);
    return rc;
}

int atomic_write_file(const char *path, const void *data, size_t len, Err *err) {
    OutputStage s;
    if (output_stage(&s, path, data, len, err)) return -1;
    return outputs_commit(&s, 1, err);
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
