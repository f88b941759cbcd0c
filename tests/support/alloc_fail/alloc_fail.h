/* Allocation-failure injection, as in SQLite's malloc tests: the program
 * is linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=strdup,--wrap=strndup
 * so that every call to these in the program's own objects and static
 * libraries (semid's, not libc's, libgomp's or OpenBLAS's) goes through
 * the __wrap_* functions of alloc_fail.c. They count allocations, can make
 * the Nth one fail (return NULL), and keep the set of live blocks, so that
 * a test can check that a failed call freed what it allocated (in any
 * build, not only under LeakSanitizer). tests/test_api_alloc_failure.c
 * uses it; CMakeLists.txt adds the link options to that test alone.
 *
 * Counting and failing are deterministic only when the code under test
 * allocates from one thread (run it with 1 thread). */
#ifndef SEMID_TESTS_ALLOC_FAIL_H
#define SEMID_TESTS_ALLOC_FAIL_H

#include <stddef.h>
#include <stdint.h>

/* Starts counting from 0; the nth allocation from now fails (1-based),
 * n = 0 never. persist: every allocation after the nth fails too. */
void alloc_fail_arm(int64_t n, int persist);
/* Stops failing (counting goes on). */
void alloc_fail_disarm(void);
/* Allocations (malloc, calloc, realloc to a new size, strdup, strndup)
 * since the last alloc_fail_arm, failed ones included. */
int64_t alloc_fail_count(void);
/* How many allocations failed since the last alloc_fail_arm. */
int64_t alloc_fail_failures(void);

/* Live blocks allocated through the wrappers, and a serial number that
 * grows with every allocation: blocks still live that were allocated
 * after a mark are what a call that should have freed everything leaked. */
int64_t alloc_fail_live(void);
uint64_t alloc_fail_mark(void);
/* Prints (to stderr) up to max live blocks allocated after mark (their
 * size and number since alloc_fail_arm); returns how many there are. */
int64_t alloc_fail_report_since(uint64_t mark, int max);

/* The wrappers themselves, for libraries that take allocation hooks
 * (cJSON_InitHooks), so that their allocations are counted too. */
void *alloc_fail_malloc(size_t n);
void alloc_fail_free(void *p);

/* Called when an injected failure fires, and when the allocation numbered
 * n by alloc_fail_watch happens (n = 0: none): places for a debugger's
 * breakpoints (gdb -ex 'break alloc_fail_fired' ...), to see where the
 * failed or a leaked allocation is made. */
void alloc_fail_fired(int64_t n);
void alloc_fail_watch(int64_t n);
void alloc_fail_watched(int64_t n);

#endif
