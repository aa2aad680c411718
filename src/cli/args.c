/* args.c - argument scanning, number parsing and error printing for the CLI. */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "../graph/mem_budget.h"

bool arg_opt(Args *a, const char *name, const char **value, bool *bad) {
    const char *s = a->argv[a->i];
    size_t len = strlen(name);
    if (strncmp(s, name, len)) return false;
    if (s[len] == '=') {
        *value = s + len + 1;
        return true;
    }
    if (s[len] != 0) return false;
    if (a->i + 1 >= a->argc) {
        fprintf(stderr, "grappo %s: option %s needs a value\n", a->cmd, name);
        *bad = true;
        return true;
    }
    *value = a->argv[++a->i];
    return true;
}

bool arg_flag(Args *a, const char *name) { return !strcmp(a->argv[a->i], name); }

bool parse_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "grappo %s: %s wants an integer in [%lld, %lld], got '%s'\n", cmd, opt, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool parse_shape(const char *s, Shape *out) {
    Shape sh = {.rank = 0};
    if (!*s) { *out = sh; return true; } /* "" = scalar */
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p || v < 0 || v > (1LL << 40) || sh.rank >= MAX_RANK) return false;
        sh.dim[sh.rank++] = v;
        if (*end == 0) break;
        if (*end != ',' && *end != 'x') return false;
        p = end + 1;
    }
    *out = sh;
    return true;
}

int cli_fail(const Err *err) {
    fprintf(stderr, "grappo: %s\n", err->msg);
    return err->code == ERR_RUNTIME ? EXIT_RUNTIME : EXIT_USAGE;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "grappo %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see grappo %s --help)\n", cmd);
    return EXIT_USAGE;
}

/* --signature / --tags, taken out of argv by cli_take_model_opts before the command parses */
static ModelLoadOpts model_opts;

int cli_take_model_opts(int *argc, char **argv) {
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        const char **slot = NULL, *name = NULL;
        if (!strncmp(argv[i], "--signature", 11)) slot = &model_opts.saved_model.signature, name = "--signature";
        else if (!strncmp(argv[i], "--tags", 6)) slot = &model_opts.saved_model.tags, name = "--tags";
        size_t len = name ? strlen(name) : 0;
        if (slot && argv[i][len] == '=') {
            *slot = argv[i] + len + 1;
            continue;
        }
        if (slot && argv[i][len] == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "grappo: option %s needs a value\n", name);
                return -1;
            }
            *slot = argv[++i];
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

Graph *cli_load_model(const char *spec, Err *err) { return model_load_with(spec, &model_opts, err); }

static const char *fmt_scaled(double v, const char *const *units, double step, char *buf, size_t cap) {
    int u = 0;
    while (v >= step * 0.9995 && units[u + 1]) { v /= step; u++; }
    if (u == 0) snprintf(buf, cap, "%.0f%s", v, units[0]);
    else snprintf(buf, cap, "%.2f %s", v, units[u]);
    return buf;
}

const char *fmt_count(double v, char *buf, size_t cap) {
    static const char *const units[] = {"", "K", "M", "G", "T", NULL};
    return fmt_scaled(v, units, 1000.0, buf, cap);
}

const char *fmt_bytes(double v, char *buf, size_t cap) {
    static const char *const units[] = {" B", "KiB", "MiB", "GiB", "TiB", NULL};
    return fmt_scaled(v, units, 1024.0, buf, cap);
}

bool parse_input_shape(const char *cmd, const char *arg, InputSpec *spec) {
    const char *eq = strrchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "grappo %s: --input-shape wants NAME=D1,D2,..., got '%s'\n", cmd, arg);
        return false;
    }
    char *name = strndup(arg, (size_t)(eq - arg));
    if (!name || !parse_shape(eq + 1, &spec->shape)) {
        fprintf(stderr, "grappo %s: bad shape in '%s' (want e.g. 1,224,224,3)\n", cmd, arg);
        free(name);
        return false;
    }
    spec->name = name; /* owned by the caller: free((char *)spec->name) */
    spec->dtype = DT_INVALID;
    return true;
}

int cli_prepare(Graph *g, const InputSpec *specs, int n_specs, Err *err) { return model_prepare(g, specs, n_specs, err); }

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

const char *cli_default_policy_path(char *buf, size_t cap) { return optimize_default_policy_path(buf, cap); }

bool parse_byte_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v > 0) || !(v < 1.8e19)) return false;
    static const struct { const char *suffix; double scale; } units[] = {
        {"", 1},         {"B", 1},           {"K", 1e3},   {"KB", 1e3},           {"k", 1e3},   {"kB", 1e3},
        {"KiB", 1024.0}, {"M", 1e6},         {"MB", 1e6},  {"MiB", 1048576.0},    {"G", 1e9},   {"GB", 1e9},
        {"GiB", 1073741824.0}, {"T", 1e12},  {"TB", 1e12}, {"TiB", 1099511627776.0},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].suffix)) {
            double b = v * units[i].scale;
            if (!(b >= 1 && b < 1.8e19)) return false;
            *out = (size_t)b;
            return true;
        }
    return false;
}

int cli_take_max_memory(int *argc, char **argv) {
    int w = 1;
    for (int r = 1; r < *argc; r++) {
        const char *v = NULL;
        if (!strcmp(argv[r], "--max-memory")) {
            if (r + 1 >= *argc) { fprintf(stderr, "grappo: option --max-memory needs a value\n"); return -1; }
            v = argv[++r];
        } else if (!strncmp(argv[r], "--max-memory=", 13)) {
            v = argv[r] + 13;
        } else {
            argv[w++] = argv[r];
            continue;
        }
        size_t b;
        if (!parse_byte_size(v, &b)) {
            fprintf(stderr, "grappo: --max-memory wants bytes such as 2000000000, 2GB or 1.5GiB, got '%s'\n", v);
            return -1;
        }
        mem_budget_set(b);
    }
    *argc = w;
    argv[w] = NULL;
    return 0;
}

bool parse_accuracy_drop(const char *s, double *drop) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s) return false;
    if (*end == '%' && !end[1]) {
        v /= 100;
        end++;
    }
    if (*end || !(v >= 0 && v < 1)) return false;
    *drop = v;
    return true;
}

bool parse_duration(const char *s, double *seconds) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v > 0) || !isfinite(v)) return false;
    double scale = !*end || !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 : 0;
    if (!scale || !(v * scale < 1e9)) return false;
    *seconds = v * scale;
    return true;
}
