/* The calling thread's thread count for library work (semid_set_threads in
 * semid/semid.h), and a scoped override for calls that take a `threads`
 * option. Nothing here touches process-wide OpenMP or BLAS settings: every
 * parallel loop in the library names its team size with
 * num_threads(semid_get_threads()), and BLAS runs single-threaded inside
 * semid's own teams (linalg/gemm.c).
 *
 * Counts are bounded: at most SEMID_THREADS_PER_CORE threads per online core
 * and SEMID_THREADS_MAX in all (semid_threads_limit). More threads than that
 * only add contention, and tens of thousands exhaust libgomp's stacks.
 * semid_set_threads, semid_threads_push and the OMP_NUM_THREADS default are
 * clamped to the limit; semid_threads_check refuses a count above it with a
 * message naming the bound, for callers that take a count from a user. */
#ifndef SEMID_BASE_THREADS_H
#define SEMID_BASE_THREADS_H

#include "semid/semid.h"

enum { SEMID_THREADS_PER_CORE = 4, SEMID_THREADS_MAX = 1024 };

/* min(SEMID_THREADS_PER_CORE x online cores, SEMID_THREADS_MAX). */
int semid_threads_limit(void);

/* SEMID_EINVAL, "<what>: N threads is out of range (0..limit ...)", unless
 * 0 <= n <= semid_threads_limit() (0 = the default). */
semid_status semid_threads_check(int n, const char *what);

/* Sets this thread's count to n (clamped to the limit) when n > 0 and
 * returns the previous raw setting, for semid_threads_pop; n <= 0 leaves it
 * as it is. */
int semid_threads_push(int n);
/* semid_threads_push after semid_threads_check: refuses (nothing pushed) a
 * count out of range instead of clamping it. */
semid_status semid_threads_push_checked(int n, const char *what, int *prev);
void semid_threads_pop(int prev);

#endif
