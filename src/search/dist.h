/* dist.h - distributed training over MPI (Open MPI): start-up, the all-gather PPO's rollout
 * streams are averaged with (PpoComm, ppo.h; batch BO exchanges its trial rows through it too),
 * broadcasts of small decisions and of a result graph's bytes, abort, shut-down.
 *
 * dist.c is the only file that includes <mpi.h>, and only when the build defines GRAPPO_MPI
 * (the Makefile does when mpicc is found; `make MPI=0` builds the stub, in which dist_init
 * fails with a clear message and everything else still works as one process).
 *
 * MPI is initialized only by `grappo train` and only when launched by mpirun
 * (dist_launched: OMPI_COMM_WORLD_SIZE in the environment), so a plain process never touches
 * MPI. Determinism: the gradients are combined with an all-gather and summed in rank order by
 * ppo.c (not MPI_Allreduce, whose summation order MPI leaves open for more than two ranks), so
 * K ranks give bit for bit the parameters of one process with K virtual ranks. */
#ifndef GRAPPO_DIST_H
#define GRAPPO_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"
#include "ppo.h"

typedef struct Dist Dist;

/* true when this build links MPI */
bool dist_compiled(void);
/* the world size mpirun announced in the environment (OMPI_COMM_WORLD_SIZE), 0 when not
   launched by mpirun */
int dist_launched(void);

/* MPI_Init (threads: MPI is only called from the main thread). Fails in a build without MPI. */
Dist *dist_init(Err *err);
int dist_rank(const Dist *d);
int dist_size(const Dist *d);
/* the communicator PPO uses (valid until dist_finalize) */
const PpoComm *dist_comm(const Dist *d);
/* *value of rank 0 on every rank (collective) */
int dist_bcast_int(Dist *d, int *value, Err *err);
/* root's bytes on every rank (collective): root passes its data and length (kept, still its own);
   the others receive a malloc'd copy in *data (caller frees; NULL when *len is 0). Carried in
   pieces of at most 1 GiB. */
int dist_bcast_bytes(Dist *d, int root, uint8_t **data, size_t *len, Err *err);
/* A barrier that waits by sleeping (MPI_Ibarrier polled every millisecond), not by Open MPI's
   busy-polling: ranks that are done call it while rank 0 still measures latencies, next to
   which they should not spin (collective). */
int dist_idle_barrier(Dist *d, Err *err);
/* ends every rank (after an error on one rank, the others would wait forever in a collective) */
void dist_abort(Dist *d, int code);
/* MPI_Finalize and free; NULL is fine */
void dist_finalize(Dist *d);

#endif
