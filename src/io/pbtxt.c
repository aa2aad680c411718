/* pbtxt.c - protobuf text format GraphDef -> binary GraphDef -> Graph (see pbtxt.h).
 *
 * A schema table (the messages below, TensorFlow's field names and numbers) drives a
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

/* ---- schema ---- */

typedef enum Kind {
    K_INT32, K_INT64, K_UINT32, K_UINT64, K_BOOL, K_FLOAT, K_DOUBLE, K_STRING,
    K_DTYPE,    /* enum DataType */
    K_FULLTYPE, /* enum FullTypeId */
    K_MSG,
} Kind;

typedef struct Msg Msg;
typedef struct Field {
    const char *name;
    uint32_t number;
    Kind kind;
    bool repeated;
    const Msg *msg; /* K_MSG */
    int oneof;      /* fields with the same nonzero value exclude each other */
} Field;
struct Msg {
    const char *name;
    const Field *fields; /* ends with a NULL name */
    bool map_entry;      /* a map<K, V> entry: key (fields[0]) and value (fields[1]) always written */
};

#define F(n, num, k) {n, num, k, false, NULL, 0}
#define R(n, num, k) {n, num, k, true, NULL, 0}
#define FM(n, num, m) {n, num, K_MSG, false, &m, 0}
#define RM(n, num, m) {n, num, K_MSG, true, &m, 0}
#define END {NULL, 0, 0, false, NULL, 0}

static const Msg M_SHAPE, M_TENSOR, M_ATTR_VALUE, M_NODE, M_FULLTYPE, M_ATTR_ENTRY, M_DTYPE_SHAPE;

static const Field dim_fields[] = {F("size", 1, K_INT64), F("name", 2, K_STRING), END};
static const Msg M_DIM = {"TensorShapeProto.Dim", dim_fields, false};
static const Field shape_fields[] = {RM("dim", 2, M_DIM), F("unknown_rank", 3, K_BOOL), END};
static const Msg M_SHAPE = {"TensorShapeProto", shape_fields, false};

static const Field dtype_shape_fields[] = {F("dtype", 1, K_DTYPE), FM("shape", 2, M_SHAPE), END};
static const Msg M_DTYPE_SHAPE = {"DtypeAndShape", dtype_shape_fields, false};
static const Field handle_fields[] = {F("device", 1, K_STRING), F("container", 2, K_STRING), F("name", 3, K_STRING),
                                      F("hash_code", 4, K_UINT64), F("maybe_type_name", 5, K_STRING),
                                      RM("dtypes_and_shapes", 6, M_DTYPE_SHAPE), END};
static const Msg M_HANDLE = {"ResourceHandleProto", handle_fields, false};
static const Field variant_fields[] = {F("type_name", 1, K_STRING), F("metadata", 2, K_STRING),
                                       RM("tensors", 3, M_TENSOR), END};
static const Msg M_VARIANT = {"VariantTensorDataProto", variant_fields, false};

static const Field tensor_fields[] = {
    F("dtype", 1, K_DTYPE),          FM("tensor_shape", 2, M_SHAPE),   F("version_number", 3, K_INT32),
    F("tensor_content", 4, K_STRING), R("float_val", 5, K_FLOAT),      R("double_val", 6, K_DOUBLE),
    R("int_val", 7, K_INT32),        R("string_val", 8, K_STRING),     R("scomplex_val", 9, K_FLOAT),
    R("int64_val", 10, K_INT64),     R("bool_val", 11, K_BOOL),        R("dcomplex_val", 12, K_DOUBLE),
    R("half_val", 13, K_INT32),      RM("resource_handle_val", 14, M_HANDLE), RM("variant_val", 15, M_VARIANT),
    R("uint32_val", 16, K_UINT32),   R("uint64_val", 17, K_UINT64),    F("float8_val", 18, K_STRING),
    END};
static const Msg M_TENSOR = {"TensorProto", tensor_fields, false};

static const Field name_attrs_fields[] = {F("name", 1, K_STRING), RM("attr", 2, M_ATTR_ENTRY), END};
static const Msg M_NAME_ATTRS = {"NameAttrList", name_attrs_fields, false};

static const Field list_fields[] = {R("s", 2, K_STRING),         R("i", 3, K_INT64),        R("f", 4, K_FLOAT),
                                    R("b", 5, K_BOOL),           R("type", 6, K_DTYPE),     RM("shape", 7, M_SHAPE),
                                    RM("tensor", 8, M_TENSOR),   RM("func", 9, M_NAME_ATTRS), END};
static const Msg M_LIST = {"AttrValue.ListValue", list_fields, false};

#define O1(n, num, k) {n, num, k, false, NULL, 1}
#define OM1(n, num, m) {n, num, K_MSG, false, &m, 1}
static const Field attr_value_fields[] = {OM1("list", 1, M_LIST),     O1("s", 2, K_STRING),     O1("i", 3, K_INT64),
                                          O1("f", 4, K_FLOAT),        O1("b", 5, K_BOOL),       O1("type", 6, K_DTYPE),
                                          OM1("shape", 7, M_SHAPE),   OM1("tensor", 8, M_TENSOR),
                                          O1("placeholder", 9, K_STRING), OM1("func", 10, M_NAME_ATTRS), END};
