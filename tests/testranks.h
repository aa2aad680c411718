/* testranks.h - threads standing in for MPI processes: the PpoComm of a thread whose
 * all-gather joins the group with a barrier, the contract dist.c keeps with MPI_Allgather
 * (every rank posts its buffer, all copy every rank's in rank order, and nobody returns, and
 * reuses its buffer, before all have copied). */
#ifndef GRAPPO_TESTRANKS_H
#define GRAPPO_TESTRANKS_H

#include <pthread.h>
#include <string.h>

#include "search/ppo.h"

#define THREAD_GROUP_MAX 8

typedef struct ThreadGroup {
    pthread_barrier_t bar;
    int size;
    const void *send[THREAD_GROUP_MAX];
} ThreadGroup;

typedef struct ThreadRank {
    ThreadGroup *group;
    int rank;
} ThreadRank;

static inline int thread_allgather(void *ctx, const void *send, void *recv, size_t bytes, Err *err) {
    (void)err;
    ThreadRank *r = ctx;
    ThreadGroup *g = r->group;
    g->send[r->rank] = send;
    pthread_barrier_wait(&g->bar);
    for (int i = 0; i < g->size; i++) memcpy((char *)recv + (size_t)i * bytes, g->send[i], bytes);
    pthread_barrier_wait(&g->bar);
    return 0;
}

/* 0 on success; size <= THREAD_GROUP_MAX */
static inline int thread_group_init(ThreadGroup *g, int size) {
    g->size = size;
    return size < 1 || size > THREAD_GROUP_MAX ? -1 : pthread_barrier_init(&g->bar, NULL, (unsigned)size);
}

static inline void thread_group_destroy(ThreadGroup *g) { pthread_barrier_destroy(&g->bar); }

/* the PpoComm of rank `rank` in g; r holds its state and must outlive the comm */
static inline PpoComm thread_comm(ThreadGroup *g, int rank, ThreadRank *r) {
    *r = (ThreadRank){g, rank};
    return (PpoComm){.rank = rank, .size = g->size, .allgather = thread_allgather, .ctx = r};
}

#endif
