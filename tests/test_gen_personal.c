/* Personalised search, the third task: queries at a level of specificity
 * (never a title word), the example builder (no future item in a history,
 * the levels in their shares, evaluation prompts that pair with the rec
 * ones). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "data/querygen.h"
#include "data/synth.h"
#include "gen/examples.h"
#include "gen/generate.h"
#include "gen/train.h"
#include "support/gen/fixtures.h"
#include "support/testutil.h"
#include "text/tokenize.h"

/* Under the sanitizers the end-to-end run is cut short and checks the
 * plumbing only; the quality margin is checked in Release. */
#if defined(__SANITIZE_ADDRESS__)
enum { SANITIZED = 1 };
#else
enum { SANITIZED = 0 };
#endif

static semid_dataset ds;
static semid_idtable table;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    test_small_synth(&ds);
    test_content_table(&ds, 12, &table);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    semid_idtable_free(&table);
    semid_dataset_free(&ds);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Distinct strings among n (sorts them). */
static int32_t n_distinct(char **s, int32_t n) {
    qsort(s, (size_t)n, sizeof *s, cmp_str);
    int32_t d = 0;
    for (int32_t i = 0; i < n; i++) d += i == 0 || strcmp(s[i], s[i - 1]) != 0;
    return d;
}

static void test_levels_never_say_the_title(void **state) {
    (void)state;
    semid_querygen_profiles *p;
    assert_int_equal(semid_querygen_profiles_build(&ds, NULL, &p), SEMID_OK);
    char **texts[SEMID_QUERY_N_LEVELS];
    for (int l = 0; l < SEMID_QUERY_N_LEVELS; l++) texts[l] = calloc((size_t)ds.n_items, sizeof *texts[l]);
    char q[512];
    for (int32_t i = 0; i < ds.n_items; i++) {
        semid_words title;
        assert_int_equal(semid_tokenize(ds.items[i].title, &title), SEMID_OK);
        for (int l = 0; l < SEMID_QUERY_N_LEVELS; l++)
            for (uint64_t seed = 0; seed < 4; seed++) {
                int made = 0;
                assert_int_equal(semid_querygen_one(p, i, l, seed, 0, q, sizeof q, &made), SEMID_OK);
                assert_true(made);
                semid_words w;
                assert_int_equal(semid_tokenize(q, &w), SEMID_OK);
                assert_true(w.n > 0);
                for (int32_t a = 0; a < w.n; a++)
                    for (int32_t b = 0; b < title.n; b++)
                        if (!semid_is_stopword(title.words[b]) && strcmp(w.words[a], title.words[b]) == 0)
                            fail_msg("item %d (%s): the %s query '%s' says the title word '%s'", i, ds.items[i].title,
                                     semid_query_level_name(l), q, title.words[b]);
                semid_words_free(&w);
                if (seed == 0) texts[l][i] = strdup(q);
            }
        semid_words_free(&title);
    }
    /* Vague queries are shared by many items; full ones mostly name one. */
    int32_t vague = n_distinct(texts[SEMID_QUERY_VAGUE], ds.n_items);
    int32_t keywords = n_distinct(texts[SEMID_QUERY_KEYWORDS], ds.n_items);
    int32_t full = n_distinct(texts[SEMID_QUERY_FULL], ds.n_items);
    print_message("distinct queries over %d items: vague %d (\"%s\"), keywords %d, full %d\n", ds.n_items, vague,
                  texts[SEMID_QUERY_VAGUE][0], keywords, full);
    assert_true(vague < ds.n_items / 2);
    assert_true(keywords > 2 * vague);
    assert_true(full > ds.n_items * 8 / 10);
    /* The same seed, the same query; the level and the name round-trip. */
    char q2[512];
    int made = 0;
    assert_int_equal(semid_querygen_one(p, 7, SEMID_QUERY_FULL, 11, 0, q, sizeof q, &made), SEMID_OK);
    assert_int_equal(semid_querygen_one(p, 7, SEMID_QUERY_FULL, 11, 0, q2, sizeof q2, &made), SEMID_OK);
    assert_string_equal(q, q2);
    for (int l = 0; l < SEMID_QUERY_N_LEVELS; l++) assert_int_equal(semid_query_level_parse(semid_query_level_name(l)), l);
    assert_int_equal(semid_query_level_parse("precise"), -1);
    assert_int_equal(semid_querygen_one(p, ds.n_items, 0, 1, 0, q, sizeof q, &made), SEMID_EINVAL);
    assert_int_equal(semid_querygen_one(p, 0, SEMID_QUERY_N_LEVELS, 1, 0, q, sizeof q, &made), SEMID_EINVAL);
    for (int l = 0; l < SEMID_QUERY_N_LEVELS; l++) {
        for (int32_t i = 0; i < ds.n_items; i++) free(texts[l][i]);
        free(texts[l]);
    }
    semid_querygen_profiles_free(p);
}

