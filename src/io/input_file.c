/* input_file.c - bounded reads of user-named input files (see input_file.h). */
#include "input_file.h"

#include "../graph/mem_budget.h"
#include "../graph/tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int read_input_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len, Err *err) {
    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO with no writer must not wait; cleared before reading */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return err_set(err, ERR_INPUT, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return err_set(err, ERR_INPUT, "cannot read '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, ERR_INPUT, "'%s' is not a regular file (%s)", path,
                       S_ISDIR(st.st_mode) ? "a directory" : S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISBLK(st.st_mode) ? "a block device" : "a special file");
    }
    size_t budget = mem_budget(), live = tensor_live_bytes();
    size_t room = budget > live ? budget - live : 0;
    if (room < max_bytes) max_bytes = room;
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return err_set(err, ERR_INPUT, "'%s' has %lld bytes, more than this format allows or the memory budget leaves (%zu bytes; --max-memory)",
                       path, (long long)st.st_size, max_bytes);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    size_t want = (size_t)st.st_size;
    uint8_t *buf = malloc(want ? want : 1);
    if (!buf) {
        close(fd);
        return err_set(err, ERR_RUNTIME, "out of memory reading '%s' (%zu bytes)", path, want);
    }
    /* read what stat promised; a file that grows meanwhile is read up to that size */
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return err_set(err, ERR_INPUT, "cannot read '%s': %s", path, strerror(e));
        }
        if (n == 0) break; /* shrank meanwhile */
        got += (size_t)n;
    }
    close(fd);
    *data = buf;
    *len = got;
    return 0;
}
