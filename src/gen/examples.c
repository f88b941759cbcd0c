#include "gen/examples.h"

#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/status.h"
#include "text/tokenize.h"

semid_gen_example_options semid_gen_example_defaults(void) {
    semid_gen_example_options o = {.max_seq_len = 64, .history_window = 20, .valid_query_share = 0.05,
                                   .personal_levels = {0.4, 0.3, 0.3}, .seed = 1};
    return o;
}

semid_status semid_gen_example_check(int32_t history_window, int32_t max_seq_len, int32_t n_levels) {
    if (history_window < 1 || history_window > SEMID_GEN_MAX_WINDOW)
        return semid_fail(SEMID_EINVAL, "history window %d is out of range: it must be in 1..%d items", history_window,
                          SEMID_GEN_MAX_WINDOW);
    if (max_seq_len < 0 || max_seq_len > SEMID_GEN_MAX_CONTEXT)
        return semid_fail(SEMID_EINVAL, "context length %d is out of range: it must be in 0..%d tokens (0 = fit the window)",
                          max_seq_len, SEMID_GEN_MAX_CONTEXT);
    if (n_levels < 1 || n_levels > 64)
        return semid_fail(SEMID_EINVAL, "IDs of %d tokens: the ID table allows 1..64", n_levels);
    int64_t need = ((int64_t)history_window + 1) * n_levels + 1;
    if (max_seq_len == 0 && need > SEMID_GEN_MAX_CONTEXT)
        return semid_fail(SEMID_EINVAL,
                          "history window %d with IDs of %d tokens needs a context of %lld tokens, over the bound of %d: "
                          "use a window of at most %d",
                          history_window, n_levels, (long long)need, SEMID_GEN_MAX_CONTEXT,
                          (SEMID_GEN_MAX_CONTEXT - 1) / n_levels - 1);
    if (max_seq_len > 0 && max_seq_len < 2 * n_levels)
        return semid_fail(SEMID_EINVAL, "context length %d is too short for IDs of %d tokens (at least %d)", max_seq_len,
                          n_levels, 2 * n_levels);
    return SEMID_OK;
}

int32_t semid_gen_effective_window(const semid_gen_example_options *o, int32_t n_levels) {
    int32_t w = o->history_window;
    int32_t fit = o->max_seq_len / (n_levels > 0 ? n_levels : 1) - 1;
    if (w > fit) w = fit;
    return w < 1 ? 1 : w;
}

void semid_gen_seqs_free(semid_gen_seqs *s) {
    if (!s) return;
    free(s->seq);
    free(s->tokens);
    free(s->is_target);
    free(s->excl);
    memset(s, 0, sizeof *s);
}

/* ---- growing the pool ---- */

static semid_status reserve_tokens(semid_gen_seqs *s, int64_t more) {
    if (s->n_tokens + more <= s->tok_cap) return SEMID_OK;
    int64_t cap = s->tok_cap ? s->tok_cap : 4096;
    while (cap < s->n_tokens + more) cap *= 2;
    int32_t *t = realloc(s->tokens, (size_t)cap * sizeof *t);
    if (!t) return semid_fail(SEMID_ENOMEM, "examples: out of memory for %lld tokens", (long long)cap);
    s->tokens = t;
    uint8_t *m = realloc(s->is_target, (size_t)cap);
    if (!m) return semid_fail(SEMID_ENOMEM, "examples: out of memory for %lld tokens", (long long)cap);
    s->is_target = m;
    s->tok_cap = cap;
    return SEMID_OK;
}

/* Appends a sequence of n tokens (copied from tok, with target flags from
 * tgt or all zero) and returns it, or NULL on allocation failure. */
