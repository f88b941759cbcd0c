#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

semid_status semid_atomic_open(semid_atomic_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->path = semid_strdup(path);
    size_t n = strlen(path) + 32;
    f->tmp_path = malloc(n);
    if (!f->path || !f->tmp_path) {
        semid_atomic_abort(f);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        semid_status st = semid_fail(SEMID_EIO, "cannot write %s: %s", f->tmp_path, strerror(errno));
        semid_atomic_abort(f);
        return st;
    }
    return SEMID_OK;
}

semid_status semid_atomic_write(semid_atomic_file *f, const void *data, size_t len) {
    if (len && fwrite(data, 1, len, f->fp) != len)
        return semid_fail(SEMID_EIO, "cannot write %s: %s", f->path, strerror(errno));
    return SEMID_OK;
}

static void sync_parent_dir(const char *path) {
    char *dir = semid_strdup(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (slash == dir) strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

semid_status semid_atomic_commit(semid_atomic_file *f) {
    semid_status st = SEMID_OK;
    if (ferror(f->fp) || fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0) {
        st = semid_fail(SEMID_EIO, "cannot write %s: %s", f->path, strerror(errno ? errno : EIO));
    }
    if (fclose(f->fp) != 0 && st == SEMID_OK) {
        st = semid_fail(SEMID_EIO, "cannot write %s: %s", f->path, strerror(errno));
    }
    f->fp = NULL;
    if (st == SEMID_OK && rename(f->tmp_path, f->path) != 0) {
        st = semid_fail(SEMID_EIO, "cannot rename %s to %s: %s", f->tmp_path, f->path, strerror(errno));
    }
    if (st == SEMID_OK) sync_parent_dir(f->path);
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
}

semid_status semid_write_file_atomic(const char *path, const void *data, size_t len) {
    semid_atomic_file f;
    SEMID_TRY(semid_atomic_open(&f, path));
    semid_status st = semid_atomic_write(&f, data, len);
    if (st != SEMID_OK) {
        semid_atomic_abort(&f);
        return st;
    }
    return semid_atomic_commit(&f);
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
