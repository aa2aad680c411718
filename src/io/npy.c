/* npy.c - reading and writing NumPy .npy files.
 *
 * Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.0, uint32 LE for 2.0/3.0),
 * the header (a Python dict literal: descr, fortran_order, shape), then the raw array data.
 * The header is parsed as a small grammar rather than with string searches, so keys may come
 * in any order with any spacing and a trailing comma, and anything else is rejected. */
#include "npy.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "input_file.h"

static const uint8_t MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* ------------------------------------------------------------------------------------------
 * header dict parser */

typedef struct HeaderParser {
    const char *p, *end;
    const char *error; /* first problem found */
} HeaderParser;

static int fail(HeaderParser *h, const char *why) {
    if (!h->error) h->error = why;
    return -1;
}

static void skip_ws(HeaderParser *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

/* consumes c (after optional whitespace) if it is next */
static bool accept(HeaderParser *h, char c) {
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return true;
    }
    return false;
}

/* a quoted Python string without escapes (numpy never writes any) into out[cap] */
static int parse_string(HeaderParser *h, char *out, size_t cap) {
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return fail(h, "expected a quoted string");
    char quote = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != quote) {
        if (*h->p == '\\') return fail(h, "escape sequences are not supported");
        if (n + 1 >= cap) return fail(h, "string too long");
        out[n++] = *h->p++;
    }
    if (h->p >= h->end) return fail(h, "unterminated string");
    h->p++;
    out[n] = 0;
    return 0;
}

static bool accept_word(HeaderParser *h, const char *w) {
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
        h->p += n;
        return true;
    }
    return false;
}

static int parse_bool(HeaderParser *h, bool *out) {
    if (accept_word(h, "True")) *out = true;
    else if (accept_word(h, "False")) *out = false;
    else return fail(h, "expected True or False");
    return 0;
}

/* "()", "(3,)", "(2, 3)", also "(3)" and Python 2's "3L" */
static int parse_shape(HeaderParser *h, Shape *s) {
    s->rank = 0;
    if (!accept(h, '(')) return fail(h, "shape must be a tuple");
    if (accept(h, ')')) return 0;
    for (;;) {
        skip_ws(h);
        if (h->p >= h->end || *h->p < '0' || *h->p > '9') return fail(h, "shape dimensions must be non-negative integers");
        int64_t d = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            d = d * 10 + (*h->p++ - '0');
            if (d > ((int64_t)1 << 53)) return fail(h, "shape dimension too large");
        }
        if (h->p < h->end && *h->p == 'L') h->p++;
        if (s->rank >= MAX_RANK) return fail(h, "too many dimensions");
        s->dim[s->rank++] = d;
        if (accept(h, ')')) return 0;
        if (!accept(h, ',')) return fail(h, "expected ',' or ')' in shape");
        if (accept(h, ')')) return 0;
    }
}

typedef struct NpyHeader {
    char descr[16];
    bool fortran_order;
    Shape shape;
} NpyHeader;

static int parse_header(HeaderParser *h, NpyHeader *hd) {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    if (!accept(h, '{')) return fail(h, "header is not a dict");
    while (!accept(h, '}')) {
        char key[32];
        if (parse_string(h, key, sizeof key)) return -1;
        if (!accept(h, ':')) return fail(h, "expected ':' after a key");
        bool *seen;
        int rc;
        if (!strcmp(key, "descr")) { seen = &seen_descr; rc = parse_string(h, hd->descr, sizeof hd->descr); }
        else if (!strcmp(key, "fortran_order")) { seen = &seen_order; rc = parse_bool(h, &hd->fortran_order); }
        else if (!strcmp(key, "shape")) { seen = &seen_shape; rc = parse_shape(h, &hd->shape); }
        else return fail(h, "unexpected key");
        if (rc) return -1;
        if (*seen) return fail(h, "repeated key");
        *seen = true;
        if (accept(h, '}')) break;
        if (!accept(h, ',')) return fail(h, "expected ',' or '}'");
    }
    skip_ws(h);
    if (h->p != h->end) return fail(h, "text after the dict");
    if (!seen_descr || !seen_order || !seen_shape) return fail(h, "missing one of descr, fortran_order, shape");
    return 0;
}

