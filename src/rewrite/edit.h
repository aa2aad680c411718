/* edit.h - graph surgery helpers shared by the rules: who reads a value, rewiring readers,
 * fresh names, constants, copying attributes. */
#ifndef GRAPPO_EDIT_H
#define GRAPPO_EDIT_H

#include "../graph/graph.h"

/* number of data inputs (over all nodes) reading v, plus one if v is a graph output */
int edit_use_count(const Graph *g, const GraphUses *u, ValueRef v);
/* true when v is read by exactly one data input and is not a graph output, and no node has a
   control dependency on v's producer: the producer can be fused into its reader */
bool edit_single_use(const Graph *g, const GraphUses *u, ValueRef v);
/* the node reading v when edit_single_use(v); -1 otherwise (sets *input_index if not NULL) */
int edit_only_reader(const Graph *g, const GraphUses *u, ValueRef v, int *input_index);
/* Points every data input and graph output that reads `from` at `to`. */
int edit_replace_uses(Graph *g, ValueRef from, ValueRef to, Err *err);
/* A node name not yet used: base, else base_1, base_2, ... into buf */
const char *edit_unique_name(const Graph *g, const char *base, char *buf, size_t cap);
/* Adds a Const node holding t (shared) named after base (made unique); returns its index. */
int edit_add_const(Graph *g, const char *base, const Tensor *t, Err *err);
/* Adds a node named after base (made unique) with the given inputs; returns its index. */
int edit_add_node(Graph *g, const char *base, const char *op, const ValueRef *in, int n_in, Err *err);
/* Copies attribute `name` from src to dst if src has it (raw bytes dropped: re-encoded). */
int edit_copy_attr(Node *dst, const Node *src, const char *name, Err *err);
/* The value of v when known before running (Const or folded), else NULL. */
const Tensor *edit_known(const Graph *g, ValueRef v);
/* v's producer is a Const node (not just a folded value) */
bool edit_is_const(const Graph *g, ValueRef v);

#endif
