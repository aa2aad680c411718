/* pbtxt.h - TensorFlow GraphDefs in protobuf text format (.pbtxt, what
 * tf.io.write_graph(..., as_text=True) writes).
 *
 * The text is translated, against a built-in copy of the GraphDef schema (GraphDef, NodeDef,
 * AttrValue, TensorProto, FunctionDefLibrary and what they contain, TensorFlow's field numbers),
 * into the binary wire format TensorFlow itself would write (repeated numbers packed, fields in
 * the order given), which then goes through the binary reader (graphdef.h): a .pbtxt loads into
 * the same Graph as the .pb of the same GraphDef.
 *
 * The text format is protobuf's: `name: value` and `name { ... }` (or `< ... >`), `[a, b]`
 * lists for repeated fields, # comments, optional ',' or ';' between fields, strings in ' or "
 * with C escapes (\n \t \r \a \b \f \v \\ \' \" \? \ooo \xHH), adjacent strings concatenated,
 * integers in decimal, hex (0x) or octal (leading 0), floats with an optional f suffix and
 * inf / infinity / nan, enums by name (DT_FLOAT) or number, booleans true/false/t/f/1/0.
 * As TensorFlow's parser does, it refuses unknown fields, a non-repeated field given twice,
 * two members of one oneof, out-of-range numbers and extension or Any syntax ([...] names).
 * Every error is ERR_INPUT, one line "FILE:LINE:COLUMN: what" (ERR_RUNTIME for memory). */
#ifndef GRAPPO_PBTXT_H
#define GRAPPO_PBTXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../graph/graph.h"
#include "graphdef.h"

/* Message nesting the text may use (protobuf's default recursion limit). */
#define PBTXT_MAX_DEPTH 100

/* Text -> binary GraphDef bytes (*out malloc'd, caller frees). `what` names the text in
 * errors. The binary may not exceed GRAPHDEF_MAX_FILE_BYTES nor the memory budget. */
int pbtxt_to_graphdef(const char *text, size_t len, const char *what, uint8_t **out, size_t *out_len, Err *err);

/* Text -> Graph, as graphdef_parse_limited does for the binary (limits may be NULL). */
Graph *pbtxt_parse_limited(const char *text, size_t len, const char *what, const GraphdefLimits *limits, Err *err);
Graph *pbtxt_load(const char *path, Err *err);

/* Writing (pbtxt_write.c): binary GraphDef bytes -> text (*text malloc'd and NUL-terminated,
 * caller frees) that TensorFlow's text_format parses into the same GraphDef and that
 * pbtxt_to_graphdef reads back into it. ERR_INPUT naming a field the schema does not know. */
int pbtxt_from_graphdef(const uint8_t *pb, size_t len, char **text, size_t *text_len, Err *err);
/* g as a text GraphDef, written atomically (temp file + rename) */
int pbtxt_save(const Graph *g, const char *path, Err *err);
/* whether a model path names a text GraphDef (ends in ".pbtxt") */
bool pbtxt_is_text_path(const char *path);

#endif
