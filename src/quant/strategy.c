#include "quant/strategy.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"

int semid_strategy_n_embeddings(const semid_strategy_def *def) { return def->kind == SEMID_STRATEGY_SINGLE ? 1 : 2; }

semid_strategy_inputs semid_strategy_inputs_of(const semid_strategy_def *def, const semid_matrix *const m[2]) {
    semid_strategy_inputs in = {0};
    if (def->kind == SEMID_STRATEGY_SINGLE) {
        in.single = m[0];
    } else {
        in.search = m[0];
        in.rec = m[1];
    }
    return in;
}

void semid_strategy_result_free(semid_strategy_result *r) {
    if (!r) return;
    semid_idtable_free(&r->table);
    for (int i = 0; i < 2; i++) {
        semid_tokenizer_free(r->tokenizers[i]);
        free(r->level_error[i]);
    }
    memset(r, 0, sizeof *r);
}

static semid_status need(const semid_matrix *m, const char *what, const char *strategy) {
    if (!m || !m->data || m->rows < 1)
        return semid_fail(SEMID_EINVAL, "strategy %s needs the %s embeddings", strategy, what);
    if (m->rows > INT32_MAX) return semid_fail(SEMID_EINVAL, "too many items (%lld)", (long long)m->rows);
    return SEMID_OK;
}

/* Fits one tokenizer and encodes X into task `ti`'s codes of the table. */
static semid_status fit_task(const semid_matrix *X, const semid_tokenizer_config *cfg, semid_strategy_result *r, int ti,
                             int32_t *codes) {
    SEMID_TRY(semid_tokenizer_fit(X, cfg, &r->tokenizers[ti]));
    r->n_tokenizers = ti + 1;
    semid_tokenizer *tok = r->tokenizers[ti];
    SEMID_TRY(semid_tokenizer_encode(tok, X, codes));
    int32_t L = semid_tokenizer_levels(tok);
    double *err = malloc(sizeof(double) * (size_t)L);
    if (!err) return semid_fail(SEMID_ENOMEM, "out of memory");
    /* Optional (a dictionary cannot reconstruct), but not when memory runs out. */
    semid_status st = semid_tokenizer_level_errors(tok, X, codes, err);
    if (st == SEMID_OK) {
        r->level_error[ti] = err;
    } else {
        free(err);
        if (st == SEMID_ENOMEM) return st;
        semid_clear_error();
    }
    return SEMID_OK;
}

static semid_status build_single(const semid_matrix *X, const semid_strategy_options *opt, semid_strategy_result *r) {
    const semid_tokenizer_config *cfg = &opt->tokenizer;
    int32_t n = (int32_t)X->rows, L = cfg->levels;
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)n * (size_t)L);
    if (!codes) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = fit_task(X, cfg, r, 0, codes);
    if (st == SEMID_OK) {
        semid_tokenizer *tok = r->tokenizers[0];
        L = semid_tokenizer_levels(tok);
        int32_t *sizes = malloc(sizeof(int32_t) * (size_t)L);
        if (!sizes) st = semid_fail(SEMID_ENOMEM, "out of memory");
        for (int32_t l = 0; st == SEMID_OK && l < L; l++) sizes[l] = semid_tokenizer_level_size(tok, l);
        if (st == SEMID_OK)
            st = semid_idtable_create(&r->table, opt->strategy, semid_tokenizer_method_name(tok), n, 1, L, sizes, 0);
        if (st == SEMID_OK) {
            memcpy(r->table.codes, codes, sizeof(int32_t) * (size_t)n * (size_t)L);
            r->table.tokenizer_fingerprint[0] = r->table.tokenizer_fingerprint[1] = semid_tokenizer_fingerprint(tok);
        }
        free(sizes);
    }
    free(codes);
    return st;
}

static semid_status build_separate(const semid_strategy_inputs *in, const semid_strategy_options *opt,
                                   semid_strategy_result *r) {
    const semid_tokenizer_config *cfg = &opt->tokenizer;
    int32_t n = (int32_t)in->search->rows, L = cfg->levels;
    int32_t *codes[2] = {malloc(sizeof(int32_t) * (size_t)n * (size_t)L), malloc(sizeof(int32_t) * (size_t)n * (size_t)L)};
    int32_t *sizes = malloc(sizeof(int32_t) * 2 * (size_t)L);
    semid_status st = SEMID_OK;
    if (!codes[0] || !codes[1] || !sizes) st = semid_fail(SEMID_ENOMEM, "out of memory");
    const semid_matrix *X[2] = {in->search, in->rec};
    for (int ti = 0; st == SEMID_OK && ti < 2; ti++) {
        st = fit_task(X[ti], cfg, r, ti, codes[ti]);
        if (st != SEMID_OK) {
            semid_fail_context(st, "%s IDs", ti == SEMID_TASK_SEARCH ? "search" : "rec");
            break;
        }
        if (ti == 0) L = semid_tokenizer_levels(r->tokenizers[0]); /* atomic IDs: 1, whatever was asked */
        if (semid_tokenizer_levels(r->tokenizers[ti]) != L || L > cfg->levels) {
            st = semid_fail(SEMID_EINTERNAL, "tokenizer returned %d levels, asked for %d",
                            semid_tokenizer_levels(r->tokenizers[ti]), cfg->levels);
            break;
        }
        for (int32_t l = 0; l < L; l++) sizes[ti * L + l] = semid_tokenizer_level_size(r->tokenizers[ti], l);
    }
    if (st == SEMID_OK) st = semid_idtable_create(&r->table, opt->strategy, semid_tokenizer_method_name(r->tokenizers[0]), n, 2, L, sizes, 0);
    if (st == SEMID_OK)
        for (int ti = 0; ti < 2; ti++) {
            memcpy(r->table.codes + (int64_t)ti * n * L, codes[ti], sizeof(int32_t) * (size_t)n * (size_t)L);
            r->table.tokenizer_fingerprint[ti] = semid_tokenizer_fingerprint(r->tokenizers[ti]);
        }
    free(codes[0]);
    free(codes[1]);
    free(sizes);
    return st;
}

