#include "gen/generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/status.h"
#include "base/threads.h"
#include "data/id_index.h"
#include "gen/catalog.h"
#include "gen/expand.h"
#include "gen/layers.h"
#include "io/json.h"

enum { BUNDLE_META_VERSION = 1 };

semid_gen_decode_options semid_gen_decode_defaults(void) {
    semid_gen_decode_options o = {.beam = semid_beam_defaults(), .diverse = 0, .exclude_history = -1};
    return o;
}

/* ---- writing ---- */

semid_status semid_gen_items_repeat(const semid_dataset *ds, int *repeat) {
    *repeat = 0;
    uint8_t *seen = calloc((size_t)(ds->n_items > 0 ? ds->n_items : 1), 1);
    if (!seen) return semid_fail(SEMID_ENOMEM, "out of memory");
    int rep = 0;
    for (int32_t u = 0; u < ds->n_users && !rep; u++) {
        semid_user_split sp = semid_dataset_user_split(ds, u);
        for (int64_t j = sp.train_begin; j < sp.train_end && !rep; j++) rep = seen[ds->seq_items[j]]++ != 0;
        for (int64_t j = sp.train_begin; j < sp.train_end; j++) seen[ds->seq_items[j]] = 0;
    }
    free(seen);
    *repeat = rep;
    return SEMID_OK;
}

semid_status semid_gen_bundle_write_static(const char *dir, const semid_dataset *ds, const semid_idtable *t) {
    char *path = semid_path_join(dir, "idtable.sid");
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = semid_idtable_save(t, path);
    free(path);
    if (st != SEMID_OK) return st;
    int64_t *pop = calloc((size_t)(ds->n_items > 0 ? ds->n_items : 1), sizeof *pop);
    if (!pop) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_dataset_train_counts(ds, pop);
    path = semid_path_join(dir, "items.jsonl");
    semid_atomic_file f = {0};
    st = path ? semid_atomic_open(&f, path) : semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t i = 0; i < ds->n_items && st == SEMID_OK; i++) {
        cJSON *o = cJSON_CreateObject();
        char *line = NULL;
        if (o && cJSON_AddStringToObject(o, "id", ds->items[i].id) &&
            cJSON_AddStringToObject(o, "title", ds->items[i].title ? ds->items[i].title : "") &&
            cJSON_AddNumberToObject(o, "popularity", (double)pop[i]) &&
            (ds->items[i].year <= 0 || cJSON_AddNumberToObject(o, "year", ds->items[i].year)) &&
            (!ds->items[i].genres || !ds->items[i].genres[0] ||
             cJSON_AddStringToObject(o, "genres", ds->items[i].genres)))
            line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!line) st = semid_fail(SEMID_ENOMEM, "out of memory");
        if (st == SEMID_OK) st = semid_atomic_write(&f, line, strlen(line));
        if (st == SEMID_OK) st = semid_atomic_write(&f, "\n", 1);
        free(line);
    }
    if (st == SEMID_OK) st = semid_atomic_commit_summed(&f); /* items.jsonl.sum: JSON lines stay JSON lines */
    else semid_atomic_abort(&f);
    free(path);
    free(pop);
    return st;
}

cJSON *semid_gen_bundle_meta(const semid_gen_vocab *v, const semid_gen_example_options *ex, int items_repeat,
                             int personal) {
    cJSON *o = cJSON_CreateObject();
    cJSON *vj = semid_gen_vocab_to_cjson(v);
    cJSON *e = cJSON_CreateObject();
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)ex->seed);
    if (!o || !vj || !e || !cJSON_AddNumberToObject(o, "version", BUNDLE_META_VERSION) ||
        !cJSON_AddNumberToObject(e, "max_seq_len", ex->max_seq_len) ||
        !cJSON_AddNumberToObject(e, "history_window", ex->history_window) ||
        !cJSON_AddNumberToObject(e, "valid_query_share", ex->valid_query_share) ||
        !cJSON_AddStringToObject(e, "seed", seed) || !cJSON_AddBoolToObject(o, "items_repeat", items_repeat) ||
        (personal && !cJSON_AddBoolToObject(o, "personal_search", 1)) ||
        !cJSON_AddItemToObject(o, "vocab", vj)) {
        cJSON_Delete(o);
        cJSON_Delete(vj);
        cJSON_Delete(e);
        return NULL;
    }
    /* vj is o's now (adding copies the key, which can fail: then it is not) */
    if (!cJSON_AddItemToObject(o, "examples", e)) {
        cJSON_Delete(o);
        cJSON_Delete(e);
        return NULL;
    }
    return o;
}

/* ---- loading ---- */

