#include "quant/idtable.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "io/json.h"

enum { IDTABLE_VERSION = 1 };
#define IDTABLE_FORMAT "semid-idtable"
/* The checksum, on the first line: "checksum": "xxh64:<16 hex digits>", the
 * XXH64 of the whole file with those digits read as '0' (base/checksum.h).
 * A field of its own rather than a new version: readers that predate it
 * ignore it. */
#define CHECKSUM_FIELD "\"checksum\": \"" SEMID_CHECKSUM_TAG

static inline int32_t task_index(const semid_idtable *t, int task) { return t->n_tasks == 1 ? 0 : task; }

void semid_idtable_tokens(const semid_idtable *t, int task, int32_t item, int32_t *out) {
    int32_t ti = task_index(t, task), L = t->n_levels;
    const int32_t *c = t->codes + ((int64_t)ti * t->n_items + item) * L;
    const int32_t *off = t->token_offset + (int64_t)ti * L;
    for (int32_t l = 0; l < L; l++) out[l] = off[l] + c[l];
}

int semid_idtable_token_info(const semid_idtable *t, int32_t token, int *task, int *level) {
    for (int32_t ti = 0; ti < t->n_tasks; ti++)
        for (int32_t l = 0; l < t->n_levels; l++) {
            int32_t o = t->token_offset[ti * t->n_levels + l];
            if (token >= o && token < o + t->level_size[ti * t->n_levels + l]) {
                if (task) *task = ti;
                if (level) *level = l;
                return 1;
            }
        }
    return 0;
}