/* '<f4' etc. -> dtype and whether the data is big-endian */
static int descr_dtype(const char *descr, int *dtype, bool *big_endian) {
    static const struct { const char *code; int dt; } codes[] = {
        {"f4", DT_FLOAT}, {"f8", DT_DOUBLE}, {"f2", DT_HALF}, {"i4", DT_INT32}, {"i8", DT_INT64},
        {"u1", DT_UINT8}, {"i1", DT_INT8}, {"b1", DT_BOOL},
    };
    if (strlen(descr) != 3 || !strchr("<>|=", descr[0])) return -1;
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        if (strcmp(descr + 1, codes[k].code)) continue;
        size_t es = dtype_size(codes[k].dt);
        if (es > 1 && descr[0] == '|') return -1; /* multi-byte data needs a byte order */
        *dtype = codes[k].dt;
        *big_endian = es > 1 && descr[0] == '>';
        return 0;
    }
    return -1;
}

static void byteswap(uint8_t *d, size_t nbytes, size_t es) {
    for (size_t off = 0; off + es <= nbytes; off += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            uint8_t t = d[off + a];
            d[off + a] = d[off + b];
            d[off + b] = t;
        }
}

int npy_parse(const uint8_t *data, size_t len, const char *what, Tensor *out, Err *err) {
    memset(out, 0, sizeof *out);
    if (!what) what = "<npy>";
    if (len < 10 || memcmp(data, MAGIC, sizeof MAGIC))
        return err_set(err, ERR_INPUT, "%s: not a .npy file (no \\x93NUMPY magic)", what);
    int major = data[6], minor = data[7];
    size_t prefix, hlen;
    if (major == 1) {
        prefix = 10;
        hlen = (size_t)data[8] | (size_t)data[9] << 8;
    } else if (major == 2 || major == 3) {
        if (len < 12) return err_set(err, ERR_INPUT, "%s: truncated .npy header", what);
        prefix = 12;
        hlen = (size_t)data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 | (size_t)data[11] << 24;
    } else {
        return err_set(err, ERR_INPUT, "%s: unsupported .npy format version %d.%d", what, major, minor);
    }
    if (hlen > len - prefix)
        return err_set(err, ERR_INPUT, "%s: truncated .npy header (%zu header bytes declared, %zu present)", what, hlen,
                       len - prefix);
    HeaderParser h = {(const char *)data + prefix, (const char *)data + prefix + hlen, NULL};
    NpyHeader hd = {0};
    if (parse_header(&h, &hd)) {
        size_t at = (size_t)(h.p - (const char *)data);
        return err_set(err, ERR_INPUT, "%s: malformed .npy header: %s (at byte %zu)", what, h.error, at);
    }
    if (hd.fortran_order)
        return err_set(err, ERR_INPUT, "%s: arrays in Fortran order are not supported (save in C order)", what);
    int dtype;
    bool big_endian;
    if (descr_dtype(hd.descr, &dtype, &big_endian))
        return err_set(err, ERR_INPUT, "%s: unsupported .npy dtype '%s' (supported: <f4 <f8 <f2 <i4 <i8 |u1 |i1 |b1)", what,
                       hd.descr);
    char sb[128];
    int64_t n = shape_numel(&hd.shape);
    size_t es = dtype_size(dtype), have = len - prefix - hlen;
    /* compare against the bytes present before allocating anything */
    if (n < 0 || (uint64_t)n > TENSOR_MAX_BYTES / es)
        return err_set(err, ERR_INPUT, "%s: data has %zu bytes but shape %s has too many elements", what, have,
                       shape_str(&hd.shape, sb, sizeof sb));
    if ((size_t)n * es != have)
        return err_set(err, ERR_INPUT, "%s: data has %zu bytes but shape %s of '%s' needs %zu", what, have,
                       shape_str(&hd.shape, sb, sizeof sb), hd.descr, (size_t)n * es);
    if (tensor_from_data(out, dtype, &hd.shape, data + prefix + hlen, have, err)) return err_prefix(err, "%s", what);
    uint8_t *d = out->buf->data;
    if (big_endian) byteswap(d, have, es);
    if (dtype == DT_BOOL)
        for (size_t k = 0; k < have; k++) d[k] = d[k] != 0;
    return 0;
}

