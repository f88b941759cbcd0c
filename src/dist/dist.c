#include "dist/dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

#ifdef SEMID_HAVE_MPI
#include <mpi.h>
#endif

/* Set once by semid_dist_init, before any other thread exists. */
static int g_started, g_rank, g_size = 1;
static int g_failure_known; /* (the thread that calls MPI) */

void semid_dist_failure_shared(void) { g_failure_known = 1; }
int semid_dist_failure_known(void) { return g_failure_known; }

semid_status semid_dist_fail_peer(const char *what, int r) {
    g_failure_known = 1;
    if (r < 0) return semid_fail(SEMID_EIO, "%s: another rank failed (its message says why)", what);
    return semid_fail(SEMID_EIO, "%s: rank %d of %d failed (its message says why)", what, r, g_size);
}


/* > 0: this thread's calls are one rank's (semid_dist_solo_push). */
static _Thread_local int t_solo;

int semid_dist_rank(void) { return t_solo ? 0 : g_rank; }
int semid_dist_size(void) { return t_solo ? 1 : g_size; }
int semid_dist_solo_push(void) { return t_solo++; }
void semid_dist_solo_pop(int prev) { t_solo = prev; }

/* The number of ranks a launcher started, from the environment it sets
 * (OpenMPI's mpirun, Hydra's PMI, Slurm's srun; PMIx alone: -1, unknown);
 * 0 when no launcher started this process. */
static int launcher_size(void) {
    const char *v;
    if ((v = getenv("OMPI_COMM_WORLD_SIZE")) || (v = getenv("PMI_SIZE"))) return atoi(v) > 0 ? atoi(v) : -1;
    if (getenv("SLURM_PROCID") && (v = getenv("SLURM_NTASKS")) && atoi(v) > 1) return atoi(v);
    return getenv("PMIX_RANK") ? -1 : 0;
}

/* The one-rank gather: rank 0's array is all of it. */
static void gather_alone(const void *send, void *recv, const int64_t *counts, size_t elem_size) {
    if (send != recv && counts[0] > 0) memmove(recv, send, (size_t)counts[0] * elem_size);
}

#ifdef SEMID_HAVE_MPI

int semid_dist_available(void) { return 1; }

static semid_status mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return SEMID_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    return semid_fail(SEMID_EIO, "dist: %s failed on rank %d of %d: %s", what, g_rank, g_size, msg);
}

