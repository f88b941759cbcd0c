/* Status codes and the per-thread error message.
 *
 * Two tiers, as in ggml: SEMID_ASSERT for programming bugs (prints file:line
 * and aborts); a semid_status for everything a user, a file or a peer can
 * cause. Library functions return a status and leave a human-readable
 * message (naming the file, line or value) that the caller reads with
 * semid_last_error(). Library code never exits and never prints to stdout. */
#ifndef SEMID_BASE_STATUS_H
#define SEMID_BASE_STATUS_H

#include "semid/semid.h"

/* Record a formatted message for this thread and return `st`, so that
 *   return semid_fail(SEMID_EPARSE, "%s:%lld: expected 3 columns", path, line);
 * reports and propagates in one statement. */
semid_status semid_fail(semid_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current message with context ("loading model: ..."). Returns st. */
semid_status semid_fail_context(semid_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void semid_clear_error(void);

/* Propagate a failing status. */
#define SEMID_TRY(expr)                                                        \
    do {                                                                       \
        semid_status semid_try_st_ = (expr);                                   \
        if (semid_try_st_ != SEMID_OK) return semid_try_st_;                   \
    } while (0)

/* Programming-bug checks: never for conditions input can trigger. */
void semid_assert_fail(const char *cond, const char *file, int line)
    __attribute__((noreturn));
#define SEMID_ASSERT(cond)                                                     \
    do {                                                                       \
        if (!(cond)) semid_assert_fail(#cond, __FILE__, __LINE__);             \
    } while (0)

#endif