void semid_gen_bundle_free(semid_gen_bundle *b) {
    if (!b) return;
    semid_gpt_free(b->model);
    semid_gen_vocab_free(&b->vocab);
    semid_trie_free(b->trie[0]);
    semid_trie_free(b->trie[1]);
    semid_idtable_free(&b->table);
    for (int32_t i = 0; i < b->n_items; i++) {
        if (b->item_ids) free(b->item_ids[i]);
        if (b->titles) free(b->titles[i]);
        if (b->genres) free(b->genres[i]);
    }
    free(b->item_ids);
    free(b->titles);
    free(b->genres);
    free(b->years);
    free(b->popularity);
    free(b->removed);
    if (b->index) semid_id_index_free(b->index);
    free(b);
}

static semid_status parse_meta(const char *path, const char *extra, semid_gen_bundle *b) {
    if (!extra || !extra[0])
        return semid_fail(SEMID_EFORMAT, "%s: not a semid generative model (no vocabulary in its metadata)", path);
    int oom = 0;
    cJSON *root = semid_json_parse(extra, strlen(extra), &oom);
    if (!root)
        return semid_fail(oom ? SEMID_ENOMEM : SEMID_EFORMAT, "%s: %s", path, oom ? "out of memory" : "metadata is not valid JSON");
    semid_status st = SEMID_OK;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "semid_gen");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(g, "version");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(g, "examples");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(e, "max_seq_len");
    const cJSON *hw = cJSON_GetObjectItemCaseSensitive(e, "history_window");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(e, "valid_query_share");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(e, "seed");
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(g, "items_repeat");
    if (!cJSON_IsObject(g) || !cJSON_IsNumber(ver) || ver->valueint != BUNDLE_META_VERSION || !cJSON_IsNumber(mx) ||
        !cJSON_IsNumber(hw) || !cJSON_IsNumber(vs) || !cJSON_IsString(sd) || !cJSON_IsBool(rep) || mx->valueint < 1 ||
        hw->valueint < 1) {
        st = semid_fail(SEMID_EFORMAT, "%s: not a semid generative model, or of another version (bad semid_gen metadata)",
                        path);
    } else {
        b->ex.max_seq_len = mx->valueint;
        b->ex.history_window = hw->valueint;
        b->ex.valid_query_share = vs->valuedouble;
        b->ex.seed = strtoull(sd->valuestring, NULL, 10);
        b->items_repeat = cJSON_IsTrue(rep);
        /* absent in bundles of two-task models, older ones included */
        b->personal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "personal_search"));
        st = semid_gen_vocab_from_cjson(cJSON_GetObjectItemCaseSensitive(g, "vocab"), &b->vocab);
        if (st != SEMID_OK) st = semid_fail_context(st, "%s", path);
    }
    cJSON_Delete(root);
    return st;
}

static semid_status load_items(const char *path, semid_gen_bundle *b) {
    char *data;
    size_t len;
    SEMID_TRY(semid_read_file_verified(path, &data, &len));
    semid_status st = SEMID_OK;
    int32_t n = b->table.n_items;
    b->item_ids = calloc((size_t)n, sizeof *b->item_ids);
    b->titles = calloc((size_t)n, sizeof *b->titles);
    b->popularity = calloc((size_t)n, sizeof *b->popularity);
    b->years = calloc((size_t)n, sizeof *b->years);
    b->genres = calloc((size_t)n, sizeof *b->genres);
    if (!b->item_ids || !b->titles || !b->popularity || !b->years || !b->genres)
        st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_id_index_create(&b->index, n);
    b->n_items = n;
    semid_lines it;
    semid_lines_init(&it, data, len);
    int32_t i = 0;
    char *line;
    size_t ll;
    while (st == SEMID_OK && (line = semid_lines_next(&it, &ll)) != NULL) {
        if (ll == 0) continue;
        if (i >= n) {
            st = semid_fail(SEMID_EFORMAT, "%s:%lld: more items than the ID table's %d", path, (long long)it.line_no, n);
            break;
        }
        int oom = 0;
        cJSON *o = semid_json_parse(line, ll, &oom);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        const cJSON *ti = cJSON_GetObjectItemCaseSensitive(o, "title");
        const cJSON *po = cJSON_GetObjectItemCaseSensitive(o, "popularity");
        const cJSON *yr = cJSON_GetObjectItemCaseSensitive(o, "year"); /* optional, as genres */
        const cJSON *ge = cJSON_GetObjectItemCaseSensitive(o, "genres");
        if (oom) {
            st = semid_fail(SEMID_ENOMEM, "%s:%lld: out of memory", path, (long long)it.line_no);
        } else if (!cJSON_IsString(id) || !cJSON_IsString(ti) || !cJSON_IsNumber(po) || po->valuedouble < 0 ||
            (yr && (!cJSON_IsNumber(yr) || yr->valuedouble < 0 || yr->valuedouble > 9999)) ||
            (ge && !cJSON_IsString(ge))) {
            st = semid_fail(SEMID_EPARSE, "%s:%lld: expected {\"id\", \"title\", \"popularity\"}", path,
                            (long long)it.line_no);
        } else {
            b->item_ids[i] = semid_strdup(id->valuestring);
            b->titles[i] = semid_strdup(ti->valuestring);
            b->popularity[i] = (int64_t)po->valuedouble;
            b->years[i] = yr ? (int32_t)yr->valuedouble : 0;
            b->genres[i] = semid_strdup(ge ? ge->valuestring : "");
            if (!b->item_ids[i] || !b->titles[i] || !b->genres[i]) st = semid_fail(SEMID_ENOMEM, "out of memory");
            int32_t existing = -1;
            if (st == SEMID_OK) st = semid_id_index_put(b->index, id->valuestring, i, &existing);
            if (st == SEMID_OK && existing >= 0)
                st = semid_fail(SEMID_EPARSE, "%s:%lld: item id '%s' repeats", path, (long long)it.line_no, id->valuestring);
            if (st == SEMID_OK && b->table.item_ids && strcmp(b->table.item_ids[i], id->valuestring) != 0)
                st = semid_fail(SEMID_EFORMAT, "%s:%lld: item '%s' is not the ID table's item %d ('%s')", path,
                                (long long)it.line_no, id->valuestring, i, b->table.item_ids[i]);
            i++;
        }
        cJSON_Delete(o);
    }
    if (st == SEMID_OK && i != n)
        st = semid_fail(SEMID_EFORMAT, "%s: %d items, but the ID table has %d (truncated?)", path, i, n);
    free(data);
    return st;
}

