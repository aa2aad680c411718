/* memplan.c - arena offset assignment for tensor lifetimes (see memplan.h).
 *
 * Measured on the zoo models (unrewritten graphs, batch 1; `grappo run --profile` prints the
 * chosen algorithm and both sizes): see the table in docs/runtime.md. Greedy by size is the
 * usual winner on CNNs, where a few large early activations dominate; first fit wins on some
 * transformer graphs with many same-sized tensors. Computing both costs microseconds, so the
 * plan simply keeps the better one. */
#include "memplan.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64

static size_t round_up(size_t x) { return (x + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

typedef struct Placed { size_t off, size; } Placed;

static int cmp_placed(const void *a, const void *b) {
    const Placed *x = a, *y = b;
    return (x->off > y->off) - (x->off < y->off);
}

/* sort context passed through a file-local pointer would be global state: instead sort an
   array of (key, index) pairs */
typedef struct Key { size_t k1; long k2; int idx; } Key;

static int cmp_key(const void *a, const void *b) {
    const Key *x = a, *y = b;
    if (x->k1 != y->k1) return x->k1 < y->k1 ? -1 : 1;
    if (x->k2 != y->k2) return x->k2 < y->k2 ? -1 : 1;
    return x->idx - y->idx;
}

size_t memplan_assign(const MemReq *reqs, int n, MemPlanAlgo algo, size_t *offsets) {
    Key *order = malloc(sizeof(Key) * (size_t)(n ? n : 1));
    Placed *conflicts = malloc(sizeof(Placed) * (size_t)(n ? n : 1));
    char *placed = calloc((size_t)(n ? n : 1), 1);
    if (!order || !conflicts || !placed) { free(order); free(conflicts); free(placed); return (size_t)-1; }
    for (int i = 0; i < n; i++) {
        order[i].idx = i;
        if (algo == MEMPLAN_GREEDY_BY_SIZE) { order[i].k1 = SIZE_MAX - round_up(reqs[i].size); order[i].k2 = reqs[i].first; }
        else { order[i].k1 = (size_t)reqs[i].first; order[i].k2 = -(long)round_up(reqs[i].size); }
    }
    qsort(order, (size_t)n, sizeof *order, cmp_key);
    size_t arena = 0;
    for (int oi = 0; oi < n; oi++) {
        int i = order[oi].idx;
        size_t need = round_up(reqs[i].size);
        int nc = 0;
        for (int j = 0; j < n; j++)
            if (placed[j] && reqs[j].first <= reqs[i].last && reqs[i].first <= reqs[j].last)
                conflicts[nc++] = (Placed){offsets[j], round_up(reqs[j].size)};
        qsort(conflicts, (size_t)nc, sizeof *conflicts, cmp_placed);
        /* walk the gaps between conflicting tensors, lowest offset first */
        size_t best = 0, best_gap = 0, cursor = 0;
        bool found = false;
        for (int c = 0; c <= nc; c++) {
            size_t gap_end = c < nc ? conflicts[c].off : SIZE_MAX;
            if (gap_end >= cursor && gap_end - cursor >= need) {
                size_t gap = gap_end - cursor;
                if (algo == MEMPLAN_FIRST_FIT) { best = cursor; break; }
                if (!found || gap < best_gap) { best_gap = gap; best = cursor; found = true; }
            }
            if (c < nc && conflicts[c].off + conflicts[c].size > cursor) cursor = conflicts[c].off + conflicts[c].size;
        }
        offsets[i] = best;
        placed[i] = 1;
        if (best + need > arena) arena = best + need;
    }
    free(order);
    free(conflicts);
    free(placed);
    return arena;
}

size_t memplan_best(const MemReq *reqs, int n, size_t *offsets, MemPlanAlgo *chosen) {
    size_t *alt = malloc(sizeof(size_t) * (size_t)(n ? n : 1));
    if (!alt) return (size_t)-1;
    size_t a = memplan_assign(reqs, n, MEMPLAN_GREEDY_BY_SIZE, offsets);
    size_t b = memplan_assign(reqs, n, MEMPLAN_FIRST_FIT, alt);
    if (a == (size_t)-1 || b == (size_t)-1) { free(alt); return (size_t)-1; }
    if (b < a) {
        memcpy(offsets, alt, sizeof(size_t) * (size_t)n);
        a = b;
        if (chosen) *chosen = MEMPLAN_FIRST_FIT;
    } else if (chosen) {
        *chosen = MEMPLAN_GREEDY_BY_SIZE;
    }
    free(alt);
    return a;
}

size_t memplan_lower_bound(const MemReq *reqs, int n) {
    int steps = 0;
    for (int i = 0; i < n; i++) if (reqs[i].last + 1 > steps) steps = reqs[i].last + 1;
    size_t *live = calloc((size_t)steps + 1, sizeof *live), best = 0;
    if (!live) return 0;
    for (int i = 0; i < n; i++)
        for (int s = reqs[i].first; s <= reqs[i].last; s++) live[s] += round_up(reqs[i].size);
    for (int s = 0; s < steps; s++) if (live[s] > best) best = live[s];
    free(live);
    return best;
}

const char *memplan_algo_name(MemPlanAlgo a) { return a == MEMPLAN_GREEDY_BY_SIZE ? "greedy-by-size" : "first-fit"; }
