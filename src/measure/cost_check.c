/* cost_check.c - which entries of a cost table look like preemption artifacts rather than
 * kernel times (`grappo cost --check`), and a table rewritten without them (`--fix`).
 *
 * An entry is judged from its key alone (every entry of a table can be checked, not only the
 * kernels of some graph at hand): the key names the op, its input and output dtypes and
 * shapes, and the attributes, which give the bytes a kernel moves and, for convolutions and
 * matrix products, its multiply-adds; with them the roofline time (cost_roofline.c's formula,
 * one definition). Entries are grouped by class: op and dtypes ("Cast float32->bfloat16",
 * "_FusedConv2D float32"). An entry is suspicious when it is at least COST_SUSPECT_MIN_MS and
 * its time over its roofline exceeds COST_SUSPECT_CLASS times its class's median ratio (for a
 * class of fewer than 3 entries, COST_SUSPECT_ROOFLINE times the roofline itself). Why: a
 * kernel timed while another process held a core is inflated by scheduler ticks (the shipped
 * table's 11-19 ms band on kernels of microseconds), while a kernel that is slow for a reason
 * (a reference fallback) is slow with all its class. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cost_internal.h"

typedef struct Parsed {
    char cls[192];             /* op and dtypes */
    double bytes, flops;
} Parsed;

/* "float32[1,16,128]k" at s: dtype bytes and element count; *end after it */
static bool parse_tensor(const char *s, const char **end, char *dtype, size_t cap, double *elems, int64_t *dims, int *rank) {
    const char *b = strchr(s, '[');
    if (!b || (size_t)(b - s) >= cap) return false;
    memcpy(dtype, s, (size_t)(b - s));
    dtype[b - s] = 0;
    *elems = 1;
    *rank = 0;
    const char *p = b + 1;
    while (*p && *p != ']') {
        char *q;
        long long v = strtoll(p, &q, 10);
        if (q == p) { /* "?" or another unknown dimension */
            v = 1;
            q = (char *)p + 1;
        }
        if (*rank < 8) dims[(*rank)++] = v;
        *elems *= (double)(v > 0 ? v : 1);
        p = q;
        if (*p == ',') p++;
    }
    if (*p != ']') return false;
    p++;
    if (*p == 'k') p++;
    *end = p;
    return true;
}

static bool parse_key(const char *key, Parsed *out) {
    memset(out, 0, sizeof *out);
    const char *bar = strchr(key, '|');
    if (!bar) return false;
    int op_len = (int)(bar - key);
    const char *in = strstr(bar, "|in="), *outp = strstr(bar, "|out=");
    if (!in || !outp) return false;
    char dtypes[128] = "", dt[32];
    size_t dl = 0;
    int64_t dims[4][8];
    int ranks[4] = {0}, n_in = 0;
    double in_elems[4] = {0}, out_elems = 0;
    const char *p = in + 4;
    while (*p && *p != '|') {
        double e;
        int64_t d[8];
        int r;
        if (!parse_tensor(p, &p, dt, sizeof dt, &e, d, &r)) return false;
        int size = (int)dtype_size(dtype_from_name(dt));
        out->bytes += e * (size > 0 ? size : 4);
        if (n_in < 4) {
            in_elems[n_in] = e;
            memcpy(dims[n_in], d, sizeof d);
            ranks[n_in] = r;
        }
        if (n_in < 2 && dl < sizeof dtypes - 40) dl += (size_t)snprintf(dtypes + dl, sizeof dtypes - dl, "%s%s", n_in ? "," : "", dt);
        n_in++;
        if (*p == ',') p++;
    }
    p = outp + 5;
    if (dl < sizeof dtypes - 40) dl += (size_t)snprintf(dtypes + dl, sizeof dtypes - dl, "->");
    for (int k = 0; *p && *p != '|'; k++) {
        double e;
        int64_t d[8];
        int r;
        if (!parse_tensor(p, &p, dt, sizeof dt, &e, d, &r)) return false;
        int size = (int)dtype_size(dtype_from_name(dt));
        out->bytes += e * (size > 0 ? size : 4);
        if (k == 0) {
            out_elems = e;
            if (dl < sizeof dtypes - 40) dl += (size_t)snprintf(dtypes + dl, sizeof dtypes - dl, "%s", dt);
        }
        if (*p == ',') p++;
    }
    snprintf(out->cls, sizeof out->cls, "%.*s %s", op_len, key, dtypes);
    /* multiply-adds of the ops whose time is arithmetic: a filter (HWIO) or an inner dimension */
    bool nchw = strstr(key, "data_format=NCHW") != NULL;
    (void)nchw;
    if (strstr(key, "Conv2D|") || strstr(key, "QConv2D|")) {
        if (n_in >= 2 && ranks[1] == 4 && dims[1][3] > 0) out->flops = 2 * out_elems * in_elems[1] / (double)dims[1][3];
    } else if (strstr(key, "Depthwise")) {
        if (n_in >= 2 && ranks[1] == 4) out->flops = 2 * out_elems * (double)(dims[1][0] * dims[1][1]);
    } else if (strstr(key, "MatMul|") || strstr(key, "BatchMatMul")) {
        int r = ranks[0];
        bool ta = strstr(key, "transpose_a=t") || strstr(key, "adj_x=t");
        if (n_in >= 1 && r >= 2) out->flops = 2 * out_elems * (double)(ta ? dims[0][r - 2] : dims[0][r - 1]);
    }
    return true;
}

/* the roofline of a parsed key, with the defaults of cost_roofline.c */
static double parsed_roofline(const Parsed *p) {
    CostOpts o = {0};
    return cost_roofline_of(p->flops, p->bytes, &o);
}

