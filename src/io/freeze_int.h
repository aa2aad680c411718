/* freeze_int.h - what the freeze_*.c files share (not a public API): the NodeDefs as read
 * (NDef, attribute bytes kept), the function library (Func), the flat graph being built (FNode,
 * FRef) and the freezer's state (Fz). freeze.c inlines, freeze_nodes.c reads NodeDefs and knows
 * the ops, freeze_vars.c turns variables into constants, freeze_emit.c names and serializes. */
#ifndef GRAPPO_FREEZE_INT_H
#define GRAPPO_FREEZE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "freeze.h"
#include "nodedef_write.h"
#include "pb_wire.h"
#include "saved_model.pb-c.h"

typedef struct AttrRaw {
    char *key;
    const uint8_t *val;
    size_t len;
} AttrRaw;

typedef struct NDef {
    char *name, *op;
    char **in;
    int n_in;
    AttrRaw *attr;
    int n_attr;
} NDef;

typedef struct Func {
    const Grappo__Tf__FunctionDef *fd;
    char *name;
    NDef *nodes;
    int n_nodes;
    bool parsed;
    int size_state; /* expanded_size: 0 not computed, 1 computing, 2 done */
    int64_t size;   /* nodes one instance inlines into, saturated at FREEZE_MAX_NODES + 1 */
} Func;

typedef struct FRef {
    int node, port;
} FRef;

typedef struct FNode {
    char *name;
    char *op;       /* owned */
    const NDef *src; /* attributes come from here (NULL for nodes made here) */
    FRef *in;
    int n_in;
    int *ctrl;
    int n_ctrl;
    Tensor value;   /* Const made from a variable */
    char *key;      /* VarHandleOp / VariableV2: its checkpoint key, once matched */
    char *slice;    /* and the part of it this variable holds (a partition of a partitioned
                       variable: RestoreV2's shape_and_slices, "4 6 0,4:0,3"), NULL for all */
    int out_dtype;  /* for output Identity nodes: attr T */
    int64_t gather_batch_dims; /* ResourceGather -> GatherV2 */
    bool is_gather;
    bool live;
} FNode;

typedef struct Fz {
    const FreezeSpec *s;
    Err *err;
    NDef *top;
    int n_top;
    Grappo__Tf__FunctionDefLibrary *lib;
    const uint8_t *lib_raw; /* the library field as read (re-emitted for control flow) */
    size_t lib_raw_len;
    Func *funcs;
    int n_funcs;
    FNode *fn;
    int n_fn, cap_fn;
    int active; /* calls being instantiated right now (recursion depth of instantiate) */
    bool located; /* the error message already names where (the innermost node) */
} Fz;

char *fz_dupn(const uint8_t *p, size_t n);
uint32_t fz_hash(const char *s);
void fz_ndef_free(NDef *d);
int fz_ndef_parse(const uint8_t *data, size_t len, NDef *d, Err *err);
const AttrRaw *fz_ndef_attr(const NDef *d, const char *key);
Grappo__Tf__AttrValue *fz_attr_unpack(const NDef *d, const char *key);
int fz_attr_type(const NDef *d, const char *key);
int64_t fz_attr_int(const NDef *d, const char *key, int64_t def);
const Func *fz_find_func(const Fz *z, const char *name);
bool fz_is_call_op(const char *op);
const Func *fz_callee_of(Fz *z, const NDef *d, bool *bad);
int fz_parse_func(Func *f, Err *err);
bool fz_op_known(Fz *z, const char *op);
int fz_op_out_port(const char *op, const char *arg, int idx);
int fz_add_flat(Fz *z, const char *prefix, const char *name, const char *op, const NDef *src);
int fz_add_in(Fz *z, int node, FRef r);
int fz_add_ctrl(Fz *z, int node, int c);
bool fz_ctrl_droppable(const char *op);
FRef fz_trace(const Fz *z, FRef r);
int fz_mark_live(Fz *z, const FRef *outs, int n_outs);
void fz_match_restore_ops(Fz *z);
int fz_emit_node(Fz *z, int k, ByteBuf *out);
int fz_assign_names(Fz *z, const FreezeSpec *s, const int *in_nodes, int first_out);

#endif
