/* pbtxt_write.c - binary GraphDef -> protobuf text format (see pbtxt.h), driven by the schema
 * the reader uses (pbtxt_schema.c), so whatever is written reads back into the same GraphDef.
 *
 * Fields are printed in the order the binary holds them, one `name: value` per line (a repeated
 * field once per value; packed numbers unpacked), messages as `name { ... }` indented by two
 * spaces a level, as TensorFlow's own printer does. Strings are double-quoted with \" \\ \n \r
 * \t escaped and every other byte outside printable ASCII as a three-digit octal escape; floats
 * print with enough digits to read back exactly (9 for float, 17 for double), infinities as
 * inf / -inf, NaN as nan (its sign as -nan; other NaN payload bits are not kept); enums by name
 * (DT_FLOAT, DT_FLOAT_REF), by number when the name is unknown. A field the schema does not
 * know has no text form: the whole conversion fails naming it (no partial output). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "pb_wire.h"
#include "pbtxt.h"
#include "pbtxt_schema.h"

static void put_str(ByteBuf *out, const char *s) { bb_put(out, s, strlen(s)); }

static void indent(ByteBuf *out, int depth) {
    for (int i = 0; i < depth; i++) bb_put(out, "  ", 2);
}

static void put_quoted(ByteBuf *out, const uint8_t *s, size_t n) {
    bb_put(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        char esc[5];
        const char *e = NULL;
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c < 0x20 || c >= 0x7f) {
            snprintf(esc, sizeof esc, "\\%03o", c);
            e = esc;
        }
        if (e) put_str(out, e);
        else bb_put(out, &c, 1);
    }
    bb_put(out, "\"", 1);
}

static void put_real(ByteBuf *out, double v, int digits) {
    char buf[40];
    if (isnan(v)) snprintf(buf, sizeof buf, "%s", signbit(v) ? "-nan" : "nan");
    else if (isinf(v)) snprintf(buf, sizeof buf, "%s", v < 0 ? "-inf" : "inf");
    else snprintf(buf, sizeof buf, "%.*g", digits, v);
    put_str(out, buf);
}

static void put_enum(ByteBuf *out, const EnumName *names, bool refs, int32_t v) {
    for (const EnumName *e = names; e->name; e++)
        if (e->value == v) {
            put_str(out, e->name);
            return;
        }
    if (refs && v > DTYPE_REF_OFFSET)
        for (const EnumName *e = names; e->name; e++)
            if (e->value && e->value + DTYPE_REF_OFFSET == v) {
                put_str(out, e->name);
                put_str(out, "_REF");
                return;
            }
    char buf[16];
    snprintf(buf, sizeof buf, "%" PRId32, v);
    put_str(out, buf);
}

/* one numeric value of kind k from its wire bits */
static void put_number(ByteBuf *out, Kind k, uint64_t bits) {
    char buf[32];
    switch (k) {
    case K_INT32: snprintf(buf, sizeof buf, "%" PRId32, (int32_t)(uint32_t)bits); break;
    case K_INT64: snprintf(buf, sizeof buf, "%" PRId64, (int64_t)bits); break;
    case K_UINT32: snprintf(buf, sizeof buf, "%" PRIu32, (uint32_t)bits); break;
    case K_UINT64: snprintf(buf, sizeof buf, "%" PRIu64, bits); break;
    case K_BOOL: snprintf(buf, sizeof buf, "%s", bits ? "true" : "false"); break;
    case K_FLOAT: {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, 4);
        put_real(out, f, 9);
        return;
    }
    case K_DOUBLE: {
        double d;
        memcpy(&d, &bits, 8);
        put_real(out, d, 17);
        return;
    }
    case K_DTYPE: put_enum(out, PBTXT_DTYPE_NAMES, true, (int32_t)(uint32_t)bits); return;
    case K_FULLTYPE: put_enum(out, PBTXT_FULLTYPE_NAMES, false, (int32_t)(uint32_t)bits); return;
    default: return;
    }
    put_str(out, buf);
}

static int wire_of(Kind k) { return k == K_FLOAT ? PB_I32 : k == K_DOUBLE ? PB_I64 : k == K_STRING || k == K_MSG ? PB_LEN : PB_VARINT; }

