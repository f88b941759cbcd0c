#include "gen/catalog.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dirlock.h"
#include "base/fileio.h"
#include "base/status.h"
#include "gen/generate.h"
#include "io/json.h"
#include "quant/strategy.h"

enum { CATALOG_FORMAT_VERSION = 1 };
#define CATALOG_FORMAT "semid-catalog"

void semid_catalog_free(semid_catalog *c) {
    if (!c) return;
    for (int32_t i = 0; i < c->n_added; i++) {
        free(c->added[i].id);
        free(c->added[i].title);
        free(c->added[i].genres);
        free(c->added[i].codes);
    }
    free(c->added);
    for (int32_t i = 0; i < c->n_removed; i++) free(c->removed[i]);
    free(c->removed);
    memset(c, 0, sizeof *c);
}

static void catalog_empty(semid_catalog *c, const semid_idtable *base) {
    memset(c, 0, sizeof *c);
    c->base_items = base->n_items;
    c->base_fingerprint = base->fingerprint;
    c->n_tasks = base->n_tasks;
    c->n_levels = base->n_levels;
}

static int json_int(const cJSON *j, double lo, double hi) {
    return cJSON_IsNumber(j) && j->valuedouble >= lo && j->valuedouble <= hi &&
           j->valuedouble == (double)(int64_t)j->valuedouble;
}