static const Msg M_ATTR_VALUE = {"AttrValue", attr_value_fields, false};
/* map<string, AttrValue> entry */
static const Field attr_entry_fields[] = {F("key", 1, K_STRING), FM("value", 2, M_ATTR_VALUE), END};
static const Msg M_ATTR_ENTRY = {"AttrValue map entry", attr_entry_fields, true};

static const Field fulltype_fields[] = {F("type_id", 1, K_FULLTYPE), RM("args", 2, M_FULLTYPE),
                                        {"s", 3, K_STRING, false, NULL, 1}, {"i", 4, K_INT64, false, NULL, 1}, END};
static const Msg M_FULLTYPE = {"FullTypeDef", fulltype_fields, false};
static const Field debug_info_fields[] = {R("original_node_names", 1, K_STRING), R("original_func_names", 2, K_STRING),
                                          END};
static const Msg M_DEBUG_INFO = {"NodeDef.ExperimentalDebugInfo", debug_info_fields, false};

static const Field node_fields[] = {F("name", 1, K_STRING),  F("op", 2, K_STRING),        R("input", 3, K_STRING),
                                    F("device", 4, K_STRING), RM("attr", 5, M_ATTR_ENTRY),
                                    FM("experimental_debug_info", 6, M_DEBUG_INFO),
                                    FM("experimental_type", 7, M_FULLTYPE), END};
static const Msg M_NODE = {"NodeDef", node_fields, false};

/* the function library */
static const Field arg_fields[] = {F("name", 1, K_STRING),           F("description", 2, K_STRING),
                                   F("type", 3, K_DTYPE),            F("type_attr", 4, K_STRING),
                                   F("number_attr", 5, K_STRING),    F("type_list_attr", 6, K_STRING),
                                   RM("handle_data", 7, M_DTYPE_SHAPE), F("is_ref", 16, K_BOOL),
                                   FM("experimental_full_type", 17, M_FULLTYPE), END};
static const Msg M_ARG = {"OpDef.ArgDef", arg_fields, false};
static const Field attr_def_fields[] = {F("name", 1, K_STRING),          F("type", 2, K_STRING),
                                        FM("default_value", 3, M_ATTR_VALUE), F("description", 4, K_STRING),
                                        F("has_minimum", 5, K_BOOL),     F("minimum", 6, K_INT64),
                                        FM("allowed_values", 7, M_ATTR_VALUE), END};
static const Msg M_ATTR_DEF = {"OpDef.AttrDef", attr_def_fields, false};
static const Field deprecation_fields[] = {F("version", 1, K_INT32), F("explanation", 2, K_STRING), END};
static const Msg M_DEPRECATION = {"OpDeprecation", deprecation_fields, false};
static const Field op_def_fields[] = {F("name", 1, K_STRING),         RM("input_arg", 2, M_ARG),
                                      RM("output_arg", 3, M_ARG),     R("control_output", 20, K_STRING),
                                      RM("attr", 4, M_ATTR_DEF),      FM("deprecation", 8, M_DEPRECATION),
                                      F("summary", 5, K_STRING),      F("description", 6, K_STRING),
                                      F("is_commutative", 18, K_BOOL), F("is_aggregate", 16, K_BOOL),
                                      F("is_stateful", 17, K_BOOL),   F("allows_uninitialized_input", 19, K_BOOL),
                                      F("is_distributed_communication", 21, K_BOOL), END};
static const Msg M_OP_DEF = {"OpDef", op_def_fields, false};
static const Field arg_attrs_fields[] = {RM("attr", 1, M_ATTR_ENTRY), END};
static const Msg M_ARG_ATTRS = {"FunctionDef.ArgAttrs", arg_attrs_fields, false};
static const Field arg_attr_entry_fields[] = {F("key", 1, K_UINT32), FM("value", 2, M_ARG_ATTRS), END};
static const Msg M_ARG_ATTR_ENTRY = {"FunctionDef.arg_attr entry", arg_attr_entry_fields, true};
static const Field u32_entry_fields[] = {F("key", 1, K_UINT32), F("value", 2, K_UINT32), END};
static const Msg M_U32_ENTRY = {"FunctionDef.resource_arg_unique_id entry", u32_entry_fields, true};
static const Field str_entry_fields[] = {F("key", 1, K_STRING), F("value", 2, K_STRING), END};
static const Msg M_STR_ENTRY = {"map<string, string> entry", str_entry_fields, true};
static const Field function_fields[] = {FM("signature", 1, M_OP_DEF),   RM("attr", 5, M_ATTR_ENTRY),
                                        RM("arg_attr", 7, M_ARG_ATTR_ENTRY), RM("resource_arg_unique_id", 8, M_U32_ENTRY),
                                        RM("node_def", 3, M_NODE),       RM("ret", 4, M_STR_ENTRY),
                                        RM("control_ret", 6, M_STR_ENTRY), END};
