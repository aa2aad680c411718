/* pbtxt.c - protobuf text format GraphDef -> binary GraphDef -> Graph (see pbtxt.h).
 *
 * A schema table (pbtxt_schema.c, TensorFlow's field names and numbers) drives a
 * recursive-descent parser that writes each message's wire bytes into its own buffer; a nested
 * message is appended to its parent as one length-delimited field once complete. Repeated
 * numeric fields are collected and written packed at the place of their first value, as
 * TensorFlow's serializer writes them. */
#include "pbtxt.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../graph/mem_budget.h"
#include "input_file.h"
#include "pb_wire.h"
#include "pbtxt_schema.h"

/* ---- lexer ---- */

typedef enum Tok { T_EOF, T_IDENT, T_NUMBER, T_STRING, T_SYMBOL } Tok;

typedef struct Parser {
    const char *p, *end, *line_start;
    int line;
    /* current token */
    Tok tok;
    const char *ts; /* its text */
    size_t tlen;
    int tline, tcol;
    size_t produced, limit; /* wire bytes written so far, and the most allowed */
    const char *what;
    Err *err;
} Parser;

static int fail(Parser *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(Parser *P, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(P->err, ERR_INPUT, "%s:%d:%d: %s", P->what, P->tline, P->tcol, msg);
}

/* the current token, quoted for messages (at most 40 bytes, non-printables as '?') */
static const char *tok_text(const Parser *P, char *buf, size_t cap) {
    if (P->tok == T_EOF) return "end of file";
    size_t n = P->tlen < 40 ? P->tlen : 40, k = 0;
    buf[k++] = '\'';
    for (size_t i = 0; i < n && k + 5 < cap; i++) buf[k++] = isprint((unsigned char)P->ts[i]) ? P->ts[i] : '?';
    if (n < P->tlen && k + 5 < cap) buf[k++] = '.', buf[k++] = '.', buf[k++] = '.';
    buf[k++] = '\'';
    buf[k] = 0;
    return buf;
}

static bool is_ident_start(int c) { return isalpha(c) || c == '_'; }
static bool is_ident_char(int c) { return isalnum(c) || c == '_'; }

/* Reads the next token into P (strings are only delimited here; their escapes are checked
 * when decoded). */
static int next(Parser *P) {
    for (;;) {
        while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\r' || *P->p == '\n' || *P->p == '\f' ||
                                 *P->p == '\v')) {
            if (*P->p == '\n') P->line++, P->line_start = P->p + 1;
            P->p++;
        }
        if (P->p < P->end && *P->p == '#') {
            while (P->p < P->end && *P->p != '\n') P->p++;
            continue;
        }
        break;
    }
    P->ts = P->p;
    P->tline = P->line;
    P->tcol = (int)(P->p - P->line_start) + 1;
    if (P->p >= P->end) {
        P->tok = T_EOF;
        P->tlen = 0;
        return 0;
    }
    int c = (unsigned char)*P->p;
    if (is_ident_start(c)) {
        while (P->p < P->end && is_ident_char((unsigned char)*P->p)) P->p++;
        P->tok = T_IDENT;
    } else if (isdigit(c) || (c == '.' && P->p + 1 < P->end && isdigit((unsigned char)P->p[1]))) {
        /* digits, letters (hex, exponent, f suffix), '.', and a sign right after an exponent */
        bool hex = c == '0' && P->p + 1 < P->end && (P->p[1] == 'x' || P->p[1] == 'X');
        P->p++;
        while (P->p < P->end) {
            int d = (unsigned char)*P->p;
            if (is_ident_char(d) || d == '.') P->p++;
            else if ((d == '+' || d == '-') && !hex && (P->p[-1] == 'e' || P->p[-1] == 'E')) P->p++;
            else break;
        }
        P->tok = T_NUMBER;
    } else if (c == '"' || c == '\'') {
        P->p++;
        while (P->p < P->end && *P->p != c && *P->p != '\n') {
            if (*P->p == '\\' && P->p + 1 < P->end && P->p[1] != '\n') P->p++;
            P->p++;
        }
        if (P->p >= P->end || *P->p != c) {
            P->tlen = 1;
            return fail(P, "unterminated string");
        }
        P->p++;
        P->tok = T_STRING;
    } else if (strchr("{}<>[]:,;-", c)) {
        P->p++;
        P->tok = T_SYMBOL;
    } else {
        P->tlen = 1;
        P->tok = T_SYMBOL;
        char buf[64];
        return fail(P, "unexpected character %s", tok_text(P, buf, sizeof buf));
    }
    P->tlen = (size_t)(P->p - P->ts);
    return 0;
}

