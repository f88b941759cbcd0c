#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/status.h"

char *semid_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *semid_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *out = malloc(a + b + 2);
    if (!out) return NULL;
    memcpy(out, dir, a);
    size_t pos = a;
    if (a > 0 && dir[a - 1] != '/') out[pos++] = '/';
    memcpy(out + pos, name, b + 1);
    return out;
}

bool semid_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

semid_status semid_mkdirs(const char *path) {
    char *buf = semid_strdup(path);
    if (!buf) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                semid_status st = semid_fail(SEMID_EIO, "cannot create directory %s: %s", buf, strerror(errno));
                free(buf);
                return st;
            }
            *p = saved;
            if (saved == '\0') break;
        }
    }
    free(buf);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return semid_fail(SEMID_EIO, "%s exists and is not a directory", path);
    return SEMID_OK;
}

semid_status semid_read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return semid_fail(errno == ENOENT ? SEMID_ENOTFOUND : SEMID_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return semid_fail(SEMID_EIO, "%s is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(fp);
        return semid_fail(SEMID_ENOMEM, "out of memory reading %s (%zu bytes)", path, size);
    }
    size_t got = fread(buf, 1, size, fp);
    int err = ferror(fp);
    fclose(fp);
    if (got != size || err) {
        free(buf);
        return semid_fail(SEMID_EIO, "cannot read %s: short read (%zu of %zu bytes)", path, got, size);
    }
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return SEMID_OK;
}

/* The descriptor a path names when it is one of the process's own streams
 * (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N), else -1. */
static int stream_fd(const char *path) {
    if (strcmp(path, "/dev/stdout") == 0) return STDOUT_FILENO;
    if (strcmp(path, "/dev/stderr") == 0) return STDERR_FILENO;
    const char *prefixes[] = {"/dev/fd/", "/proc/self/fd/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], n) != 0 || path[n] < '0' || path[n] > '9') continue;
        char *end;
        long fd = strtol(path + n, &end, 10);
        if (*end == '\0' && fd >= 0 && fd < 1 << 20) return (int)fd;
    }
    return -1;
}

/* The target of the symlink `link`: its text, joined to the link's directory
 * when relative. NULL with errno set on failure. */
static char *link_target(const char *link) {
    size_t cap = 256;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf) return NULL;
        ssize_t n = readlink(link, buf, cap);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            if (buf[0] == '/') return buf;
            const char *slash = strrchr(link, '/');
            if (!slash) return buf;
            size_t dl = (size_t)(slash - link) + 1, tl = (size_t)n + 1;
            char *joined = malloc(dl + tl);
            if (joined) {
                memcpy(joined, link, dl);
                memcpy(joined + dl, buf, tl);
            }
            free(buf);
            if (!joined) errno = ENOMEM;
            return joined;
        }
        free(buf);
        cap *= 2;
    }
}

/* Where a save to `path` goes: follows symlinks (up to 40, as the kernel)
 * to a path that is not one, or does not exist (a dangling link's target),
 * or is one of the process's streams (*fd >= 0). *st gets its lstat, or
 * st_mode 0 when it does not exist. */
static semid_status resolve_target(const char *path, char **out, int *fd, struct stat *st) {
    *out = NULL;
    *fd = -1;
    char *cur = semid_strdup(path);
    if (!cur) return semid_fail(SEMID_ENOMEM, "out of memory");
    int err = ELOOP; /* unless something fails first */
    for (int depth = 0; depth < 40; depth++) {
        if ((*fd = stream_fd(cur)) >= 0) {
            *out = cur;
            return SEMID_OK;
        }
        if (lstat(cur, st) != 0) {
            if (errno != ENOENT) {
                err = errno;
                break;
            }
            memset(st, 0, sizeof *st);
            *out = cur;
            return SEMID_OK;
        }
        if (!S_ISLNK(st->st_mode)) {
            *out = cur;
            return SEMID_OK;
        }
        char *next = link_target(cur);
        if (!next) {
            err = errno;
            break;
        }
        free(cur);
        cur = next;
    }
    semid_status s = semid_fail(err == ENOMEM ? SEMID_ENOMEM : SEMID_EIO, "cannot write %s: %s", path,
                                strerror(err));
    free(cur);
    return s;
}