/* FNV-1a over the layout and the codes. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void semid_idtable_update_fingerprint(semid_idtable *t) {
    uint64_t h = 0xcbf29ce484222325ULL;
    int64_t nl = (int64_t)t->n_tasks * t->n_levels;
    h = fnv(h, &t->n_items, sizeof t->n_items);
    h = fnv(h, &t->n_tasks, sizeof t->n_tasks);
    h = fnv(h, &t->n_levels, sizeof t->n_levels);
    h = fnv(h, &t->n_tokens, sizeof t->n_tokens);
    h = fnv(h, t->level_size, sizeof(int32_t) * (size_t)nl);
    h = fnv(h, t->token_offset, sizeof(int32_t) * (size_t)nl);
    h = fnv(h, t->codes, sizeof(int32_t) * (size_t)(nl * t->n_items));
    t->fingerprint = h;
}

void semid_idtable_free(semid_idtable *t) {
    if (!t) return;
    free(t->strategy);
    free(t->method);
    free(t->level_size);
    free(t->token_offset);
    free(t->codes);
    if (t->item_ids) {
        for (int32_t i = 0; i < t->n_items; i++) free(t->item_ids[i]);
        free(t->item_ids);
    }
    memset(t, 0, sizeof *t);
}

semid_status semid_idtable_create(semid_idtable *t, const char *strategy, const char *method, int32_t n_items,
                                  int32_t n_tasks, int32_t n_levels, const int32_t *level_size,
                                  int32_t shared_levels) {
    memset(t, 0, sizeof *t);
    if (n_items < 1 || (n_tasks != 1 && n_tasks != 2) || n_levels < 1 || shared_levels < 0 || shared_levels > n_levels)
        return semid_fail(SEMID_EINVAL, "ID table: bad sizes (items %d, tasks %d, levels %d, shared %d)", n_items,
                          n_tasks, n_levels, shared_levels);
    int64_t nl = (int64_t)n_tasks * n_levels;
    for (int64_t i = 0; i < nl; i++)
        if (level_size[i] < 1) return semid_fail(SEMID_EINVAL, "ID table: level size %d < 1", level_size[i]);
    if (n_tasks == 2)
        for (int32_t l = 0; l < shared_levels; l++)
            if (level_size[l] != level_size[n_levels + l])
                return semid_fail(SEMID_EINVAL, "ID table: shared level %d has sizes %d and %d", l, level_size[l],
                                  level_size[n_levels + l]);
    t->strategy = semid_strdup(strategy ? strategy : "");
    t->method = semid_strdup(method ? method : "");
    t->level_size = malloc(sizeof(int32_t) * (size_t)nl);
    t->token_offset = malloc(sizeof(int32_t) * (size_t)nl);
    t->codes = calloc((size_t)(nl * n_items), sizeof(int32_t));
    if (!t->strategy || !t->method || !t->level_size || !t->token_offset || !t->codes) {
        semid_idtable_free(t);
        return semid_fail(SEMID_ENOMEM, "out of memory for an ID table of %d items", n_items);
    }
    t->n_items = n_items;
    t->n_tasks = n_tasks;
    t->n_levels = n_levels;
    memcpy(t->level_size, level_size, sizeof(int32_t) * (size_t)nl);
    int64_t next = 0;
    for (int32_t ti = 0; ti < n_tasks; ti++)
        for (int32_t l = 0; l < n_levels; l++) {
            if (ti == 1 && l < shared_levels) {
                t->token_offset[n_levels + l] = t->token_offset[l];
                continue;
            }
            t->token_offset[ti * n_levels + l] = (int32_t)next;
            next += level_size[ti * n_levels + l];
            if (next > INT32_MAX) {
                semid_idtable_free(t);
                return semid_fail(SEMID_EINVAL, "ID table: too many tokens");
            }
        }
    t->n_tokens = (int32_t)next;
    semid_idtable_update_fingerprint(t);
    return SEMID_OK;
}

semid_status semid_idtable_validate(const semid_idtable *t) {
    if (t->n_items < 1 || (t->n_tasks != 1 && t->n_tasks != 2) || t->n_levels < 1 || t->n_levels > 64)
        return semid_fail(SEMID_EFORMAT, "ID table: bad sizes (items %d, tasks %d, levels %d)", t->n_items, t->n_tasks,
                          t->n_levels);
    int32_t L = t->n_levels, nl = t->n_tasks * L;
    int64_t max_end = 0;
    for (int32_t a = 0; a < nl; a++) {
        int64_t oa = t->token_offset[a], sa = t->level_size[a];
        if (sa < 1 || oa < 0) return semid_fail(SEMID_EFORMAT, "ID table: level %d has size %lld, offset %lld", a % L, (long long)sa, (long long)oa);
        if (oa + sa > max_end) max_end = oa + sa;
        for (int32_t b = 0; b < a; b++) {
            int64_t ob = t->token_offset[b], sb = t->level_size[b];
            if (oa >= ob + sb || ob >= oa + sa) continue;
            /* Overlap is allowed only for the same level of both tasks, sharing one codebook. */
            if (!(a % L == b % L && oa == ob && sa == sb))
                return semid_fail(SEMID_EFORMAT, "ID table: token ranges of levels %d and %d overlap", b, a);
        }
    }
    if (max_end != t->n_tokens)
        return semid_fail(SEMID_EFORMAT, "ID table: n_tokens is %d but the levels span %lld tokens", t->n_tokens,
                          (long long)max_end);
    for (int32_t ti = 0; ti < t->n_tasks; ti++)
        for (int32_t i = 0; i < t->n_items; i++)
            for (int32_t l = 0; l < L; l++) {
                int32_t c = t->codes[((int64_t)ti * t->n_items + i) * L + l];
                if (c < 0 || c >= t->level_size[ti * L + l])
                    return semid_fail(SEMID_EFORMAT, "ID table: item %d (task %d) has code %d at level %d of size %d", i,
                                      ti, c, l, t->level_size[ti * L + l]);
            }
    return SEMID_OK;
}

semid_status semid_idtable_set_item_ids(semid_idtable *t, char *const *ids) {
    char **copy = calloc((size_t)t->n_items, sizeof(char *));
    if (!copy) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t i = 0; i < t->n_items; i++) {
        copy[i] = semid_strdup(ids[i]);
        if (!copy[i]) {
            for (int32_t j = 0; j < i; j++) free(copy[j]);
            free(copy);
            return semid_fail(SEMID_ENOMEM, "out of memory");
        }
    }
    if (t->item_ids) {
        for (int32_t i = 0; i < t->n_items; i++) free(t->item_ids[i]);
        free(t->item_ids);
    }
    t->item_ids = copy;
    return SEMID_OK;
}