typedef struct Row { char *key; double ms, roof, ratio; int cls; } Row;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void cost_check_free(CostCheck *c) {
    if (!c) return;
    for (int i = 0; i < c->n_suspects; i++) free(c->suspects[i].key);
    free(c->suspects);
    memset(c, 0, sizeof *c);
}

int cost_check_file(const char *path, CostCheck *out, Err *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return err_set(err, ERR_INPUT, "cannot read cost table '%s': %s", path, strerror(errno));
    Row *rows = NULL;
    int n = 0, cap = 0, rc = -1;
    char **cls = NULL;
    int n_cls = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        if (line[len - 1] != '\n') break; /* cut short */
        line[--len] = 0;
        char *tab = strchr(line, '\t');
        if (!tab || line[0] == '#') continue;
        *tab = 0;
        char *end;
        double ms = strtod(tab + 1, &end);
        if (end == tab + 1 || *end || !isfinite(ms) || ms < 0) continue;
        out->entries++;
        Parsed p;
        if (!parse_key(line, &p)) { out->unparsed++; continue; }
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            Row *r = realloc(rows, sizeof *r * (size_t)cap);
            if (!r) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
            rows = r;
        }
        int c = -1;
        for (int k = 0; k < n_cls && c < 0; k++)
            if (!strcmp(cls[k], p.cls)) c = k;
        if (c < 0) {
            char **nc = realloc(cls, sizeof *nc * (size_t)(n_cls + 1));
            if (!nc) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
            cls = nc;
            if (!(cls[n_cls] = strdup(p.cls))) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
            c = n_cls++;
        }
        double roof = parsed_roofline(&p);
        rows[n] = (Row){strdup(line), ms, roof, ms / roof, c};
        if (!rows[n].key) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
        n++;
    }
    out->classes = n_cls;
    /* each class's median ratio */
    double *med = calloc((size_t)n_cls + 1, sizeof *med), *buf = malloc(sizeof *buf * (size_t)(n + 1));
    int *count = calloc((size_t)n_cls + 1, sizeof *count);
    if (!med || !buf || !count) { free(med); free(buf); free(count); err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    for (int c = 0; c < n_cls; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (rows[i].cls == c) buf[m++] = rows[i].ratio;
        qsort(buf, (size_t)m, sizeof *buf, cmp_d);
        med[c] = m % 2 ? buf[m / 2] : 0.5 * (buf[m / 2 - 1] + buf[m / 2]);
        count[c] = m;
    }
    for (int i = 0; i < n; i++) {
        const Row *r = &rows[i];
        if (r->ms < COST_SUSPECT_MIN_MS) continue;
        bool big_class = count[r->cls] >= 3;
        double limit = big_class ? COST_SUSPECT_CLASS * med[r->cls] : COST_SUSPECT_ROOFLINE;
        if (!(r->ratio > limit)) continue;
        CostSuspect *s = realloc(out->suspects, sizeof *s * (size_t)(out->n_suspects + 1));
        if (!s) { free(med); free(buf); free(count); err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
        out->suspects = s;
        s[out->n_suspects++] = (CostSuspect){strdup(r->key), r->ms, r->roof, big_class ? med[r->cls] * r->roof : NAN};
    }
    free(med);
    free(buf);
    free(count);
    rc = 0;
done:
    free(line);
    fclose(f);
    for (int i = 0; i < n; i++) free(rows[i].key);
    free(rows);
    for (int k = 0; k < n_cls; k++) free(cls[k]);
    free(cls);
    if (rc) cost_check_free(out);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cost_check_remove(const char *path, const CostCheck *c, int *removed, Err *err) {
    *removed = 0;
    char **keys = malloc(sizeof *keys * (size_t)(c->n_suspects + 1));
    if (!keys) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int i = 0; i < c->n_suspects; i++) keys[i] = c->suspects[i].key;
    qsort(keys, (size_t)c->n_suspects, sizeof *keys, cmp_str);
    size_t plen = strlen(path) + 16;
    char *tmp = malloc(plen);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    FILE *in = NULL, *o = NULL;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int rc = -1;
    if (!tmp) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    if (fd < 0) { err_set(err, ERR_INPUT, "cannot open cost table '%s': %s", path, strerror(errno)); goto done; }
    /* writers append under this lock: none adds a line while the table is rewritten */
    if (flock(fd, LOCK_EX)) { err_set(err, ERR_RUNTIME, "cannot lock '%s': %s", path, strerror(errno)); goto done; }
    snprintf(tmp, plen, "%s.fix", path);
    in = fopen(path, "r");
    o = fopen(tmp, "w");
    if (!in || !o) { err_set(err, ERR_RUNTIME, "cannot rewrite cost table '%s': %s", path, strerror(errno)); goto done; }
    while ((len = getline(&line, &lcap, in)) > 0) {
        char *tab = memchr(line, '\t', (size_t)len);
        if (tab && line[0] != '#') {
            *tab = 0;
            char *k = line;
            bool drop = bsearch(&k, keys, (size_t)c->n_suspects, sizeof *keys, cmp_str) != NULL;
            *tab = '\t';
            if (drop) { (*removed)++; continue; }
        }
        if (fwrite(line, 1, (size_t)len, o) != (size_t)len) { err_set(err, ERR_RUNTIME, "cannot write '%s'", tmp); goto done; }
    }
    if (fclose(o)) { o = NULL; err_set(err, ERR_RUNTIME, "cannot write '%s'", tmp); goto done; }
    o = NULL;
    if (rename(tmp, path)) { err_set(err, ERR_RUNTIME, "cannot replace '%s': %s", path, strerror(errno)); goto done; }
    rc = 0;
done:
    if (o) { fclose(o); unlink(tmp); }
    if (in) fclose(in);
    if (fd >= 0) close(fd);
    free(line);
    free(tmp);
    free(keys);
    return rc;
}
