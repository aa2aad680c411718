/* memplan.c - arena offset assignment for tensor lifetimes (see memplan.h).
 *
 * Measured on the zoo models (unrewritten graphs, batch 1; `grappo run --profile` prints the
 * chosen algorithm and both sizes): see the table in docs/runtime.md. Greedy by size is the
 * usual winner on CNNs, where a few large early activations dominate; first fit wins on some
 * transformer graphs with many same-sized tensors. The plan keeps the better one.
 *
 * Cost: first fit is a sweep over steps (tensors in order of their first step; a heap of the
 * live ones by last step) over the free gaps of the arena kept in a treap ordered by offset
 * and augmented with the largest gap of each subtree: O(n log n) in tensors. Greedy by size
 * compares every tensor with every placed one, O(n^2 log n), so it only runs on graphs of at
 * most MEMPLAN_GREEDY_MAX tensors; beyond that first fit alone is used (a 100k-node chain
 * plans in milliseconds instead of minutes). */
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

static Key *sorted_order(const MemReq *reqs, int n, MemPlanAlgo algo) {
    Key *order = malloc(sizeof(Key) * (size_t)(n ? n : 1));
    if (!order) return NULL;
    for (int i = 0; i < n; i++) {
        order[i].idx = i;
        if (algo == MEMPLAN_GREEDY_BY_SIZE) { order[i].k1 = SIZE_MAX - round_up(reqs[i].size); order[i].k2 = reqs[i].first; }
        else { order[i].k1 = (size_t)reqs[i].first; order[i].k2 = -(long)round_up(reqs[i].size); }
    }
    qsort(order, (size_t)n, sizeof *order, cmp_key);
    return order;
}

/* ---- greedy by size: best fit among the placed tensors whose lifetimes overlap ---- */

static size_t assign_greedy(const MemReq *reqs, int n, size_t *offsets) {
    Key *order = sorted_order(reqs, n, MEMPLAN_GREEDY_BY_SIZE);
    Placed *conflicts = malloc(sizeof(Placed) * (size_t)(n ? n : 1));
    int *placed = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!order || !conflicts || !placed) { free(order); free(conflicts); free(placed); return (size_t)-1; }
    size_t arena = 0;
    for (int oi = 0; oi < n; oi++) {
        int i = order[oi].idx;
        size_t need = round_up(reqs[i].size);
        int nc = 0;
        for (int pj = 0; pj < oi; pj++) {
            int j = placed[pj];
            if (reqs[j].first <= reqs[i].last && reqs[i].first <= reqs[j].last)
                conflicts[nc++] = (Placed){offsets[j], round_up(reqs[j].size)};
        }
        qsort(conflicts, (size_t)nc, sizeof *conflicts, cmp_placed);
        /* walk the gaps between conflicting tensors, lowest offset first; keep the smallest */
        size_t best = 0, best_gap = 0, cursor = 0;
        bool found = false;
        for (int c = 0; c <= nc; c++) {
            size_t gap_end = c < nc ? conflicts[c].off : SIZE_MAX;
            if (gap_end >= cursor && gap_end - cursor >= need) {
                size_t gap = gap_end - cursor;
                if (!found || gap < best_gap) { best_gap = gap; best = cursor; found = true; }
            }
            if (c < nc && conflicts[c].off + conflicts[c].size > cursor) cursor = conflicts[c].off + conflicts[c].size;
        }
        offsets[i] = best;
        placed[oi] = i;
        if (best + need > arena) arena = best + need;
    }
    free(order);
    free(conflicts);
    free(placed);
    return arena;
}

/* ---- first fit: a sweep over steps with the free gaps in a treap ---- */

/* a free gap [off, off + size); the last gap of the arena runs to SIZE_MAX */
typedef struct Gap {
    size_t off, size, max; /* max: largest size in this subtree */
    uint32_t prio;
    int left, right; /* indices into the pool, -1 = none */
} Gap;

typedef struct Gaps {
    Gap *pool;
    int *free_ids;
    int n_free;
    uint64_t rng;
} Gaps;

static size_t gmax(const Gaps *G, int t) { return t < 0 ? 0 : G->pool[t].max; }

static void pull(Gaps *G, int t) {
    Gap *x = &G->pool[t];
    size_t m = x->size, l = gmax(G, x->left), r = gmax(G, x->right);
    x->max = m > l ? (m > r ? m : r) : (l > r ? l : r);
}

