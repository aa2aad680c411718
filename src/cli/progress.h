/* progress.h - the CLI's one progress line: on a terminal (stderr is a tty) a single line
 * rewritten in place ("\r", cleared to the end), saying what runs, how far it is and the time
 * left at the rate so far; nothing at all when stderr is not a terminal (piped, redirected,
 * under a test). The library never prints: it reports through callbacks (OptimizeProgressFn,
 * CalibOpts.progress), and every command renders them here. */
#ifndef GRAPPO_CLI_PROGRESS_H
#define GRAPPO_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct CliProgress {
    bool on;          /* stderr is a terminal */
    bool shown;       /* a line is on the screen */
    char step[64];    /* the step whose clock t0 is (cli_progress_optimize) */
    double t0;        /* when that step started, ms (cli_now_ms) */
    char prefix[256]; /* written before every cli_progress_optimize line ("" = none) */
} CliProgress;

/* on = isatty(stderr) */
void cli_progress_init(CliProgress *p);

/* "12 s" elapsed and, when 0 < done <= total, ", 30 s left" (at elapsed / done per unit) */
void cli_progress_eta(char *buf, size_t cap, double elapsed_s, int done, int total);

/* the line, replacing the one on screen (cut to the terminal's width so it never wraps) */
void cli_progress_line(CliProgress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* erase the line (before ordinary output), or end it with a newline to leave it on screen */
void cli_progress_clear(CliProgress *p);
void cli_progress_keep(CliProgress *p);

/* An OptimizeProgressFn (user = CliProgress *): "<prefix>search: 5 of 100 graph evaluations,
   12 s, 3 min left"; the clock restarts when the step's name changes. Never cancels. */
int cli_progress_optimize(const char *what, int done, int total, void *user);

#endif