static semid_status build_prefix_share(const semid_strategy_inputs *in, const semid_strategy_options *opt,
                                       semid_strategy_result *r) {
    if (!semid_prefix_share_impl)
        return semid_fail(SEMID_EINVAL, "strategy prefix_share: the prefix-share quantizer is not available in this build");
    semid_prefix_share_codes pc;
    memset(&pc, 0, sizeof pc);
    SEMID_TRY(semid_prefix_share_impl(in->search, in->rec, &opt->tokenizer, &pc));
    int32_t n = (int32_t)in->search->rows, S = pc.shared_levels, L = pc.shared_levels + pc.task_levels;
    semid_status st = SEMID_OK;
    if (pc.n_items != n || S < 0 || pc.task_levels < 0 || L < 1 || !pc.level_size || !pc.codes[0] || !pc.codes[1])
        st = semid_fail(SEMID_EINTERNAL, "prefix-share quantizer returned an inconsistent result");
    for (int64_t i = 0; st == SEMID_OK && i < n; i++)
        for (int32_t l = 0; l < S; l++)
            if (pc.codes[0][i * L + l] != pc.codes[1][i * L + l]) {
                st = semid_fail(SEMID_EINTERNAL, "prefix-share: item %lld has different shared codes", (long long)i);
                break;
            }
    int32_t *sizes = st == SEMID_OK ? malloc(sizeof(int32_t) * 2 * (size_t)L) : NULL;
    if (st == SEMID_OK && !sizes) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) {
        memcpy(sizes, pc.level_size, sizeof(int32_t) * (size_t)L);
        memcpy(sizes + L, pc.level_size, sizeof(int32_t) * (size_t)L);
        const char *method = opt->tokenizer.method ? opt->tokenizer.method : "prefix_share";
        st = semid_idtable_create(&r->table, opt->strategy, method, n, 2, L, sizes, S);
    }
    if (st == SEMID_OK)
        for (int ti = 0; ti < 2; ti++)
            memcpy(r->table.codes + (int64_t)ti * n * L, pc.codes[ti], sizeof(int32_t) * (size_t)n * (size_t)L);
    free(sizes);
    semid_prefix_share_codes_free(&pc);
    return st;
}

/* Atomic IDs give every item a code of its own: a disambiguation level
 * would be one token that never varies. (Items with the very same vector
 * share the nearest code, so the collisions decide, not the method alone.) */
static int needs_no_disambiguation(const semid_strategy_def *def, const semid_strategy_options *opt,
                                   const semid_strategy_result *r) {
    const semid_tokenizer_method *m = semid_tokenizer_find_method(opt->tokenizer.method ? opt->tokenizer.method : "");
    if (def->kind == SEMID_STRATEGY_PREFIX_SHARE || !m || !m->unique_codes) return 0;
    for (int ti = 0; ti < r->table.n_tasks; ti++)
        if (r->before[ti].colliding_items > 0) return 0;
    return 1;
}

semid_status semid_strategy_build(const semid_strategy_inputs *in, const semid_strategy_options *opt,
                                  semid_strategy_result *out) {
    memset(out, 0, sizeof *out);
    const semid_strategy_def *def;
    SEMID_TRY(semid_strategy_lookup(opt->strategy, &def));
    double t0 = semid_now();
    semid_status st;
    if (def->kind == SEMID_STRATEGY_SINGLE) {
        SEMID_TRY(need(in->single, def->embeddings[0], opt->strategy));
        st = build_single(in->single, opt, out);
    } else {
        SEMID_TRY(need(in->search, def->embeddings[0], opt->strategy));
        SEMID_TRY(need(in->rec, def->embeddings[1], opt->strategy));
        if (in->search->rows != in->rec->rows)
            return semid_fail(SEMID_EINVAL, "strategy %s: %lld search embeddings but %lld rec embeddings (rows must be the same items)",
                              opt->strategy, (long long)in->search->rows, (long long)in->rec->rows);
        st = def->kind == SEMID_STRATEGY_SEPARATE ? build_separate(in, opt, out) : build_prefix_share(in, opt, out);
    }
    if (st == SEMID_OK) {
        for (int ti = 0; st == SEMID_OK && ti < out->table.n_tasks; ti++)
            st = semid_idtable_collisions(&out->table, ti, &out->before[ti]);
        if (out->table.n_tasks == 1) out->before[1] = out->before[0];
    }
    if (st == SEMID_OK && opt->disambiguate && !needs_no_disambiguation(def, opt, out))
        st = semid_idtable_disambiguate_capped(&out->table, opt->popularity, opt->max_disambiguation);
    if (st == SEMID_OK) {
        semid_idtable_update_fingerprint(&out->table);
        st = semid_idtable_validate(&out->table);
    }
    if (st != SEMID_OK) {
        semid_strategy_result_free(out);
        return st;
    }
    out->seconds = semid_now() - t0;
    return SEMID_OK;
}

