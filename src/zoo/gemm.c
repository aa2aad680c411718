/* gemm.c - `gemm`: one dense layer y = x·W with x [N, N] and W [N, N] (N = image_size, default
 * 1024). Not a model: a probe of the machine's achievable fp32 matmul rate, so benchmark
 * reports can state what fraction of the measured peak a model reaches. */
#include <math.h>

#include "builder.h"

Graph *zoo_build_gemm(const ZooOpts *o, Err *err) {
    int n = o->image_size ? o->image_size : 1024;
    if (n > 8192) return err_set(err, ERR_INPUT, "gemm: size %d out of range [1, 8192]", n), NULL;
    Builder b;
    if (bld_init(&b, o->seed, false, err)) return bld_finish(&b);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(2, (int64_t[]){n, n}), NULL);
    bld_set_scope(&b, "gemm");
    Tensor w = bld_normal(&b, shape_make(2, (int64_t[]){n, n}), 0.0, 1.0 / sqrt((double)n));
    ValueRef wv = bld_const(&b, "kernel", &w);
    bld_add_output(&b, bld_matmul(&b, "MatMul", x, wv, false, false));
    return bld_finish(&b);
}
