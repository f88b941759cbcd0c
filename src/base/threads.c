#include "base/threads.h"

#include <omp.h>
#include <unistd.h>

#include "base/status.h"

/* 0 = not set on this thread: the default below. Thread-local, so a server
 * thread decoding with 1 thread and a trainer with 2 never see each other's
 * setting. */
static _Thread_local int thread_setting;

int semid_threads_limit(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    long limit = cores * SEMID_THREADS_PER_CORE;
    return (int)(limit < SEMID_THREADS_MAX ? limit : SEMID_THREADS_MAX);
}

static int clamp(int n) {
    int limit = semid_threads_limit();
    return n > limit ? limit : n;
}

semid_status semid_threads_check(int n, const char *what) {
    int limit = semid_threads_limit();
    if (n < 0 || n > limit)
        return semid_fail(SEMID_EINVAL, "%s: %d threads is out of range (0..%d: at most %d per core and %d in all; 0 = all cores)",
                          what ? what : "threads", n, limit, SEMID_THREADS_PER_CORE, SEMID_THREADS_MAX);
    return SEMID_OK;
}

void semid_set_threads(int n) { thread_setting = n > 0 ? clamp(n) : 0; }

/* The default is what OpenMP would use (OMP_NUM_THREADS, else all cores),
 * read, never written, and bounded like an explicit setting. */
int semid_get_threads(void) {
    if (thread_setting > 0) return thread_setting;
    int n = omp_get_max_threads();
    return n > 0 ? clamp(n) : 1;
}

int semid_threads_push(int n) {
    int prev = thread_setting;
    if (n > 0) thread_setting = clamp(n);
    return prev;
}

semid_status semid_threads_push_checked(int n, const char *what, int *prev) {
    SEMID_TRY(semid_threads_check(n, what));
    *prev = semid_threads_push(n);
    return SEMID_OK;
}

void semid_threads_pop(int prev) { thread_setting = prev; }
