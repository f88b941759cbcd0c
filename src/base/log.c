#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Process-wide sink: set once by the program, read by every module. */
static semid_log_fn log_sink = NULL;
static void *log_sink_user = NULL;
static semid_log_level log_threshold = SEMID_LOG_INFO;

void semid_set_log_callback(semid_log_fn fn, void *user) {
    log_sink = fn;
    log_sink_user = user;
}

void semid_set_log_level(semid_log_level level) { log_threshold = level; }

int semid_log_enabled(semid_log_level level) { return level >= log_threshold; }

void semid_log(semid_log_level level, const char *fmt, ...) {
    if (!semid_log_enabled(level)) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_sink) {
        log_sink(level, msg, log_sink_user);
        return;
    }
    static const char *const prefix[] = {"debug: ", "", "warning: ", "error: ", ""};
    fprintf(stderr, "%s%s\n", prefix[level], msg);
}

double semid_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double semid_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t semid_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (int64_t)ru.ru_maxrss * 1024;
}

static void format_duration(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "?");
    } else if (s < 60) {
        snprintf(buf, n, "%.0fs", s);
    } else if (s < 3600) {
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    } else {
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
    }
}

static void progress_print(semid_progress *p, const char *extra, int final) {
    double now = semid_now();
    double elapsed = now - p->t_start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    char left[32], spent[32];
    format_duration(spent, sizeof spent, elapsed);
    if (final || p->total <= 0 || rate <= 0) {
        snprintf(left, sizeof left, "-");
    } else {
        format_duration(left, sizeof left, (double)(p->total - p->done) / rate);
    }
    if (p->total > 0) {
        semid_log(SEMID_LOG_INFO, "%s %lld/%lld (%.0f%%) %.1f/s elapsed %s left %s%s%s", p->label,
                  (long long)p->done, (long long)p->total, 100.0 * (double)p->done / (double)p->total,
                  rate, spent, left, extra ? "  " : "", extra ? extra : "");
    } else {
        semid_log(SEMID_LOG_INFO, "%s %lld %.1f/s elapsed %s%s%s", p->label, (long long)p->done,
                  rate, spent, extra ? "  " : "", extra ? extra : "");
    }
    p->t_last_print = now;
}

void semid_progress_start(semid_progress *p, const char *label, int64_t total) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->t_start = semid_now();
    p->t_last_print = p->t_start;
}

void semid_progress_update(semid_progress *p, int64_t done, const char *extra) {
    p->done = done;
    if (semid_now() - p->t_last_print >= 1.0) progress_print(p, extra, 0);
}

void semid_progress_finish(semid_progress *p, const char *extra) {
    if (p->total > 0) p->done = p->total;
    progress_print(p, extra, 1);
}