static const Msg M_FUNCTION = {"FunctionDef", function_fields, false};
static const Field gradient_fields[] = {F("function_name", 1, K_STRING), F("gradient_func", 2, K_STRING), END};
static const Msg M_GRADIENT = {"GradientDef", gradient_fields, false};
static const Field reg_gradient_fields[] = {F("gradient_func", 1, K_STRING), F("registered_op_type", 2, K_STRING), END};
static const Msg M_REG_GRADIENT = {"RegisteredGradient", reg_gradient_fields, false};
static const Field library_fields[] = {RM("function", 1, M_FUNCTION), RM("gradient", 2, M_GRADIENT),
                                       RM("registered_gradients", 3, M_REG_GRADIENT), END};
static const Msg M_LIBRARY = {"FunctionDefLibrary", library_fields, false};

static const Field versions_fields[] = {F("producer", 1, K_INT32), F("min_consumer", 2, K_INT32),
                                        R("bad_consumers", 3, K_INT32), END};
static const Msg M_VERSIONS = {"VersionDef", versions_fields, false};
static const Field graph_fields[] = {RM("node", 1, M_NODE), FM("library", 2, M_LIBRARY), F("version", 3, K_INT32),
                                     FM("versions", 4, M_VERSIONS), END};
static const Msg M_GRAPH = {"GraphDef", graph_fields, false};

typedef struct EnumName {
    const char *name;
    int32_t value;
} EnumName;
/* TensorFlow's DataType and FullTypeId values (types.proto, full_type.proto) */
static const EnumName dtype_names[] = {
    {"DT_INVALID", 0}, {"DT_FLOAT", 1}, {"DT_DOUBLE", 2}, {"DT_INT32", 3}, {"DT_UINT8", 4}, {"DT_INT16", 5},
    {"DT_INT8", 6}, {"DT_STRING", 7}, {"DT_COMPLEX64", 8}, {"DT_INT64", 9}, {"DT_BOOL", 10}, {"DT_QINT8", 11},
    {"DT_QUINT8", 12}, {"DT_QINT32", 13}, {"DT_BFLOAT16", 14}, {"DT_QINT16", 15}, {"DT_QUINT16", 16},
    {"DT_UINT16", 17}, {"DT_COMPLEX128", 18}, {"DT_HALF", 19}, {"DT_RESOURCE", 20}, {"DT_VARIANT", 21},
    {"DT_UINT32", 22}, {"DT_UINT64", 23}, {"DT_FLOAT8_E5M2", 24}, {"DT_FLOAT8_E4M3FN", 25},
    {"DT_FLOAT8_E4M3FNUZ", 26}, {"DT_FLOAT8_E4M3B11FNUZ", 27}, {"DT_FLOAT8_E5M2FNUZ", 28}, {"DT_INT4", 29},
    {"DT_UINT4", 30}, {"DT_INT2", 31}, {"DT_UINT2", 32}, {NULL, 0}};
#define DTYPE_REF_OFFSET 100 /* DT_X_REF = DT_X + 100 */
static const EnumName fulltype_names[] = {
    {"TFT_UNSET", 0}, {"TFT_VAR", 1}, {"TFT_ANY", 2}, {"TFT_PRODUCT", 3}, {"TFT_NAMED", 4}, {"TFT_FOR_EACH", 20},
    {"TFT_CALLABLE", 100}, {"TFT_TENSOR", 1000}, {"TFT_ARRAY", 1001}, {"TFT_OPTIONAL", 1002},
    {"TFT_LITERAL", 1003}, {"TFT_ENCODED", 1004}, {"TFT_SHAPE_TENSOR", 1005}, {"TFT_BOOL", 200},
    {"TFT_UINT8", 201}, {"TFT_UINT16", 202}, {"TFT_UINT32", 203}, {"TFT_UINT64", 204}, {"TFT_INT8", 205},
    {"TFT_INT16", 206}, {"TFT_INT32", 207}, {"TFT_INT64", 208}, {"TFT_HALF", 209}, {"TFT_FLOAT", 210},
    {"TFT_DOUBLE", 211}, {"TFT_BFLOAT16", 215}, {"TFT_COMPLEX64", 212}, {"TFT_COMPLEX128", 213},
    {"TFT_STRING", 214}, {"TFT_DATASET", 10102}, {"TFT_RAGGED", 10103}, {"TFT_ITERATOR", 10104},
    {"TFT_MUTEX_LOCK", 10202}, {"TFT_LEGACY_VARIANT", 10203}, {NULL, 0}};

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
        if (parse_enum(P, dtype_names, true, &bits)) return -1;
        bb_varint(dst, bits);
        break;
    case K_FULLTYPE:
        if (parse_enum(P, fulltype_names, false, &bits)) return -1;
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
    if (next(&P) || parse_message_body(&P, &M_GRAPH, 0, 0, &b)) {
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