/* Grows an array of n elements of `size` bytes to m (new ones zeroed). */
static int grow(void *pp, size_t size, int32_t n, int32_t m) {
    void **p = pp;
    char *q = realloc(*p, size * (size_t)m);
    if (!q) return 0;
    memset(q + size * (size_t)n, 0, size * (size_t)(m - n));
    *p = q;
    return 1;
}

/* Applies dir/catalog.json (gen/catalog.h) to a loaded bundle. */
static semid_status apply_catalog(const char *dir, semid_gen_bundle *b) {
    b->n_base_items = b->n_items;
    semid_catalog cat;
    SEMID_TRY(semid_catalog_load(dir, &b->table, &cat));
    b->catalog_version = cat.version;
    int32_t N = b->n_items, M = N + cat.n_added;
    semid_status st = SEMID_OK;
    if (cat.n_added > 0) {
        if (!grow(&b->item_ids, sizeof *b->item_ids, N, M) || !grow(&b->titles, sizeof *b->titles, N, M) ||
            !grow(&b->genres, sizeof *b->genres, N, M) || !grow(&b->years, sizeof *b->years, N, M) ||
            !grow(&b->popularity, sizeof *b->popularity, N, M))
            st = semid_fail(SEMID_ENOMEM, "out of memory");
        for (int32_t j = 0; j < cat.n_added && st == SEMID_OK; j++) {
            const semid_catalog_item *it = &cat.added[j];
            int32_t i = N + j, existing = -1;
            b->item_ids[i] = semid_strdup(it->id);
            b->titles[i] = semid_strdup(it->title);
            b->genres[i] = semid_strdup(it->genres);
            b->years[i] = it->year;
            b->popularity[i] = 0;
            b->n_items = i + 1; /* so that free sees what was set */
            if (!b->item_ids[i] || !b->titles[i] || !b->genres[i]) st = semid_fail(SEMID_ENOMEM, "out of memory");
            if (st == SEMID_OK) st = semid_id_index_put(b->index, it->id, i, &existing);
            if (st == SEMID_OK && existing >= 0)
                st = semid_fail(SEMID_EFORMAT, "%s/%s: added item '%s' is already item %d of the catalog", dir,
                                SEMID_CATALOG_FILE, it->id, existing);
        }
        if (st == SEMID_OK) st = semid_catalog_extend_table(&cat, &b->table);
    }
    if (st == SEMID_OK && cat.n_removed > 0) {
        b->removed = calloc((size_t)b->n_items, 1);
        if (!b->removed) st = semid_fail(SEMID_ENOMEM, "out of memory");
        for (int32_t r = 0; r < cat.n_removed && st == SEMID_OK; r++) {
            int32_t i = semid_gen_bundle_find_item(b, cat.removed[r]);
            if (i < 0)
                st = semid_fail(SEMID_EFORMAT, "%s/%s: removed item '%s' is not in the catalog", dir, SEMID_CATALOG_FILE,
                                cat.removed[r]);
            else
                b->removed[i] = 1;
        }
    }
    semid_catalog_free(&cat);
    return st;
}