semid_status semid_idtable_check_fingerprint(const semid_idtable *t, uint64_t expected, const char *what) {
    if (t->fingerprint == expected) return SEMID_OK;
    return semid_fail(SEMID_EFORMAT,
                      "ID table from another vocabulary: its fingerprint is %016" PRIx64 " but %s expects %016" PRIx64,
                      t->fingerprint, what ? what : "the model", expected);
}

/* ---- Collisions. ---- */

typedef struct sort_ctx {
    const int32_t *codes; /* rows of `stride` codes, of which the first L are the ID compared */
    int32_t stride, L;
    const int64_t *pop;
} sort_ctx;

/* qsort has no context argument: a thread-local pointer carries it. */
static _Thread_local const sort_ctx *g_sort;

static int cmp_by_id(const void *pa, const void *pb) {
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    const int32_t *ca = g_sort->codes + (int64_t)a * g_sort->stride, *cb = g_sort->codes + (int64_t)b * g_sort->stride;
    for (int32_t l = 0; l < g_sort->L; l++)
        if (ca[l] != cb[l]) return ca[l] < cb[l] ? -1 : 1;
    if (g_sort->pop && g_sort->pop[a] != g_sort->pop[b]) return g_sort->pop[a] > g_sort->pop[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Items of one task sorted by their first L codes (then popularity desc,
 * then index). */
static int32_t *sorted_items(const int32_t *codes, int32_t n, int32_t stride, int32_t L, const int64_t *pop) {
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)n);
    if (!idx) return NULL;
    for (int32_t i = 0; i < n; i++) idx[i] = i;
    sort_ctx ctx = {codes, stride, L, pop};
    g_sort = &ctx;
    qsort(idx, (size_t)n, sizeof(int32_t), cmp_by_id);
    g_sort = NULL;
    return idx;
}

static int same_id(const int32_t *codes, int32_t stride, int32_t L, int32_t a, int32_t b) {
    return memcmp(codes + (int64_t)a * stride, codes + (int64_t)b * stride, sizeof(int32_t) * (size_t)L) == 0;
}

/* Collisions of the IDs cut to their first `levels` levels. */
static semid_status collisions_over(const semid_idtable *t, int task, int32_t levels, semid_collision_stats *out) {
    memset(out, 0, sizeof *out);
    int32_t ti = task_index(t, task), L = t->n_levels, n = t->n_items;
    const int32_t *codes = t->codes + (int64_t)ti * n * L;
    int32_t *idx = sorted_items(codes, n, L, levels, NULL);
    if (!idx) return semid_fail(SEMID_ENOMEM, "out of memory");
    out->n_items = n;
    for (int32_t b = 0; b < n;) {
        int32_t e = b + 1;
        while (e < n && same_id(codes, L, levels, idx[b], idx[e])) e++;
        out->distinct_ids++;
        if (e - b > 1) out->colliding_items += e - b;
        if (e - b > out->max_items_per_id) out->max_items_per_id = e - b;
        b = e;
    }
    out->rate = 1.0 - (double)out->distinct_ids / n;
    free(idx);
    return SEMID_OK;
}

semid_status semid_idtable_collisions(const semid_idtable *t, int task, semid_collision_stats *out) {
    return collisions_over(t, task, t->n_levels, out);
}

semid_status semid_idtable_collisions_before(const semid_idtable *t, int task, semid_collision_stats *out) {
    return collisions_over(t, task, t->n_levels - t->disambiguated, out);
}

/* Whether b^D >= want, without overflow. */
static int ipow_at_least(int64_t b, int32_t D, int64_t want) {
    int64_t v = 1;
    for (int32_t d = 0; d < D; d++) {
        v *= b;
        if (v >= want) return 1;
    }
    return v >= want;
}

/* Digits per appended level: the smallest base b with b^D >= group. */
static int32_t digit_base(int32_t group, int32_t D) {
    if (D <= 1) return group;
    int32_t b = (int32_t)ceil(pow((double)group, 1.0 / D));
    if (b < 2) b = 2;
    while (b > 2 && ipow_at_least(b - 1, D, group)) b--; /* pow's rounding */
    while (!ipow_at_least(b, D, group)) b++;
    return b;
}

