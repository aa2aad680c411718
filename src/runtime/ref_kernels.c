/* ref_kernels.c - the reference kernel table, generated from graph/ops.def. */
#include "ref.h"

const RefKernel ref_kernels[OP_COUNT] = {
    [OP_UNKNOWN] = NULL,
#define OP(id, name, min_in, max_in, stem, flags) [OP_##id] = ref_##stem,
#include "../graph/ops.def"
#undef OP
};
