/* Runs across processes: data-parallel training with MPI (docs/distributed.md).
 *
 * The calls a trainer needs, the same with and without MPI: a build without
 * it (SEMID_HAVE_MPI undefined), and a process that no launcher started
 * (mpirun, srun), are one rank of one, where the collectives return at once
 * with their input as the result. So trainers call them unconditionally.
 *
 * The ranks are those of MPI_COMM_WORLD, process-wide by nature: this is
 * the library's one process-wide state, set once by semid_dist_init (which
 * the command-line tool calls first thing) and read by everything else.
 * MPI errors come back as statuses (MPI_ERRORS_RETURN) with MPI's message;
 * a rank that dies ends the job through the launcher (OpenMPI's mpirun
 * kills the others and names the rank), and the tool ends a job whose rank
 * failed with semid_dist_abort, so that no rank waits forever for a peer
 * that left.
 *
 * Collectives must be called by every rank in the same order. A rank that
 * fails between two of them must still reach the next one (with
 * semid_dist_agree or a flag in the reduced values), never return early. */
#ifndef SEMID_DIST_DIST_H
#define SEMID_DIST_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "semid/semid.h"

/* Values reduced per MPI call: gradients are summed in buckets of at most
 * this many floats (16 MiB), as Horovod's tensor fusion does, so that small
 * tensors share a call and a large one never exceeds MPI's int counts. */
enum { SEMID_DIST_BUCKET_FLOATS = 4 << 20 };

/* Starts MPI when a launcher started this process (its environment names a
 * rank: OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_SIZE or SLURM_PROCID with
 * SLURM_NTASKS > 1); else, or without MPI in the build, stays one rank.
 * Idempotent. */
semid_status semid_dist_init(int *argc, char ***argv);
/* Ends MPI (a clean exit of every rank). */
void semid_dist_finalize(void);
/* Ends the whole job at once (MPI_Abort) with exit code `code`: the tool's
 * exit when this rank failed in a run of several. No-op for one rank. */
void semid_dist_abort(int code);

int semid_dist_rank(void);
int semid_dist_size(void);
/* Makes this thread's calls one rank's (rank 0 of 1, collectives return at
 * once) until semid_dist_solo_pop(returned value): for work a rank does
 * alone, such as a model of the experiment trained on one rank. */
int semid_dist_solo_push(void);
void semid_dist_solo_pop(int prev);
/* 1 when MPI is in this build. */
int semid_dist_available(void);

/* A run of floats to reduce. */
typedef struct semid_dist_span {
    float *data;
    int64_t n;
} semid_dist_span;

/* Sums spans[0..n_spans) over the ranks, in place on every rank. The spans
 * are taken as one concatenation cut into buckets of bucket_floats (0 =
 * SEMID_DIST_BUCKET_FLOATS): a bucket inside one span is reduced in place,
 * one that straddles spans (the small ones) is copied into a fusion buffer
 * and back. So a flat gradient and a few scalars cost ceil(total / bucket)
 * calls. Every rank gets the same bits. *calls (may be NULL) receives the
 * number of MPI calls made. */
semid_status semid_dist_allreduce_sum(const semid_dist_span *spans, int n_spans, int64_t bucket_floats, int *calls);

/* Concatenates the ranks' arrays on every rank, rank 0's first: rank r
 * gives counts[r] elements of elem_size bytes at `send` (counts is the same
 * on every rank, entries may be 0), and `recv` receives them all (Σ counts
 * elements; rank r's at the sum of the counts before it). One rank: copies
 * send to recv. SEMID_EINVAL when the total exceeds MPI's int counts
 * (2 GiB). */
semid_status semid_dist_allgatherv(const void *send, void *recv, const int64_t *counts, size_t elem_size);

/* Bitwise OR of `n` words over the ranks, in place on every rank: the union
 * of sets held as bitmaps (such as the rows a sparse gradient touched). */
semid_status semid_dist_allreduce_or(uint64_t *words, int64_t n);

/* Copies `bytes` from rank `root` to every rank (in pieces under MPI's int
 * counts). */
semid_status semid_dist_broadcast(void *data, size_t bytes, int root);

/* The collective verdict: every rank passes its own status; all get
 * SEMID_OK when all passed it, else the failing rank keeps its status and
 * message and the others get SEMID_EIO "rank R failed (see its message)",
 * naming the lowest failing rank. */
semid_status semid_dist_agree(semid_status st);

/* SEMID_EIO "WHAT: rank R of N failed (its message says why)" (R < 0:
 * "another rank"), for a rank that learnt of another's failure in a
 * collective; marks the failure known to every rank. */
semid_status semid_dist_fail_peer(const char *what, int r);
/* Marks this rank's own failure as known to every rank (it was shared in a
 * collective, as a flag in reduced values). */
void semid_dist_failure_shared(void);
/* 1 when every rank knows of the failure that ends this one (semid_dist_agree,
 * semid_dist_check_same, the two above): all ranks then end by themselves
 * (semid_dist_finalize, a non-zero exit), and the launcher reports the exit
 * status. 0: this rank failed alone, and semid_dist_abort must end the job,
 * as other ranks may wait for it in a collective. */
int semid_dist_failure_known(void);

/* Refuses (SEMID_EINVAL, on every rank) a run whose ranks hold different
 * values of `value`, a checksum of `what` (the data and settings they
 * start from): "rank R has another WHAT (checksum X) than rank 0 (Y)". */
semid_status semid_dist_check_same(uint64_t value, const char *what);

#endif