static bool is_sym(const Parser *P, char c) { return P->tok == T_SYMBOL && P->ts[0] == c; }

static int expect_sym(Parser *P, char c, const char *context) {
    if (!is_sym(P, c)) {
        char buf[64];
        return fail(P, "expected '%c' %s, found %s", c, context, tok_text(P, buf, sizeof buf));
    }
    return next(P);
}

/* ---- values ---- */

static int account(Parser *P, size_t n) {
    P->produced += n;
    if (P->produced > P->limit)
        return fail(P, "the GraphDef would take more than %zu bytes (the format's limit or the memory budget; --max-memory)",
                    P->limit);
    return 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the current string token's escapes into out (tokens were delimited by next()). */
static int decode_string(Parser *P, ByteBuf *out) {
    const char *s = P->ts + 1, *e = P->ts + P->tlen - 1;
    while (s < e) {
        if (*s != '\\') {
            const char *run = s;
            while (s < e && *s != '\\') s++;
            bb_put(out, run, (size_t)(s - run));
            continue;
        }
        s++; /* the escape's letter: next() made sure there is one */
        uint8_t b;
        switch (*s) {
        case 'n': b = '\n'; s++; break;
        case 't': b = '\t'; s++; break;
        case 'r': b = '\r'; s++; break;
        case 'a': b = '\a'; s++; break;
        case 'b': b = '\b'; s++; break;
        case 'f': b = '\f'; s++; break;
        case 'v': b = '\v'; s++; break;
        case '\\': case '\'': case '"': case '?': b = (uint8_t)*s++; break;
        case 'x': case 'X': {
            s++;
            int v = 0, n = 0;
            while (n < 2 && s < e && hexval((unsigned char)*s) >= 0) v = v * 16 + hexval((unsigned char)*s++), n++;
            if (!n) return fail(P, "string has '\\x' without hex digits");
            b = (uint8_t)v;
            break;
        }
        default:
            if (*s >= '0' && *s <= '7') {
                int v = 0, n = 0;
                while (n < 3 && s < e && *s >= '0' && *s <= '7') v = v * 8 + (*s++ - '0'), n++;
                if (v > 255) return fail(P, "string has an octal escape above \\377");
                b = (uint8_t)v;
                break;
            }
            return fail(P, "string has an invalid escape '\\%c'", isprint((unsigned char)*s) ? *s : '?');
        }
        bb_put(out, &b, 1);
    }
    return 0;
}

/* one or more adjacent string tokens, concatenated */
static int parse_string(Parser *P, ByteBuf *out) {
    if (P->tok != T_STRING) {
        char buf[64];
        return fail(P, "expected a string, found %s", tok_text(P, buf, sizeof buf));
    }
    while (P->tok == T_STRING) {
        if (decode_string(P, out) || next(P)) return -1;
    }
    return 0;
}

/* An unsigned integer token (decimal, 0x hex, 0 octal) -> *v; -1 if not an integer or over
 * UINT64_MAX. */
static int token_u64(const Parser *P, uint64_t *v) {
    char buf[80];
    if (P->tok != T_NUMBER || P->tlen >= sizeof buf) return -1;
    memcpy(buf, P->ts, P->tlen);
    buf[P->tlen] = 0;
    int base = 10;
    const char *digits = buf;
    if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) base = 16, digits = buf + 2;
    else if (buf[0] == '0' && buf[1]) base = 8, digits = buf + 1;
    if (!*digits) return -1;
    for (const char *c = digits; *c; c++) {
        int d = hexval((unsigned char)*c);
        if (d < 0 || d >= base) return -1;
    }
    errno = 0;
    char *endp;
    unsigned long long x = strtoull(digits, &endp, base);
    if (errno || *endp) return -1;
    *v = x;
    return 0;
}