/* (< off) and (>= off) */
static void split(Gaps *G, int t, size_t off, int *a, int *b) {
    if (t < 0) { *a = *b = -1; return; }
    if (G->pool[t].off < off) { split(G, G->pool[t].right, off, &G->pool[t].right, b); *a = t; }
    else { split(G, G->pool[t].left, off, a, &G->pool[t].left); *b = t; }
    pull(G, t);
}

static int merge(Gaps *G, int a, int b) {
    if (a < 0) return b;
    if (b < 0) return a;
    if (G->pool[a].prio > G->pool[b].prio) { G->pool[a].right = merge(G, G->pool[a].right, b); pull(G, a); return a; }
    G->pool[b].left = merge(G, a, G->pool[b].left);
    pull(G, b);
    return b;
}

static int gap_new(Gaps *G, size_t off, size_t size) {
    int id = G->free_ids[--G->n_free];
    G->rng ^= G->rng << 13; G->rng ^= G->rng >> 7; G->rng ^= G->rng << 17;
    G->pool[id] = (Gap){off, size, size, (uint32_t)(G->rng >> 16), -1, -1};
    return id;
}

static void gap_drop(Gaps *G, int id) { G->free_ids[G->n_free++] = id; }

/* the lowest-offset gap of at least `need` bytes (there is always one: the last gap) */
static int find_first(const Gaps *G, int t, size_t need) {
    while (t >= 0) {
        if (gmax(G, G->pool[t].left) >= need) t = G->pool[t].left;
        else if (G->pool[t].size >= need) return t;
        else t = G->pool[t].right;
    }
    return -1;
}

static int leftmost(const Gaps *G, int t) { while (t >= 0 && G->pool[t].left >= 0) t = G->pool[t].left; return t; }
static int rightmost(const Gaps *G, int t) { while (t >= 0 && G->pool[t].right >= 0) t = G->pool[t].right; return t; }

/* takes [off, off+need) out of the gap that starts at g_off (first fit places at its start) */
static int gaps_take(Gaps *G, int root, size_t g_off, size_t need) {
    int a, b, c;
    split(G, root, g_off, &a, &b);
    split(G, b, g_off + 1, &b, &c); /* b: the gap itself */
    Gap g = G->pool[b];
    gap_drop(G, b);
    if (g.size > need) b = gap_new(G, g.off + need, g.size - need);
    else b = -1;
    return merge(G, merge(G, a, b), c);
}

/* gives [off, off+size) back, merged with the gaps that touch it */
static int gaps_give(Gaps *G, int root, size_t off, size_t size) {
    int a, b;
    split(G, root, off, &a, &b);
    int p = rightmost(G, a), s = leftmost(G, b);
    size_t lo = off, hi = off + size;
    if (p >= 0 && G->pool[p].off + G->pool[p].size == off) {
        lo = G->pool[p].off;
        int x;
        split(G, a, lo, &a, &x);
        gap_drop(G, x);
    }
    if (s >= 0 && G->pool[s].off == hi) {
        hi = G->pool[s].off + G->pool[s].size; /* SIZE_MAX for the last gap */
        int x;
        split(G, b, G->pool[s].off + 1, &x, &b);
        gap_drop(G, x);
    }
    return merge(G, merge(G, a, gap_new(G, lo, hi - lo)), b);
}

/* min-heap of live tensors by last step */
static void heap_push(int *h, int *n, int v, const MemReq *reqs) {
    int i = (*n)++;
    h[i] = v;
    while (i > 0 && reqs[h[(i - 1) / 2]].last > reqs[h[i]].last) { int t = h[i]; h[i] = h[(i - 1) / 2]; h[(i - 1) / 2] = t; i = (i - 1) / 2; }
}

static int heap_pop(int *h, int *n, const MemReq *reqs) {
    int top = h[0];
    h[0] = h[--*n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && reqs[h[l]].last < reqs[h[m]].last) m = l;
        if (r < *n && reqs[h[r]].last < reqs[h[m]].last) m = r;
        if (m == i) break;
        int t = h[i]; h[i] = h[m]; h[m] = t; i = m;
    }
    return top;
}