semid_status semid_atomic_open(semid_atomic_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    semid_xxh64_init(&f->hash);
    if (!path[0]) return semid_fail(SEMID_EINVAL, "cannot write to an empty path");
    int sfd;
    struct stat st;
    SEMID_TRY(resolve_target(path, &f->path, &sfd, &st));
    int fd = -1;
    if (sfd >= 0) {
        /* Our own stream: write to a duplicate of it, after what printf has
         * buffered, so the bytes go where the shell sent them. */
        if (sfd == STDOUT_FILENO) fflush(stdout);
        if (sfd == STDERR_FILENO) fflush(stderr);
        f->direct = 1;
        fd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
    } else if (S_ISDIR(st.st_mode)) {
        semid_status s = semid_fail(SEMID_EIO, "cannot write %s: %s", f->path, strerror(EISDIR));
        semid_atomic_abort(f);
        return s;
    } else if (st.st_mode != 0 && !S_ISREG(st.st_mode)) {
        /* A FIFO, /dev/null, a device: written in place, never replaced. */
        f->direct = 1;
        fd = open(f->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    } else {
        size_t n = strlen(f->path) + 32;
        f->tmp_path = malloc(n);
        if (!f->tmp_path) {
            semid_atomic_abort(f);
            return semid_fail(SEMID_ENOMEM, "out of memory");
        }
        snprintf(f->tmp_path, n, "%s.tmp.%ld", f->path, (long)getpid());
        fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        /* A replaced file keeps its permissions (best effort). */
        if (fd >= 0 && st.st_mode != 0) (void)fchmod(fd, st.st_mode & 07777);
    }
    if (fd >= 0) {
        f->fp = fdopen(fd, "wb");
        if (!f->fp) close(fd);
    }
    if (!f->fp) {
        semid_status s = semid_fail(SEMID_EIO, "cannot write %s: %s", f->tmp_path ? f->tmp_path : f->path,
                                    strerror(errno));
        semid_atomic_abort(f);
        return s;
    }
    return SEMID_OK;
}

semid_status semid_atomic_write(semid_atomic_file *f, const void *data, size_t len) {
    if (len && fwrite(data, 1, len, f->fp) != len)
        return semid_fail(SEMID_EIO, "cannot write %s: %s", f->path, strerror(errno));
    semid_xxh64_update(&f->hash, data, len);
    return SEMID_OK;
}

void semid_sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* After the rename of a save that then reports success: on the stack for
 * any usual path, so that running out of memory never skips it. */
static void sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char stack[4096];
    char *dir = n < sizeof stack ? stack : malloc(n + 1);
    if (!dir) return; /* best effort */
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    semid_sync_dir(dir);
    if (dir != stack) free(dir);
}

semid_status semid_atomic_commit(semid_atomic_file *f) {
    semid_status st = SEMID_OK;
    errno = 0;
    /* A FIFO, a device or a pipe cannot be synced: flushed only. */
    if (ferror(f->fp) || fflush(f->fp) != 0 || (!f->direct && fsync(fileno(f->fp)) != 0)) {
        st = semid_fail(SEMID_EIO, "cannot write %s: %s", f->path, strerror(errno ? errno : EIO));
    }
    if (fclose(f->fp) != 0 && st == SEMID_OK) {
        st = semid_fail(SEMID_EIO, "cannot write %s: %s", f->path, strerror(errno));
    }
    f->fp = NULL;
    if (!f->direct) {
        if (st == SEMID_OK && rename(f->tmp_path, f->path) != 0) {
            st = semid_fail(SEMID_EIO, "cannot rename %s to %s: %s", f->tmp_path, f->path, strerror(errno));
        }
        if (st == SEMID_OK) sync_parent_dir(f->path);
    }
    semid_atomic_abort(f);
    return st;
}

void semid_atomic_abort(semid_atomic_file *f) {
    if (f->fp) {
        fclose(f->fp);
        f->fp = NULL;
    }
    if (f->tmp_path) unlink(f->tmp_path); /* no-op after a successful rename */
    free(f->tmp_path);
    free(f->path);
    f->tmp_path = NULL;
    f->path = NULL;
    f->direct = 0;
}

/* The one atomic whole-file write behind the three below: data, then an
 * optional tail (a checksum trailer), committed with or without a sidecar. */
static semid_status write_whole(const char *path, const void *data, size_t len, const void *tail, size_t tail_len,
                                int summed) {
    semid_atomic_file f;
    SEMID_TRY(semid_atomic_open(&f, path));
    semid_status st = semid_atomic_write(&f, data, len);
    if (st == SEMID_OK && tail_len) st = semid_atomic_write(&f, tail, tail_len);
    if (st != SEMID_OK) {
        semid_atomic_abort(&f);
        return st;
    }
    return summed ? semid_atomic_commit_summed(&f) : semid_atomic_commit(&f);
}

semid_status semid_write_file_atomic(const char *path, const void *data, size_t len) {
    return write_whole(path, data, len, NULL, 0, 0);
}

/* ---- checksum sidecars ---- */

char *semid_sidecar_path(const char *path) {
    char *target = NULL;
    int fd;
    struct stat st;
    if (resolve_target(path, &target, &fd, &st) != SEMID_OK) {
        semid_clear_error();
        target = semid_strdup(path);
    }
    if (!target) return NULL;
    size_t n = strlen(target);
    char *out = malloc(n + 5);
    if (out) {
        memcpy(out, target, n);
        memcpy(out + n, ".sum", 5);
    }
    free(target);
    return out;
}

/* Writes the sidecar of the file `target` (a resolved path). */
static semid_status write_sidecar(const char *target, uint64_t hash) {
    char *sum = semid_sidecar_path(target);
    if (!sum) return semid_fail(SEMID_ENOMEM, "out of memory");
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    size_t n = strlen(base) + 20;
    char *line = malloc(n);
    semid_status st = line ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) {
        char hex[17];
        semid_checksum_hex(hash, hex);
        int len = snprintf(line, n, "%s  %s\n", hex, base);
        st = semid_write_file_atomic(sum, line, (size_t)len);
    }
    free(line);
    free(sum);
    return st;
}

