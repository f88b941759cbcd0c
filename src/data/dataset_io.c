/* The saved dataset (.sdd), version 1, all integers little-endian:
 *
 *   "SEMIDDS\0"  u32 version  u32 reserved (0)
 *   str name
 *   i32 n_items  i32 n_users  i64 n_interactions  i32 n_queries
 *   items   (I): str id, str title, i32 year, str genres, str description, str tags
 *   users   (U): str id
 *   i64 user_offsets (U+1)   i32 seq_items (n)   i64 seq_times (n)
 *   queries (Q): i32 item, u8 split, str text
 *   u64 FNV-1a checksum of every byte before it
 *
 * where str = u32 length + bytes (no NUL inside). The loader checks every
 * length and count against the bytes left before it allocates, then the
 * checksum and the dataset's invariants. */
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/fileio.h"
#include "base/status.h"
#include "data/dataset.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dataset_io.c writes arrays in host order and assumes a little-endian host"
#endif

static const char MAGIC[8] = {'S', 'E', 'M', 'I', 'D', 'D', 'S', '\0'};
enum { FORMAT_VERSION = 1 };

static uint64_t fnv_update(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}
static const uint64_t FNV_START = 1469598103934665603ULL;

/* ---- writing ---- */

typedef struct writer {
    semid_atomic_file f;
    uint64_t hash;
    semid_status st;
} writer;

static void put(writer *w, const void *data, size_t len) {
    if (w->st != SEMID_OK || len == 0) return;
    w->hash = fnv_update(w->hash, data, len);
    w->st = semid_atomic_write(&w->f, data, len);
}

static void put_i32(writer *w, int32_t v) { put(w, &v, 4); }
static void put_i64(writer *w, int64_t v) { put(w, &v, 8); }

static void put_str(writer *w, const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    if (n > UINT32_MAX) {
        if (w->st == SEMID_OK) w->st = semid_fail(SEMID_EINVAL, "string of %zu bytes is too long to save", n);
        return;
    }
    uint32_t len = (uint32_t)n;
    put(w, &len, 4);
    put(w, s, n);
}

semid_status semid_dataset_save(const semid_dataset *ds, const char *path) {
    writer w = {.hash = FNV_START, .st = SEMID_OK};
    SEMID_TRY(semid_atomic_open(&w.f, path));
    put(&w, MAGIC, sizeof MAGIC);
    put_i32(&w, FORMAT_VERSION);
    put_i32(&w, 0);
    put_str(&w, ds->name);
    put_i32(&w, ds->n_items);
    put_i32(&w, ds->n_users);
    put_i64(&w, ds->n_interactions);
    put_i32(&w, ds->n_queries);
    for (int32_t i = 0; i < ds->n_items; i++) {
        const semid_item *it = &ds->items[i];
        put_str(&w, it->id);
        put_str(&w, it->title);
        put_i32(&w, it->year);
        put_str(&w, it->genres);
        put_str(&w, it->description);
        put_str(&w, it->tags);
    }
    for (int32_t u = 0; u < ds->n_users; u++) put_str(&w, ds->user_ids[u]);
    if (ds->user_offsets) {
        put(&w, ds->user_offsets, ((size_t)ds->n_users + 1) * sizeof(int64_t));
    } else {
        put_i64(&w, 0); /* an empty dataset: offsets = {0} */
    }
    put(&w, ds->seq_items, (size_t)ds->n_interactions * sizeof(int32_t));
    put(&w, ds->seq_times, (size_t)ds->n_interactions * sizeof(int64_t));
    for (int32_t q = 0; q < ds->n_queries; q++) {
        put_i32(&w, ds->queries[q].item);
        uint8_t split = ds->queries[q].split;
        put(&w, &split, 1);
        put_str(&w, ds->queries[q].text);
    }
    uint64_t sum = w.hash;
    put(&w, &sum, 8);
    if (w.st != SEMID_OK) {
        semid_atomic_abort(&w.f);
        return w.st;
    }
    return semid_atomic_commit(&w.f);
}

