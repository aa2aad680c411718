/* input_gen.h - deterministic inputs for a graph's placeholders, for `run`, tests and
 * benchmarks when the user gives none. */
#ifndef GRAPPO_INPUT_GEN_H
#define GRAPPO_INPUT_GEN_H

#include "graph.h"

/* Fills *out (allocated here) for placeholder node `node` using its inferred dtype/shape:
   floats uniform in [0, 1); integers used as gather indices (directly or through
   Identity/Reshape/Cast/ExpandDims) uniform in [0, rows of the gathered table); other
   integers (masks) 1; bool true. Same (graph, node, seed) -> same tensor. */
int input_generate(const Graph *g, int node, uint64_t seed, Tensor *out, Err *err);

#endif