static semid_gen_seq *push_seq(semid_gen_seqs *s, const int32_t *tok, const uint8_t *tgt, int32_t n, int task,
                               int personal) {
    if (reserve_tokens(s, n) != SEMID_OK) return NULL;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 1024;
        semid_gen_seq *q = realloc(s->seq, (size_t)cap * sizeof *q);
        if (!q) {
            semid_fail(SEMID_ENOMEM, "examples: out of memory");
            return NULL;
        }
        s->seq = q;
        s->cap = cap;
    }
    semid_gen_seq *q = &s->seq[s->n++];
    *q = (semid_gen_seq){
        .offset = s->n_tokens, .len = n, .task = (uint8_t)task, .target = -1, .source = -1, .personal = (uint8_t)personal};
    memcpy(s->tokens + s->n_tokens, tok, (size_t)n * sizeof *tok);
    if (tgt) memcpy(s->is_target + s->n_tokens, tgt, (size_t)n);
    else memset(s->is_target + s->n_tokens, 0, (size_t)n);
    s->n_tokens += n;
    if (n > s->max_len) s->max_len = n;
    if (personal) s->n_personal++;
    else s->n_task[task == SEMID_TASK_REC]++;
    return q;
}

static semid_status push_excl(semid_gen_seqs *s, semid_gen_seq *q, const int32_t *items, int64_t n) {
    if (s->n_excl + n > s->excl_cap) {
        int64_t cap = s->excl_cap ? s->excl_cap : 4096;
        while (cap < s->n_excl + n) cap *= 2;
        int32_t *e = realloc(s->excl, (size_t)cap * sizeof *e);
        if (!e) return semid_fail(SEMID_ENOMEM, "examples: out of memory");
        s->excl = e;
        s->excl_cap = cap;
    }
    q->excl_offset = s->n_excl;
    q->n_excl = (int32_t)n;
    memcpy(s->excl + s->n_excl, items, (size_t)n * sizeof *items);
    s->n_excl += n;
    return SEMID_OK;
}

/* ---- query roles ---- */

void semid_gen_query_roles(const semid_dataset *ds, const semid_gen_example_options *o, uint8_t *role) {
    int has_valid = 0;
    for (int32_t q = 0; q < ds->n_queries; q++) {
        role[q] = ds->queries[q].split;
        if (role[q] == SEMID_SPLIT_VALID) has_valid = 1;
        if (role[q] == SEMID_SPLIT_TEST && !semid_dataset_query_tested(ds, q)) role[q] = SEMID_GEN_ROLE_UNUSED;
    }
    if (has_valid || o->valid_query_share <= 0) return;
    /* A hash of (seed, query index) so the held-out set does not depend on
     * anything else and is the same on resume. */
    uint64_t cut = (uint64_t)(o->valid_query_share * 18446744073709551615.0);
    for (int32_t q = 0; q < ds->n_queries; q++) {
        if (role[q] != SEMID_SPLIT_TRAIN) continue;
        uint64_t key[2] = {o->seed, (uint64_t)q};
        if (semid_hash_bytes(key, sizeof key, 0x71e1d) < cut) role[q] = SEMID_SPLIT_VALID;
    }
}

/* ---- prompts ---- */

semid_status semid_gen_prompt_search(const semid_gen_vocab *v, const semid_idtable *t,
                                     const semid_gen_example_options *o, const char *text, int32_t *out,
                                     int32_t *n, int32_t *n_unknown) {
    /* The prompt plus the first L-1 ID tokens must fit Tmax positions. */
    int32_t max_words = o->max_seq_len - t->n_levels - 1;
    if (max_words < 0) max_words = 0;
    int32_t nw = 0;
    out[0] = SEMID_TOK_SEARCH;
    SEMID_TRY(semid_gen_vocab_encode(v, text, out + 1, max_words, &nw, n_unknown));
    out[1 + nw] = SEMID_TOK_SEP;
    *n = nw + 2;
    return SEMID_OK;
}

/* [RECOMMEND] and the REC-task IDs of the last w items of history; returns the length. */
static int32_t put_history(const semid_gen_vocab *v, const semid_idtable *t, const int32_t *history, int64_t n_hist,
                           int64_t w, int32_t *out) {
    int32_t L = t->n_levels;
    int64_t first = n_hist > w ? n_hist - w : 0;
    int32_t len = 0;
    out[len++] = SEMID_TOK_RECOMMEND;
    for (int64_t i = first; i < n_hist; i++) {
        semid_idtable_tokens(t, SEMID_TASK_REC, history[i], out + len);
        for (int32_t l = 0; l < L; l++) out[len + l] += v->sid_base;
        len += L;
    }
    return len;
}

