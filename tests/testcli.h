/* testcli.h - running the grappo command from a cmocka suite (include after testutil.h).
 *
 * A suite gets one scratch directory `tmp` and the binary `grappo` ($GRAPPO, which make test
 * sets, else build/grappo; made absolute) from cli_init() in its setup, and removes `tmp` with cli_cleanup()
 * in its teardown. run("ARGS", ...) runs `grappo ARGS` (printf-style) with stdout and stderr
 * captured into tmp/stdout and tmp/stderr and returns the exit status (-1 when killed by a
 * signal); run_in_tmp() does the same from inside tmp, for relative output paths. slurp(NAME)
 * returns the whole of tmp/NAME as a malloc'd NUL-terminated string the caller frees, or NULL
 * when it cannot be read; file_has(NAME, TEXT) says whether it contains TEXT;
 * stderr_line_count() counts the lines of the last run's stderr. */
#ifndef GRAPPO_TESTCLI_H
#define GRAPPO_TESTCLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char tmp[256];       /* the suite's scratch directory */
static const char *grappo;  /* the binary under test */

/* Sets grappo (made absolute, so run_in_tmp finds it) and makes tmp (/tmp/<prefix>XXXXXX);
 * 0, or -1 when the directory cannot be made. */
static inline int cli_init(const char *prefix) {
    static char abs_path[1024];
    grappo = getenv("GRAPPO") ? getenv("GRAPPO") : "build/grappo";
    char cwd[512];
    if (grappo[0] != '/' && getcwd(cwd, sizeof cwd)) {
        snprintf(abs_path, sizeof abs_path, "%s/%s", cwd, grappo);
        grappo = abs_path;
    }
    snprintf(tmp, sizeof tmp, "/tmp/%sXXXXXX", prefix);
    return mkdtemp(tmp) ? 0 : -1;
}

static inline int cli_cleanup(void) { return tu_rmtree(tmp); }

static inline int cli_vrun(bool in_tmp, const char *fmt, va_list ap) {
    char args[4096], cmd[8192];
    vsnprintf(args, sizeof args, fmt, ap);
    if (in_tmp) snprintf(cmd, sizeof cmd, "cd %s && %s %s >stdout 2>stderr", tmp, grappo, args);
    else snprintf(cmd, sizeof cmd, "%s %s >%s/stdout 2>%s/stderr", grappo, args, tmp, tmp);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = cli_vrun(false, fmt, ap);
    va_end(ap);
    return rc;
}

/* run() from inside tmp */
static inline int run_in_tmp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run_in_tmp(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = cli_vrun(true, fmt, ap);
    va_end(ap);
    return rc;
}

static inline char *slurp(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return tu_read_text(path);
}

/* whether tmp/name can be read and contains needle */
static inline bool file_has(const char *name, const char *needle) {
    char *text = slurp(name);
    bool has = text && strstr(text, needle);
    free(text);
    return has;
}

/* lines of tmp/stderr (-1 when it cannot be read) */
static inline int stderr_line_count(void) {
    char *err = slurp("stderr");
    if (!err) return -1;
    int lines = 0;
    for (const char *c = err; *c; c++) lines += *c == '\n';
    free(err);
    return lines;
}

#endif
