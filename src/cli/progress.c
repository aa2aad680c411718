/* progress.c - the CLI's one progress line (progress.h): terminal only, rewritten in place. */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

void cli_progress_init(CliProgress *p) {
    memset(p, 0, sizeof *p);
    p->on = isatty(STDERR_FILENO) == 1;
}

static void duration(char *buf, size_t cap, double s) {
    if (s < 0) s = 0;
    if (s < 90) snprintf(buf, cap, "%.0f s", s);
    else if (s < 5400) snprintf(buf, cap, "%.0f min", s / 60);
    else snprintf(buf, cap, "%.1f h", s / 3600);
}

void cli_progress_eta(char *buf, size_t cap, double elapsed_s, int done, int total) {
    char e[32], l[32];
    duration(e, sizeof e, elapsed_s);
    if (done > 0 && total >= done) {
        duration(l, sizeof l, elapsed_s / done * (total - done));
        snprintf(buf, cap, "%s, %s left", e, l);
    } else {
        snprintf(buf, cap, "%s", e);
    }
}

static int terminal_columns(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col;
    return 80;
}

void cli_progress_line(CliProgress *p, const char *fmt, ...) {
    if (!p->on) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one column short of the width: a wrapped line could not be rewritten in place */
    int cols = terminal_columns() - 1, chars = 0;
    for (char *c = line; *c; c++)
        if ((((unsigned char)*c & 0xC0) != 0x80) && ++chars > cols) { *c = 0; break; }
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->shown = true;
}

void cli_progress_clear(CliProgress *p) {
    if (p->on && p->shown) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    p->shown = false;
}

void cli_progress_keep(CliProgress *p) {
    if (p->on && p->shown) fprintf(stderr, "\n");
    p->shown = false;
}

/* what the library's steps count */
static const char *unit_of(const char *what) {
    if (!strcmp(what, "search")) return " graph evaluations (at most)";
    if (!strcmp(what, "calibrating")) return " batches";
    return "";
}

int cli_progress_optimize(const char *what, int done, int total, void *user) {
    CliProgress *p = user;
    if (strcmp(p->step, what)) {
        snprintf(p->step, sizeof p->step, "%s", what);
        p->t0 = cli_now_ms();
    }
    char eta[96];
    cli_progress_eta(eta, sizeof eta, (cli_now_ms() - p->t0) / 1e3, done, total);
    if (total > 0) cli_progress_line(p, "%s%s: %d of %d%s, %s", p->prefix, what, done, total, unit_of(what), eta);
    else cli_progress_line(p, "%s%s... %s", p->prefix, what, eta);
    return 0;
}