int32_t semid_idtable_disambiguation_levels(int32_t largest_group, int32_t max_level_tokens) {
    if (max_level_tokens < 2 || largest_group <= max_level_tokens) return 1;
    int32_t D = 1;
    while (!ipow_at_least(max_level_tokens, D, largest_group)) D++;
    return D;
}

void semid_idtable_number_to_codes(int32_t number, const int32_t *level_size, int32_t D, int32_t *out) {
    for (int32_t d = D - 1; d >= 0; d--) {
        out[d] = number % level_size[d];
        number /= level_size[d];
    }
}

int32_t semid_idtable_codes_to_number(const int32_t *codes, const int32_t *level_size, int32_t D) {
    int64_t n = 0;
    for (int32_t d = 0; d < D; d++) n = n * level_size[d] + codes[d];
    return (int32_t)n;
}

semid_status semid_idtable_disambiguate(semid_idtable *t, const int64_t *popularity) {
    return semid_idtable_disambiguate_capped(t, popularity, 0);
}

semid_status semid_idtable_disambiguate_capped(semid_idtable *t, const int64_t *popularity, int32_t max_level_tokens) {
    if (t->disambiguated) return semid_fail(SEMID_EINVAL, "ID table: already disambiguated");
    const int32_t n = t->n_items, T = t->n_tasks, L = t->n_levels;
    /* The groups first: how many levels the largest one needs decides the
     * layout, the same number for every task. */
    int32_t *idx[2] = {NULL, NULL}, biggest[2] = {1, 1};
    semid_status st = SEMID_OK;
    for (int32_t ti = 0; ti < T && st == SEMID_OK; ti++) {
        const int32_t *old = t->codes + (int64_t)ti * n * L;
        if (!(idx[ti] = sorted_items(old, n, L, L, popularity))) st = semid_fail(SEMID_ENOMEM, "out of memory");
        for (int32_t b = 0; st == SEMID_OK && b < n;) {
            int32_t e = b + 1;
            while (e < n && same_id(old, L, L, idx[ti][b], idx[ti][e])) e++;
            if (e - b > biggest[ti]) biggest[ti] = e - b;
            b = e;
        }
    }
    int32_t D = semid_idtable_disambiguation_levels(biggest[0] > biggest[1] ? biggest[0] : biggest[1], max_level_tokens);
    const int32_t L2 = L + D;
    if (st == SEMID_OK && L2 > 64) st = semid_fail(SEMID_EINVAL, "ID table: %d levels after disambiguation (at most 64)", L2);
    int32_t *codes = NULL, *size = NULL, *off = NULL;
    if (st == SEMID_OK) {
        codes = malloc(sizeof(int32_t) * (size_t)T * (size_t)n * (size_t)L2);
        size = malloc(sizeof(int32_t) * (size_t)(T * L2));
        off = malloc(sizeof(int32_t) * (size_t)(T * L2));
        if (!codes || !size || !off) st = semid_fail(SEMID_ENOMEM, "out of memory disambiguating the ID table");
    }
    int64_t next = t->n_tokens;
    for (int32_t ti = 0; ti < T && st == SEMID_OK; ti++) {
        const int32_t *old = t->codes + (int64_t)ti * n * L;
        int32_t *neu = codes + (int64_t)ti * n * L2, *dsize = size + ti * L2 + L;
        /* A group's j-th item gets j written in base b over the D levels, the
         * most significant first (whose size only needs to reach the group). */
        int32_t b = digit_base(biggest[ti], D), below = 1;
        for (int32_t d = 1; d < D; d++) below *= b;
        dsize[0] = (biggest[ti] + below - 1) / below;
        for (int32_t d = 1; d < D; d++) dsize[d] = b;
        for (int32_t i = 0; i < n; i++) memcpy(neu + (int64_t)i * L2, old + (int64_t)i * L, sizeof(int32_t) * (size_t)L);
        for (int32_t g = 0; g < n;) {
            int32_t e = g + 1;
            while (e < n && same_id(old, L, L, idx[ti][g], idx[ti][e])) e++;
            for (int32_t j = g; j < e; j++) semid_idtable_number_to_codes(j - g, dsize, D, neu + (int64_t)idx[ti][j] * L2 + L);
            g = e;
        }
        memcpy(size + ti * L2, t->level_size + ti * L, sizeof(int32_t) * (size_t)L);
        memcpy(off + ti * L2, t->token_offset + ti * L, sizeof(int32_t) * (size_t)L);
        for (int32_t d = 0; d < D; d++) {
            off[ti * L2 + L + d] = (int32_t)(next < INT32_MAX ? next : INT32_MAX);
            next += dsize[d];
        }
    }
    if (st == SEMID_OK && next > INT32_MAX) st = semid_fail(SEMID_EINVAL, "ID table: too many tokens after disambiguation");
    free(idx[0]);
    free(idx[1]);
    if (st != SEMID_OK) {
        free(codes);
        free(size);
        free(off);
        return st;
    }
    free(t->codes);
    free(t->level_size);
    free(t->token_offset);
    t->codes = codes;
    t->level_size = size;
    t->token_offset = off;
    t->n_levels = L2;
    t->n_tokens = (int32_t)next;
    t->disambiguated = D;
    semid_idtable_update_fingerprint(t);
    return SEMID_OK;
}