/* ---- reading ---- */

typedef struct reader {
    const char *path;
    const unsigned char *p;
    size_t left;
    semid_status st;
} reader;

static int need(reader *r, size_t n, const char *what) {
    if (r->st != SEMID_OK) return 0;
    if (n > r->left) {
        r->st = semid_fail(SEMID_EFORMAT, "%s: truncated: %s needs %zu bytes, %zu left", r->path, what, n, r->left);
        return 0;
    }
    return 1;
}

static void get(reader *r, void *dst, size_t n, const char *what) {
    if (!need(r, n, what)) {
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
}

static int32_t get_i32(reader *r, const char *what) {
    int32_t v;
    get(r, &v, 4, what);
    return v;
}

static int64_t get_i64(reader *r, const char *what) {
    int64_t v;
    get(r, &v, 8, what);
    return v;
}

static char *get_str(reader *r, const char *what) {
    uint32_t len;
    get(r, &len, 4, what);
    if (!need(r, len, what)) return NULL;
    if (memchr(r->p, '\0', len)) {
        r->st = semid_fail(SEMID_EFORMAT, "%s: %s contains a NUL byte", r->path, what);
        return NULL;
    }
    char *s = malloc((size_t)len + 1);
    if (!s) {
        r->st = semid_fail(SEMID_ENOMEM, "out of memory reading %s", r->path);
        return NULL;
    }
    memcpy(s, r->p, len);
    s[len] = '\0';
    r->p += len;
    r->left -= len;
    return s;
}

/* Allocates count * elem bytes after checking that at least count * min_bytes
 * are left, so a corrupt count cannot make us allocate gigabytes. */
static void *alloc_checked(reader *r, int64_t count, size_t elem, size_t min_bytes, const char *what) {
    if (r->st != SEMID_OK) return NULL;
    if (count < 0) {
        r->st = semid_fail(SEMID_EFORMAT, "%s: negative %s count", r->path, what);
        return NULL;
    }
    if ((uint64_t)count > r->left / (min_bytes ? min_bytes : 1)) {
        r->st = semid_fail(SEMID_EFORMAT, "%s: truncated: %lld %s do not fit in %zu bytes", r->path, (long long)count,
                           what, r->left);
        return NULL;
    }
    void *p = calloc((size_t)(count ? count : 1), elem);
    if (!p) r->st = semid_fail(SEMID_ENOMEM, "out of memory reading %lld %s from %s", (long long)count, what, r->path);
    return p;
}

static semid_status parse(reader *r, semid_dataset *ds) {
    char magic[8];
    get(r, magic, 8, "magic");
    if (r->st != SEMID_OK || memcmp(magic, MAGIC, 8) != 0)
        return semid_fail(SEMID_EFORMAT, "%s is not a semid dataset (bad magic)", r->path);
    int32_t version = get_i32(r, "version");
    (void)get_i32(r, "reserved");
    if (r->st == SEMID_OK && version != FORMAT_VERSION)
        return semid_fail(SEMID_EFORMAT, "%s: dataset format version %d, this build reads version %d", r->path, version,
                          FORMAT_VERSION);
    ds->name = get_str(r, "name");
    int32_t n_items = get_i32(r, "item count");
    int32_t n_users = get_i32(r, "user count");
    int64_t n_inter = get_i64(r, "interaction count");
    int32_t n_queries = get_i32(r, "query count");
    if (r->st != SEMID_OK) return r->st;

    /* An item is at least 5 lengths and a year: 24 bytes. */
    ds->items = alloc_checked(r, n_items, sizeof(semid_item), 24, "items");
    if (!ds->items) return r->st;
    for (int32_t i = 0; i < n_items && r->st == SEMID_OK; i++) {
        semid_item *it = &ds->items[i];
        ds->n_items = i + 1; /* so that a failure frees what was read */
        it->id = get_str(r, "item id");
        it->title = get_str(r, "item title");
        it->year = get_i32(r, "item year");
        it->genres = get_str(r, "item genres");
        it->description = get_str(r, "item description");
        it->tags = get_str(r, "item tags");
    }
    if (r->st != SEMID_OK) return r->st;
    ds->user_ids = alloc_checked(r, n_users, sizeof(char *), 4, "users");
    if (!ds->user_ids) return r->st;
    for (int32_t u = 0; u < n_users && r->st == SEMID_OK; u++) {
        ds->n_users = u + 1;
        ds->user_ids[u] = get_str(r, "user id");
    }
    if (r->st != SEMID_OK) return r->st;
    ds->n_users = n_users;
    ds->user_offsets = alloc_checked(r, (int64_t)n_users + 1, sizeof(int64_t), 8, "user offsets");
    if (!ds->user_offsets) return r->st;
    get(r, ds->user_offsets, ((size_t)n_users + 1) * 8, "user offsets");
    ds->seq_items = alloc_checked(r, n_inter, sizeof(int32_t), 12, "interactions");
    ds->seq_times = alloc_checked(r, n_inter, sizeof(int64_t), 8, "interaction times");
    if (r->st != SEMID_OK) return r->st;
    ds->n_interactions = n_inter;
    get(r, ds->seq_items, (size_t)n_inter * 4, "interaction items");
    get(r, ds->seq_times, (size_t)n_inter * 8, "interaction times");
    ds->queries = alloc_checked(r, n_queries, sizeof(semid_query), 9, "queries");
    if (!ds->queries) return r->st;
    for (int32_t q = 0; q < n_queries && r->st == SEMID_OK; q++) {
        semid_query *qu = &ds->queries[q];
        ds->n_queries = q + 1;
        qu->item = get_i32(r, "query item");
        get(r, &qu->split, 1, "query split");
        qu->text = get_str(r, "query text");
    }
    return r->st;
}

semid_status semid_dataset_load(const char *path, semid_dataset *out) {
    memset(out, 0, sizeof *out);
    char *data;
    size_t len;
    SEMID_TRY(semid_read_file(path, &data, &len));
    semid_status st = SEMID_OK;
    if (len < 8 + 4 + 8) {
        st = semid_fail(SEMID_EFORMAT, "%s is not a semid dataset (%zu bytes)", path, len);
    } else {
        uint64_t stored, found = 0;
        memcpy(&stored, data + len - 8, 8);
        reader r = {.path = path, .p = (const unsigned char *)data, .left = len - 8, .st = SEMID_OK};
        int32_t version;
        memcpy(&version, data + 8, 4);
        if (memcmp(data, MAGIC, 8) != 0) {
            st = semid_fail(SEMID_EFORMAT, "%s is not a semid dataset (bad magic)", path);
        } else if (version != FORMAT_VERSION) {
            st = semid_fail(SEMID_EFORMAT, "%s: dataset format version %d, this build reads version %d", path,
                            version, FORMAT_VERSION);
        } else if (semid_verify_enabled() && (found = fnv_update(FNV_START, data, len - 8)) != stored) {
            char e[17], f[17];
            semid_checksum_hex(stored, e);
            semid_checksum_hex(found, f);
            st = semid_fail(SEMID_EFORMAT,
                            "%s is corrupt: FNV-1a checksum expected %s (in its last 8 bytes), found %s "
                            "(SEMID_NO_VERIFY=1 loads it unchecked)",
                            path, e, f);
        } else {
            st = parse(&r, out);
            if (st == SEMID_OK && r.left != 0)
                st = semid_fail(SEMID_EFORMAT, "%s: %zu unexpected bytes after the data", path, r.left);
        }
    }
    free(data);
    if (st == SEMID_OK) st = semid_dataset_validate(out);
    if (st == SEMID_OK) st = semid_dataset_build_index(out);
    if (st != SEMID_OK) {
        if (st == SEMID_EFORMAT && !strstr(semid_last_error(), path)) semid_fail_context(st, "%s", path);
        semid_dataset_free(out);
    }
    return st;
}
