/* mem_budget.c - the process's memory budget (see mem_budget.h). The budget is the one
 * process-wide setting next to tensor.c's byte counters; set once by the CLI before work. */
#include "mem_budget.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "tensor.h"

static atomic_size_t budget_set; /* 0 = default */

static size_t cgroup_limit(void) {
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r"); /* cgroup v2; "max" = none */
    if (!f) return SIZE_MAX;
    unsigned long long v;
    size_t r = fscanf(f, "%llu", &v) == 1 ? (size_t)v : SIZE_MAX;
    fclose(f);
    return r;
}

size_t mem_budget_default(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t phys = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : (size_t)8 << 30;
    size_t cg = cgroup_limit();
    if (cg < phys) phys = cg;
    return phys / 2;
}

size_t mem_budget(void) {
    static atomic_size_t default_cache; /* the machine does not change under us: read it once */
    size_t b = atomic_load(&budget_set);
    if (b) return b;
    b = atomic_load(&default_cache);
    if (!b) atomic_store(&default_cache, b = mem_budget_default());
    return b;
}

void mem_budget_set(size_t bytes) { atomic_store(&budget_set, bytes); }

const char *mem_bytes_str(double v, char *buf, size_t cap) {
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (v >= 1024.0 && u < 6) { v /= 1024.0; u++; }
    if (u == 0) snprintf(buf, cap, "%.0f bytes", v);
    else snprintf(buf, cap, "%.2f %s", v, units[u]);
    return buf;
}

bool mem_budget_allows(size_t more) {
    size_t live = tensor_live_bytes(), budget = mem_budget();
    return more <= budget && live <= budget - more;
}

int mem_budget_check(size_t more, const char *what, Err *err) {
    if (mem_budget_allows(more)) return 0;
    size_t live = tensor_live_bytes(), budget = mem_budget();
    char a[32], b[32], c[32];
    return err_set(err, ERR_INPUT, "%s would take %s (%s already in use), over the memory budget of %s (--max-memory)", what,
                   mem_bytes_str((double)more, a, sizeof a), mem_bytes_str((double)live, b, sizeof b),
                   mem_bytes_str((double)budget, c, sizeof c));
}