semid_status semid_catalog_load(const char *dir, const semid_idtable *base, semid_catalog *out) {
    catalog_empty(out, base);
    char *path = semid_path_join(dir, SEMID_CATALOG_FILE);
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    if (!semid_path_exists(path)) {
        free(path);
        return SEMID_OK;
    }
    char *text = NULL;
    size_t len = 0;
    semid_status st = semid_read_file_verified(path, &text, &len);
    int oom = 0;
    cJSON *root = st == SEMID_OK ? semid_json_parse(text, len, &oom) : NULL;
    free(text);
    if (st == SEMID_OK && oom) st = semid_fail(SEMID_ENOMEM, "%s: out of memory", path);
    if (st == SEMID_OK && !cJSON_IsObject(root)) st = semid_fail(SEMID_EPARSE, "%s: not a JSON object", path);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(root, "catalog_version");
    const cJSON *bi = cJSON_GetObjectItemCaseSensitive(root, "base_items");
    const cJSON *bf = cJSON_GetObjectItemCaseSensitive(root, "base_fingerprint");
    const cJSON *nt = cJSON_GetObjectItemCaseSensitive(root, "n_tasks");
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(root, "n_levels");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added");
    const cJSON *removed = cJSON_GetObjectItemCaseSensitive(root, "removed");
    if (st == SEMID_OK && (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, CATALOG_FORMAT) != 0))
        st = semid_fail(SEMID_EFORMAT, "%s: not a semid catalog (\"format\" is not \"%s\")", path, CATALOG_FORMAT);
    if (st == SEMID_OK && (!json_int(ver, 0, 1e9) || ver->valuedouble != CATALOG_FORMAT_VERSION))
        st = semid_fail(SEMID_EFORMAT, "%s: catalog format version %g, this semid reads version %d", path,
                        cJSON_IsNumber(ver) ? ver->valuedouble : -1.0, CATALOG_FORMAT_VERSION);
    if (st == SEMID_OK && (!json_int(cv, 0, 9e15) || !json_int(bi, 1, INT32_MAX) || !cJSON_IsString(bf) ||
                           !json_int(nt, 1, 2) || !json_int(nl, 1, 64) || !cJSON_IsArray(added) ||
                           !cJSON_IsArray(removed)))
        st = semid_fail(SEMID_EFORMAT,
                        "%s: expected catalog_version, base_items, base_fingerprint, n_tasks, n_levels, added and "
                        "removed",
                        path);
    if (st == SEMID_OK) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, base->fingerprint);
        if ((int32_t)bi->valuedouble != base->n_items || strcmp(bf->valuestring, hex) != 0 ||
            (int32_t)nt->valuedouble != base->n_tasks || (int32_t)nl->valuedouble != base->n_levels)
            st = semid_fail(SEMID_EFORMAT,
                            "%s extends another ID table (%d items, fingerprint %s) than the bundle's (%d items, "
                            "fingerprint %s): was the model retrained into this directory? Remove %s and add the "
                            "items again",
                            path, (int32_t)bi->valuedouble, bf->valuestring, base->n_items, hex, path);
    }
    if (st == SEMID_OK) {
        out->version = (int64_t)cv->valuedouble;
        int32_t na = cJSON_GetArraySize(added), nr = cJSON_GetArraySize(removed);
        out->added = calloc((size_t)(na > 0 ? na : 1), sizeof *out->added);
        out->removed = calloc((size_t)(nr > 0 ? nr : 1), sizeof *out->removed);
        if (!out->added || !out->removed) st = semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
        int32_t TL = base->n_tasks * base->n_levels;
        const cJSON *e;
        cJSON_ArrayForEach(e, added) {
            if (st != SEMID_OK) break;
            int32_t j = out->n_added;
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
            const cJSON *ti = cJSON_GetObjectItemCaseSensitive(e, "title");
            const cJSON *yr = cJSON_GetObjectItemCaseSensitive(e, "year");
            const cJSON *ge = cJSON_GetObjectItemCaseSensitive(e, "genres");
            const cJSON *co = cJSON_GetObjectItemCaseSensitive(e, "codes");
            const cJSON *av = cJSON_GetObjectItemCaseSensitive(e, "catalog_version");
            if (!cJSON_IsString(id) || !id->valuestring[0] || !cJSON_IsString(ti) || (yr && !json_int(yr, 0, 9999)) ||
                (ge && !cJSON_IsString(ge)) || !cJSON_IsArray(co) || cJSON_GetArraySize(co) != TL ||
                !json_int(av, 1, (double)out->version)) {
                st = semid_fail(SEMID_EFORMAT,
                                "%s: added item %d: expected {\"id\", \"title\", \"codes\" (%d), \"catalog_version\"}",
                                path, j, TL);
                break;
            }
            semid_catalog_item *it = &out->added[j];
            out->n_added++;
            it->id = semid_strdup(id->valuestring);
            it->title = semid_strdup(ti->valuestring);
            it->genres = semid_strdup(ge ? ge->valuestring : "");
            it->year = yr ? (int32_t)yr->valuedouble : 0;
            it->version = (int64_t)av->valuedouble;
            it->codes = malloc(sizeof(int32_t) * (size_t)TL);
            if (!it->id || !it->title || !it->genres || !it->codes) {
                st = semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
                break;
            }
            for (int32_t k = 0; k < TL && st == SEMID_OK; k++) {
                const cJSON *c = cJSON_GetArrayItem(co, k);
                int32_t size = base->level_size[k];
                if (!json_int(c, 0, (double)size - 1))
                    st = semid_fail(SEMID_EFORMAT, "%s: added item '%s': code %d is not in 0..%d (level %d of %d codes)",
                                    path, it->id, k, size - 1, k % base->n_levels, size);
                else
                    it->codes[k] = (int32_t)c->valuedouble;
            }
        }
        cJSON_ArrayForEach(e, removed) {
            if (st != SEMID_OK) break;
            if (!cJSON_IsString(e)) {
                st = semid_fail(SEMID_EFORMAT, "%s: removed[%d] is not a string", path, out->n_removed);
                break;
            }
            if (!(out->removed[out->n_removed] = semid_strdup(e->valuestring))) {
                st = semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
                break;
            }
            out->n_removed++;
        }
        if (st == SEMID_OK && out->version == 0 && (out->n_added || out->n_removed))
            st = semid_fail(SEMID_EFORMAT, "%s: catalog_version 0 with changes", path);
    }
    cJSON_Delete(root);
    free(path);
    if (st != SEMID_OK) semid_catalog_free(out);
    return st;
}