/* an optional '-' then an integer in [lo, hi] */
static int parse_int(Parser *P, int64_t lo, uint64_t hi, uint64_t *bits) {
    bool neg = false;
    char buf[64];
    if (is_sym(P, '-')) {
        neg = true;
        if (next(P)) return -1;
    }
    uint64_t u;
    if (token_u64(P, &u)) return fail(P, "expected an integer, found %s", tok_text(P, buf, sizeof buf));
    if (neg) {
        if (lo == 0 && u) return fail(P, "negative value for an unsigned field");
        if (u > (uint64_t)(-(lo + 1)) + 1) return fail(P, "integer %s is out of range", tok_text(P, buf, sizeof buf));
        *bits = (uint64_t)0 - u;
    } else {
        if (u > hi) return fail(P, "integer %s is out of range", tok_text(P, buf, sizeof buf));
        *bits = u;
    }
    return next(P);
}

static bool ident_is(const Parser *P, const char *word) {
    return P->tok == T_IDENT && strlen(word) == P->tlen && !strncasecmp(P->ts, word, P->tlen);
}

static int parse_double(Parser *P, double *out) {
    bool neg = false;
    char buf[80];
    if (is_sym(P, '-')) {
        neg = true;
        if (next(P)) return -1;
    }
    double v;
    if (ident_is(P, "inf") || ident_is(P, "infinity")) v = INFINITY;
    else if (ident_is(P, "nan")) v = NAN;
    else {
        uint64_t u;
        if (P->tok == T_NUMBER && !token_u64(P, &u)) v = (double)u;
        else {
            if (P->tok != T_NUMBER || P->tlen >= sizeof buf)
                return fail(P, "expected a number, found %s", tok_text(P, buf, sizeof buf));
            memcpy(buf, P->ts, P->tlen);
            size_t n = P->tlen;
            if (buf[n - 1] == 'f' || buf[n - 1] == 'F') n--; /* 1.5f */
            buf[n] = 0;
            for (size_t i = 0; i < n; i++) /* strtod would also take hex floats and "infinity" */
                if (!isdigit((unsigned char)buf[i]) && !strchr(".eE+-", buf[i])) n = 0;
            char *endp;
            v = n ? strtod(buf, &endp) : 0;
            if (!n || *endp) return fail(P, "expected a number, found %s", tok_text(P, buf, sizeof buf));
        }
    }
    *out = neg ? -v : v;
    return next(P);
}

static int parse_enum(Parser *P, const EnumName *names, bool refs, uint64_t *bits) {
    if (P->tok == T_IDENT) {
        for (const EnumName *e = names; e->name; e++) {
            size_t n = strlen(e->name);
            if (P->tlen == n && !memcmp(P->ts, e->name, n)) {
                *bits = (uint64_t)(int64_t)e->value;
                return next(P);
            }
            if (refs && e->value && P->tlen == n + 4 && !memcmp(P->ts, e->name, n) && !memcmp(P->ts + n, "_REF", 4)) {
                *bits = (uint64_t)(int64_t)(e->value + DTYPE_REF_OFFSET);
                return next(P);
            }
        }
        char buf[64];
        return fail(P, "unknown enum value %s", tok_text(P, buf, sizeof buf));
    }
    return parse_int(P, INT32_MIN, INT32_MAX, bits);
}