semid_status semid_gen_bundle_load(const char *dir, semid_gen_bundle **out) {
    *out = NULL;
    semid_gen_bundle *b = calloc(1, sizeof *b);
    if (!b) return semid_fail(SEMID_ENOMEM, "out of memory");
    char *mpath = semid_path_join(dir, "model.safetensors");
    char *tpath = semid_path_join(dir, "idtable.sid");
    char *ipath = semid_path_join(dir, "items.jsonl");
    char *extra = NULL;
    semid_status st = mpath && tpath && ipath ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK && !semid_path_exists(mpath))
        st = semid_fail(SEMID_ENOTFOUND, "%s: no model here (expected %s, written by semid train)", dir, mpath);
    if (st == SEMID_OK) st = semid_gpt_load(mpath, &b->model, &extra);
    if (st == SEMID_OK) st = parse_meta(mpath, extra, b);
    if (st == SEMID_OK) st = semid_idtable_load(tpath, &b->table);
    if (st == SEMID_OK) {
        st = semid_gen_vocab_check_table(&b->vocab, &b->table);
        if (st != SEMID_OK) st = semid_fail_context(st, "%s and %s", mpath, tpath);
    }
    if (st == SEMID_OK && semid_gpt_get_config(b->model)->vocab_size != b->vocab.size)
        st = semid_fail(SEMID_EFORMAT, "%s: the model has %d tokens but its vocabulary %d", mpath,
                        semid_gpt_get_config(b->model)->vocab_size, b->vocab.size);
    if (st == SEMID_OK && semid_gpt_get_config(b->model)->max_seq_len != b->ex.max_seq_len)
        st = semid_fail(SEMID_EFORMAT, "%s: context length %d disagrees with its metadata (%d)", mpath,
                        semid_gpt_get_config(b->model)->max_seq_len, b->ex.max_seq_len);
    if (st == SEMID_OK) st = load_items(ipath, b);
    if (st == SEMID_OK) st = apply_catalog(dir, b);
    for (int task = 0; task < 2 && st == SEMID_OK; task++)
        st = semid_trie_build_masked(&b->table, task, b->removed, &b->trie[task]);
    free(mpath);
    free(tpath);
    free(ipath);
    free(extra);
    if (st != SEMID_OK) {
        semid_gen_bundle_free(b);
        return st;
    }
    *out = b;
    return SEMID_OK;
}

int32_t semid_gen_bundle_find_item(const semid_gen_bundle *b, const char *id) {
    return b->index ? semid_id_index_get(b->index, id) : -1;
}

/* ---- decoding ---- */

semid_beam_space semid_gen_bundle_space(const semid_gen_bundle *b) {
    semid_beam_space sp = {.sid_base = b->vocab.sid_base, .n_sid = b->vocab.n_sid, .popularity = b->popularity};
    return sp;
}

/* ---- decoding memory ----
 * What the beam search (gen/beam.c, gen/kv_cache.c) allocates for n queries:
 * each thread decodes chunks of Q queries with R = Q x beam rows, holding
 * the chunk's prompt keys and values (layers x Q x T x C, twice), the beams'
 * suffix keys and values (layers x R x (levels - 1) x C, four buffers), per-
 * row activations (15 C + heads x T floats for max(R, Q x T) rows) and
 * log-probabilities (R x ID tokens); the results are n x k. Sizes in
 * doubles, so no product overflows however large the request. */

/* Queries per chunk, as beam.c picks them. */
static double chunk_queries(const semid_gpt_config *cfg, const semid_beam_options *o, int64_t n, int threads) {
    double C = cfg->d_model, T = cfg->max_seq_len;
    double per_query = 4.0 * (2.0 * cfg->n_layer * T * C + T * (11.0 * C + cfg->n_head * T));
    double q = floor((double)o->max_cache_mb * 1048576.0 / per_query);
    if (q < 1) q = 1;
    if (q > 16) q = 16;
    double share = ceil((double)n / threads);
    if (share >= 1 && q > share) q = share;
    return q;
}

double semid_gen_decode_memory(const semid_gpt_config *cfg, int32_t n_sid, int32_t n_levels, int64_t n,
                               const semid_beam_options *o, int diverse, int32_t max_exclude, int threads) {
    if (n <= 0) return 0;
    if (threads < 1) threads = 1;
    double Q = chunk_queries(cfg, o, n, threads), chunks = ceil((double)n / Q);
    double used = threads < chunks ? threads : chunks;
    double B = o->beam_size > 0 ? o->beam_size : 1, R = Q * B, L = n_levels > 0 ? n_levels : 1;
    double C = cfg->d_model, T = cfg->max_seq_len, NL = cfg->n_layer, NH = cfg->n_head, S = n_sid;
    double tpad = ceil(T / 16.0) * 16.0, cap = R > Q * T ? R : Q * T;
    double decoder = 4.0 * (Q * T + 2 * Q + R * S + 6 * R + 2 * R * L + 4 * R + Q * (max_exclude > 0 ? max_exclude : 1) + B +
                            (diverse ? Q * S : 0));
    double cache = 4.0 * (NL * Q * C * tpad + NL * Q * T * C + 4 * NL * R * (L - 1) * C + 4 * R + 4 * cap +
                          cap * (15 * C + NH * T));
    double results = (double)n * (8.0 * o->k + 8.0) + (double)n * (4.0 * T + 32.0);
    return used * (decoder + cache) + results;
}

