/* err.h - the error value every fallible grappo function fills in.
 *
 * Convention: a function returns 0 (or a valid pointer / index >= 0) on success and
 * -1 (or NULL) on failure, after filling *err with a code and a one-line message.
 * Deep code never prints; the CLI prints err->msg and exits with err->code.
 * err may be NULL when the caller does not care. */
#ifndef GRAPPO_ERR_H
#define GRAPPO_ERR_H

typedef enum ErrCode {
    ERR_OK = 0,
    ERR_RUNTIME = 1, /* a failure while executing: out of memory, unsupported op at run time */
    ERR_INPUT = 2,   /* bad usage or bad input: malformed file, shape mismatch, cycle, ... */
} ErrCode;

typedef struct Err {
    ErrCode code;
    char msg[2048]; /* room for a full node name (graph.h: GRAPH_MAX_NAME) and its context */
} Err;

/* Sets code and a printf-formatted message; returns -1 so callers can `return err_set(...)`. */
int err_set(Err *err, ErrCode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with "context: " (e.g. the file or node name). Returns -1. */
int err_prefix(Err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void err_clear(Err *err) { if (err) { err->code = ERR_OK; err->msg[0] = 0; } }

#endif