static size_t assign_first_fit(const MemReq *reqs, int n, size_t *offsets) {
    Key *order = sorted_order(reqs, n, MEMPLAN_FIRST_FIT);
    size_t cap = 2 * (size_t)n + 2;
    Gaps G = {malloc(cap * sizeof(Gap)), malloc(cap * sizeof(int)), 0, 0x9E3779B97F4A7C15ull};
    int *heap = malloc(sizeof(int) * (size_t)(n ? n : 1)), n_heap = 0;
    if (!order || !G.pool || !G.free_ids || !heap) { free(order); free(G.pool); free(G.free_ids); free(heap); return (size_t)-1; }
    for (size_t k = 0; k < cap; k++) G.free_ids[G.n_free++] = (int)(cap - 1 - k);
    int root = gap_new(&G, 0, SIZE_MAX);
    size_t arena = 0;
    for (int oi = 0; oi < n; oi++) {
        int i = order[oi].idx;
        /* tensors whose last step is before this one's first are dead: their bytes are free */
        while (n_heap > 0 && reqs[heap[0]].last < reqs[i].first) {
            int d = heap_pop(heap, &n_heap, reqs);
            size_t sz = round_up(reqs[d].size);
            if (sz) root = gaps_give(&G, root, offsets[d], sz);
        }
        size_t need = round_up(reqs[i].size);
        if (need == 0) { offsets[i] = 0; continue; }
        int g = find_first(&G, root, need);
        offsets[i] = G.pool[g].off;
        root = gaps_take(&G, root, G.pool[g].off, need);
        heap_push(heap, &n_heap, i, reqs);
        if (offsets[i] + need > arena) arena = offsets[i] + need;
    }
    free(order);
    free(G.pool);
    free(G.free_ids);
    free(heap);
    return arena;
}

size_t memplan_assign(const MemReq *reqs, int n, MemPlanAlgo algo, size_t *offsets) {
    return algo == MEMPLAN_FIRST_FIT ? assign_first_fit(reqs, n, offsets) : assign_greedy(reqs, n, offsets);
}

size_t memplan_choose(const MemReq *reqs, int n, size_t *offsets, MemPlanInfo *info) {
    MemPlanInfo local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    size_t *alt = malloc(sizeof(size_t) * (size_t)(n ? n : 1));
    if (!alt) return (size_t)-1;
    size_t b = assign_first_fit(reqs, n, offsets);
    info->first_fit = b;
    info->chosen = MEMPLAN_FIRST_FIT;
    info->greedy = (size_t)-1;
    size_t best = b;
    if (b != (size_t)-1 && n <= MEMPLAN_GREEDY_MAX) {
        size_t a = assign_greedy(reqs, n, alt);
        info->greedy = a;
        if (a == (size_t)-1) best = a;
        else if (a <= b) { /* ties: greedy by size */
            memcpy(offsets, alt, sizeof(size_t) * (size_t)n);
            best = a;
            info->chosen = MEMPLAN_GREEDY_BY_SIZE;
        }
    }
    free(alt);
    return best;
}

size_t memplan_best(const MemReq *reqs, int n, size_t *offsets, MemPlanAlgo *chosen) {
    MemPlanInfo info;
    size_t r = memplan_choose(reqs, n, offsets, &info);
    if (chosen) *chosen = info.chosen;
    return r;
}

size_t memplan_lower_bound(const MemReq *reqs, int n) {
    int steps = 0;
    for (int i = 0; i < n; i++) if (reqs[i].last + 1 > steps) steps = reqs[i].last + 1;
    /* difference array: + at the first step, - after the last */
    size_t *delta = calloc((size_t)steps + 2, sizeof *delta), best = 0, live = 0;
    if (!delta) return 0;
    for (int i = 0; i < n; i++) {
        if (reqs[i].first < 0 || reqs[i].last < reqs[i].first) continue;
        delta[reqs[i].first] += round_up(reqs[i].size);
        delta[reqs[i].last + 1] -= round_up(reqs[i].size);
    }
    for (int s = 0; s < steps; s++) { live += delta[s]; if (live > best) best = live; }
    free(delta);
    return best;
}

const char *memplan_algo_name(MemPlanAlgo a) { return a == MEMPLAN_GREEDY_BY_SIZE ? "greedy-by-size" : "first-fit"; }