/* Where repeated numbers of one field collect until the message ends. */
typedef struct Packed {
    const Field *field;
    size_t at; /* offset in the message's buffer where the packed field goes */
    ByteBuf data;
} Packed;

typedef struct MsgOut {
    ByteBuf buf;
    Packed packed[24];
    int n_packed;
} MsgOut;

static bool is_packable(Kind k) { return k != K_STRING && k != K_MSG; }

static void put_fixed(ByteBuf *b, uint64_t v, int n) {
    uint8_t x[8];
    for (int i = 0; i < n; i++) x[i] = (uint8_t)(v >> (8 * i));
    bb_put(b, x, (size_t)n);
}

/* Parses one scalar value of field f and writes it: packed into the message's collector for
 * repeated numbers, else as a tagged field. */
static int parse_scalar(Parser *P, const Field *f, MsgOut *m) {
    ByteBuf *dst = &m->buf;
    size_t before_len;
    if (f->repeated && is_packable(f->kind)) {
        Packed *pk = NULL;
        for (int i = 0; i < m->n_packed; i++)
            if (m->packed[i].field == f) pk = &m->packed[i];
        if (!pk) {
            if (m->n_packed == (int)(sizeof m->packed / sizeof m->packed[0]))
                return fail(P, "too many repeated fields"); /* the schema has fewer */
            pk = &m->packed[m->n_packed++];
            *pk = (Packed){f, m->buf.len, {0}};
        }
        dst = &pk->data;
    } else if (f->kind == K_STRING) {
        ByteBuf s = {0};
        if (parse_string(P, &s)) {
            bb_free(&s);
            return -1;
        }
        int rc = account(P, s.len + 16);
        bb_len_field(dst, f->number, s.data, s.len);
        bb_free(&s);
        return rc;
    } else {
        bb_tag(dst, f->number, f->kind == K_FLOAT ? PB_I32 : f->kind == K_DOUBLE ? PB_I64 : PB_VARINT);
    }
    before_len = dst->len;
    uint64_t bits = 0;
    double d;
    switch (f->kind) {
    case K_INT32:
        if (parse_int(P, INT32_MIN, INT32_MAX, &bits)) return -1;
        bb_varint(dst, bits); /* negative int32 is sign-extended to 10 bytes, as protobuf does */
        break;
    case K_INT64:
        if (parse_int(P, INT64_MIN, INT64_MAX, &bits)) return -1;
        bb_varint(dst, bits);
        break;
    case K_UINT32:
        if (parse_int(P, 0, UINT32_MAX, &bits)) return -1;
        bb_varint(dst, bits);
        break;
    case K_UINT64:
        if (parse_int(P, 0, UINT64_MAX, &bits)) return -1;
        bb_varint(dst, bits);
        break;
    case K_BOOL:
        if (ident_is(P, "true") || ident_is(P, "t")) bits = 1;
        else if (ident_is(P, "false") || ident_is(P, "f")) bits = 0;
        else if (P->tok == T_NUMBER && !token_u64(P, &bits) && bits <= 1) {
        } else {
            char buf[64];
            return fail(P, "expected true or false, found %s", tok_text(P, buf, sizeof buf));
        }
        if (next(P)) return -1;
        bb_varint(dst, bits);
        break;
    case K_FLOAT: {
        if (parse_double(P, &d)) return -1;
        float x;
        if (isfinite(d) && fabs(d) > FLT_MAX) x = d > 0 ? INFINITY : -INFINITY; /* as protobuf rounds */
        else x = (float)d;
        uint32_t u;
        memcpy(&u, &x, 4);
        put_fixed(dst, u, 4);
        break;
    }
    case K_DOUBLE: {
        if (parse_double(P, &d)) return -1;
        memcpy(&bits, &d, 8);
        put_fixed(dst, bits, 8);
        break;
    }
    case K_DTYPE:
        if (parse_enum(P, PBTXT_DTYPE_NAMES, true, &bits)) return -1;
        bb_varint(dst, bits);
        break;
    case K_FULLTYPE:
        if (parse_enum(P, PBTXT_FULLTYPE_NAMES, false, &bits)) return -1;
        bb_varint(dst, bits);
        break;
    default: return fail(P, "internal: field kind %d", (int)f->kind);
    }
    return account(P, dst->len - before_len + 2);
}

