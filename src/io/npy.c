#include "io/npy.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"

typedef struct npy_header {
    char dtype[8];
    int fortran;
    int ndim;
    int64_t shape[2];
    size_t data_offset;
} npy_header;

/* Parses the Python-dict header: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
static semid_status parse_header(const char *path, const unsigned char *buf, size_t len, npy_header *h) {
    memset(h, 0, sizeof *h);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) return semid_fail(SEMID_EFORMAT, "%s: not a .npy file (bad magic)", path);
    int major = buf[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
        start = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return semid_fail(SEMID_EFORMAT, "%s: truncated .npy header", path);
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) | ((size_t)buf[11] << 24);
        start = 12;
    } else {
        return semid_fail(SEMID_EFORMAT, "%s: unsupported .npy version %d", path, major);
    }
    if (hlen > len - start) return semid_fail(SEMID_EFORMAT, "%s: truncated .npy header", path);
    char hdr[4096];
    if (hlen >= sizeof hdr) return semid_fail(SEMID_EFORMAT, "%s: .npy header too long", path);
    memcpy(hdr, buf + start, hlen);
    hdr[hlen] = '\0';
    h->data_offset = start + hlen;

    const char *d = strstr(hdr, "'descr'");
    const char *f = strstr(hdr, "'fortran_order'");
    const char *s = strstr(hdr, "'shape'");
    if (!d || !f || !s) return semid_fail(SEMID_EFORMAT, "%s: .npy header lacks descr/fortran_order/shape", path);
    d = strchr(d + 7, '\'');
    if (!d) return semid_fail(SEMID_EFORMAT, "%s: bad descr in .npy header", path);
    const char *dend = strchr(d + 1, '\'');
    if (!dend || dend - d - 1 >= (long)sizeof h->dtype) return semid_fail(SEMID_EFORMAT, "%s: bad descr in .npy header", path);
    memcpy(h->dtype, d + 1, (size_t)(dend - d - 1));
    const char *fv = f + strlen("'fortran_order'");
    while (*fv == ' ' || *fv == ':') fv++;
    h->fortran = strncmp(fv, "True", 4) == 0;
    const char *p = strchr(s, '(');
    if (!p) return semid_fail(SEMID_EFORMAT, "%s: bad shape in .npy header", path);
    p++;
    while (*p && *p != ')') {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0) return semid_fail(SEMID_EFORMAT, "%s: bad shape in .npy header", path);
        if (errno == ERANGE || v > INT32_MAX)
            return semid_fail(SEMID_EFORMAT, "%s: shape entry %.20s is over 2^31-1, more than semid handles", path, p);
        if (h->ndim >= 2) return semid_fail(SEMID_EFORMAT, "%s: expected a 1-D or 2-D array, got more dimensions", path);
        h->shape[h->ndim++] = v;
        p = end;
    }
    if (h->ndim == 0) return semid_fail(SEMID_EFORMAT, "%s: expected a 1-D or 2-D array, got a scalar", path);
    return SEMID_OK;
}

static semid_status load_raw(const char *path, char **buf, size_t *len, npy_header *h) {
    SEMID_TRY(semid_read_file_verified(path, buf, len));
    semid_status st = parse_header(path, (const unsigned char *)*buf, *len, h);
    if (st == SEMID_OK && h->fortran) st = semid_fail(SEMID_EFORMAT, "%s: Fortran-order arrays are not supported; save with C order", path);
    if (st != SEMID_OK) {
        free(*buf);
        *buf = NULL;
    }
    return st;
}

static int64_t shape_cols(const npy_header *h) { return h->ndim == 2 ? h->shape[1] : 1; }

semid_status semid_npy_read(const char *path, semid_matrix *out) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    npy_header h;
    SEMID_TRY(load_raw(path, &buf, &len, &h));
    int64_t rows = h.shape[0], cols = shape_cols(&h);
    size_t width;
    if (strcmp(h.dtype, "<f4") == 0) width = 4;
    else if (strcmp(h.dtype, "<f8") == 0) width = 8;
    else {
        free(buf);
        return semid_fail(SEMID_EFORMAT, "%s: dtype %s not supported; expected float32 (<f4) or float64 (<f8)", path, h.dtype);
    }
    /* rows and cols are below 2^31 (parse_header); the bytes may not fit. */
    size_t need;
    if (__builtin_mul_overflow((size_t)rows * (size_t)cols, width, &need)) need = SIZE_MAX;
    if (len - h.data_offset < need) {
        free(buf);
        return semid_fail(SEMID_EFORMAT, "%s: truncated: shape (%lld, %lld) needs %zu data bytes, file has %zu", path,
                          (long long)rows, (long long)cols, need, len - h.data_offset);
    }
    semid_status st = semid_matrix_alloc(out, rows, cols);
    if (st != SEMID_OK) {
        free(buf);
        return st;
    }
    const unsigned char *src = (const unsigned char *)buf + h.data_offset;
    for (int64_t i = 0; i < rows * cols; i++) {
        float v;
        if (width == 4) {
            memcpy(&v, src + 4 * i, 4);
        } else {
            double dv;
            memcpy(&dv, src + 8 * i, 8);
            v = (float)dv;
        }
        if (!isfinite(v)) {
            free(buf);
            semid_matrix_free(out);
            return semid_fail(SEMID_ENUMERIC, "%s: row %lld, column %lld is %s (or out of float32 range)", path,
                              (long long)(i / cols), (long long)(i % cols), isnan(v) ? "NaN" : "Inf");
        }
        out->data[i] = v;
    }
    free(buf);
    return SEMID_OK;
}

