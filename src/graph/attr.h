/* attr.h - node attributes, mirroring TensorFlow's AttrValue.
 *
 * Scalar kinds: string (bytes, may contain NUL), int, float, bool, type, shape, tensor.
 * Lists of each. func and placeholder attributes are kept opaque (raw bytes only).
 *
 * `raw` holds the AttrValue exactly as it was read from a GraphDef. The writer re-emits raw
 * bytes when present, so untouched attributes round-trip bit for bit (a splat Const stays a
 * splat). Every setter frees raw: once an attribute is changed it is re-encoded from the
 * typed fields. Change attributes only through the node_set_attr_* functions in graph.h. */
#ifndef GRAPPO_ATTR_H
#define GRAPPO_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

typedef enum AttrKind {
    ATTR_NONE = 0, /* empty AttrValue, or an empty list whose element kind is not known */
    ATTR_STRING,
    ATTR_INT,
    ATTR_FLOAT,
    ATTR_BOOL,
    ATTR_TYPE,
    ATTR_SHAPE,
    ATTR_TENSOR,
    ATTR_FUNC,        /* raw; the function's name in s (list: in s[]), its attrs only in raw */
    ATTR_PLACEHOLDER, /* opaque: only raw */
    ATTR_LIST,
} AttrKind;

typedef struct AttrStr {
    char *data; /* NUL-terminated for convenience; len excludes the terminator */
    size_t len;
} AttrStr;

typedef struct AttrList {
    AttrKind kind; /* element kind; ATTR_NONE for an empty list */
    int n;
    AttrStr *s;
    int64_t *i;
    float *f;
    bool *b;
    int *type;
    Shape *shape;
    Tensor *tensor;
} AttrList;

typedef struct Attr {
    char *name;
    AttrKind kind;
    AttrStr s;
    int64_t i;
    float f;
    bool b;
    int type;
    Shape shape;
    Tensor tensor;
    AttrList list;
    uint8_t *raw; /* original serialized AttrValue, or NULL */
    size_t raw_len;
} Attr;

void attr_free(Attr *a);                       /* frees contents, not a itself */
int attr_copy(Attr *dst, const Attr *src, Err *err); /* deep copy (tensor buffers shared) */
void attr_drop_raw(Attr *a);
const char *attr_kind_name(AttrKind k);

#endif