int64_t semid_gen_decode_memory_limit(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return SEMID_GEN_DECODE_FALLBACK_LIMIT;
    return (int64_t)pages * page / 2;
}

/* Bytes with a unit, for messages. */
static const char *human_bytes(double b, char *buf, size_t size) {
    if (b >= 1e12) snprintf(buf, size, "%.1f TB", b / 1e12);
    else if (b >= 1e9) snprintf(buf, size, "%.1f GB", b / 1e9);
    else snprintf(buf, size, "%.0f MB", b / 1e6 < 1 ? 1 : b / 1e6);
    return buf;
}

semid_status semid_gen_check_decode(const semid_gpt *m, int32_t n_sid, int32_t n_levels, int64_t n,
                                    const semid_gen_decode_options *o, int32_t max_exclude) {
    const semid_beam_options *bo = &o->beam;
    if (n < 0) return semid_fail(SEMID_EINVAL, "decode: %lld queries", (long long)n);
    if (bo->k < 1 || bo->k > SEMID_GEN_MAX_K)
        return semid_fail(SEMID_EINVAL, "decode: k = %d is out of range (1..%d)", bo->k, SEMID_GEN_MAX_K);
    if (bo->beam_size < 1 || bo->beam_size > SEMID_GEN_MAX_BEAM)
        return semid_fail(SEMID_EINVAL, "decode: beam = %d is out of range (1..%d)", bo->beam_size, SEMID_GEN_MAX_BEAM);
    if (!(o->expand_prefix >= 0 && o->expand_prefix <= 1))
        return semid_fail(SEMID_EINVAL, "decode: expand_prefix = %g is out of range (0..1)", o->expand_prefix);
    if (bo->max_cache_mb < 1 || bo->max_cache_mb > SEMID_GEN_MAX_CACHE_MB)
        return semid_fail(SEMID_EINVAL, "decode: max_cache_mb = %d is out of range (1..%d)", bo->max_cache_mb,
                          SEMID_GEN_MAX_CACHE_MB);
    const semid_gpt_config *cfg = semid_gpt_get_config(m);
    int threads = semid_get_threads();
    double need = semid_gen_decode_memory(cfg, n_sid, n_levels, n, bo, o->diverse, max_exclude, threads);
    int64_t limit = semid_gen_decode_memory_limit();
    if (need > (double)limit) {
        char a[32], b[32];
        return semid_fail(SEMID_ENOMEM,
                          "decode: %lld %s with beam %d and k %d on %d thread%s need about %s (model width %d, %d "
                          "layers, context %d, %d ID tokens), over the limit of %s (half the physical memory): use "
                          "a smaller beam, fewer threads or fewer queries at a time",
                          (long long)n, n == 1 ? "query" : "queries", bo->beam_size, bo->k, threads,
                          threads == 1 ? "" : "s", human_bytes(need, a, sizeof a), cfg->d_model, cfg->n_layer,
                          cfg->max_seq_len, n_sid, human_bytes((double)limit, b, sizeof b));
    }
    return SEMID_OK;
}

static semid_status decode(const semid_gpt *m, const semid_idtable *t, semid_trie *const trie[2],
                           const semid_beam_space *space, int task, const semid_beam_query *q, int64_t n,
                           const semid_gen_decode_options *o, semid_beam_hits *out) {
    int32_t max_excl = 0;
    for (int64_t i = 0; i < n; i++)
        if (q[i].n_exclude > max_excl) max_excl = q[i].n_exclude;
    SEMID_TRY(semid_gen_check_decode(m, space->n_sid, t->n_levels, n, o, max_excl));
    semid_beam_options bo = o->beam;
    int expand = o->expand_prefix > 0 && t->n_levels >= 2;
    if (expand) bo.keep_prefixes = 1;
    semid_status st = o->diverse ? semid_beam_search_diverse(m, t, task, trie[task], space, q, n, &bo, out)
                                 : semid_beam_search(m, trie[task], space, q, n, &bo, out);
    if (st == SEMID_OK && expand) {
        st = semid_expand_prefix(trie[task], q, space->popularity, o->expand_prefix, out);
        if (st != SEMID_OK) semid_beam_hits_free(out);
    }
    return st;
}

