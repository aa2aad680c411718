/* cost_cache.c - the cost model's table of kernel timings: an in-memory hash map from key to
 * milliseconds, backed by an append-only text file shared by every grappo process on this
 * machine with the same CPU model and thread count.
 *
 * File: <dir>/costs-v<COST_CACHE_VERSION>-<16 hex digits of the CPU model's FNV hash>-t<threads>.tsv
 * First line "# grappo costs v<version> cpu=<model> threads=<n>", then "<key>\t<ms>\n" lines.
 * Appends take an exclusive flock() and write each line with one write() on an O_APPEND
 * descriptor, so concurrent writers never interleave bytes; loads take a shared lock. Lines
 * that do not parse (the header, a line cut short by a crash, garbage) are skipped, and a
 * writer that finds the file not ending in '\n' (a crash mid-line) first closes the cut line
 * with "\t\n" - malformed whatever was cut - so the damage stays one entry. The first entry for a key wins, which keeps
 * estimates deterministic when two processes timed the same kernel. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cost_internal.h"

typedef struct Entry {
    char *key; /* NULL = empty slot */
    double ms;
} Entry;

struct CostCache {
    Entry *slots;
    size_t cap, n; /* cap is a power of two */
    char *path;    /* NULL = memory only */
    int fd;        /* open for appends, -1 when memory only */
    int threads;
    char cpu[256];
    bool created;  /* the file did not exist before this open */
};

const char *cost_cpu_model(char *buf, size_t cap) {
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return buf;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        const char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        size_t len = strcspn(v, "\r\n");
        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
        if (len) snprintf(buf, cap, "%.*s", (int)len, v);
        break;
    }
    fclose(f);
    return buf;
}

static size_t slot_of(const CostCache *c, const char *key) {
    return (size_t)fnv1a64(FNV1A_OFFSET, key, strlen(key)) & (c->cap - 1);
}

bool cost_cache_get(const CostCache *c, const char *key, double *ms) {
    for (size_t i = slot_of(c, key);; i = (i + 1) & (c->cap - 1)) {
        if (!c->slots[i].key) return false;
        if (!strcmp(c->slots[i].key, key)) { *ms = c->slots[i].ms; return true; }
    }
}

static int grow(CostCache *c) {
    size_t cap = c->cap * 2;
    Entry *s = calloc(cap, sizeof *s);
    if (!s) return -1;
    Entry *old = c->slots;
    size_t old_cap = c->cap;
    c->slots = s;
    c->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key) continue;
        size_t j = slot_of(c, old[i].key);
        while (s[j].key) j = (j + 1) & (cap - 1);
        s[j] = old[i];
    }
    free(old);
    return 0;
}

/* memory only; returns 1 when the key was already there (first value kept), 0 added, -1 OOM */
static int mem_put(CostCache *c, const char *key, double ms) {
    if ((c->n + 1) * 2 > c->cap && grow(c)) return -1;
    size_t i = slot_of(c, key);
    for (; c->slots[i].key; i = (i + 1) & (c->cap - 1))
        if (!strcmp(c->slots[i].key, key)) return 1;
    c->slots[i].key = strdup(key);
    if (!c->slots[i].key) return -1;
    c->slots[i].ms = ms;
    c->n++;
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *dir, Err *err) {
    char *p = strdup(dir);
    if (!p) return err_set(err, ERR_RUNTIME, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != 0) continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0755) && errno != EEXIST) {
            int e = errno;
            free(p);
            return err_set(err, ERR_RUNTIME, "cannot create cost cache directory '%s': %s", dir, strerror(e));
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return err_set(err, ERR_RUNTIME, "cost cache directory '%s' is not a directory", dir);
    return 0;
}

/* one "<key>\t<ms>" line (without its '\n'), or false */
static bool parse_line(char *line, size_t len, char **key, double *ms) {
    char *tab = memchr(line, '\t', len);
    if (!tab || tab == line || memchr(tab + 1, '\t', len - (size_t)(tab + 1 - line))) return false;
    if (memchr(line, 0, len)) return false;
    line[len] = 0;
    *tab = 0;
    char *end;
    errno = 0;
    double v = strtod(tab + 1, &end);
    if (errno || end == tab + 1 || *end || !isfinite(v) || v < 0) return false;
    *key = line;
    *ms = v;
    return true;
}

static int load_file(CostCache *c, Err *err) {
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : err_set(err, ERR_RUNTIME, "cannot read cost cache '%s': %s", c->path, strerror(errno));
    if (flock(fd, LOCK_SH)) { close(fd); return err_set(err, ERR_RUNTIME, "cannot lock cost cache '%s': %s", c->path, strerror(errno)); }
    struct stat st;
    char *data = NULL;
    size_t size = 0;
    int rc = 0;
    if (fstat(fd, &st)) { rc = err_set(err, ERR_RUNTIME, "cannot stat cost cache '%s': %s", c->path, strerror(errno)); goto done; }
    size = (size_t)st.st_size;
    data = malloc(size + 1);
    if (!data) { rc = err_set(err, ERR_RUNTIME, "out of memory reading cost cache"); goto done; }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* shrank under us: parse what we have */
        got += (size_t)r;
    }
    size = got;