semid_status semid_atomic_commit_summed(semid_atomic_file *f) {
    if (f->direct) return semid_atomic_commit(f);
    uint64_t hash = semid_xxh64_final(&f->hash);
    char *target = semid_strdup(f->path);
    char *sum = target ? semid_sidecar_path(target) : NULL;
    if (!sum) {
        free(target);
        semid_atomic_abort(f);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    /* No stale sidecar beside the new file, even for a moment after a crash. */
    semid_status st = SEMID_OK;
    if (unlink(sum) != 0 && errno != ENOENT) {
        st = semid_fail(SEMID_EIO, "cannot remove %s: %s", sum, strerror(errno));
        semid_atomic_abort(f);
    }
    if (st == SEMID_OK) st = semid_atomic_commit(f);
    if (st == SEMID_OK) st = write_sidecar(target, hash);
    free(sum);
    free(target);
    return st;
}

semid_status semid_write_file_summed(const char *path, const void *data, size_t len) {
    return write_whole(path, data, len, NULL, 0, 1);
}

semid_status semid_sidecar_verify(const char *path, const void *data, size_t len) {
    char *sum = semid_sidecar_path(path);
    if (!sum) return semid_fail(SEMID_ENOMEM, "out of memory");
    FILE *fp = fopen(sum, "rb");
    if (!fp) {
        int err = errno;
        semid_status st = SEMID_OK;
        if (err == ENOENT) SEMID_DEBUG("%s: no checksum (no %s): not verified", path, sum);
        else if (semid_verify_enabled())
            st = semid_fail(SEMID_EIO, "cannot read %s, the checksum of %s: %s", sum, path, strerror(err));
        free(sum);
        return st;
    }
    char line[18] = {0};
    size_t got = fread(line, 1, 17, fp);
    fclose(fp);
    semid_status st = SEMID_OK;
    uint64_t stored;
    int ok = got >= 16 && semid_checksum_parse_hex(line, &stored) && (got == 16 || line[16] == ' ' || line[16] == '\n');
    if (semid_verify_enabled()) {
        char where[600];
        snprintf(where, sizeof where, "in %.500s", sum);
        if (!ok)
            st = semid_fail(SEMID_EFORMAT,
                            "%s is corrupt, or its checksum %s is: that file does not start with 16 hex digits "
                            "(SEMID_NO_VERIFY=1 loads it unchecked)",
                            path, sum);
        else {
            uint64_t found = semid_xxh64(data, len);
            if (found != stored) {
                /* semid_checksum_mismatch's message, with the way out for
                 * a file another program replaced on purpose */
                char e[17], f[17];
                semid_checksum_hex(stored, e);
                semid_checksum_hex(found, f);
                st = semid_fail(SEMID_EFORMAT,
                                "%s is corrupt: xxh64 checksum expected %s (%s), found %s (if another program "
                                "rewrote it on purpose, delete %s; SEMID_NO_VERIFY=1 loads it unchecked)",
                                path, e, where, f, sum);
            }
        }
    }
    free(sum);
    return st;
}

semid_status semid_read_file_verified(const char *path, char **data, size_t *len) {
    SEMID_TRY(semid_read_file(path, data, len));
    semid_status st = semid_sidecar_verify(path, *data, *len);
    if (st != SEMID_OK) {
        free(*data);
        *data = NULL;
        *len = 0;
    }
    return st;
}

semid_status semid_write_file_trailed(const char *path, const void *data, size_t len) {
    unsigned char trailer[SEMID_CHECKSUM_TRAILER];
    semid_checksum_trailer(data, len, trailer);
    return write_whole(path, data, len, trailer, sizeof trailer, 0);
}

void semid_lines_init(semid_lines *it, char *data, size_t len) {
    it->cur = data;
    it->end = data + len;
    it->line_no = 0;
}

char *semid_lines_next(semid_lines *it, size_t *len) {
    if (it->cur >= it->end) return NULL;
    char *line = it->cur;
    char *nl = memchr(line, '\n', (size_t)(it->end - line));
    char *stop = nl ? nl : it->end;
    it->cur = nl ? nl + 1 : it->end;
    if (stop > line && stop[-1] == '\r') stop--;
    *stop = '\0';
    it->line_no++;
    if (len) *len = (size_t)(stop - line);
    return line;
}

int semid_split_fields(char *line, const char *sep, char **fields, int max_fields) {
    size_t seplen = strlen(sep);
    int n = 0;
    char *p = line;
    for (;;) {
        char *hit = seplen == 1 ? strchr(p, sep[0]) : strstr(p, sep);
        if (n < max_fields) fields[n] = p;
        n++;
        if (!hit) break;
        *hit = '\0';
        p = hit + seplen;
    }
    return n;
}