semid_status semid_dist_init(int *argc, char ***argv) {
    if (g_started || launcher_size() == 0) return SEMID_OK;
    int provided = 0;
    /* Funneled: only the thread that started MPI calls it; OpenMP teams do
     * the work between the calls. */
    SEMID_TRY(mpi_check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread"));
    g_started = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    return SEMID_OK;
}

void semid_dist_finalize(void) {
    int done = 0;
    if (g_started && MPI_Finalized(&done) == MPI_SUCCESS && !done) MPI_Finalize();
}

void semid_dist_abort(int code) {
    if (g_started && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

/* Sums len floats in place on every rank. */
static semid_status reduce_floats(float *data, int64_t len) {
    return mpi_check(MPI_Allreduce(MPI_IN_PLACE, data, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
}

semid_status semid_dist_allreduce_sum(const semid_dist_span *spans, int n_spans, int64_t bucket_floats, int *calls) {
    if (calls) *calls = 0;
    if (semid_dist_size() == 1) return SEMID_OK;
    int64_t bucket = bucket_floats > 0 ? bucket_floats : SEMID_DIST_BUCKET_FLOATS, total = 0;
    if (bucket > INT_MAX) bucket = INT_MAX;
    for (int i = 0; i < n_spans; i++) total += spans[i].n;
    float *fusion = NULL;
    semid_status st = SEMID_OK;
    int si = 0;
    int64_t so = 0; /* the cursor: span si, offset so */
    for (int64_t off = 0; off < total && st == SEMID_OK; off += bucket) {
        int64_t len = total - off < bucket ? total - off : bucket;
        while (spans[si].n - so == 0) si++, so = 0;
        if (spans[si].n - so >= len) { /* inside one span: in place */
            st = reduce_floats(spans[si].data + so, len);
            so += len;
        } else { /* straddles spans: through the fusion buffer */
            if (!fusion && !(fusion = malloc((size_t)bucket * sizeof *fusion))) {
                st = semid_fail(SEMID_ENOMEM, "dist: out of memory for a fusion buffer of %lld floats", (long long)bucket);
                break;
            }
            int gi = si;
            int64_t go = so;
            for (int64_t k = 0; k < len;) { /* gather */
                int64_t take = spans[gi].n - go < len - k ? spans[gi].n - go : len - k;
                memcpy(fusion + k, spans[gi].data + go, (size_t)take * sizeof *fusion);
                k += take, go += take;
                if (go == spans[gi].n) gi++, go = 0;
            }
            st = reduce_floats(fusion, len);
            for (int64_t k = 0; k < len && st == SEMID_OK;) { /* scatter */
                while (spans[si].n - so == 0) si++, so = 0;
                int64_t take = spans[si].n - so < len - k ? spans[si].n - so : len - k;
                memcpy(spans[si].data + so, fusion + k, (size_t)take * sizeof *fusion);
                k += take, so += take;
            }
        }
        if (calls) ++*calls;
    }
    free(fusion);
    return st;
}

semid_status semid_dist_allgatherv(const void *send, void *recv, const int64_t *counts, size_t elem_size) {
    if (semid_dist_size() == 1) {
        gather_alone(send, recv, counts, elem_size);
        return SEMID_OK;
    }
    int *cnt = malloc((size_t)g_size * sizeof *cnt), *displ = malloc((size_t)g_size * sizeof *displ);
    semid_status st = cnt && displ ? SEMID_OK : semid_fail(SEMID_ENOMEM, "dist: out of memory for a gather");
    int64_t total = 0;
    for (int r = 0; r < g_size && st == SEMID_OK; r++) {
        int64_t bytes = counts[r] * (int64_t)elem_size;
        if (counts[r] < 0 || total + bytes > INT_MAX) {
            st = semid_fail(SEMID_EINVAL, "dist: a gather of %lld bytes and more exceeds MPI's int counts",
                            (long long)(total + bytes));
            break;
        }
        cnt[r] = (int)bytes, displ[r] = (int)total;
        total += bytes;
    }
    if (st == SEMID_OK)
        st = mpi_check(MPI_Allgatherv(send, cnt[g_rank], MPI_BYTE, recv, cnt, displ, MPI_BYTE, MPI_COMM_WORLD),
                       "MPI_Allgatherv");
    free(cnt), free(displ);
    return st;
}

semid_status semid_dist_allreduce_or(uint64_t *words, int64_t n) {
    if (semid_dist_size() == 1) return SEMID_OK;
    for (int64_t off = 0; off < n; off += INT_MAX) {
        int len = (int)(n - off < INT_MAX ? n - off : INT_MAX);
        SEMID_TRY(mpi_check(MPI_Allreduce(MPI_IN_PLACE, words + off, len, MPI_UINT64_T, MPI_BOR, MPI_COMM_WORLD),
                            "MPI_Allreduce"));
    }
    return SEMID_OK;
}

semid_status semid_dist_broadcast(void *data, size_t bytes, int root) {
    if (semid_dist_size() == 1) return SEMID_OK;
    const size_t piece = (size_t)1 << 30;
    for (size_t off = 0; off < bytes; off += piece) {
        size_t len = bytes - off < piece ? bytes - off : piece;
        SEMID_TRY(mpi_check(MPI_Bcast((char *)data + off, (int)len, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast"));
    }
    return SEMID_OK;
}

semid_status semid_dist_agree(semid_status st) {
    if (semid_dist_size() == 1) return st;
    int mine = st == SEMID_OK ? INT_MAX : g_rank, first = INT_MAX;
    semid_status mst = mpi_check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
    if (mst != SEMID_OK) return st != SEMID_OK ? st : mst;
    if (first != INT_MAX) g_failure_known = 1;
    if (st != SEMID_OK) return st; /* keep this rank's own message */
    if (first != INT_MAX) return semid_dist_fail_peer("dist", first);
    return SEMID_OK;
}

semid_status semid_dist_check_same(uint64_t value, const char *what) {
    if (semid_dist_size() == 1) return SEMID_OK;
    uint64_t *all = malloc((size_t)g_size * sizeof *all);
    /* every rank reaches the gather, one out of memory included */
    semid_status st = semid_dist_agree(all ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory"));
    if (st == SEMID_OK)
        st = mpi_check(MPI_Allgather(&value, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Allgather");
    for (int r = 1; r < g_size && st == SEMID_OK; r++) {
        if (all[r] == all[0]) continue;
        g_failure_known = 1;
        st = semid_fail(SEMID_EINVAL,
                        "rank %d has other %s (checksum %016llx) than rank 0 (%016llx): every rank must start "
                        "from the same files and options",
                        r, what, (unsigned long long)all[r], (unsigned long long)all[0]);
    }
    free(all);
    return st;
}

#else /* one rank */

int semid_dist_available(void) { return 0; }

semid_status semid_dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (!g_started && launcher_size() != 0 && launcher_size() != 1) {
        g_started = 1;
        /* A launcher's ranks would each train alone, all writing the same files. */
        return semid_fail(SEMID_EINVAL,
                          "dist: started by an MPI launcher, but this semid was built without MPI "
                          "(install libopenmpi-dev and rebuild)");
    }
    return SEMID_OK;
}
void semid_dist_finalize(void) {}
void semid_dist_abort(int code) { (void)code; }
semid_status semid_dist_allreduce_sum(const semid_dist_span *spans, int n_spans, int64_t bucket_floats, int *calls) {
    (void)spans, (void)n_spans, (void)bucket_floats;
    if (calls) *calls = 0;
    return SEMID_OK;
}
semid_status semid_dist_broadcast(void *data, size_t bytes, int root) {
    (void)data, (void)bytes, (void)root;
    return SEMID_OK;
}
semid_status semid_dist_allgatherv(const void *send, void *recv, const int64_t *counts, size_t elem_size) {
    gather_alone(send, recv, counts, elem_size);
    return SEMID_OK;
}
semid_status semid_dist_allreduce_or(uint64_t *words, int64_t n) {
    (void)words, (void)n;
    return SEMID_OK;
}
semid_status semid_dist_agree(semid_status st) { return st; }
semid_status semid_dist_check_same(uint64_t value, const char *what) {
    (void)value, (void)what;
    return SEMID_OK;
}

#endif