/* The item whose REC-task ID is tok[0..L) (the table is disambiguated). */
static int32_t item_of_rec_id(const semid_gen_vocab *v, const int32_t *tok) {
    int32_t id[8];
    for (int32_t i = 0; i < ds.n_items; i++) {
        semid_idtable_tokens(&table, SEMID_TASK_REC, i, id);
        int same = 1;
        for (int32_t l = 0; l < table.n_levels && same; l++) same = tok[l] == v->sid_base + id[l];
        if (same) return i;
    }
    return -1;
}

static void test_examples_personal(void **state) {
    (void)state;
    semid_gen_example_options o = semid_gen_example_defaults();
    o.history_window = 5;
    o.max_seq_len = 40;
    int32_t L = table.n_levels;
    uint8_t *role = malloc((size_t)ds.n_queries);
    semid_gen_query_roles(&ds, &o, role);
    semid_gen_vocab v;
    assert_int_equal(semid_gen_vocab_build(&ds, NULL, &table, NULL, &v), SEMID_OK);
    semid_querygen_profiles *p;
    assert_int_equal(semid_querygen_profiles_build(&ds, role, &p), SEMID_OK);
    semid_gen_seqs s;
    assert_int_equal(semid_gen_examples_train(&ds, &table, &v, role, &o, &s), SEMID_OK);
    int64_t n_two = s.n, n_rec = s.n_task[1], n_search = s.n_task[0];
    assert_int_equal(semid_gen_examples_personal_train(&ds, &table, &v, p, &o, &s), SEMID_OK);
    /* Appended after the two tasks, which are unchanged; one per rec window
     * but the few whose every query repeats a held-out one. */
    assert_int_equal(s.n_task[1], n_rec);
    assert_int_equal(s.n_task[0], n_search);
    assert_int_equal(s.n, n_two + s.n_personal);
    assert_true(s.n_personal >= n_rec * 9 / 10 && s.n_personal <= n_rec);
    int64_t per_level[SEMID_QUERY_N_LEVELS] = {0}, with_history = 0;
    int32_t *pos = malloc((size_t)ds.n_items * sizeof *pos);
    for (int64_t j = n_two; j < s.n; j++) {
        const semid_gen_seq *q = &s.seq[j];
        const int32_t *tok = s.tokens + q->offset;
        assert_true(q->personal && q->task == SEMID_TASK_SEARCH);
        assert_true(q->len <= o.max_seq_len + 1);
        assert_int_equal(tok[0], SEMID_TOK_RECOMMEND);
        per_level[q->level]++;
        /* Positions of the user's training items (no item repeats in synthetic data). */
        semid_user_split sp = semid_dataset_user_split(&ds, q->source);
        for (int32_t i = 0; i < ds.n_items; i++) pos[i] = -1;
        for (int64_t k = sp.train_begin; k < sp.train_end; k++) pos[ds.seq_items[k]] = (int32_t)(k - sp.train_begin);
        assert_true(pos[q->target] > 0);
        /* History: whole IDs up to [SEARCH], each an item strictly before the target, in order. */
        int32_t t = 1, last = -1;
        for (; tok[t] != SEMID_TOK_SEARCH; t += L) {
            assert_true(t + L < q->len);
            int32_t item = item_of_rec_id(&v, tok + t);
            assert_true(item >= 0);
            assert_true(pos[item] >= 0 && pos[item] < pos[q->target]);
            assert_true(pos[item] > last);
            last = pos[item];
        }
        with_history += t > 1;
        /* Then words, [SEP], and the target's SEARCH-task ID: the only loss. */
        assert_int_equal(tok[q->len - L - 1], SEMID_TOK_SEP);
        int32_t id[8];
        semid_idtable_tokens(&table, SEMID_TASK_SEARCH, q->target, id);
        for (int32_t k = 0; k < q->len; k++) assert_int_equal(s.is_target[q->offset + k], k >= q->len - L);
        for (int32_t l = 0; l < L; l++) assert_int_equal(tok[q->len - L + l], v.sid_base + id[l]);
    }
    assert_int_equal(with_history, s.n_personal); /* every target has an item before it */
    /* The levels in their stated shares (0.4, 0.3, 0.3). */
    for (int l = 0; l < SEMID_QUERY_N_LEVELS; l++) {
        double share = (double)per_level[l] / (double)s.n_personal;
        print_message("level %s: %.3f of %lld\n", semid_query_level_name(l), share, (long long)s.n_personal);
        assert_true(fabs(share - o.personal_levels[l]) < 0.05);
    }
    /* A function of the seed: the same pool again. */
    semid_gen_seqs s2;
    assert_int_equal(semid_gen_examples_train(&ds, &table, &v, role, &o, &s2), SEMID_OK);
    assert_int_equal(semid_gen_examples_personal_train(&ds, &table, &v, p, &o, &s2), SEMID_OK);
    assert_int_equal(s2.n_tokens, s.n_tokens);
    assert_memory_equal(s2.tokens, s.tokens, (size_t)s.n_tokens * sizeof *s.tokens);
    semid_gen_seqs_free(&s2);
    semid_gen_seqs_free(&s);

    /* Evaluation: one prompt per user with a test item, in the rec prompts'
     * order; the history is train + validation item; the plain prompt says
     * the same query without it. */
    semid_gen_seqs rec, per, plain;
    assert_int_equal(semid_gen_examples_eval(&ds, &table, &v, role, &o, SEMID_SPLIT_TEST, &rec), SEMID_OK);
    assert_int_equal(semid_gen_examples_personal_eval(&ds, &table, &v, p, &o, SEMID_SPLIT_TEST, SEMID_QUERY_VAGUE, 1, &per),
                     SEMID_OK);
    assert_int_equal(semid_gen_examples_personal_eval(&ds, &table, &v, p, &o, SEMID_SPLIT_TEST, SEMID_QUERY_VAGUE, 0, &plain),
                     SEMID_OK);
    assert_int_equal(per.n, rec.n_task[1]);
    assert_int_equal(plain.n, per.n);
    assert_int_equal(per.n_personal, per.n);
    int64_t r = rec.n_task[0];
    for (int64_t j = 0; j < per.n; j++, r++) {
        const semid_gen_seq *a = &per.seq[j], *b = &plain.seq[j], *c = &rec.seq[r];
        semid_user_split sp = semid_dataset_user_split(&ds, a->source);
        assert_int_equal(a->source, c->source);
        assert_int_equal(a->target, sp.test_item);
        assert_int_equal(b->target, sp.test_item);
        assert_int_equal(a->n_excl, c->n_excl);
        assert_memory_equal(per.excl + a->excl_offset, rec.excl + c->excl_offset, (size_t)a->n_excl * sizeof(int32_t));
        assert_int_equal(b->n_excl, 0);
        assert_int_equal(plain.tokens[b->offset], SEMID_TOK_SEARCH);
        /* The same words after [SEARCH] (short queries are never cut). */
        const int32_t *pa = per.tokens + a->offset, *pb = plain.tokens + b->offset;
        int32_t k = 0;
        while (pa[k] != SEMID_TOK_SEARCH) k++;
        assert_int_equal(a->len - k, b->len);
        assert_memory_equal(pa + k, pb, (size_t)b->len * sizeof *pb);
        /* Its most recent history item is the validation item. */
        assert_int_equal(item_of_rec_id(&v, pa + k - L), sp.valid_item);
    }
    semid_gen_seqs_free(&rec);
    semid_gen_seqs_free(&per);
    semid_gen_seqs_free(&plain);
    free(pos);
    semid_querygen_profiles_free(p);
    semid_gen_vocab_free(&v);
    free(role);
}

