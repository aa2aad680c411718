/* pbtxt_schema.h - the GraphDef schema the text format reader (pbtxt.c) and writer
 * (pbtxt_write.c) share: GraphDef, NodeDef, AttrValue, TensorProto, FunctionDefLibrary and what
 * they contain, with TensorFlow's field names and numbers, and the DataType and FullTypeId enum
 * names. One table, so what the writer prints the reader takes back. */
#ifndef GRAPPO_PBTXT_SCHEMA_H
#define GRAPPO_PBTXT_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

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

typedef struct EnumName {
    const char *name;
    int32_t value;
} EnumName;

#define DTYPE_REF_OFFSET 100 /* DT_X_REF = DT_X + 100 */

extern const Msg PBTXT_GRAPHDEF;
extern const EnumName PBTXT_DTYPE_NAMES[];    /* ends with a NULL name */
extern const EnumName PBTXT_FULLTYPE_NAMES[]; /* ends with a NULL name */

#endif