semid_status semid_gen_search(const semid_gen_bundle *b, const char *const *queries, int64_t n,
                              const semid_gen_decode_options *o, semid_beam_hits *out, int32_t *n_unknown) {
    memset(out, 0, sizeof *out);
    SEMID_TRY(semid_gen_check_decode(b->model, b->vocab.n_sid, b->table.n_levels, n, o, 0));
    int32_t T = b->ex.max_seq_len;
    int32_t *tok = malloc((size_t)(n > 0 ? n : 1) * (size_t)T * sizeof *tok);
    semid_beam_query *q = calloc((size_t)(n > 0 ? n : 1), sizeof *q);
    semid_status st = tok && q ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory for %lld queries", (long long)n);
    for (int64_t i = 0; i < n && st == SEMID_OK; i++) {
        q[i].prompt = tok + i * T;
        st = semid_gen_prompt_search(&b->vocab, &b->table, &b->ex, queries[i] ? queries[i] : "", tok + i * T,
                                     &q[i].prompt_len, n_unknown ? &n_unknown[i] : NULL);
    }
    semid_beam_space sp = semid_gen_bundle_space(b);
    if (st == SEMID_OK) st = decode(b->model, &b->table, b->trie, &sp, SEMID_TASK_SEARCH, q, n, o, out);
    free(tok);
    free(q);
    return st;
}

semid_status semid_gen_check_histories(const semid_gen_bundle *b, const int32_t *const *histories,
                                       const int64_t *lengths, int64_t n, const semid_gen_decode_options *o,
                                       int *exclude) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < lengths[i]; j++)
            if (histories[i][j] < 0 || histories[i][j] >= b->n_items)
                return semid_fail(SEMID_EINVAL, "history %lld: item index %d is not in the catalog of %d items",
                                  (long long)i, histories[i][j], b->n_items);
    *exclude = o->exclude_history < 0 ? !b->items_repeat : o->exclude_history;
    int64_t max_len = 0;
    for (int64_t i = 0; *exclude && i < n; i++)
        if (lengths[i] > max_len) max_len = lengths[i];
    return semid_gen_check_decode(b->model, b->vocab.n_sid, b->table.n_levels, n, o,
                                  (int32_t)(max_len < INT32_MAX ? max_len : INT32_MAX));
}

/* Decodes n histories: recommendation prompts, or with queries (not NULL)
 * personalised-search prompts in the search ID space; each leaves its
 * history out when the options say so. */
static semid_status decode_histories(const semid_gen_bundle *b, const char *const *queries,
                                     const int32_t *const *histories, const int64_t *lengths, int64_t n,
                                     const semid_gen_decode_options *o, semid_beam_hits *out, int32_t *n_unknown) {
    memset(out, 0, sizeof *out);
    int excl = 0;
    SEMID_TRY(semid_gen_check_histories(b, histories, lengths, n, o, &excl));
    int32_t T = b->ex.max_seq_len;
    int32_t *tok = malloc((size_t)(n > 0 ? n : 1) * (size_t)T * sizeof *tok);
    semid_beam_query *q = calloc((size_t)(n > 0 ? n : 1), sizeof *q);
    semid_status st = tok && q ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory for %lld histories", (long long)n);
    for (int64_t i = 0; i < n && st == SEMID_OK; i++) {
        q[i].prompt = tok + i * T;
        if (queries)
            st = semid_gen_prompt_personal(&b->vocab, &b->table, &b->ex, histories[i], lengths[i],
                                           queries[i] ? queries[i] : "", tok + i * T, &q[i].prompt_len,
                                           n_unknown ? &n_unknown[i] : NULL);
        else
            semid_gen_prompt_rec(&b->vocab, &b->table, &b->ex, histories[i], lengths[i], tok + i * T, &q[i].prompt_len);
        if (excl) {
            q[i].exclude = histories[i];
            q[i].n_exclude = (int32_t)(lengths[i] < INT32_MAX ? lengths[i] : INT32_MAX);
        }
    }
    semid_beam_space sp = semid_gen_bundle_space(b);
    int task = queries ? SEMID_TASK_SEARCH : SEMID_TASK_REC;
    if (st == SEMID_OK) st = decode(b->model, &b->table, b->trie, &sp, task, q, n, o, out);
    free(tok);
    free(q);
    return st;
}

semid_status semid_gen_recommend(const semid_gen_bundle *b, const int32_t *const *histories, const int64_t *lengths,
                                 int64_t n, const semid_gen_decode_options *o, semid_beam_hits *out) {
    return decode_histories(b, NULL, histories, lengths, n, o, out, NULL);
}

semid_status semid_gen_check_personal(const semid_gen_bundle *b) {
    if (b->personal) return SEMID_OK;
    return semid_fail(SEMID_EINVAL,
                      "this model was trained without personalised search (a query with a history): retrain it with "
                      "--personal-share (e.g. 0.25), or search without the history");
}