semid_status semid_catalog_save(const char *dir, const semid_catalog *c) {
    cJSON *root = cJSON_CreateObject();
    cJSON *added = cJSON_CreateArray(), *removed = cJSON_CreateArray();
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, c->base_fingerprint);
    int ok = root && added && removed && cJSON_AddStringToObject(root, "format", CATALOG_FORMAT) &&
             cJSON_AddNumberToObject(root, "version", CATALOG_FORMAT_VERSION) &&
             cJSON_AddNumberToObject(root, "catalog_version", (double)c->version) &&
             cJSON_AddNumberToObject(root, "base_items", c->base_items) &&
             cJSON_AddStringToObject(root, "base_fingerprint", hex) &&
             cJSON_AddNumberToObject(root, "n_tasks", c->n_tasks) &&
             cJSON_AddNumberToObject(root, "n_levels", c->n_levels);
    if (ok) {
        cJSON_AddItemToObject(root, "added", added);
        cJSON_AddItemToObject(root, "removed", removed);
    } else {
        cJSON_Delete(added);
        cJSON_Delete(removed);
    }
    for (int32_t i = 0; ok && i < c->n_added; i++) {
        const semid_catalog_item *it = &c->added[i];
        cJSON *o = cJSON_CreateObject();
        cJSON *codes = cJSON_CreateIntArray(it->codes, c->n_tasks * c->n_levels);
        ok = o && codes && cJSON_AddStringToObject(o, "id", it->id) && cJSON_AddStringToObject(o, "title", it->title) &&
             (it->year <= 0 || cJSON_AddNumberToObject(o, "year", it->year)) &&
             (!it->genres[0] || cJSON_AddStringToObject(o, "genres", it->genres));
        if (ok) {
            cJSON_AddItemToObject(o, "codes", codes);
            codes = NULL;
            ok = cJSON_AddNumberToObject(o, "catalog_version", (double)it->version) != NULL;
        }
        cJSON_Delete(codes);
        if (o) cJSON_AddItemToArray(added, o);
    }
    for (int32_t i = 0; ok && i < c->n_removed; i++) {
        cJSON *s = cJSON_CreateString(c->removed[i]);
        ok = s != NULL;
        if (s) cJSON_AddItemToArray(removed, s);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    char *path = semid_path_join(dir, SEMID_CATALOG_FILE);
    semid_status st = text && path ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory writing the catalog");
    if (st == SEMID_OK) st = semid_write_file_summed(path, text, strlen(text));
    cJSON_free(text);
    free(path);
    return st;
}

semid_status semid_catalog_extend_table(const semid_catalog *c, semid_idtable *t) {
    if (c->n_added == 0) return SEMID_OK;
    int32_t N = t->n_items, A = c->n_added, T = t->n_tasks, L = t->n_levels;
    if ((int64_t)N + A > INT32_MAX / 2) return semid_fail(SEMID_EINVAL, "catalog: too many items");
    int32_t M = N + A;
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)T * (size_t)M * (size_t)L);
    char **ids = t->item_ids ? calloc((size_t)M, sizeof *ids) : NULL;
    if (!codes || (t->item_ids && !ids)) {
        free(codes);
        free(ids);
        return semid_fail(SEMID_ENOMEM, "out of memory extending the ID table by %d items", A);
    }
    for (int32_t ti = 0; ti < T; ti++) {
        memcpy(codes + (int64_t)ti * M * L, t->codes + (int64_t)ti * N * L, sizeof(int32_t) * (size_t)N * (size_t)L);
        for (int32_t j = 0; j < A; j++)
            memcpy(codes + ((int64_t)ti * M + N + j) * L, c->added[j].codes + ti * L, sizeof(int32_t) * (size_t)L);
    }
    if (ids) {
        for (int32_t j = 0; j < A; j++)
            if (!(ids[N + j] = semid_strdup(c->added[j].id))) {
                for (int32_t k = 0; k < j; k++) free(ids[N + k]);
                free(ids);
                free(codes);
                return semid_fail(SEMID_ENOMEM, "out of memory");
            }
        memcpy(ids, t->item_ids, sizeof *ids * (size_t)N);
        free(t->item_ids);
        t->item_ids = ids;
    }
    free(t->codes);
    t->codes = codes;
    t->n_items = M;
    semid_idtable_update_fingerprint(t);
    return SEMID_OK;
}

/* ---- updates ---- */

/* Loads the bundle in dir under its lock. */
static semid_status open_locked(const char *dir, int wait, semid_dirlock *lock, semid_gen_bundle **b,
                                semid_catalog *cat, semid_idtable *base) {
    *b = NULL;
    memset(cat, 0, sizeof *cat);
    memset(base, 0, sizeof *base);
    SEMID_TRY(semid_dirlock_acquire(lock, dir, wait));
    semid_status st = semid_gen_bundle_load(dir, b);
    char *tpath = st == SEMID_OK ? semid_path_join(dir, "idtable.sid") : NULL;
    if (st == SEMID_OK && !tpath) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_idtable_load(tpath, base);
    if (st == SEMID_OK) st = semid_catalog_load(dir, base, cat);
    free(tpath);
    if (st != SEMID_OK) {
        semid_gen_bundle_free(*b);
        *b = NULL;
        semid_idtable_free(base);
        semid_catalog_free(cat);
        semid_dirlock_release(lock);
    }
    return st;
}