void semid_gen_prompt_rec(const semid_gen_vocab *v, const semid_idtable *t, const semid_gen_example_options *o,
                          const int32_t *history, int64_t n_hist, int32_t *out, int32_t *n) {
    *n = put_history(v, t, history, n_hist, semid_gen_effective_window(o, t->n_levels), out);
}

semid_status semid_gen_prompt_personal(const semid_gen_vocab *v, const semid_idtable *t,
                                       const semid_gen_example_options *o, const int32_t *history, int64_t n_hist,
                                       const char *text, int32_t *out, int32_t *n, int32_t *n_unknown) {
    /* [RECOMMEND] H*L [SEARCH] words [SEP] and the first L-1 ID tokens fit
     * Tmax positions: H*L + words <= Tmax - L - 2, with H >= 1 kept for
     * the history when there is one. */
    int32_t L = t->n_levels, room = o->max_seq_len - L - 2;
    int32_t max_words = room - (n_hist > 0 ? L : 0);
    if (max_words < 0) max_words = 0;
    int32_t *words = malloc((size_t)(max_words > 0 ? max_words : 1) * sizeof *words);
    if (!words) return semid_fail(SEMID_ENOMEM, "examples: out of memory");
    int32_t nw = 0;
    semid_status st = semid_gen_vocab_encode(v, text, words, max_words, &nw, n_unknown);
    if (st == SEMID_OK) {
        int64_t w = semid_gen_effective_window(o, L), fit = (room - nw) / (L > 0 ? L : 1);
        int32_t len = put_history(v, t, history, n_hist, w < fit ? w : fit > 0 ? fit : 0, out);
        out[len++] = SEMID_TOK_SEARCH;
        memcpy(out + len, words, (size_t)nw * sizeof *words);
        len += nw;
        out[len++] = SEMID_TOK_SEP;
        *n = len;
    }
    free(words);
    return st;
}

/* ---- training set ---- */

semid_status semid_gen_examples_train(const semid_dataset *ds, const semid_idtable *t, const semid_gen_vocab *v,
                                      const uint8_t *role, const semid_gen_example_options *o,
                                      semid_gen_seqs *out) {
    memset(out, 0, sizeof *out);
    int32_t L = t->n_levels;
    int32_t Tmax = o->max_seq_len;
    if (Tmax < 2 * L) return semid_fail(SEMID_EINVAL, "examples: max_seq_len %d is too short for IDs of %d tokens", Tmax, L);
    SEMID_TRY(semid_gen_example_check(o->history_window, Tmax, L));
    int32_t *tok = malloc((size_t)(Tmax + 1) * sizeof *tok);
    uint8_t *tgt = malloc((size_t)(Tmax + 1));
    semid_status st = (tok && tgt) ? SEMID_OK : semid_fail(SEMID_ENOMEM, "examples: out of memory");
    for (int32_t q = 0; q < ds->n_queries && st == SEMID_OK; q++) {
        if (role[q] != SEMID_SPLIT_TRAIN) continue;
        int32_t n = 0;
        st = semid_gen_prompt_search(v, t, o, ds->queries[q].text, tok, &n, NULL);
        if (st != SEMID_OK) break;
        memset(tgt, 0, (size_t)n);
        semid_idtable_tokens(t, SEMID_TASK_SEARCH, ds->queries[q].item, tok + n);
        for (int32_t l = 0; l < L; l++) {
            tok[n + l] += v->sid_base;
            tgt[n + l] = 1;
        }
        semid_gen_seq *s = push_seq(out, tok, tgt, n + L, SEMID_TASK_SEARCH, 0);
        if (!s) st = SEMID_ENOMEM;
        else s->source = q;
    }
    int64_t w1 = (int64_t)semid_gen_effective_window(o, L) + 1; /* items in a window */
    for (int32_t u = 0; u < ds->n_users && st == SEMID_OK; u++) {
        semid_user_split sp = semid_dataset_user_split(ds, u);
        const int32_t *items = ds->seq_items + sp.train_begin;
        int64_t n_items = sp.train_end - sp.train_begin;
        /* Windows from the end; each next one ends where this one's targets begin. */
        for (int64_t end = n_items; end > 1 && st == SEMID_OK;) {
            int64_t start = end - w1 > 0 ? end - w1 : 0;
            int32_t n = 0;
            tok[n] = SEMID_TOK_RECOMMEND;
            tgt[n++] = 0;
            for (int64_t i = start; i < end; i++) {
                semid_idtable_tokens(t, SEMID_TASK_REC, items[i], tok + n);
                for (int32_t l = 0; l < L; l++) {
                    tok[n + l] += v->sid_base;
                    tgt[n + l] = i > start;
                }
                n += L;
            }
            semid_gen_seq *s = push_seq(out, tok, tgt, n, SEMID_TASK_REC, 0);
            if (!s) st = SEMID_ENOMEM;
            else s->source = u;
            end = start + 1;
        }
    }
    free(tok);
    free(tgt);
    if (st != SEMID_OK) semid_gen_seqs_free(out);
    return st;
}