static uint64_t le_bits(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void scalar_line(ByteBuf *out, int depth, const Field *f, uint64_t bits) {
    indent(out, depth);
    put_str(out, f->name);
    put_str(out, ": ");
    put_number(out, f->kind, bits);
    bb_put(out, "\n", 1);
}

/* the values of a packed repeated number field, one line each */
static int put_packed(ByteBuf *out, int depth, const Field *f, const uint8_t *p, size_t n) {
    const uint8_t *end = p + n;
    int width = f->kind == K_FLOAT ? 4 : f->kind == K_DOUBLE ? 8 : 0;
    while (p < end) {
        uint64_t bits = 0;
        if (width) {
            if ((size_t)(end - p) < (size_t)width) return -1;
            bits = le_bits(p, width);
            p += width;
        } else {
            int shift = 0;
            for (;; shift += 7) {
                if (p >= end || shift > 63) return -1;
                bits |= (uint64_t)(*p & 0x7f) << shift;
                if (!(*p++ & 0x80)) break;
            }
        }
        scalar_line(out, depth, f, bits);
    }
    return 0;
}

static int put_message(ByteBuf *out, const Msg *msg, const uint8_t *data, size_t len, int depth, Err *err) {
    if (depth > PBTXT_MAX_DEPTH)
        return err_set(err, ERR_INPUT, "GraphDef: messages nested deeper than %d have no text form", PBTXT_MAX_DEPTH);
    PbReader r = pb_reader(data, len);
    PbField pf;
    const char *why = NULL;
    int got;
    while ((got = pb_next_field(&r, &pf, &why)) == 1) {
        const Field *f = msg->fields;
        while (f->name && f->number != pf.number) f++;
        if (!f->name)
            return err_set(err, ERR_INPUT, "GraphDef: field %" PRIu32 " of %s has no text form (not in grappo's schema)",
                           pf.number, msg->name);
        int want = wire_of(f->kind);
        if (pf.wire == PB_LEN && want != PB_LEN && f->repeated) {
            if (put_packed(out, depth, f, pf.data, pf.len))
                return err_set(err, ERR_INPUT, "GraphDef: %s.%s: malformed packed values", msg->name, f->name);
            continue;
        }
        if (pf.wire != want)
            return err_set(err, ERR_INPUT, "GraphDef: %s.%s has wire type %d, not %d", msg->name, f->name, pf.wire, want);
        if (f->kind == K_MSG) {
            indent(out, depth);
            put_str(out, f->name);
            put_str(out, " {\n");
            if (put_message(out, f->msg, pf.data, pf.len, depth + 1, err)) return -1;
            indent(out, depth);
            put_str(out, "}\n");
        } else if (f->kind == K_STRING) {
            indent(out, depth);
            put_str(out, f->name);
            put_str(out, ": ");
            put_quoted(out, pf.data, pf.len);
            bb_put(out, "\n", 1);
        } else {
            uint64_t bits = pf.wire == PB_VARINT ? pf.varint : le_bits(pf.raw + pf.raw_len - (want == PB_I32 ? 4 : 8), want == PB_I32 ? 4 : 8);
            scalar_line(out, depth, f, bits);
        }
    }
    if (got < 0) return err_set(err, ERR_INPUT, "GraphDef: %s: %s", msg->name, why ? why : "malformed");
    return 0;
}

int pbtxt_from_graphdef(const uint8_t *pb, size_t len, char **text, size_t *text_len, Err *err) {
    *text = NULL;
    *text_len = 0;
    ByteBuf out = {0};
    if (put_message(&out, &PBTXT_GRAPHDEF, pb, len, 0, err)) {
        bb_free(&out);
        return -1;
    }
    bb_put(&out, "", 1); /* the terminating NUL (and a buffer for an empty graph) */
    if (out.oom) {
        bb_free(&out);
        return err_set(err, ERR_RUNTIME, "out of memory writing the text GraphDef");
    }
    *text = (char *)out.data;
    *text_len = out.len - 1;
    return 0;
}

bool pbtxt_is_text_path(const char *path) {
    size_t n = strlen(path);
    return n >= 6 && !strcmp(path + n - 6, ".pbtxt");
}

int pbtxt_save(const Graph *g, const char *path, Err *err) {
    uint8_t *pb;
    size_t len;
    if (graphdef_serialize(g, &pb, &len, err)) return err_prefix(err, "%s", path);
    char *text;
    size_t tlen;
    int rc = pbtxt_from_graphdef(pb, len, &text, &tlen, err);
    free(pb);
    if (rc) return err_prefix(err, "%s", path);
    rc = atomic_write_file(path, text, tlen, err);
    free(text);
    return rc;
}
