/* memplan.h - static memory planning: given each tensor's size and lifetime (first and last
 * execution step that touches it), assign byte offsets in one arena so that tensors alive at
 * the same time never overlap. Two algorithms; the plan keeps whichever gives the smaller
 * arena for the graph at hand. */
#ifndef GRAPPO_MEMPLAN_H
#define GRAPPO_MEMPLAN_H

#include <stddef.h>

typedef struct MemReq {
    size_t size;     /* bytes (the planner rounds up to 64) */
    int first, last; /* inclusive step range in which the tensor is alive */
} MemReq;

typedef enum MemPlanAlgo {
    /* Largest tensors first, each into the smallest gap that fits among the tensors already
       placed whose lifetimes overlap ("greedy by size, best fit"). */
    MEMPLAN_GREEDY_BY_SIZE,
    /* Tensors in order of creation, each at the lowest offset that fits ("first fit"). */
    MEMPLAN_FIRST_FIT,
} MemPlanAlgo;

/* Greedy by size costs O(n^2 log n); above this many tensors only first fit (O(n log n)) runs. */
#define MEMPLAN_GREEDY_MAX 2048

typedef struct MemPlanInfo {
    MemPlanAlgo chosen;
    size_t greedy;    /* arena of greedy by size, (size_t)-1 when not run (n > MEMPLAN_GREEDY_MAX) */
    size_t first_fit; /* arena of first fit */
} MemPlanInfo;

/* Fills offsets[0..n) and returns the arena size, or (size_t)-1 when out of memory. */
size_t memplan_assign(const MemReq *reqs, int n, MemPlanAlgo algo, size_t *offsets);
/* Runs both algorithms (greedy by size only up to MEMPLAN_GREEDY_MAX tensors), keeps the
   smaller arena (ties: greedy by size); *info (may be NULL) says which and both sizes. */
size_t memplan_choose(const MemReq *reqs, int n, size_t *offsets, MemPlanInfo *info);
/* the same, reporting only the chosen algorithm */
size_t memplan_best(const MemReq *reqs, int n, size_t *offsets, MemPlanAlgo *chosen);
/* The lower bound no assignment can beat: the largest total size alive at one step. */
size_t memplan_lower_bound(const MemReq *reqs, int n);
const char *memplan_algo_name(MemPlanAlgo a);

#endif