/* ---- personalised search ---- */

enum { QUERY_CAP = 512 };
static const uint64_t PERSONAL_STREAM = 0x9e25u, PERSONAL_EVAL_STREAM = 0x9e2e7u;

/* A level drawn with the shares o->personal_levels (normalised). */
static int draw_level(const semid_gen_example_options *o, double u) {
    double total = 0, acc = 0;
    for (int l = 0; l < SEMID_QUERY_N_LEVELS; l++) total += o->personal_levels[l] > 0 ? o->personal_levels[l] : 0;
    if (!(total > 0)) return SEMID_QUERY_FULL;
    for (int l = 0; l < SEMID_QUERY_N_LEVELS; l++) {
        acc += (o->personal_levels[l] > 0 ? o->personal_levels[l] : 0) / total;
        if (u < acc) return l;
    }
    return SEMID_QUERY_N_LEVELS - 1;
}

/* The stream of (seed, stream, user, position): a function of these alone. */
static semid_rng example_rng(uint64_t seed, uint64_t stream, int32_t user, int64_t at) {
    semid_rng base;
    semid_rng_seed(&base, seed);
    uint64_t key[2] = {(uint64_t)user, (uint64_t)at};
    return semid_rng_fork(&base, stream ^ semid_hash_bytes(key, sizeof key, 0x9e25));
}

semid_status semid_gen_examples_personal_train(const semid_dataset *ds, const semid_idtable *t,
                                               const semid_gen_vocab *v, const semid_querygen_profiles *profiles,
                                               const semid_gen_example_options *o, semid_gen_seqs *out) {
    int32_t L = t->n_levels, Tmax = o->max_seq_len;
    if (Tmax < 2 * L + 3)
        return semid_fail(SEMID_EINVAL, "examples: max_seq_len %d is too short for personalised search with IDs of %d tokens",
                          Tmax, L);
    int32_t *tok = malloc((size_t)(Tmax + 1) * sizeof *tok);
    uint8_t *tgt = calloc((size_t)(Tmax + 1), 1);
    char *query = malloc(QUERY_CAP);
    semid_status st = tok && tgt && query ? SEMID_OK : semid_fail(SEMID_ENOMEM, "examples: out of memory");
    int64_t w1 = (int64_t)semid_gen_effective_window(o, L) + 1;
    for (int32_t u = 0; u < ds->n_users && st == SEMID_OK; u++) {
        semid_user_split sp = semid_dataset_user_split(ds, u);
        const int32_t *items = ds->seq_items + sp.train_begin;
        /* The rec windows (semid_gen_examples_train): each one's last item. */
        for (int64_t end = sp.train_end - sp.train_begin; end > 1 && st == SEMID_OK;) {
            int64_t start = end - w1 > 0 ? end - w1 : 0;
            int32_t item = items[end - 1];
            semid_rng r = example_rng(o->seed, PERSONAL_STREAM, u, end - 1);
            int level = draw_level(o, semid_rng_uniform(&r));
            int made = 0, n = 0;
            st = semid_querygen_one(profiles, item, level, semid_rng_u64(&r), 1, query, QUERY_CAP, &made);
            if (st == SEMID_OK && made)
                st = semid_gen_prompt_personal(v, t, o, items + start, end - 1 - start, query, tok, &n, NULL);
            if (st == SEMID_OK && made) {
                semid_idtable_tokens(t, SEMID_TASK_SEARCH, item, tok + n);
                for (int32_t l = 0; l < L; l++) tok[n + l] += v->sid_base;
                memset(tgt, 0, (size_t)n);
                memset(tgt + n, 1, (size_t)L);
                semid_gen_seq *s = push_seq(out, tok, tgt, n + L, SEMID_TASK_SEARCH, 1);
                if (!s) st = SEMID_ENOMEM;
                else {
                    s->source = u;
                    s->target = item;
                    s->level = (uint8_t)level;
                }
            }
            end = start + 1;
        }
    }
    free(tok);
    free(tgt);
    free(query);
    return st;
}

