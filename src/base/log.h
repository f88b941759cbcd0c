/* Logging to a caller-set sink (stderr by default), and a progress meter
 * with rate and time left for long work. */
#ifndef SEMID_BASE_LOG_H
#define SEMID_BASE_LOG_H

#include <stdint.h>

#include "semid/semid.h"

void semid_log(semid_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int semid_log_enabled(semid_log_level level);

#define SEMID_DEBUG(...) semid_log(SEMID_LOG_DEBUG, __VA_ARGS__)
#define SEMID_INFO(...) semid_log(SEMID_LOG_INFO, __VA_ARGS__)
#define SEMID_WARN(...) semid_log(SEMID_LOG_WARN, __VA_ARGS__)

/* Monotonic wall clock in seconds. */
double semid_now(void);
/* CPU time of the whole process (all threads) in seconds. */
double semid_cpu_now(void);

/* Peak resident memory of this process in bytes (0 if unknown). */
int64_t semid_peak_rss_bytes(void);

typedef struct semid_progress {
    char label[64];
    int64_t total;
    int64_t done;
    double t_start;
    double t_last_print;
} semid_progress;

/* Prints "label  done/total  rate/s  eta" at most every second, at INFO. */
void semid_progress_start(semid_progress *p, const char *label, int64_t total);
/* `extra` (may be NULL) is appended, e.g. "loss 1.234". */
void semid_progress_update(semid_progress *p, int64_t done, const char *extra);
void semid_progress_finish(semid_progress *p, const char *extra);

#endif