/* A long query in a short context: the words are cut, one history item
 * stays, and the prompt leaves room for the ID. */
static void test_prompt_fits(void **state) {
    (void)state;
    semid_gen_example_options o = semid_gen_example_defaults();
    o.history_window = 5;
    o.max_seq_len = 12;
    int32_t L = table.n_levels;
    semid_gen_vocab v;
    assert_int_equal(semid_gen_vocab_build(&ds, NULL, &table, NULL, &v), SEMID_OK);
    int32_t hist[6] = {1, 2, 3, 4, 5, 6}, out[64], n = 0;
    const char *longq = "one two three four five six seven eight nine ten eleven twelve thirteen";
    assert_int_equal(semid_gen_prompt_personal(&v, &table, &o, hist, 6, longq, out, &n, NULL), SEMID_OK);
    assert_true(n + L - 1 <= o.max_seq_len);
    assert_int_equal(out[0], SEMID_TOK_RECOMMEND);
    assert_int_equal(out[1 + L], SEMID_TOK_SEARCH);
    assert_int_equal(item_of_rec_id(&v, out + 1), 6);
    assert_int_equal(out[n - 1], SEMID_TOK_SEP);
    /* A short query leaves room for more of the history, the most recent items. */
    assert_int_equal(semid_gen_prompt_personal(&v, &table, &o, hist, 6, "comedy", out, &n, NULL), SEMID_OK);
    assert_true(n + L - 1 <= o.max_seq_len);
    int32_t h = (n - 4) / L;
    assert_true(h >= 2);
    assert_int_equal(item_of_rec_id(&v, out + 1 + (h - 1) * L), 6);
    assert_int_equal(item_of_rec_id(&v, out + 1), 6 - h + 1);
    /* No history: the task tokens still mark the prompt. */
    assert_int_equal(semid_gen_prompt_personal(&v, &table, &o, hist, 0, "comedy", out, &n, NULL), SEMID_OK);
    assert_int_equal(out[0], SEMID_TOK_RECOMMEND);
    assert_int_equal(out[1], SEMID_TOK_SEARCH);
    semid_gen_vocab_free(&v);
}