/* ---- evaluation prompts ---- */

/* User u's history for evaluating `split` (the training part, and the
 * validation item for TEST) into *hist (grown as needed), and the item to
 * find (-1: the user has none for that split). */
static semid_status eval_history(const semid_dataset *ds, int32_t u, int split, int32_t **hist, int64_t *cap,
                                 int64_t *n_hist, int32_t *target) {
    semid_user_split sp = semid_dataset_user_split(ds, u);
    *target = split == SEMID_SPLIT_VALID ? sp.valid_item : sp.test_item;
    *n_hist = 0;
    if (*target < 0) return SEMID_OK;
    int64_t n_train = sp.train_end - sp.train_begin;
    int64_t n = n_train + (split == SEMID_SPLIT_TEST && sp.valid_item >= 0);
    if (n > *cap) {
        int64_t c = n * 2;
        int32_t *h = realloc(*hist, (size_t)c * sizeof *h);
        if (!h) return semid_fail(SEMID_ENOMEM, "examples: out of memory");
        *hist = h;
        *cap = c;
    }
    if (n_train > 0) memcpy(*hist, ds->seq_items + sp.train_begin, (size_t)n_train * sizeof **hist);
    if (n > n_train) (*hist)[n_train] = sp.valid_item;
    *n_hist = n;
    return SEMID_OK;
}

semid_status semid_gen_examples_eval(const semid_dataset *ds, const semid_idtable *t, const semid_gen_vocab *v,
                                     const uint8_t *role, const semid_gen_example_options *o, int split,
                                     semid_gen_seqs *out) {
    memset(out, 0, sizeof *out);
    if (split != SEMID_SPLIT_VALID && split != SEMID_SPLIT_TEST)
        return semid_fail(SEMID_EINVAL, "examples: evaluation split must be VALID or TEST");
    int32_t Tmax = o->max_seq_len;
    if (Tmax < 1) return semid_fail(SEMID_EINVAL, "examples: max_seq_len %d must be >= 1", Tmax);
    SEMID_TRY(semid_gen_example_check(o->history_window, Tmax, t->n_levels > 0 ? t->n_levels : 1));
    int32_t *tok = malloc((size_t)(Tmax + 1) * sizeof *tok);
    int32_t *hist = NULL;
    int64_t hist_cap = 0;
    semid_status st = tok ? SEMID_OK : semid_fail(SEMID_ENOMEM, "examples: out of memory");
    for (int32_t q = 0; q < ds->n_queries && st == SEMID_OK; q++) {
        if (role[q] != split) continue;
        int32_t n = 0;
        st = semid_gen_prompt_search(v, t, o, ds->queries[q].text, tok, &n, NULL);
        if (st != SEMID_OK) break;
        semid_gen_seq *s = push_seq(out, tok, NULL, n, SEMID_TASK_SEARCH, 0);
        if (!s) {
            st = SEMID_ENOMEM;
            break;
        }
        s->source = q;
        s->target = ds->queries[q].item;
    }
    for (int32_t u = 0; u < ds->n_users && st == SEMID_OK; u++) {
        int32_t target = -1;
        int64_t n_hist = 0;
        st = eval_history(ds, u, split, &hist, &hist_cap, &n_hist, &target);
        if (st != SEMID_OK) break;
        if (target < 0) continue;
        int32_t n = 0;
        semid_gen_prompt_rec(v, t, o, hist, n_hist, tok, &n);
        semid_gen_seq *s = push_seq(out, tok, NULL, n, SEMID_TASK_REC, 0);
        if (!s) {
            st = SEMID_ENOMEM;
            break;
        }
        s->source = u;
        s->target = target;
        st = push_excl(out, s, hist, n_hist);
    }
    free(tok);
    free(hist);
    if (st != SEMID_OK) semid_gen_seqs_free(out);
    return st;
}

