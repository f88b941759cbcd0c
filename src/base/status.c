#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ERROR_CAPACITY = 2048 };
static _Thread_local char last_error[ERROR_CAPACITY];

const char *semid_status_name(semid_status st) {
    switch (st) {
    case SEMID_OK: return "OK";
    case SEMID_EINVAL: return "EINVAL";
    case SEMID_EIO: return "EIO";
    case SEMID_EPARSE: return "EPARSE";
    case SEMID_EFORMAT: return "EFORMAT";
    case SEMID_ENOMEM: return "ENOMEM";
    case SEMID_ENOTFOUND: return "ENOTFOUND";
    case SEMID_ENUMERIC: return "ENUMERIC";
    case SEMID_EINTERNAL: return "EINTERNAL";
    }
    return "UNKNOWN";
}

const char *semid_last_error(void) { return last_error; }

void semid_clear_error(void) { last_error[0] = '\0'; }

semid_status semid_fail(semid_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

semid_status semid_fail_context(semid_status st, const char *fmt, ...) {
    char prefix[ERROR_CAPACITY];
    char old[ERROR_CAPACITY];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    snprintf(last_error, sizeof last_error, "%.1000s: %.1000s", prefix, old);
    return st;
}

void semid_assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "semid: internal error: assertion '%s' failed at %s:%d\n", cond, file, line);
    abort();
}
