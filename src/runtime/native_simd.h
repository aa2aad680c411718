/* native_simd.h - compiler hints shared by the plain-C fast kernels (native_*.c): fixed-size
 * blocks, "no loop-carried dependence", and an AVX2 clone of each kernel next to the baseline
 * one (the build has no -march, so without target_clones gcc would emit SSE2 only). */
#ifndef GRAPPO_NATIVE_SIMD_H
#define GRAPPO_NATIVE_SIMD_H

#define NATIVE_BLOCK 16

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NATIVE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NATIVE_CLONES
#endif

/* "no dependence between iterations": true here, the output is a separate buffer or exactly
   the (same-index) input */
#if defined(__clang__)
#define NATIVE_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define NATIVE_IVDEP _Pragma("GCC ivdep")
#else
#define NATIVE_IVDEP
#endif

#endif
