/* dist.c - the MPI side of distributed training (see dist.h): the only file that includes
 * <mpi.h>. Without GRAPPO_MPI it compiles to a stub whose dist_init explains how to build with
 * MPI, so builds without Open MPI still work as one process. */
#include "dist.h"

#include <stdlib.h>

#ifdef GRAPPO_MPI
#include <limits.h>
#include <mpi.h>
#include <time.h>
#endif

struct Dist {
    int rank, size;
    PpoComm comm;
};

int dist_launched(void) {
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 1 || v > 1 << 20 ? 0 : (int)v;
}

int dist_rank(const Dist *d) { return d ? d->rank : 0; }
int dist_size(const Dist *d) { return d ? d->size : 1; }
const PpoComm *dist_comm(const Dist *d) { return d ? &d->comm : NULL; }

#ifdef GRAPPO_MPI

bool dist_compiled(void) { return true; }

static int mpi_fail(Err *err, int code, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = 0;
    return err_set(err, ERR_RUNTIME, "MPI: %s failed: %s", what, len ? msg : "unknown error");
}

/* PpoComm.allgather: MPI_Allgather of bytes; recv holds every rank's block in rank order */
static int comm_allgather(void *ctx, const void *send, void *recv, size_t bytes, Err *err) {
    (void)ctx;
    if (bytes > INT_MAX) return err_set(err, ERR_RUNTIME, "MPI: all-gather of %zu bytes is more than one call carries", bytes);
    int rc = MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(err, rc, "MPI_Allgather");
}

Dist *dist_init(Err *err) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int rc = MPI_Init(NULL, NULL);
        if (rc != MPI_SUCCESS) { mpi_fail(err, rc, "MPI_Init"); return NULL; }
    }
    /* errors come back as codes (Err), not as MPI's default abort */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    Dist *d = calloc(1, sizeof *d);
    if (!d) {
        MPI_Finalize();
        err_set(err, ERR_RUNTIME, "out of memory");
        return NULL;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->comm = (PpoComm){.rank = d->rank, .size = d->size, .allgather = comm_allgather, .ctx = d};
    return d;
}

int dist_bcast_int(Dist *d, int *value, Err *err) {
    if (!d) return 0;
    int rc = MPI_Bcast(value, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(err, rc, "MPI_Bcast");
}

int dist_bcast_bytes(Dist *d, int root, uint8_t **data, size_t *len, Err *err) {
    if (!d) return 0;
    unsigned long long n = *len;
    int rc = MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Bcast");
    uint8_t *buf = *data;
    if (d->rank != root) {
        buf = NULL;
        if (n && !(buf = malloc((size_t)n))) {
            /* the root is already sending: the others cannot be told, so every rank stops */
            err_set(err, ERR_RUNTIME, "out of memory for %llu bytes from rank %d", n, root);
            return -1;
        }
    }
    for (unsigned long long off = 0; off < n;) {
        unsigned long long piece = n - off < (1ull << 30) ? n - off : (1ull << 30);
        rc = MPI_Bcast(buf + off, (int)piece, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            if (d->rank != root) free(buf);
            return mpi_fail(err, rc, "MPI_Bcast");
        }
        off += piece;
    }
    if (d->rank != root) {
        *data = buf;
        *len = (size_t)n;
    }
    return 0;
}

int dist_idle_barrier(Dist *d, Err *err) {
    if (!d) return 0;
    MPI_Request req;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Ibarrier");
    for (int done = 0; !done;) {
        rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Test");
        if (!done) nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return 0;
}

void dist_abort(Dist *d, int code) {
    if (d) MPI_Abort(MPI_COMM_WORLD, code);
}

void dist_finalize(Dist *d) {
    if (!d) return;
    MPI_Finalize();
    free(d);
}

#else /* no MPI: one process */

bool dist_compiled(void) { return false; }

Dist *dist_init(Err *err) {
    err_set(err, ERR_INPUT, "this grappo was built without MPI (install libopenmpi-dev and rebuild; make MPI=0 "
                            "builds without): run it as a single process, or use --virtual-ranks");
    return NULL;
}

int dist_bcast_int(Dist *d, int *value, Err *err) {
    (void)d; (void)value; (void)err;
    return 0;
}

int dist_bcast_bytes(Dist *d, int root, uint8_t **data, size_t *len, Err *err) {
    (void)d; (void)root; (void)data; (void)len; (void)err;
    return 0;
}

int dist_idle_barrier(Dist *d, Err *err) {
    (void)d; (void)err;
    return 0;
}

void dist_abort(Dist *d, int code) { (void)d; (void)code; }

void dist_finalize(Dist *d) { free(d); }

#endif