/* A 2-D array (rows, cols) when two_d, else 1-D (rows,). */
static semid_status write_npy(const char *path, const char *descr, const void *data, size_t elem, int64_t rows, int64_t cols,
                              int two_d) {
    char hdr[256];
    int n;
    if (two_d) n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }", descr, (long long)rows, (long long)cols);
    else n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld,), }", descr, (long long)rows);
    /* Pad so that the data starts on a 64-byte boundary; header ends in '\n'. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    semid_atomic_file f;
    SEMID_TRY(semid_atomic_open(&f, path));
    semid_status st = semid_atomic_write(&f, pre, sizeof pre);
    if (st == SEMID_OK) st = semid_atomic_write(&f, hdr, (size_t)n);
    for (size_t i = 0; st == SEMID_OK && i < pad; i++) st = semid_atomic_write(&f, " ", 1);
    if (st == SEMID_OK) st = semid_atomic_write(&f, "\n", 1);
    if (st == SEMID_OK) st = semid_atomic_write(&f, data, elem * (size_t)rows * (size_t)(two_d ? cols : 1));
    if (st != SEMID_OK) {
        semid_atomic_abort(&f);
        return st;
    }
    return semid_atomic_commit_summed(&f);
}

semid_status semid_npy_write(const char *path, const semid_matrix *m) {
    return write_npy(path, "<f4", m->data, sizeof(float), m->rows, m->cols, 1); /* (rows, 0) too: no data */
}

semid_status semid_npy_write_i32(const char *path, const int32_t *data, int64_t rows, int64_t cols) {
    return write_npy(path, "<i4", data, sizeof(int32_t), rows, cols, cols > 0);
}

semid_status semid_npy_read_i32(const char *path, int32_t **data, int64_t *rows, int64_t *cols) {
    *data = NULL;
    char *buf;
    size_t len;
    npy_header h;
    SEMID_TRY(load_raw(path, &buf, &len, &h));
    size_t width = strcmp(h.dtype, "<i4") == 0 ? 4 : strcmp(h.dtype, "<i8") == 0 ? 8 : 0;
    if (!width) {
        free(buf);
        return semid_fail(SEMID_EFORMAT, "%s: dtype %s not supported; expected int32 or int64", path, h.dtype);
    }
    *rows = h.shape[0];
    *cols = shape_cols(&h);
    size_t count = (size_t)(*rows) * (size_t)(*cols), need; /* each below 2^31 (parse_header) */
    if (__builtin_mul_overflow(count, width, &need)) need = SIZE_MAX;
    if (len - h.data_offset < need) {
        free(buf);
        return semid_fail(SEMID_EFORMAT, "%s: truncated: shape (%lld, %lld) needs %zu data bytes, file has %zu", path,
                          (long long)*rows, (long long)*cols, need, len - h.data_offset);
    }
    int32_t *out = malloc((count ? count : 1) * sizeof(int32_t));
    if (!out) {
        free(buf);
        return semid_fail(SEMID_ENOMEM, "out of memory reading %s", path);
    }
    const unsigned char *src = (const unsigned char *)buf + h.data_offset;
    for (size_t i = 0; i < count; i++) {
        if (width == 4) {
            memcpy(&out[i], src + 4 * i, 4);
        } else {
            int64_t v;
            memcpy(&v, src + 8 * i, 8);
            if (v < INT32_MIN || v > INT32_MAX) {
                free(buf);
                free(out);
                return semid_fail(SEMID_EFORMAT, "%s: element %zu (%lld) does not fit in int32", path, i, (long long)v);
            }
            out[i] = (int32_t)v;
        }
    }
    free(buf);
    *data = out;
    return SEMID_OK;
}