/* ---- Saving and loading. ---- */

/* A growable text buffer. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_put(sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

/* A JSON string literal (escapes quotes, backslashes, control bytes). */
static void sb_json_string(sbuf *b, const char *s) {
    char *esc = NULL;
    cJSON *j = cJSON_CreateString(s);
    if (j) esc = cJSON_PrintUnformatted(j);
    if (esc) sb_put(b, "%s", esc);
    else b->failed = 1;
    cJSON_free(esc);
    cJSON_Delete(j);
}

static void sb_ints(sbuf *b, const int32_t *v, int64_t n) {
    sb_put(b, "[");
    for (int64_t i = 0; i < n; i++) sb_put(b, i ? ",%d" : "%d", v[i]);
    sb_put(b, "]");
}

semid_status semid_idtable_save(const semid_idtable *t, const char *path) {
    SEMID_TRY(semid_idtable_validate(t));
    int32_t L = t->n_levels;
    sbuf b = {0};
    sb_put(&b, "{\"format\": \"%s\", \"version\": %d, " CHECKSUM_FIELD "0000000000000000\",\n \"strategy\": ",
           IDTABLE_FORMAT, IDTABLE_VERSION);
    sb_json_string(&b, t->strategy ? t->strategy : "");
    sb_put(&b, ", \"method\": ");
    sb_json_string(&b, t->method ? t->method : "");
    sb_put(&b, ",\n \"n_items\": %d, \"n_tasks\": %d, \"n_levels\": %d, \"n_tokens\": %d, \"disambiguated\": %s,\n",
           t->n_items, t->n_tasks, L, t->n_tokens, t->disambiguated ? "true" : "false");
    /* Only where there is more than the one appended level files always had. */
    if (t->disambiguated > 1) sb_put(&b, " \"disambiguation_levels\": %d,\n", t->disambiguated);
    sb_put(&b, " \"level_size\": ");
    sb_ints(&b, t->level_size, (int64_t)t->n_tasks * L);
    sb_put(&b, ", \"token_offset\": ");
    sb_ints(&b, t->token_offset, (int64_t)t->n_tasks * L);
    sb_put(&b, ",\n \"fingerprint\": \"%016" PRIx64 "\",", t->fingerprint);
    sb_put(&b, " \"tokenizer_fingerprint\": [\"%016" PRIx64 "\", \"%016" PRIx64 "\"],\n", t->tokenizer_fingerprint[0],
           t->tokenizer_fingerprint[1]);
    if (t->item_ids) {
        sb_put(&b, " \"item_ids\": [");
        for (int32_t i = 0; i < t->n_items; i++) {
            if (i) sb_put(&b, i % 16 ? ", " : ",\n  ");
            sb_json_string(&b, t->item_ids[i]);
        }
        sb_put(&b, "],\n");
    }
    sb_put(&b, " \"codes\": [");
    for (int32_t ti = 0; ti < t->n_tasks; ti++) {
        sb_put(&b, ti ? ",\n  [" : "\n  [");
        for (int32_t i = 0; i < t->n_items; i++) {
            if (i) sb_put(&b, i % 8 ? ", " : ",\n   ");
            sb_ints(&b, t->codes + ((int64_t)ti * t->n_items + i) * L, L);
        }
        sb_put(&b, "]");
    }
    sb_put(&b, "]}\n");
    if (b.failed) {
        free(b.p);
        return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    }
    int64_t at = semid_checksum_find(b.p, b.len, CHECKSUM_FIELD);
    SEMID_ASSERT(at >= 0);
    char hex[17];
    semid_checksum_hex(semid_checksum_masked(b.p, b.len, (size_t)at), hex);
    memcpy(b.p + at, hex, SEMID_CHECKSUM_HEX);
    semid_status st = semid_write_file_atomic(path, b.p, b.len);
    free(b.p);
    return st;
}