static int parse_message_body(Parser *P, const Msg *msg, int depth, char close, ByteBuf *out);

/* a map entry's key or value left out: written as its type's default (strings, numbers and
   messages are all that map entries here hold) */
static void put_default(ByteBuf *out, const Field *f) {
    if (f->kind == K_STRING || f->kind == K_MSG) bb_len_field(out, f->number, NULL, 0);
    else {
        bb_tag(out, f->number, PB_VARINT);
        bb_varint(out, 0);
    }
}

/* '{' or '<' message '}' or '>', appended to m as field f */
static int parse_submessage(Parser *P, const Field *f, MsgOut *m, int depth) {
    char close;
    if (is_sym(P, '{')) close = '}';
    else if (is_sym(P, '<')) close = '>';
    else {
        char buf[64];
        return fail(P, "expected '{' to start %s '%s', found %s", f->msg->name, f->name, tok_text(P, buf, sizeof buf));
    }
    if (depth + 1 > PBTXT_MAX_DEPTH) return fail(P, "messages nested deeper than %d", PBTXT_MAX_DEPTH);
    if (next(P)) return -1;
    ByteBuf sub = {0};
    int rc = parse_message_body(P, f->msg, depth + 1, close, &sub);
    if (!rc) {
        rc = account(P, 16);
        bb_len_field(&m->buf, f->number, sub.data, sub.len);
    }
    bb_free(&sub);
    return rc;
}

static int parse_value(Parser *P, const Field *f, MsgOut *m, int depth) {
    return f->kind == K_MSG ? parse_submessage(P, f, m, depth) : parse_scalar(P, f, m);
}

