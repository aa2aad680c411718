/* mem_budget.h - the process's memory budget: the most bytes of tensor data (weights, values
 * computed while loading, activations, a fast plan's arena and scratch) grappo agrees to hold
 * at once. Allocations beyond it are refused as bad input (ERR_INPUT, exit 2) with a message
 * saying how much was asked, instead of being attempted: a 278-byte GraphDef can declare
 * splatted constants of 16 GiB.
 *
 * Default: half of the machine's physical memory (or of the cgroup's memory limit, when that
 * is lower): room for the process's other memory and for other processes. The CLI's
 * --max-memory sets it (mem_budget_set). */
#ifndef GRAPPO_MEM_BUDGET_H
#define GRAPPO_MEM_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/err.h"

size_t mem_budget(void);            /* the budget in bytes */
size_t mem_budget_default(void);    /* what it is unless set */
void mem_budget_set(size_t bytes);  /* 0 = back to the default */

/* true when `more` bytes fit in the budget on top of the tensor bytes alive now */
bool mem_budget_allows(size_t more);
/* ERR_INPUT (returns -1) when holding `more` bytes on top of the tensor bytes alive now would
   exceed the budget; `what` names the allocation in the message ("tensor of shape [..]"). */
int mem_budget_check(size_t more, const char *what, Err *err);

/* "1.50 GiB" style, for messages */
const char *mem_bytes_str(double bytes, char *buf, size_t cap);

#endif
