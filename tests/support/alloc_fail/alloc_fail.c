/* The wrappers of alloc_fail.h: an allocation counter with an injected
 * failure, and a hash set of the live blocks (pointer -> serial, size),
 * open addressing with linear probing, kept in memory of the real
 * allocator so that it never counts itself. */
#include "support/alloc_fail/alloc_fail.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

typedef struct slot {
    void *p; /* NULL = empty */
    uint64_t serial;
    int64_t nth; /* its number since alloc_fail_arm */
    size_t size;
} slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t count, fail_at, failures, watch;
static int persist;
static uint64_t serial;
static slot *table;
static size_t cap, used;

static size_t hash_ptr(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static void insert_slot(slot *t, size_t c, slot s) {
    size_t i = hash_ptr(s.p) & (c - 1);
    while (t[i].p) i = (i + 1) & (c - 1);
    t[i] = s;
}

/* Under the lock. Returns 0 when the table cannot grow (the block is then
 * not tracked: a later free of it is passed through). */
static int track(void *p, size_t size) {
    if ((used + 1) * 2 > cap) {
        size_t nc = cap ? cap * 2 : 1024;
        slot *nt = __real_calloc(nc, sizeof *nt);
        if (!nt) return 0;
        for (size_t i = 0; i < cap; i++)
            if (table[i].p) insert_slot(nt, nc, table[i]);
        __real_free(table);
        table = nt;
        cap = nc;
    }
    insert_slot(table, cap, (slot){p, ++serial, count, size});
    used++;
    return 1;
}

/* Under the lock: removes p (backward-shift deletion); 0 if not tracked. */
static int untrack(void *p) {
    if (!cap) return 0;
    size_t i = hash_ptr(p) & (cap - 1);
    while (table[i].p && table[i].p != p) i = (i + 1) & (cap - 1);
    if (!table[i].p) return 0;
    table[i].p = NULL;
    used--;
    for (size_t j = (i + 1) & (cap - 1); table[j].p; j = (j + 1) & (cap - 1)) {
        size_t home = hash_ptr(table[j].p) & (cap - 1);
        /* table[j] may move to the hole at i when its home is not in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            table[i] = table[j];
            table[j].p = NULL;
            i = j;
        }
    }
    return 1;
}

/* Under the lock: counts one allocation; 1 when it is to fail. */
static int next_fails(void) {
    count++;
    int fail = fail_at > 0 && (count == fail_at || (persist && count > fail_at));
    if (fail) failures++;
    return fail;
}

__attribute__((noinline)) void alloc_fail_fired(int64_t n) {
    /* Kept out of line and observable, for a debugger's breakpoint. */
    __asm__ volatile("" : : "r"(n) : "memory");
}

static void *tracked(void *p, size_t size) {
    if (p) {
        pthread_mutex_lock(&lock);
        track(p, size);
        pthread_mutex_unlock(&lock);
    }
    return p;
}

__attribute__((noinline)) void alloc_fail_watched(int64_t n) { __asm__ volatile("" : : "r"(n) : "memory"); }

static int should_fail(void) {
    pthread_mutex_lock(&lock);
    int fail = next_fails();
    int64_t n = count;
    int watched = n == watch;
    pthread_mutex_unlock(&lock);
    if (fail) alloc_fail_fired(n);
    if (watched) alloc_fail_watched(n);
    return fail;
}

void *__wrap_malloc(size_t n) {
    if (should_fail()) return NULL;
    return tracked(__real_malloc(n), n);
}

void *__wrap_calloc(size_t n, size_t size) {
    if (should_fail()) return NULL;
    return tracked(__real_calloc(n, size), n * size);
}

void *__wrap_realloc(void *p, size_t n) {
    if (!p) return __wrap_malloc(n);
    if (n == 0) { /* glibc frees p */
        pthread_mutex_lock(&lock);
        untrack(p);
        pthread_mutex_unlock(&lock);
        return __real_realloc(p, 0);
    }
    if (should_fail()) return NULL;
    pthread_mutex_lock(&lock);
    int was = untrack(p);
    pthread_mutex_unlock(&lock);
    void *q = __real_realloc(p, n);
    if (!q) { /* p is still valid */
        pthread_mutex_lock(&lock);
        if (was) track(p, 0); /* (a new serial: it is the caller's still) */
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    /* A block the C library allocated itself (open_memstream) stays untracked. */
    return was ? tracked(q, n) : q;
}

void __wrap_free(void *p) {
    if (!p) return;
    pthread_mutex_lock(&lock);
    untrack(p);
    pthread_mutex_unlock(&lock);
    __real_free(p);
}

char *__wrap_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = __wrap_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *__wrap_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *d = __wrap_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

void *alloc_fail_malloc(size_t n) { return __wrap_malloc(n); }

void alloc_fail_free(void *p) { __wrap_free(p); }

void alloc_fail_arm(int64_t n, int persist_after) {
    pthread_mutex_lock(&lock);
    count = 0;
    failures = 0;
    fail_at = n;
    persist = persist_after;
    pthread_mutex_unlock(&lock);
}

void alloc_fail_watch(int64_t n) {
    pthread_mutex_lock(&lock);
    watch = n;
    pthread_mutex_unlock(&lock);
}

void alloc_fail_disarm(void) {
    pthread_mutex_lock(&lock);
    fail_at = 0;
    pthread_mutex_unlock(&lock);
}

int64_t alloc_fail_count(void) {
    pthread_mutex_lock(&lock);
    int64_t n = count;
    pthread_mutex_unlock(&lock);
    return n;
}

int64_t alloc_fail_failures(void) {
    pthread_mutex_lock(&lock);
    int64_t n = failures;
    pthread_mutex_unlock(&lock);
    return n;
}

int64_t alloc_fail_live(void) {
    pthread_mutex_lock(&lock);
    int64_t n = (int64_t)used;
    pthread_mutex_unlock(&lock);
    return n;
}

uint64_t alloc_fail_mark(void) {
    pthread_mutex_lock(&lock);
    uint64_t s = serial;
    pthread_mutex_unlock(&lock);
    return s;
}

int64_t alloc_fail_report_since(uint64_t mark, int max) {
    pthread_mutex_lock(&lock);
    int64_t n = 0;
    for (size_t i = 0; i < cap; i++) {
        if (!table[i].p || table[i].serial <= mark) continue;
        if (n++ < max)
            fprintf(stderr, "  live block of %zu bytes: allocation %lld of the run\n", table[i].size,
                    (long long)table[i].nth);
    }
    pthread_mutex_unlock(&lock);
    return n;
}