semid_status semid_gen_personal_query(const semid_querygen_profiles *profiles, int32_t user, int32_t item, int split,
                                      int level, char *out, size_t cap) {
    semid_rng r = example_rng(0, PERSONAL_EVAL_STREAM + (uint64_t)(split * SEMID_QUERY_N_LEVELS + level), user, 0);
    int made = 0;
    return semid_querygen_one(profiles, item, level, semid_rng_u64(&r), 0, out, cap, &made);
}

semid_status semid_gen_examples_personal_eval(const semid_dataset *ds, const semid_idtable *t,
                                              const semid_gen_vocab *v, const semid_querygen_profiles *profiles,
                                              const semid_gen_example_options *o, int split, int level,
                                              int with_history, semid_gen_seqs *out) {
    memset(out, 0, sizeof *out);
    if (split != SEMID_SPLIT_VALID && split != SEMID_SPLIT_TEST)
        return semid_fail(SEMID_EINVAL, "examples: evaluation split must be VALID or TEST");
    if (level < 0 || level >= SEMID_QUERY_N_LEVELS)
        return semid_fail(SEMID_EINVAL, "examples: specificity level %d is not 0..%d", level, SEMID_QUERY_N_LEVELS - 1);
    int32_t Tmax = o->max_seq_len;
    if (Tmax < 2 * t->n_levels + 3)
        return semid_fail(SEMID_EINVAL, "examples: max_seq_len %d is too short for personalised search", Tmax);
    int32_t *tok = malloc((size_t)(Tmax + 1) * sizeof *tok), *hist = NULL;
    char *query = malloc(QUERY_CAP);
    int64_t hist_cap = 0;
    semid_status st = tok && query ? SEMID_OK : semid_fail(SEMID_ENOMEM, "examples: out of memory");
    for (int32_t u = 0; u < ds->n_users && st == SEMID_OK; u++) {
        int32_t target = -1, n = 0;
        int64_t n_hist = 0;
        st = eval_history(ds, u, split, &hist, &hist_cap, &n_hist, &target);
        if (st != SEMID_OK || target < 0) continue;
        st = semid_gen_personal_query(profiles, u, target, split, level, query, QUERY_CAP);
        if (st != SEMID_OK) break;
        st = with_history ? semid_gen_prompt_personal(v, t, o, hist, n_hist, query, tok, &n, NULL)
                          : semid_gen_prompt_search(v, t, o, query, tok, &n, NULL);
        if (st != SEMID_OK) break;
        semid_gen_seq *s = push_seq(out, tok, NULL, n, SEMID_TASK_SEARCH, with_history);
        if (!s) {
            st = SEMID_ENOMEM;
            break;
        }
        s->source = u;
        s->target = target;
        s->level = (uint8_t)level;
        if (with_history) st = push_excl(out, s, hist, n_hist);
    }
    free(tok);
    free(hist);
    free(query);
    if (st != SEMID_OK) semid_gen_seqs_free(out);
    return st;
}

/* ---- batches ---- */