done:
    flock(fd, LOCK_UN);
    close(fd);
    if (rc) { free(data); return rc; }
    /* only complete lines: a last line without '\n' was cut short */
    size_t start = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '\n') continue;
        char *key;
        double ms;
        if (parse_line(data + start, i - start, &key, &ms) && mem_put(c, key, ms) < 0) {
            free(data);
            return err_set(err, ERR_RUNTIME, "out of memory loading cost cache");
        }
        start = i + 1;
    }
    free(data);
    return 0;
}

static int write_all(int fd, const char *s, size_t len) {
    while (len) {
        ssize_t w = write(fd, s, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        len -= (size_t)w;
    }
    return 0;
}

CostCache *cost_cache_open(const char *dir, int threads, Err *err) {
    CostCache *c = calloc(1, sizeof *c);
    if (!c) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    c->fd = -1;
    c->threads = threads;
    c->cap = 256;
    c->slots = calloc(c->cap, sizeof *c->slots);
    if (!c->slots) { free(c); err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    cost_cpu_model(c->cpu, sizeof c->cpu);
    char def[4096];
    if (!dir) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0] == '/') snprintf(def, sizeof def, "%s/grappo", xdg);
        else if (home && home[0]) snprintf(def, sizeof def, "%s/.cache/grappo", home);
        else return c; /* nowhere to keep it: memory only */
        dir = def;
    }
    if (!dir[0]) return c;
    if (make_dirs(dir, err)) { cost_cache_close(c); return NULL; }
    uint64_t h = fnv1a64(FNV1A_OFFSET, c->cpu, strlen(c->cpu));
    size_t len = strlen(dir) + 96;
    c->path = malloc(len);
    if (!c->path) { cost_cache_close(c); err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    snprintf(c->path, len, "%s/costs-v%d-%016" PRIx64 "-t%d.tsv", dir, COST_CACHE_VERSION, h, threads);
    if (load_file(c, err)) { cost_cache_close(c); return NULL; }
    c->created = access(c->path, F_OK) != 0;
    c->fd = open(c->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (c->fd < 0) {
        err_set(err, ERR_RUNTIME, "cannot open cost cache '%s' for writing: %s", c->path, strerror(errno));
        cost_cache_close(c);
        return NULL;
    }
    return c;
}

void cost_cache_close(CostCache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->cap; i++) free(c->slots[i].key);
    free(c->slots);
    if (c->fd >= 0) close(c->fd);
    free(c->path);
    free(c);
}

static int append_line(CostCache *c, const char *key, double ms, Err *err) {
    char num[64];
    snprintf(num, sizeof num, "\t%.17g\n", ms); /* exact round trip: a reload estimates the same */
    size_t kl = strlen(key), nl = strlen(num);
    char *line = malloc(kl + nl + 3);
    if (!line) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = 0;
    if (flock(c->fd, LOCK_EX)) { free(line); return err_set(err, ERR_RUNTIME, "cannot lock cost cache '%s': %s", c->path, strerror(errno)); }
    struct stat st;
    size_t off = 0;
    if (fstat(c->fd, &st) == 0 && st.st_size == 0) {
        char head[400];
        snprintf(head, sizeof head, "# grappo costs v%d cpu=%s threads=%d\n", COST_CACHE_VERSION, c->cpu, c->threads);
        if (write_all(c->fd, head, strlen(head))) rc = -1;
    } else if (st.st_size > 0) {
        char last = '\n';
        if (pread(c->fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
            /* a crash cut the last line: end it with a tab, which no reader accepts (a second
               tab, or an empty number), so a cut "key\t4." never loads as 4 */
            line[off++] = '\t';
            line[off++] = '\n';
        }
    }
    memcpy(line + off, key, kl);
    memcpy(line + off + kl, num, nl);
    if (!rc && write_all(c->fd, line, off + kl + nl)) rc = -1;
    if (rc) err_set(err, ERR_RUNTIME, "cannot append to cost cache '%s': %s", c->path, strerror(errno));
    flock(c->fd, LOCK_UN);
    free(line);
    return rc;
}

int cost_cache_put(CostCache *c, const char *key, double ms, bool persist, Err *err) {
    if (strchr(key, '\t') || strchr(key, '\n')) return err_set(err, ERR_INPUT, "cost key contains a tab or newline");
    int r = mem_put(c, key, ms);
    if (r < 0) return err_set(err, ERR_RUNTIME, "out of memory");
    if (r == 0 && persist && c->fd >= 0) return append_line(c, key, ms, err);
    return 0;
}

int cost_cache_entries(const CostCache *c) { return (int)c->n; }
const char *cost_cache_file(const CostCache *c) { return c->path; }
bool cost_cache_created(const CostCache *c) { return c->created; }
