#include "base/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"

static const char LOCK_NAME[] = ".semid.lock";

static long read_pid(int fd) {
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? pid : 0;
}

/* "(pid 1234)" or "(pid unknown)" for messages. */
static void holder_text(int fd, char *buf, size_t len) {
    long pid = read_pid(fd);
    if (pid > 0) snprintf(buf, len, "pid %ld", pid);
    else snprintf(buf, len, "pid unknown");
}

static int flock_retry(int fd, int op) {
    int r;
    do r = flock(fd, op);
    while (r != 0 && errno == EINTR);
    return r;
}

semid_status semid_dirlock_acquire(semid_dirlock *l, const char *dir, int wait) {
    l->fd = -1;
    struct stat st;
    if (stat(dir, &st) != 0)
        return semid_fail(errno == ENOENT ? SEMID_ENOTFOUND : SEMID_EIO, "cannot lock %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return semid_fail(SEMID_EIO, "cannot lock %s: not a directory", dir);
    char *path = semid_path_join(dir, LOCK_NAME);
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        semid_status s = semid_fail(SEMID_EIO, "cannot lock %s: %s: %s", dir, path, strerror(errno));
        free(path);
        return s;
    }
    free(path);
    if (flock_retry(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char who[48];
        holder_text(fd, who, sizeof who);
        if (err != EWOULDBLOCK) {
            close(fd);
            return semid_fail(SEMID_EIO, "cannot lock %s: %s", dir, strerror(err));
        }
        if (!wait) {
            close(fd);
            return semid_fail(SEMID_EIO,
                              "%s is in use by another semid run (%s): wait for it to finish, or pass --wait to "
                              "start when it does",
                              dir, who);
        }
        SEMID_INFO("waiting for %s: in use by another semid run (%s)", dir, who);
        if (flock_retry(fd, LOCK_EX) != 0) {
            err = errno;
            close(fd);
            return semid_fail(SEMID_EIO, "cannot lock %s: %s", dir, strerror(err));
        }
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        int err = errno;
        close(fd);
        return semid_fail(SEMID_EIO, "cannot lock %s: writing %s: %s", dir, LOCK_NAME, strerror(err));
    }
    l->fd = fd;
    return SEMID_OK;
}

void semid_dirlock_release(semid_dirlock *l) {
    if (l->fd < 0) return;
    /* Cleared while still held, so a later reader never sees our pid as a
     * holder's (failure here only leaves a stale pid in a message). */
    int ignored = ftruncate(l->fd, 0);
    (void)ignored;
    close(l->fd); /* drops the flock */
    l->fd = -1;
}

long semid_dirlock_holder(const char *dir) {
    char *path = semid_path_join(dir, LOCK_NAME);
    if (!path) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(path);
    if (fd < 0) return 0;
    long pid = read_pid(fd);
    close(fd);
    return pid;
}
