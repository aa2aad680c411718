/* graphdef.h - reading and writing TensorFlow GraphDef (.pb) files.
 *
 * Loading turns every NodeDef into a Node: op looked up (unknown ops kept as OP_UNKNOWN with
 * their op name), inputs "x", "x:2", "^ctrl" resolved after all nodes exist, attributes parsed
 * into typed fields with their original bytes kept in Attr.raw, tensors decoded with full data.
 * NodeDef fields grappo does not model go to Node.extra, GraphDef fields other than node go to
 * Graph.extra, both re-emitted verbatim by the writer. Each node gets a provisional output
 * count (highest port any consumer uses + 1, at least 1) and the graph outputs are port 0 of
 * every node nothing consumes (Const, Placeholder and NoOp excepted). Shapes and dtypes are
 * not inferred here: the caller runs graph_infer.
 *
 * Saving writes the node list back, attributes sorted by key, so that load -> save -> load ->
 * save gives identical bytes. Files are written through atomic_write_file (temp + rename).
 *
 * Every error is ERR_INPUT (ERR_RUNTIME for I/O and memory) with a one-line message that
 * starts with the file name (`what`) and names the node where there is one. */
#ifndef GRAPPO_GRAPHDEF_H
#define GRAPPO_GRAPHDEF_H

#include <stddef.h>
#include <stdint.h>

#include "../graph/graph.h"

Graph *graphdef_parse(const uint8_t *data, size_t len, const char *what, Err *err);
/* Part of parsing (graphdef_funcs.c): instantiates every function g's control-flow nodes call
 * (While cond/body, If branches, Case branches) from the library field (lib_field: tag
 * included; lib: its payload; NULL when the GraphDef has none) into g->funcs, checking each
 * exists and has the arity its caller needs. */
#define GRAPHDEF_MAX_FUNC_NESTING 32
/* bodies instantiated for one graph, nested ones included (bodies shared by name only within
   one graph, so a hostile library could otherwise grow exponentially with nesting) */
#define GRAPHDEF_MAX_FUNC_INSTANCES 4096
int graphdef_build_funcs(Graph *g, const uint8_t *lib_field, size_t lib_field_len, const uint8_t *lib, size_t lib_len, Err *err);
Graph *graphdef_load(const char *path, Err *err);
int graphdef_serialize(const Graph *g, uint8_t **data, size_t *len, Err *err); /* caller frees */
int graphdef_save(const Graph *g, const char *path, Err *err); /* atomic: temp file + rename; a path
                                                               ending in .pbtxt gets text (pbtxt.h) */

/* Bounds on the tensor data a parse may materialise (a splat Const of one value can declare
 * any shape). graphdef_parse uses {TENSOR_MAX_BYTES, unlimited}; fuzzers pass tighter ones. */
typedef struct GraphdefLimits {
    size_t max_tensor_bytes; /* per tensor; 0 = TENSOR_MAX_BYTES */
    size_t max_total_bytes;  /* all tensors of the graph together; 0 = no limit */
} GraphdefLimits;
Graph *graphdef_parse_limited(const uint8_t *data, size_t len, const char *what, const GraphdefLimits *limits,
                              Err *err);

/* Bytes the tensors of every attribute would take once decoded (saturating at SIZE_MAX;
 * tensors over TENSOR_MAX_BYTES are left to the parse, which names them), counted on the wire
 * without decoding, and the name of the node holding the most (into largest[cap], may be NULL):
 * the parse refuses a graph whose constants exceed the memory budget (graph/mem_budget.h)
 * before materialising any of them. */
size_t graphdef_declared_tensor_bytes(const uint8_t *data, size_t len, char *largest, size_t cap);

/* Most outputs (Values) the loader creates: a port beyond GRAPHDEF_MAX_PORT, or more outputs
 * than GRAPHDEF_MAX_OUTPUTS over the whole graph, is rejected as bad input instead of being
 * allocated. */
#define GRAPHDEF_MAX_PORT 65535
#define GRAPHDEF_MAX_OUTPUTS (1 << 20)

#endif