static void fill_report(const semid_gen_bundle *b, const semid_catalog *cat, int32_t extra_items, int32_t changed,
                        semid_catalog_report *rep) {
    if (!rep) return;
    int32_t removed = 0;
    for (int32_t i = 0; i < b->n_items; i++) removed += b->removed && b->removed[i];
    rep->version = cat->version;
    rep->n_items = b->n_items + extra_items;
    rep->n_live = rep->n_items - removed;
    rep->first_new = b->n_items;
    rep->n_changed = changed;
    rep->n_levels = b->table.n_levels;
}

/* The disambiguation number of a new item with prefix `pre` (L-1 codes):
 * 1 + the largest at that prefix among the first n rows of `codes` (rows
 * of L) and the rows of `more` (m rows of L), or 0. */
/* The next free number under prefix `pre` (the first L - D levels): one
 * past the largest that an item of the table or one added before has. */
static int32_t next_number(const int32_t *codes, int32_t n, const int32_t *more, int32_t m, int32_t L, int32_t D,
                           const int32_t *dsize, const int32_t *pre) {
    int32_t best = -1;
    for (int32_t i = 0; i < n + m; i++) {
        const int32_t *r = i < n ? codes + (int64_t)i * L : more + (int64_t)(i - n) * L;
        if (memcmp(r, pre, sizeof(int32_t) * (size_t)(L - D)) != 0) continue;
        int32_t num = semid_idtable_codes_to_number(r + L - D, dsize, D);
        if (num > best) best = num;
    }
    return best + 1;
}

semid_status semid_catalog_add(const char *dir, const semid_item *items, int32_t n, const semid_matrix *emb,
                               const semid_tokenizer *tok, int wait, semid_catalog_report *rep, int32_t **codes_out) {
    if (codes_out) *codes_out = NULL;
    if (n < 1) return semid_fail(SEMID_EINVAL, "catalog add: no items");
    if (emb->rows != n)
        return semid_fail(SEMID_EINVAL, "catalog add: %d items but %lld embedding rows", n, (long long)emb->rows);
    semid_dirlock lock = {-1};
    semid_gen_bundle *b;
    semid_catalog cat;
    semid_idtable base;
    SEMID_TRY(open_locked(dir, wait, &lock, &b, &cat, &base));
    const semid_idtable *t = &b->table;
    int32_t L = t->n_levels, tl = semid_tokenizer_levels(tok);
    int32_t *raw = NULL, *tokens = NULL, *codes = NULL;
    semid_catalog_item *grown = NULL;
    semid_status st = SEMID_OK;
    if (t->n_tasks != 1)
        st = semid_fail(SEMID_EINVAL,
                        "catalog add: the bundle's IDs (strategy %s) have one ID per task; adding items is supported "
                        "for one-ID-space strategies (search, content, multi, fused_concat, fused_svd, rec)",
                        t->strategy);
    for (int32_t i = 0; i < n && st == SEMID_OK; i++) {
        int32_t at = semid_gen_bundle_find_item(b, items[i].id);
        if (at >= 0)
            st = semid_fail(SEMID_EINVAL, "catalog add: item '%s' is already in the catalog%s", items[i].id,
                            b->removed && b->removed[at] ? " (removed; ids are not reused)" : "");
    }
    if (st == SEMID_OK) {
        raw = malloc(sizeof(int32_t) * (size_t)n * (size_t)(tl > 0 ? tl : 1));
        tokens = malloc(sizeof(int32_t) * (size_t)n * (size_t)L);
        codes = malloc(sizeof(int32_t) * (size_t)n * (size_t)L);
        grown = realloc(cat.added, sizeof *grown * (size_t)(cat.n_added + n));
        if (grown) cat.added = grown;
        if (!raw || !tokens || !codes || !grown) st = semid_fail(SEMID_ENOMEM, "out of memory adding %d items", n);
    }
    if (st == SEMID_OK) st = semid_tokenizer_encode(tok, emb, raw);
    if (st == SEMID_OK) {
        st = semid_strategy_codes_to_tokens(t, SEMID_TASK_SEARCH, tok, raw, n, tokens);
        if (st != SEMID_OK) semid_fail_context(st, "catalog add");
    }
    for (int32_t i = 0; i < n && st == SEMID_OK; i++) {
        int32_t *c = codes + (int64_t)i * L;
        for (int32_t l = 0; l < L; l++) c[l] = tokens[(int64_t)i * L + l] - t->token_offset[l];
        int32_t D = t->disambiguated;
        if (!D) continue;
        const int32_t *dsize = t->level_size + L - D;
        int32_t num = next_number(t->codes, t->n_items, codes, i, L, D, dsize, c);
        int64_t room = 1;
        for (int32_t d = 0; d < D; d++) room *= dsize[d];
        if (num >= room) {
            char pre[256] = "";
            for (int32_t l = 0; l < L - D && strlen(pre) < 200; l++)
                snprintf(pre + strlen(pre), sizeof pre - strlen(pre), "%s%d", l ? ", " : "", c[l]);
            st = semid_fail(SEMID_EINVAL,
                            "catalog add: item '%s' gets ID prefix (%s), which already numbers %d items: the "
                            "model's disambiguation levels number %lld items, so this item would need a token the model "
                            "does not have (retrain to make room); nothing was added",
                            items[i].id, pre, num, (long long)room);
            break;
        }
        semid_idtable_number_to_codes(num, dsize, D, c + L - D);
    }
    int64_t version = cat.version + 1;
    for (int32_t i = 0; i < n && st == SEMID_OK; i++) {
        semid_catalog_item *it = &cat.added[cat.n_added];
        memset(it, 0, sizeof *it);
        cat.n_added++;
        it->id = semid_strdup(items[i].id);
        it->title = semid_strdup(items[i].title ? items[i].title : "");
        it->genres = semid_strdup(items[i].genres ? items[i].genres : "");
        it->year = items[i].year > 0 ? items[i].year : 0;
        it->version = version;
        it->codes = malloc(sizeof(int32_t) * (size_t)L);
        if (!it->id || !it->title || !it->genres || !it->codes) st = semid_fail(SEMID_ENOMEM, "out of memory");
        else memcpy(it->codes, codes + (int64_t)i * L, sizeof(int32_t) * (size_t)L);
    }
    if (st == SEMID_OK) {
        cat.version = version;
        st = semid_catalog_save(dir, &cat);
    }
    if (st == SEMID_OK) {
        fill_report(b, &cat, n, n, rep);
        if (codes_out) {
            *codes_out = codes;
            codes = NULL;
        }
    }
    free(raw);
    free(tokens);
    free(codes);
    semid_catalog_free(&cat);
    semid_idtable_free(&base);
    semid_gen_bundle_free(b);
    semid_dirlock_release(&lock);
    return st;
}

