#include "base/threads.h"

#include <omp.h>

/* 0 = not set on this thread: the default below. Thread-local, so a server
 * thread decoding with 1 thread and a trainer with 2 never see each other's
 * setting. */
static _Thread_local int thread_setting;

void semid_set_threads(int n) { thread_setting = n > 0 ? n : 0; }

/* The default is what OpenMP would use (OMP_NUM_THREADS, else all cores),
 * read, never written. */
int semid_get_threads(void) {
    if (thread_setting > 0) return thread_setting;
    int n = omp_get_max_threads();
    return n > 0 ? n : 1;
}

int semid_threads_push(int n) {
    int prev = thread_setting;
    if (n > 0) thread_setting = n;
    return prev;
}

void semid_threads_pop(int prev) { thread_setting = prev; }
