/* A growable string for the report and the plot: appends after an
 * allocation failure do nothing and set `oom`, so a writer checks once at
 * the end. Start from {0}; free(s). */
#ifndef SEMID_EXP_SBUF_H
#define SEMID_EXP_SBUF_H

#include <stddef.h>

typedef struct exp_sbuf {
    char *s;
    size_t len, cap;
    int oom;
} exp_sbuf;

void exp_sb_printf(exp_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