/* A JSON number that is an int32 (checked before the cast, which is
 * undefined out of range). */
static int is_int32(const cJSON *j) {
    return cJSON_IsNumber(j) && j->valuedouble >= INT32_MIN && j->valuedouble <= INT32_MAX &&
           j->valuedouble == (double)(int32_t)j->valuedouble;
}

static semid_status get_int(const cJSON *root, const char *key, const char *path, int32_t *v) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!is_int32(j))
        return semid_fail(SEMID_EFORMAT, "%s: \"%s\" is missing or not an integer", path, key);
    *v = (int32_t)j->valuedouble;
    return SEMID_OK;
}

static semid_status get_ints(const cJSON *arr, int32_t *dst, int64_t n, const char *path, const char *what) {
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n)
        return semid_fail(SEMID_EFORMAT, "%s: \"%s\" must be an array of %lld integers", path, what, (long long)n);
    int64_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (!is_int32(e))
            return semid_fail(SEMID_EFORMAT, "%s: \"%s\"[%lld] is not an integer", path, what, (long long)i);
        dst[i++] = (int32_t)e->valuedouble;
    }
    return SEMID_OK;
}

semid_status semid_idtable_load(const char *path, semid_idtable *out) {
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    SEMID_TRY(semid_read_file(path, &text, &len));
    /* The checksum first, on the bytes: a flipped byte is "corrupt",
     * wherever it is. semid writes it on the first line. */
    int64_t at = semid_checksum_find(text, len < 256 ? len : 256, CHECKSUM_FIELD);
    semid_status st = at >= 0 ? semid_checksum_verify_masked(path, text, len, (size_t)at, "in its \"checksum\" field")
                              : SEMID_OK;
    if (st != SEMID_OK) {
        free(text);
        return st;
    }
    int oom = 0;
    cJSON *root = semid_json_parse(text, len, &oom);
    free(text);
    if (!root) return semid_fail(oom ? SEMID_ENOMEM : SEMID_EPARSE, "%s: %s", path, oom ? "out of memory" : "not valid JSON");
    if (at < 0) {
        if (cJSON_GetObjectItemCaseSensitive(root, "checksum") && semid_verify_enabled()) {
            cJSON_Delete(root);
            return semid_fail(SEMID_EFORMAT,
                              "%s is corrupt, or was edited: it has a \"checksum\", but not on its first line as "
                              "semid writes it (SEMID_NO_VERIFY=1 loads it unchecked)",
                              path);
        }
        SEMID_DEBUG("%s: no checksum: not verified", path);
    }
    semid_idtable t;
    memset(&t, 0, sizeof t);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    int32_t version = 0, n_items = 0, n_tasks = 0, n_levels = 0, n_tokens = 0;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, IDTABLE_FORMAT) != 0) {
        st = semid_fail(SEMID_EFORMAT, "%s: not a semid ID table (\"format\" is not \"%s\")", path, IDTABLE_FORMAT);
        goto done;
    }
    if ((st = get_int(root, "version", path, &version)) != SEMID_OK) goto done;
    if (version != IDTABLE_VERSION) {
        st = semid_fail(SEMID_EFORMAT, "%s: ID table version %d, this semid reads version %d", path, version,
                        IDTABLE_VERSION);
        goto done;
    }
    if ((st = get_int(root, "n_items", path, &n_items)) != SEMID_OK) goto done;
    if ((st = get_int(root, "n_tasks", path, &n_tasks)) != SEMID_OK) goto done;
    if ((st = get_int(root, "n_levels", path, &n_levels)) != SEMID_OK) goto done;
    if ((st = get_int(root, "n_tokens", path, &n_tokens)) != SEMID_OK) goto done;
    if (n_items < 1 || (n_tasks != 1 && n_tasks != 2) || n_levels < 1 || n_levels > 64 || n_tokens < 1) {
        st = semid_fail(SEMID_EFORMAT, "%s: bad sizes (items %d, tasks %d, levels %d, tokens %d)", path, n_items,
                        n_tasks, n_levels, n_tokens);
        goto done;
    }
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(root, "strategy");
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(root, "method");
    const cJSON *jf = cJSON_GetObjectItemCaseSensitive(root, "fingerprint");
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(root, "disambiguated");
    if (!cJSON_IsString(js) || !cJSON_IsString(jm) || !cJSON_IsString(jf)) {
        st = semid_fail(SEMID_EFORMAT, "%s: \"strategy\", \"method\" and \"fingerprint\" must be strings", path);
        goto done;
    }
    /* The counts against what the file holds, before allocating for them:
     * every code takes at least 2 bytes of text ("0,"), and the codes come
     * as n_tasks arrays of n_items rows. */
    int64_t nl = (int64_t)n_tasks * n_levels;
    if ((uint64_t)nl * (uint64_t)n_items > len / 2) {
        st = semid_fail(SEMID_EFORMAT, "%s: %d items x %lld codes do not fit in the file's %zu bytes (truncated or damaged?)",
                        path, n_items, (long long)nl, len);
        goto done;
    }
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(root, "codes");
    if (!cJSON_IsArray(jc) || cJSON_GetArraySize(jc) != n_tasks) {
        st = semid_fail(SEMID_EFORMAT, "%s: \"codes\" must hold %d arrays (one per task)", path, n_tasks);
        goto done;
    }
    for (int32_t ti = 0; ti < n_tasks; ti++) {
        const cJSON *rows = cJSON_GetArrayItem(jc, ti);
        if (!cJSON_IsArray(rows) || cJSON_GetArraySize(rows) != n_items) {
            st = semid_fail(SEMID_EFORMAT, "%s: codes of task %d must have %d rows, the file has %d", path, ti, n_items,
                            cJSON_IsArray(rows) ? cJSON_GetArraySize(rows) : 0);
            goto done;
        }
    }
    t.n_items = n_items;
    t.n_tasks = n_tasks;
    t.n_levels = n_levels;
    t.n_tokens = n_tokens;
    t.disambiguated = cJSON_IsTrue(jd);
    const cJSON *jdl = cJSON_GetObjectItemCaseSensitive(root, "disambiguation_levels");
    if (jdl) {
        if (!is_int32(jdl) || !t.disambiguated || jdl->valueint < 1 || jdl->valueint >= n_levels) {
            st = semid_fail(SEMID_EFORMAT, "%s: \"disambiguation_levels\" must be 1 to %d in a disambiguated table", path,
                            n_levels - 1);
            goto done;
        }
        t.disambiguated = jdl->valueint;
    }
    t.strategy = semid_strdup(js->valuestring);
    t.method = semid_strdup(jm->valuestring);
    t.level_size = malloc(sizeof(int32_t) * (size_t)nl);
    t.token_offset = malloc(sizeof(int32_t) * (size_t)nl);
    t.codes = malloc(sizeof(int32_t) * (size_t)(nl * n_items));
    if (!t.strategy || !t.method || !t.level_size || !t.token_offset || !t.codes) {
        st = semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
        goto done;
    }
    if ((st = get_ints(cJSON_GetObjectItemCaseSensitive(root, "level_size"), t.level_size, nl, path, "level_size")))
        goto done;
    if ((st = get_ints(cJSON_GetObjectItemCaseSensitive(root, "token_offset"), t.token_offset, nl, path,
                       "token_offset")))
        goto done;
    for (int32_t ti = 0; ti < n_tasks; ti++) {
        const cJSON *rows = cJSON_GetArrayItem(jc, ti);
        int32_t i = 0;
        const cJSON *row;
        cJSON_ArrayForEach(row, rows) {
            char what[64];
            snprintf(what, sizeof what, "codes of item %d", i);
            if ((st = get_ints(row, t.codes + ((int64_t)ti * n_items + i) * n_levels, n_levels, path, what))) goto done;
            i++;
        }
    }
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(root, "tokenizer_fingerprint");
    if (jt) {
        if (!cJSON_IsArray(jt) || cJSON_GetArraySize(jt) != 2) {
            st = semid_fail(SEMID_EFORMAT, "%s: \"tokenizer_fingerprint\" must hold 2 strings", path);
            goto done;
        }
        for (int k = 0; k < 2; k++) {
            const cJSON *e = cJSON_GetArrayItem(jt, k);
            char *end = NULL;
            if (cJSON_IsString(e)) t.tokenizer_fingerprint[k] = strtoull(e->valuestring, &end, 16);
            if (!cJSON_IsString(e) || !end || *end || strlen(e->valuestring) != 16) {
                st = semid_fail(SEMID_EFORMAT, "%s: tokenizer_fingerprint[%d] is not 16 hex digits", path, k);
                goto done;
            }
        }
    }
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(root, "item_ids");
    if (ji) {
        if (!cJSON_IsArray(ji) || cJSON_GetArraySize(ji) != n_items) {
            st = semid_fail(SEMID_EFORMAT, "%s: \"item_ids\" must hold %d strings", path, n_items);
            goto done;
        }
        t.item_ids = calloc((size_t)n_items, sizeof(char *));
        if (!t.item_ids) {
            st = semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
            goto done;
        }
        int32_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, ji) {
            if (!cJSON_IsString(e)) {
                st = semid_fail(SEMID_EFORMAT, "%s: item_ids[%d] is not a string", path, i);
                goto done;
            }
            if (!(t.item_ids[i++] = semid_strdup(e->valuestring))) {
                st = semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
                goto done;
            }
        }
    }
    if ((st = semid_idtable_validate(&t)) != SEMID_OK) {
        semid_fail_context(st, "%s", path);
        goto done;
    }
    semid_idtable_update_fingerprint(&t);
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, t.fingerprint);
    if (strcmp(hex, jf->valuestring) != 0) {
        st = semid_fail(SEMID_EFORMAT, "%s: fingerprint %s does not match its codes (%s): the file was edited or damaged",
                        path, jf->valuestring, hex);
        goto done;
    }
done:
    cJSON_Delete(root);
    if (st != SEMID_OK) {
        semid_idtable_free(&t);
        return st;
    }
    *out = t;
    return SEMID_OK;
}

semid_status semid_idtable_export_tsv(const semid_idtable *t, const char *path) {
    sbuf b = {0};
    sb_put(&b, "item_id\ttask\ttokens\n");
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)t->n_levels);
    if (!tok) {
        free(b.p);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    for (int32_t i = 0; i < t->n_items; i++)
        for (int32_t ti = 0; ti < t->n_tasks; ti++) {
            if (t->item_ids) sb_put(&b, "%s", t->item_ids[i]);
            else sb_put(&b, "%d", i);
            sb_put(&b, "\t%s", t->n_tasks == 1 ? "both" : ti == SEMID_TASK_SEARCH ? "search" : "rec");
            semid_idtable_tokens(t, ti, i, tok);
            for (int32_t l = 0; l < t->n_levels; l++) sb_put(&b, "\t%d", tok[l]);
            sb_put(&b, "\n");
        }
    free(tok);
    if (b.failed) {
        free(b.p);
        return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    }
    semid_status st = semid_write_file_atomic(path, b.p, b.len);
    free(b.p);
    return st;
}