/* Users with a strong genre taste (one preferred topic, sequels and
 * clusters): a vague query's answer is one of many items of its genre and
 * decade, and the history says which. Personalised search must beat the
 * same model's plain search on the same vague queries. */
static void test_end_to_end(void **state) {
    (void)state;
    semid_synth_config sc;
    semid_synth_config_default(&sc);
    sc.n_items = 150;
    sc.n_users = 600;
    sc.mean_history = 14;
    sc.min_history = 6;
    sc.max_history = 40;
    sc.n_topics = 8;
    sc.user_topics = 1;
    sc.queries_per_item = 6;
    sc.queries_train = 4;
    semid_dataset d;
    semid_idtable tb;
    assert_int_equal(semid_synth_generate(&sc, 5, &d), SEMID_OK);
    test_content_table(&d, 12, &tb);
    char *tmp = test_make_tmpdir();
    char *dir = semid_path_join(tmp, "model");
    semid_gen_train_config c = semid_gen_train_defaults();
    c.n_layer = SANITIZED ? 1 : 2;
    c.n_head = SANITIZED ? 2 : 4;
    c.d_model = SANITIZED ? 16 : 64;
    c.history_window = 6;
    c.epochs = SANITIZED ? 1 : 8;
    c.batch_size = 32;
    c.lr = 3e-3f;
    c.personal_share = 0.4;
    c.valid_sample = 30;
    c.vocab.min_count = 1;
    c.threads = 1;
    c.verbose = 0;
    semid_gen_train_report r;
    double t0 = semid_now();
    assert_int_equal(semid_gen_train(&d, &tb, &c, dir, &r), SEMID_OK);
    assert_true(r.n_train_personal > 0);
    semid_gen_bundle *b;
    assert_int_equal(semid_gen_bundle_load(dir, &b), SEMID_OK);
    assert_int_equal(b->personal, 1);
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.beam_size = 10;
    o.beam.k = 10;
    semid_ranking_eval per, plain, es, er;
    assert_int_equal(semid_gen_evaluate_personal(b, &d, SEMID_SPLIT_TEST, SEMID_QUERY_VAGUE, &o, &per, &plain), SEMID_OK);
    assert_int_equal(semid_gen_evaluate(b, &d, SEMID_SPLIT_TEST, &o, &es, &er, NULL), SEMID_OK);
    assert_int_equal(per.n, er.n);
    double rp = semid_ranking_eval_mean(&per, SEMID_GROUP_ALL).recall;
    double rs = semid_ranking_eval_mean(&plain, SEMID_GROUP_ALL).recall;
    double rr = semid_ranking_eval_mean(&er, SEMID_GROUP_ALL).recall;
    print_message("personalised search: %.1f s training; vague queries Recall@10 with the history %.3f, without %.3f; "
                  "rec alone %.3f\n", semid_now() - t0, rp, rs, rr);
    if (!SANITIZED) {
        assert_true(rp > rs + 0.05);
        assert_true(rp > rr + 0.05);
    }
    /* The text API: a vague query with a user's test history; the history is left out. */
    int32_t u = 0;
    semid_user_split sp = semid_dataset_user_split(&d, u);
    int64_t n_hist = sp.train_end - sp.train_begin;
    const int32_t *hp = d.seq_items + sp.train_begin, *hist = hp;
    semid_beam_hits h;
    const char *vague = "comedy";
    assert_int_equal(semid_gen_search_personal(b, &vague, &hp, &n_hist, 1, &o, &h, NULL), SEMID_OK);
    assert_int_equal(h.n_hits[0], 10);
    for (int32_t k = 0; k < h.n_hits[0]; k++)
        for (int64_t j = 0; j < n_hist; j++) assert_int_not_equal(h.items[k], hist[j]); /* the history is left out */
    semid_beam_hits_free(&h);
    /* A two-task bundle (as every bundle made before) refuses a history. */
    b->personal = 0;
    assert_int_equal(semid_gen_search_personal(b, &vague, &hp, &n_hist, 1, &o, &h, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "--personal-share"));
    semid_ranking_eval_free(&per);
    semid_ranking_eval_free(&plain);
    semid_ranking_eval_free(&es);
    semid_ranking_eval_free(&er);
    semid_gen_bundle_free(b);
    semid_idtable_free(&tb);
    semid_dataset_free(&d);
    test_rm_rf(tmp);
    free(dir);
    free(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_never_say_the_title),
        cmocka_unit_test(test_examples_personal),
        cmocka_unit_test(test_prompt_fits),
        cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