int64_t semid_gen_batch_fill(const semid_gen_seqs *s, const int64_t *idx, int32_t B, int32_t *inputs,
                             int32_t *targets, int32_t *T) {
    int32_t maxlen = 2;
    for (int32_t b = 0; b < B; b++)
        if (s->seq[idx[b]].len > maxlen) maxlen = s->seq[idx[b]].len;
    int32_t TT = maxlen - 1;
    int64_t n_targets = 0;
    for (int32_t b = 0; b < B; b++) {
        const semid_gen_seq *q = &s->seq[idx[b]];
        const int32_t *tok = s->tokens + q->offset;
        const uint8_t *tg = s->is_target + q->offset;
        for (int32_t t = 0; t < TT; t++) {
            int in_seq = t + 1 < q->len;
            inputs[(int64_t)b * TT + t] = t < q->len ? tok[t] : SEMID_TOK_PAD;
            int32_t y = in_seq && tg[t + 1] ? tok[t + 1] : -1;
            targets[(int64_t)b * TT + t] = y;
            n_targets += y >= 0;
        }
    }
    *T = TT;
    return n_targets;
}

semid_status semid_gen_batch_pack(const semid_gen_seqs *s, const int64_t *idx, int32_t B, int32_t *inputs,
                                  int32_t *targets, int32_t *pos, int32_t *rows, int32_t *T, int64_t *n_targets) {
    int32_t *order = malloc((size_t)(B > 0 ? B : 1) * 4 * sizeof *order);
    if (!order) return semid_fail(SEMID_ENOMEM, "examples: out of memory for a batch of %d", B);
    int32_t *fill = order + B, *row_of = fill + B, *at = row_of + B;
    int32_t maxlen = 2;
    for (int32_t b = 0; b < B; b++)
        if (s->seq[idx[b]].len > maxlen) maxlen = s->seq[idx[b]].len;
    int32_t TT = maxlen - 1, R = 0;
    /* longest first, ties in batch order (an insertion sort: batches are small) */
    for (int32_t b = 0; b < B; b++) {
        int32_t j = b, len = s->seq[idx[b]].len;
        for (; j > 0 && s->seq[idx[order[j - 1]]].len < len; j--) order[j] = order[j - 1];
        order[j] = b;
    }
    /* first fit: sequence b goes to row row_of[b] at position at[b] */
    for (int32_t k = 0; k < B; k++) {
        int32_t b = order[k], need = s->seq[idx[b]].len - 1 > 1 ? s->seq[idx[b]].len - 1 : 1;
        int32_t r = 0;
        while (r < R && fill[r] + need > TT) r++;
        if (r == R) fill[R++] = 0;
        row_of[b] = r;
        at[b] = fill[r];
        fill[r] += need;
    }
    for (int64_t j = 0; j < (int64_t)R * TT; j++) {
        inputs[j] = SEMID_TOK_PAD;
        targets[j] = -1;
        pos[j] = -1;
    }
    int64_t nt = 0;
    for (int32_t b = 0; b < B; b++) {
        const semid_gen_seq *q = &s->seq[idx[b]];
        const int32_t *tok = s->tokens + q->offset;
        const uint8_t *tg = s->is_target + q->offset;
        int32_t need = q->len - 1 > 1 ? q->len - 1 : 1;
        int64_t base = (int64_t)row_of[b] * TT + at[b];
        for (int32_t t = 0; t < need; t++) {
            inputs[base + t] = tok[t];
            int32_t y = t + 1 < q->len && tg[t + 1] ? tok[t + 1] : -1;
            targets[base + t] = y;
            pos[base + t] = t;
            nt += y >= 0;
        }
    }
    /* padding after a row's last sequence: a sequence of its own */
    for (int32_t r = 0; r < R; r++)
        for (int32_t t = 0, run = 0; t < TT; t++) {
            int32_t *p = pos + (int64_t)r * TT + t;
            if (*p < 0) *p = run++;
            else run = 0;
        }
    free(order);
    *rows = R;
    *T = TT;
    if (n_targets) *n_targets = nt;
    return SEMID_OK;
}