semid_status semid_gen_search_personal(const semid_gen_bundle *b, const char *const *queries,
                                       const int32_t *const *histories, const int64_t *lengths, int64_t n,
                                       const semid_gen_decode_options *o, semid_beam_hits *out, int32_t *n_unknown) {
    memset(out, 0, sizeof *out);
    SEMID_TRY(semid_gen_check_personal(b));
    return decode_histories(b, queries, histories, lengths, n, o, out, n_unknown);
}

semid_status semid_gen_decode_seqs(const semid_gpt *m, const semid_idtable *t, semid_trie *const trie[2],
                                   const semid_beam_space *space, const semid_gen_seqs *seqs, const int64_t *idx,
                                   int64_t n, const semid_gen_decode_options *o, int exclude_history,
                                   semid_beam_hits *out) {
    memset(out, 0, sizeof *out);
    int32_t max_excl = 0;
    for (int64_t j = 0; exclude_history && j < n; j++) {
        const semid_gen_seq *s = &seqs->seq[idx ? idx[j] : j];
        if (s->n_excl > max_excl) max_excl = s->n_excl;
    }
    SEMID_TRY(semid_gen_check_decode(m, space->n_sid, t->n_levels, n, o, max_excl));
    SEMID_TRY(semid_beam_hits_alloc(out, n, o->beam.k));
    semid_beam_query *q = calloc((size_t)(n > 0 ? n : 1), sizeof *q);
    int64_t *pos = malloc((size_t)(n > 0 ? n : 1) * sizeof *pos);
    semid_status st = q && pos ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    for (int task = 0; task < 2 && st == SEMID_OK; task++) {
        int64_t nq = 0;
        for (int64_t j = 0; j < n; j++) {
            const semid_gen_seq *s = &seqs->seq[idx ? idx[j] : j];
            if (s->task != task) continue;
            q[nq] = (semid_beam_query){.prompt = seqs->tokens + s->offset, .prompt_len = s->len};
            if (exclude_history && s->n_excl > 0) { /* rec and personalised prompts */
                q[nq].exclude = seqs->excl + s->excl_offset;
                q[nq].n_exclude = s->n_excl;
            }
            pos[nq++] = j;
        }
        if (nq == 0) continue;
        semid_beam_hits h;
        st = decode(m, t, trie, space, task, q, nq, o, &h);
        if (st != SEMID_OK) break;
        for (int64_t r = 0; r < nq; r++) {
            int64_t j = pos[r];
            memcpy(out->items + j * out->k, h.items + r * h.k, (size_t)h.k * sizeof *h.items);
            memcpy(out->scores + j * out->k, h.scores + r * h.k, (size_t)h.k * sizeof *h.scores);
            out->n_hits[j] = h.n_hits[r];
            out->n_invalid[j] = h.n_invalid[r];
        }
        semid_beam_hits_free(&h);
    }
    free(q);
    free(pos);
    if (st != SEMID_OK) semid_beam_hits_free(out);
    return st;
}

semid_status semid_gen_check_dataset(const semid_gen_bundle *b, const semid_dataset *ds) {
    if (ds->n_items != b->n_items)
        return semid_fail(SEMID_EINVAL, "evaluate: the dataset has %d items, the model %d", ds->n_items, b->n_items);
    for (int32_t i = 0; i < ds->n_items; i++)
        if (strcmp(ds->items[i].id, b->item_ids[i]) != 0)
            return semid_fail(SEMID_EINVAL, "evaluate: item %d is '%s' in the dataset but '%s' in the model", i,
                              ds->items[i].id, b->item_ids[i]);
    return SEMID_OK;
}

semid_status semid_gen_evaluate(const semid_gen_bundle *b, const semid_dataset *ds, int split,
                                const semid_gen_decode_options *o, semid_ranking_eval *search,
                                semid_ranking_eval *rec, semid_gen_eval_stats *stats) {
    return semid_gen_evaluate_reranked(b, ds, split, o, NULL, NULL, search, rec, stats);
}

