/* testisa.h - run the calling test suite again under ONEDNN_MAX_CPU_ISA=AVX2 (header-only, for
 * cmocka suites that include testutil.h): oneDNN reads the cap once, at its first use, so the
 * AVX2 path of every kernel needs a fresh process. The child's output is shown indented. */
#ifndef GRAPPO_TESTISA_H
#define GRAPPO_TESTISA_H

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

/* Skips when already capped or when the CPU has no AVX-512 (the full-ISA run was the AVX2
   path); else asserts the child exits 0 with at least min_passed tests passed. */
static inline void tu_rerun_under_avx2(int min_passed) {
    if (getenv("ONEDNN_MAX_CPU_ISA")) TU_SKIP("already running under ONEDNN_MAX_CPU_ISA=%s", getenv("ONEDNN_MAX_CPU_ISA"));
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), avx512 = (unsigned)dnnl_cpu_isa_avx512_core;
    if ((isa & avx512) != avx512) TU_SKIP("this CPU has no AVX-512: the full-ISA run already was the AVX2 path");
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ONEDNN_MAX_CPU_ISA=AVX2 '%s' 2>&1", self);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[1024];
    int passed = -1;
    while (fgets(line, sizeof line, p)) {
        printf("    | %s", line);
        if (sscanf(line, "[  PASSED  ] %d test", &passed) == 1) continue;
    }
    assert_int_equal(pclose(p), 0);
    assert_true(passed >= min_passed);
}

#endif