semid_status semid_idlist_write(const char *path, char *const *ids, int64_t n) {
    semid_atomic_file f;
    SEMID_TRY(semid_atomic_open(&f, path));
    semid_status st = SEMID_OK;
    for (int64_t i = 0; i < n && st == SEMID_OK; i++) {
        st = semid_atomic_write(&f, ids[i], strlen(ids[i]));
        if (st == SEMID_OK) st = semid_atomic_write(&f, "\n", 1);
    }
    if (st != SEMID_OK) {
        semid_atomic_abort(&f);
        return st;
    }
    return semid_atomic_commit_summed(&f);
}

void semid_idlist_free(char **ids, int64_t n) {
    if (!ids) return;
    for (int64_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
}

static int cmp_strptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

semid_status semid_idlist_read(const char *path, char ***ids_out, int64_t *n_out) {
    *ids_out = NULL;
    *n_out = 0;
    char *buf;
    size_t len;
    SEMID_TRY(semid_read_file_verified(path, &buf, &len));
    semid_lines it;
    semid_lines_init(&it, buf, len);
    int64_t cap = 1024, n = 0;
    char **ids = malloc((size_t)cap * sizeof *ids);
    semid_status st = ids ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    char *line;
    size_t ll;
    while (st == SEMID_OK && (line = semid_lines_next(&it, &ll))) {
        if (ll == 0) {
            if (it.cur >= it.end) break; /* trailing newline */
            st = semid_fail(SEMID_EPARSE, "%s:%lld: empty id", path, (long long)it.line_no);
            break;
        }
        if (memchr(line, '\0', ll)) {
            st = semid_fail(SEMID_EPARSE, "%s:%lld: NUL byte in an id", path, (long long)it.line_no);
            break;
        }
        if (n == cap) {
            cap *= 2;
            char **grown = realloc(ids, (size_t)cap * sizeof *ids);
            if (!grown) {
                st = semid_fail(SEMID_ENOMEM, "out of memory");
                break;
            }
            ids = grown;
        }
        ids[n] = semid_strdup(line);
        if (!ids[n]) {
            st = semid_fail(SEMID_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    free(buf);
    if (st == SEMID_OK && n > 1) {
        char **sorted = malloc((size_t)n * sizeof *sorted);
        if (!sorted) st = semid_fail(SEMID_ENOMEM, "out of memory");
        else {
            memcpy(sorted, ids, (size_t)n * sizeof *sorted);
            qsort(sorted, (size_t)n, sizeof *sorted, cmp_strptr);
            for (int64_t i = 1; i < n; i++) {
                if (strcmp(sorted[i - 1], sorted[i]) == 0) {
                    int64_t line_no = 0;
                    for (int64_t j = 0, seen = 0; j < n; j++)
                        if (strcmp(ids[j], sorted[i]) == 0 && ++seen == 2) line_no = j + 1;
                    st = semid_fail(SEMID_EPARSE, "%s:%lld: duplicate id '%s'", path, (long long)line_no, sorted[i]);
                    break;
                }
            }
            free(sorted);
        }
    }
    if (st != SEMID_OK) {
        semid_idlist_free(ids, n);
        return st;
    }
    *ids_out = ids;
    *n_out = n;
    return SEMID_OK;
}
