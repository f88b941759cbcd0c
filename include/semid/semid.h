/* semid: Semantic IDs for joint generative search and recommendation.
 *
 * Public entry points shared by every module. The internal module headers
 * (src/MODULE/NAME.h) are installed under semid/MODULE/ for library users
 * who need the individual stages. */
#ifndef SEMID_SEMID_H
#define SEMID_SEMID_H

#ifdef __cplusplus
extern "C" {
#endif

#define SEMID_VERSION_STRING "0.1.0"

typedef enum semid_status {
    SEMID_OK = 0,
    SEMID_EINVAL,    /* bad argument or configuration value */
    SEMID_EIO,       /* the file system failed (open, read, write, rename, full disk) */
    SEMID_EPARSE,    /* malformed text input: the message names file and line */
    SEMID_EFORMAT,   /* wrong binary format, version, shape or dtype */
    SEMID_ENOMEM,    /* an allocation failed */
    SEMID_ENOTFOUND, /* unknown id, key or file */
    SEMID_ENUMERIC,  /* NaN or Inf where a finite number is required */
    SEMID_EINTERNAL  /* a bug: please report it */
} semid_status;

/* Short stable name of a status ("EPARSE"). */
const char *semid_status_name(semid_status st);

/* The message of the last failure on this thread ("" if none). */
const char *semid_last_error(void);

/* Log levels and a caller-set sink; by default messages go to stderr. */
typedef enum semid_log_level {
    SEMID_LOG_DEBUG = 0,
    SEMID_LOG_INFO = 1,
    SEMID_LOG_WARN = 2,
    SEMID_LOG_ERROR = 3,
    SEMID_LOG_QUIET = 4
} semid_log_level;

typedef void (*semid_log_fn)(semid_log_level level, const char *msg, void *user);
void semid_set_log_callback(semid_log_fn fn, void *user);
void semid_set_log_level(semid_log_level level);

/* Threads for the library calls made from the calling thread (n <= 0: the
 * default, OMP_NUM_THREADS or all cores). The setting belongs to the
 * calling thread: library calls never change the process's OpenMP or BLAS
 * thread counts, nor another thread's setting, so threads that decode or
 * train at the same time each keep their own. Calls with a `threads` option
 * use it for that call only. */
void semid_set_threads(int n);
int semid_get_threads(void);

#ifdef __cplusplus
}
#endif
#endif