int npy_load(const char *path, Tensor *out, Err *err) {
    uint8_t *data;
    size_t len;
    memset(out, 0, sizeof *out);
    /* the largest legitimate file: a 4 GiB header (2.0's 32-bit length) and the largest tensor */
    if (read_input_file(path, TENSOR_MAX_BYTES + 12 + ((size_t)1 << 32), &data, &len, err)) return -1;
    int rc = npy_parse(data, len, path, out, err);
    free(data);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * writing */

static const char *npy_descr(int dtype) {
    switch (dtype) {
    case DT_FLOAT: return "<f4";
    case DT_DOUBLE: return "<f8";
    case DT_HALF: return "<f2";
    case DT_INT32: return "<i4";
    case DT_INT64: return "<i8";
    case DT_UINT8: return "|u1";
    case DT_INT8: return "|i1";
    case DT_BOOL: return "|b1";
    default: return NULL;
    }
}

int npy_serialize(const Tensor *t, uint8_t **data, size_t *len, Err *err) {
    *data = NULL;
    *len = 0;
    const char *descr = npy_descr(t->dtype);
    if (!descr) return err_set(err, ERR_INPUT, "dtype %s has no .npy equivalent grappo writes", dtype_name(t->dtype));
    if (!shape_is_known(&t->shape) || t->shape.rank > MAX_RANK) return err_set(err, ERR_INPUT, "cannot write a tensor of unknown shape");
    if (!t->buf) return err_set(err, ERR_INPUT, "cannot write a tensor without data");
    size_t nbytes = t->buf->nbytes;

    /* repr() of the shape tuple, as numpy writes it */
    char shape[MAX_RANK * 24 + 4];
    size_t k = 0;
    k += (size_t)snprintf(shape + k, sizeof shape - k, "(");
    for (int i = 0; i < t->shape.rank; i++)
        k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", i ? ", " : "", (long long)t->shape.dim[i]);
    snprintf(shape + k, sizeof shape - k, t->shape.rank == 1 ? ",)" : ")");

    char dict[sizeof shape + 96];
    int dlen = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    /* pad with spaces so that prefix + header (ending in '\n') is a multiple of 64 */
    size_t prefix = 10, hlen = ((prefix + (size_t)dlen + 1 + 63) / 64) * 64 - prefix;
    if (hlen > 0xffff) {
        prefix = 12;
        hlen = ((prefix + (size_t)dlen + 1 + 63) / 64) * 64 - prefix;
    }
    size_t total = prefix + hlen + nbytes;
    uint8_t *out = malloc(total ? total : 1);
    if (!out) return err_set(err, ERR_RUNTIME, "out of memory writing .npy");
    memcpy(out, MAGIC, sizeof MAGIC);
    out[6] = prefix == 10 ? 1 : 2;
    out[7] = 0;
    for (size_t b = 0; b < prefix - 8; b++) out[8 + b] = (uint8_t)(hlen >> (8 * b));
    memcpy(out + prefix, dict, (size_t)dlen);
    memset(out + prefix + dlen, ' ', hlen - (size_t)dlen - 1);
    out[prefix + hlen - 1] = '\n';
    if (nbytes) memcpy(out + prefix + hlen, t->buf->data, nbytes);
    *data = out;
    *len = total;
    return 0;
}

int npy_save(const char *path, const Tensor *t, Err *err) {
    uint8_t *data;
    size_t len;
    if (npy_serialize(t, &data, &len, err)) return err_prefix(err, "%s", path);
    int rc = atomic_write_file(path, data, len, err);
    free(data);
    return rc;
}
