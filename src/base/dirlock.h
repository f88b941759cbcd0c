/* An advisory lock on a run or model directory, so that two runs never
 * write one directory at once (two `semid train` into one model directory,
 * two `semid experiment` with one --out).
 *
 * The lock is flock(2) on DIR/.semid.lock, a file that holds the holder's
 * pid as text ("1234\n") for the message of whoever is refused. The kernel
 * drops the lock when its holder exits or is killed, so a crash never
 * leaves a directory locked; the file itself stays (removing it would let
 * two processes lock two different files). flock locks the open file, not
 * the process: a second lock in the same process is refused too. Advisory:
 * readers (loading a model) take no lock. On NFS, flock may be local to
 * one machine. */
#ifndef SEMID_BASE_DIRLOCK_H
#define SEMID_BASE_DIRLOCK_H

#include "semid/semid.h"

typedef struct semid_dirlock {
    int fd; /* the lock file, -1 when not held */
} semid_dirlock;

/* Locks `dir` (which must exist). wait = 0: fails at once with SEMID_EIO
 * and a message naming the directory and the holder's pid; wait = 1: logs
 * that it waits, then blocks until the holder releases. A missing
 * directory is SEMID_ENOTFOUND. On failure l->fd is -1. */
semid_status semid_dirlock_acquire(semid_dirlock *l, const char *dir, int wait);
/* Releases the lock (clearing the pid); safe on a released or failed lock. */
void semid_dirlock_release(semid_dirlock *l);
/* The pid recorded in dir's lock file, 0 if none (not locked, or a holder
 * that was killed before it released: the kernel still frees its lock). */
long semid_dirlock_holder(const char *dir);

#endif