semid_status semid_catalog_remove(const char *dir, const char *const *ids, int32_t n, int wait,
                                  semid_catalog_report *rep) {
    if (n < 1) return semid_fail(SEMID_EINVAL, "catalog remove: no item ids");
    semid_dirlock lock = {-1};
    semid_gen_bundle *b;
    semid_catalog cat;
    semid_idtable base;
    SEMID_TRY(open_locked(dir, wait, &lock, &b, &cat, &base));
    semid_status st = SEMID_OK;
    uint8_t *gone = calloc((size_t)b->n_items, 1);
    char **grown = realloc(cat.removed, sizeof *grown * (size_t)(cat.n_removed + n));
    if (grown) cat.removed = grown;
    if (!gone || !grown) st = semid_fail(SEMID_ENOMEM, "out of memory");
    int32_t live = 0;
    for (int32_t i = 0; st == SEMID_OK && i < b->n_items; i++) {
        gone[i] = b->removed ? b->removed[i] : 0;
        live += !gone[i];
    }
    for (int32_t i = 0; i < n && st == SEMID_OK; i++) {
        int32_t at = semid_gen_bundle_find_item(b, ids[i]);
        if (at < 0) st = semid_fail(SEMID_ENOTFOUND, "catalog remove: no item '%s' in the catalog of %s", ids[i], dir);
        else if (gone[at]) st = semid_fail(SEMID_EINVAL, "catalog remove: item '%s' is already removed", ids[i]);
        else if (live == 1)
            st = semid_fail(SEMID_EINVAL, "catalog remove: '%s' is the last item left; a catalog cannot be empty", ids[i]);
        if (st != SEMID_OK) break;
        gone[at] = 1;
        live--;
        if (!(cat.removed[cat.n_removed] = semid_strdup(ids[i]))) st = semid_fail(SEMID_ENOMEM, "out of memory");
        else cat.n_removed++;
    }
    if (st == SEMID_OK) {
        cat.version++;
        st = semid_catalog_save(dir, &cat);
    }
    if (st == SEMID_OK && rep) {
        rep->version = cat.version;
        rep->n_items = b->n_items;
        rep->n_live = live;
        rep->first_new = -1;
        rep->n_changed = n;
        rep->n_levels = b->table.n_levels;
    }
    free(gone);
    semid_catalog_free(&cat);
    semid_idtable_free(&base);
    semid_gen_bundle_free(b);
    semid_dirlock_release(&lock);
    return st;
}