/* fields up to the closing symbol (0 = end of file), written into *out */
static int parse_message_body(Parser *P, const Msg *msg, int depth, char close, ByteBuf *out) {
    MsgOut m = {0};
    uint64_t seen = 0; /* non-repeated fields given, by index in msg->fields */
    int oneof_set[2] = {-1, -1};
    char buf[64];
    int rc = 0;
    for (;;) {
        if (close ? is_sym(P, close) : P->tok == T_EOF) break;
        if (P->tok == T_EOF) {
            rc = fail(P, "expected '%c' to close %s, found end of file", close, msg->name);
            goto done;
        }
        if (is_sym(P, '[')) {
            rc = fail(P, "extension and Any fields ('[...]') are not supported in %s", msg->name);
            goto done;
        }
        if (P->tok != T_IDENT) {
            rc = fail(P, "expected a field name of %s, found %s", msg->name, tok_text(P, buf, sizeof buf));
            goto done;
        }
        int fi = -1;
        for (int i = 0; msg->fields[i].name; i++)
            if (strlen(msg->fields[i].name) == P->tlen && !memcmp(msg->fields[i].name, P->ts, P->tlen)) fi = i;
        if (fi < 0) {
            rc = fail(P, "%s has no field %s", msg->name, tok_text(P, buf, sizeof buf));
            goto done;
        }
        const Field *f = &msg->fields[fi];
        if (!f->repeated) {
            if (seen & ((uint64_t)1 << fi)) {
                rc = fail(P, "non-repeated field '%s' of %s is given more than once", f->name, msg->name);
                goto done;
            }
            seen |= (uint64_t)1 << fi;
            if (f->oneof) {
                int *o = &oneof_set[f->oneof];
                if (*o >= 0) {
                    rc = fail(P, "field '%s' of %s: '%s' of the same oneof is already set", f->name, msg->name,
                              msg->fields[*o].name);
                    goto done;
                }
                *o = fi;
            }
        }
        if ((rc = next(P))) goto done;
        bool colon = is_sym(P, ':');
        if (colon && (rc = next(P))) goto done;
        if (!colon && f->kind != K_MSG) {
            rc = fail(P, "expected ':' after '%s', found %s", f->name, tok_text(P, buf, sizeof buf));
            goto done;
        }
        if (is_sym(P, '[')) {
            if (!f->repeated) {
                rc = fail(P, "a list is given for non-repeated field '%s'", f->name);
                goto done;
            }
            if ((rc = next(P))) goto done;
            if (!is_sym(P, ']')) {
                for (;;) {
                    if ((rc = parse_value(P, f, &m, depth))) goto done;
                    if (is_sym(P, ']')) break;
                    if ((rc = expect_sym(P, ',', "or ']' in a list"))) goto done;
                }
            }
            if ((rc = next(P))) goto done;
        } else if ((rc = parse_value(P, f, &m, depth))) {
            goto done;
        }
        if ((is_sym(P, ',') || is_sym(P, ';')) && (rc = next(P))) goto done;
    }
    if (close && (rc = next(P))) goto done;
    /* the message: its buffer with each packed field inserted where its first value came; a map
       entry's missing key and value as their defaults, as protobuf serializes map entries */
    if (msg->map_entry && !(seen & 1)) put_default(out, &msg->fields[0]);
    const uint8_t *body = m.buf.data ? m.buf.data : (const uint8_t *)""; /* never NULL + offset */
    size_t from = 0;
    for (int i = 0; i < m.n_packed; i++) {
        Packed *pk = &m.packed[i];
        bb_put(out, body + from, pk->at - from);
        bb_len_field(out, pk->field->number, pk->data.data, pk->data.len);
        from = pk->at;
        if (pk->data.oom) out->oom = true;
    }
    bb_put(out, body + from, m.buf.len - from);
    if (msg->map_entry && !(seen & 2)) put_default(out, &msg->fields[1]);
    if (m.buf.oom || out->oom) rc = err_set(P->err, ERR_RUNTIME, "out of memory");
done:
    bb_free(&m.buf);
    for (int i = 0; i < m.n_packed; i++) bb_free(&m.packed[i].data);
    return rc;
}

int pbtxt_to_graphdef(const char *text, size_t len, const char *what, uint8_t **out, size_t *out_len, Err *err) {
    static const char nothing[1];
    if (!text) text = nothing, len = 0;
    Parser P = {.p = text, .end = text + len, .line_start = text, .line = 1, .what = what ? what : "<pbtxt>", .err = err};
    size_t budget = mem_budget();
    P.limit = budget / 2 < GRAPHDEF_MAX_FILE_BYTES ? budget / 2 : GRAPHDEF_MAX_FILE_BYTES; /* the bytes, then the graph */
    ByteBuf b = {0};
    *out = NULL;
    *out_len = 0;
    if (next(&P) || parse_message_body(&P, &PBTXT_GRAPHDEF, 0, 0, &b)) {
        bb_free(&b);
        return -1;
    }
    if (b.oom) {
        bb_free(&b);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    *out = b.data ? b.data : malloc(1);
    if (!*out) return err_set(err, ERR_RUNTIME, "out of memory");
    *out_len = b.len;
    return 0;
}

Graph *pbtxt_parse_limited(const char *text, size_t len, const char *what, const GraphdefLimits *limits, Err *err) {
    uint8_t *bin;
    size_t n;
    if (pbtxt_to_graphdef(text, len, what, &bin, &n, err)) return NULL;
    Graph *g = graphdef_parse_limited(bin, n, what, limits, err);
    free(bin);
    return g;
}

Graph *pbtxt_load(const char *path, Err *err) {
    uint8_t *data;
    size_t len;
    if (read_input_file(path, GRAPHDEF_MAX_FILE_BYTES, &data, &len, err)) return NULL;
    Graph *g = pbtxt_parse_limited((const char *)data, len, path, NULL, err);
    free(data);
    return g;
}
