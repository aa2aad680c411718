/* op.c - the op table generated from ops.def, and name lookup. */
#include "op.h"

#include <string.h>

#include "infer.h"

const OpDef op_defs[OP_COUNT] = {
    [OP_UNKNOWN] = {"<unknown>", 0, -1, 0, NULL, NULL},
#define OP(id, name, min_in, max_in, stem, flags) [OP_##id] = {name, min_in, max_in, flags, infer_##stem, flops_##stem},
#include "ops.def"
#undef OP
};

OpId op_lookup(const char *tf_name) {
    /* linear scan over ~90 names: called once per node at load, not in hot loops */
    for (int i = 1; i < OP_COUNT; i++)
        if (!strcmp(op_defs[i].tf_name, tf_name)) return (OpId)i;
    return OP_UNKNOWN;
}