/* The dataset's item ids and, when disambiguation needs them, its training
 * counts (caller frees both). */
static semid_status catalog_of(const semid_dataset *ds, int need_popularity, char ***ids, int64_t **popularity) {
    size_t n = (size_t)(ds->n_items > 0 ? ds->n_items : 1);
    *ids = malloc(sizeof **ids * n);
    *popularity = need_popularity ? calloc(n, sizeof **popularity) : NULL;
    if (!*ids || (need_popularity && !*popularity)) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t i = 0; i < ds->n_items; i++) (*ids)[i] = ds->items[i].id;
    if (*popularity) semid_dataset_train_counts(ds, *popularity);
    return SEMID_OK;
}

semid_status semid_strategy_build_catalog(const semid_matrix *const emb[2], const semid_strategy_options *opt,
                                          const semid_dataset *ds, char *const *row_ids, semid_strategy_result *out) {
    memset(out, 0, sizeof *out);
    const semid_strategy_def *def;
    SEMID_TRY(semid_strategy_lookup(opt->strategy, &def));
    for (int i = 0; ds && i < semid_strategy_n_embeddings(def); i++)
        if (emb[i] && emb[i]->rows != ds->n_items)
            return semid_fail(SEMID_EINVAL, "strategy %s: the %s embeddings have %lld rows, the dataset %d items",
                              opt->strategy, def->embeddings[i], (long long)emb[i]->rows, ds->n_items);
    semid_strategy_options o = *opt;
    char **ids = NULL;
    int64_t *popularity = NULL;
    semid_status st = ds ? catalog_of(ds, o.disambiguate && !o.popularity, &ids, &popularity) : SEMID_OK;
    if (popularity) o.popularity = popularity;
    if (ids) row_ids = ids;
    semid_strategy_inputs in = semid_strategy_inputs_of(def, emb);
    if (st == SEMID_OK) st = semid_strategy_build(&in, &o, out);
    if (st == SEMID_OK && row_ids) {
        st = semid_idtable_set_item_ids(&out->table, row_ids);
        if (st != SEMID_OK) semid_strategy_result_free(out);
    }
    free(popularity);
    free(ids);
    return st;
}

double semid_strategy_collision_rate(const semid_strategy_result *r) {
    double rate = 0.0;
    for (int t = 0; t < r->table.n_tasks; t++) rate += r->before[t].rate / r->table.n_tasks;
    return rate;
}

semid_status semid_strategy_codes_to_tokens(const semid_idtable *t, int task, const semid_tokenizer *tok,
                                            const int32_t *codes, int64_t rows, int32_t *tokens) {
    int32_t ti = t->n_tasks == 1 ? 0 : task, L = t->n_levels;
    int32_t levels = semid_tokenizer_levels(tok);
    int32_t base_levels = L - t->disambiguated;
    uint64_t want = t->tokenizer_fingerprint[ti];
    if (want != 0 && want != semid_tokenizer_fingerprint(tok))
        return semid_fail(SEMID_EFORMAT,
                          "tokenizer from another vocabulary: the ID table was built by tokenizer %016" PRIx64
                          " (%s task), this one is %016" PRIx64,
                          want, task == SEMID_TASK_SEARCH ? "search" : "rec", semid_tokenizer_fingerprint(tok));
    if (levels != base_levels)
        return semid_fail(SEMID_EFORMAT,
                          "tokenizer from another vocabulary: it gives %d levels, the ID table has %d (%s)", levels,
                          base_levels, t->disambiguated ? "plus disambiguation" : "no disambiguation");
    for (int32_t l = 0; l < levels; l++)
        if (semid_tokenizer_level_size(tok, l) != t->level_size[ti * L + l])
            return semid_fail(SEMID_EFORMAT,
                              "tokenizer from another vocabulary: level %d has %d codes, the ID table's has %d", l,
                              semid_tokenizer_level_size(tok, l), t->level_size[ti * L + l]);
    const int32_t *off = t->token_offset + (int64_t)ti * L;
    for (int64_t i = 0; i < rows; i++) {
        for (int32_t l = 0; l < levels; l++) tokens[i * L + l] = off[l] + codes[i * levels + l];
        for (int32_t l = levels; l < L; l++) tokens[i * L + l] = off[l];
    }
    return SEMID_OK;
}