semid_status semid_gen_evaluate_reranked(const semid_gen_bundle *b, const semid_dataset *ds, int split,
                                         const semid_gen_decode_options *o, semid_gen_rerank_fn rerank, void *ctx,
                                         semid_ranking_eval *search, semid_ranking_eval *rec,
                                         semid_gen_eval_stats *stats) {
    memset(search, 0, sizeof *search);
    if (rec) memset(rec, 0, sizeof *rec);
    if (stats) memset(stats, 0, sizeof *stats);
    SEMID_TRY(semid_gen_check_dataset(b, ds));
    uint8_t *role = malloc((size_t)(ds->n_queries > 0 ? ds->n_queries : 1));
    uint8_t *head = malloc((size_t)(ds->n_items > 0 ? ds->n_items : 1));
    if (!role || !head) {
        free(role);
        free(head);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    semid_gen_query_roles(ds, &b->ex, role);
    semid_gen_seqs seqs = {0};
    semid_beam_hits hits = {0};
    semid_status st = semid_dataset_head_items(ds, 0.01, head) < 0 ? SEMID_ENOMEM : SEMID_OK;
    if (st == SEMID_OK) st = semid_gen_examples_eval(ds, &b->table, &b->vocab, role, &b->ex, split, &seqs);
    if (st == SEMID_OK && !rec) { /* search alone: its prompts come first, the rec prompts are dropped */
        for (int64_t j = 0; j < seqs.n_task[0] && st == SEMID_OK; j++)
            if (seqs.seq[j].task != SEMID_TASK_SEARCH)
                st = semid_fail(SEMID_EINTERNAL, "evaluate: prompt %lld of %lld is not a search prompt", (long long)j,
                                (long long)seqs.n_task[0]);
        seqs.n = seqs.n_task[0];
        seqs.n_task[1] = 0;
    }
    int excl = o->exclude_history < 0 ? !b->items_repeat : o->exclude_history;
    semid_beam_space sp = semid_gen_bundle_space(b);
    if (st == SEMID_OK) st = semid_gen_decode_seqs(b->model, &b->table, b->trie, &sp, &seqs, NULL, seqs.n, o, excl, &hits);
    if (st == SEMID_OK && rerank) st = rerank(ctx, b, ds, &seqs, &hits);
    int32_t k = rerank ? hits.k : o->beam.k;
    if (st == SEMID_OK) st = semid_ranking_eval_init(search, seqs.n_task[0], k);
    if (st == SEMID_OK && rec) st = semid_ranking_eval_init(rec, seqs.n_task[1], k);
    int64_t ns = 0, nr = 0;
    for (int64_t j = 0; j < seqs.n && st == SEMID_OK; j++) {
        const semid_gen_seq *s = &seqs.seq[j];
        const int32_t *items = hits.items + j * hits.k;
        if (stats) {
            stats->beams += o->beam.beam_size;
            stats->invalid += hits.n_invalid[j];
        }
        if (s->task == SEMID_TASK_SEARCH)
            semid_ranking_eval_set(search, ns++, items, hits.n_hits[j], s->target, SEMID_GROUP_TORSO);
        else
            semid_ranking_eval_set(rec, nr++, items, hits.n_hits[j], s->target,
                                   head[s->target] ? SEMID_GROUP_HEAD : SEMID_GROUP_TORSO);
    }
    if (st != SEMID_OK) {
        semid_ranking_eval_free(search);
        if (rec) semid_ranking_eval_free(rec);
    }
    semid_beam_hits_free(&hits);
    semid_gen_seqs_free(&seqs);
    free(role);
    free(head);
    return st;
}

semid_status semid_gen_score_items(const semid_gen_bundle *b, int task, const int32_t *prompt, int32_t prompt_len,
                                   const int32_t *items, int32_t n, float *out) {
    if (n <= 0) return SEMID_OK;
    if (task != SEMID_TASK_SEARCH && task != SEMID_TASK_REC) return semid_fail(SEMID_EINVAL, "score: task %d", task);
    for (int32_t r = 0; r < n; r++)
        if (items[r] < 0 || items[r] >= b->n_items)
            return semid_fail(SEMID_EINVAL, "score: item index %d is not in the catalog of %d items", items[r], b->n_items);
    int32_t L = b->table.n_levels, S = b->vocab.n_sid, base = b->vocab.sid_base, slot = 0;
    semid_gpt_cache *c = NULL;
    SEMID_TRY(semid_gpt_cache_create(b->model, 1, n, L, &c));
    float *lg = malloc((size_t)n * (size_t)S * sizeof *lg);
    int32_t *codes = malloc((size_t)n * (size_t)L * sizeof *codes), *tok = malloc((size_t)n * sizeof *tok);
    semid_status st = lg && codes && tok ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_gpt_cache_prefill(b->model, c, 1, &slot, prompt, &prompt_len, base, base + S, lg);
    if (st == SEMID_OK) {
        float lse = semid_logsumexp(lg, S);
        for (int32_t r = 0; r < n && st == SEMID_OK; r++) {
            semid_idtable_tokens(&b->table, task, items[r], codes + (int64_t)r * L);
            out[r] = lg[codes[(int64_t)r * L]] - lse;
            st = semid_gpt_cache_attach(c, r, 0);
        }
    }
    for (int32_t l = 1; l < L && st == SEMID_OK; l++) {
        for (int32_t r = 0; r < n; r++) tok[r] = base + codes[(int64_t)r * L + l - 1];
        st = semid_gpt_cache_step(b->model, c, tok, n, base, base + S, lg);
        for (int32_t r = 0; r < n && st == SEMID_OK; r++) {
            const float *row = lg + (int64_t)r * S;
            out[r] += row[codes[(int64_t)r * L + l]] - semid_logsumexp(row, S);
        }
    }
    free(lg);
    free(codes);
    free(tok);
    semid_gpt_cache_free(c);
    return st;
}
