/* semid: Semantic IDs for joint generative search and recommendation.
 *
 * The public C API is include/semid/ and nothing else: this header (status
 * codes, the last error, logging, threads, the version) and semid/api.h,
 * which it includes (opaque handles for datasets, embeddings, quantizers,
 * ID tables, trainers and models, and the stage operations). `make install`
 * installs these headers alone; the module headers under src/ are internal
 * and change without notice.
 *
 * What is stable. Before 1.0, the API is stable within a minor version
 * (0.3.x): functions keep their names, arguments and meaning; handles stay
 * opaque. A new minor version may add functions, and may add fields at the
 * end of the option and result structs: programs that start from the
 * matching *_default() function and are rebuilt keep working. The shared
 * library's soname (libsemid.so.0.3) changes whenever its ABI can. Files
 * written by semid (datasets, ID tables, quantizers, models) carry a format
 * version; a library that cannot read one says so (SEMID_EFORMAT). They
 * also carry a checksum, verified on load unless SEMID_NO_VERIFY=1 is set
 * in the environment (semid/api.h). */
#ifndef SEMID_SEMID_H
#define SEMID_SEMID_H

#ifdef __cplusplus
extern "C" {
#endif

/* The version of these headers; semid_version() gives the library's. */
#define SEMID_VERSION_MAJOR 0
#define SEMID_VERSION_MINOR 3
#define SEMID_VERSION_PATCH 0
#define SEMID_VERSION_STRING "0.3.0"
#define SEMID_VERSION_NUMBER (SEMID_VERSION_MAJOR * 10000 + SEMID_VERSION_MINOR * 100 + SEMID_VERSION_PATCH)

/* Marks what libsemid.so exports; everything else is hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define SEMID_API __attribute__((visibility("default")))
#else
#define SEMID_API
#endif

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
SEMID_API const char *semid_status_name(semid_status st);

/* The message of the last failure on this thread ("" if none). */
SEMID_API const char *semid_last_error(void);

/* Log levels and a caller-set sink; by default messages go to stderr.
 * These two are the only process-wide settings: set them once, at start. */
typedef enum semid_log_level {
    SEMID_LOG_DEBUG = 0,
    SEMID_LOG_INFO = 1,
    SEMID_LOG_WARN = 2,
    SEMID_LOG_ERROR = 3,
    SEMID_LOG_QUIET = 4
} semid_log_level;

typedef void (*semid_log_fn)(semid_log_level level, const char *msg, void *user);
SEMID_API void semid_set_log_callback(semid_log_fn fn, void *user);
SEMID_API void semid_set_log_level(semid_log_level level);

/* Threads for the library calls made from the calling thread (n <= 0: the
 * default, OMP_NUM_THREADS or all cores). The setting belongs to the
 * calling thread: library calls never change the process's OpenMP or BLAS
 * thread counts, nor another thread's setting, so threads that decode or
 * train at the same time each keep their own. Calls with a `threads` option
 * use it for that call only. A count above 4 per core (at most 1024) is
 * lowered to that limit. */
SEMID_API void semid_set_threads(int n);
SEMID_API int semid_get_threads(void);

/* The version of the library linked ("0.3.0"), and as a number
 * (major * 10000 + minor * 100 + patch). */
SEMID_API const char *semid_version(void);
SEMID_API int semid_version_number(void);

#ifdef __cplusplus
}
#endif

#include "semid/api.h"

#endif
