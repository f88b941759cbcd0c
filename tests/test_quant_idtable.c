/* ID tables and tries: layout, save/load round trip, rejection of damaged
 * files, collision statistics, disambiguation uniqueness, trie paths = table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/rng.h"
#include "base/status.h"
#include "quant/idtable.h"
#include "quant/strategy.h"
#include "quant/trie.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* A table with random codes (collisions likely when sizes are small). */
static void make_table(semid_idtable *t, int32_t n, int32_t tasks, const int32_t *sizes, int32_t shared, uint64_t seed) {
    assert_int_equal(semid_idtable_create(t, tasks == 1 ? "search" : "separate", "rqkmeans", n, tasks, 2, sizes, shared),
                     SEMID_OK);
    semid_rng r;
    semid_rng_seed(&r, seed);
    for (int32_t ti = 0; ti < tasks; ti++)
        for (int32_t i = 0; i < n; i++)
            for (int32_t l = 0; l < 2; l++) {
                int32_t c = (int32_t)semid_rng_below(&r, (uint64_t)sizes[ti * 2 + l]);
                /* Shared levels hold the same code for both tasks. */
                if (ti == 1 && l < shared) c = t->codes[(int64_t)i * 2 + l];
                t->codes[((int64_t)ti * n + i) * 2 + l] = c;
            }
    semid_idtable_update_fingerprint(t);
}

static void test_layout(void **state) {
    (void)state;
    semid_idtable t;
    int32_t sizes[4] = {8, 4, 6, 5};
    make_table(&t, 50, 2, sizes, 0, 1);
    assert_int_equal(t.n_tokens, 23);
    assert_int_equal(t.token_offset[0], 0);
    assert_int_equal(t.token_offset[1], 8);
    assert_int_equal(t.token_offset[2], 12);
    assert_int_equal(t.token_offset[3], 18);
    int32_t tok[2];
    semid_idtable_tokens(&t, SEMID_TASK_REC, 7, tok);
    assert_int_equal(tok[0], 12 + t.codes[(50 + 7) * 2]);
    int task, level;
    assert_true(semid_idtable_token_info(&t, tok[1], &task, &level));
    assert_int_equal(task, 1);
    assert_int_equal(level, 1);
    assert_false(semid_idtable_token_info(&t, 23, &task, &level));
    semid_idtable_free(&t);

    /* Prefix-share: level 0 shared between tasks. */
    int32_t ps[4] = {8, 4, 8, 4};
    make_table(&t, 50, 2, ps, 1, 2);
    assert_int_equal(t.token_offset[0], t.token_offset[2]);
    assert_int_not_equal(t.token_offset[1], t.token_offset[3]);
    assert_int_equal(t.n_tokens, 16);
    assert_int_equal(semid_idtable_validate(&t), SEMID_OK);
    semid_idtable_free(&t);
    int32_t bad[4] = {8, 4, 7, 4};
    assert_int_equal(semid_idtable_create(&t, "prefix_share", "x", 5, 2, 2, bad, 1), SEMID_EINVAL);
}

static void test_round_trip_and_damage(void **state) {
    (void)state;
    semid_idtable t, back;
    int32_t sizes[4] = {16, 16, 16, 16};
    make_table(&t, 40, 2, sizes, 0, 3);
    char *ids[40];
    for (int i = 0; i < 40; i++) {
        ids[i] = malloc(16);
        snprintf(ids[i], 16, i == 3 ? "it\"em\t%d" : "m%d", i);
    }
    assert_int_equal(semid_idtable_set_item_ids(&t, ids), SEMID_OK);
    char *path = semid_path_join(tmpdir, "sid.json");
    assert_int_equal(semid_idtable_save(&t, path), SEMID_OK);
    assert_int_equal(semid_idtable_load(path, &back), SEMID_OK);
    assert_string_equal(back.strategy, "separate");
    assert_string_equal(back.method, "rqkmeans");
    assert_int_equal(back.n_items, 40);
    assert_int_equal(back.n_tasks, 2);
    assert_int_equal(back.fingerprint, t.fingerprint);
    assert_memory_equal(back.codes, t.codes, sizeof(int32_t) * 160);
    assert_memory_equal(back.token_offset, t.token_offset, sizeof(int32_t) * 4);
    assert_string_equal(back.item_ids[3], ids[3]);
    assert_int_equal(semid_idtable_check_fingerprint(&back, t.fingerprint, "m.ckpt"), SEMID_OK);
    assert_int_equal(semid_idtable_check_fingerprint(&back, t.fingerprint ^ 1, "m.ckpt"), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "another vocabulary"));
    semid_idtable_free(&back);

    /* An edited code is a corrupt file (the checksum); without the
     * checksum check (a file without one), an edited code (still in range)
     * breaks the fingerprint, one out of range is named, and a truncated
     * file is a parse error. */
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(path, &text, &len), SEMID_OK);
    char *codes = strstr(text, "\"codes\"");
    char *p = strchr(codes, '[');
    p = strchr(p + 1, '[');
    p = strchr(p + 1, '[') + 1; /* first code of item 0, task 0 */
    char saved = *p;
    char *edited = semid_path_join(tmpdir, "edited.json");
    *p = saved == '1' ? '2' : '1';
    assert_int_equal(semid_write_file_atomic(edited, text, len), SEMID_OK);
    assert_int_equal(semid_idtable_load(edited, &back), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "edited.json is corrupt"));
    test_verify_off();
    assert_int_equal(semid_idtable_load(edited, &back), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "fingerprint"));
    /* Code 99 at level 0 of item 0: out of range (size 16). */
    char *big = malloc(len + 3);
    size_t pre = (size_t)(p - text);
    memcpy(big, text, pre);
    memcpy(big + pre, "99", 2);
    size_t k = pre;
    while (text[k] >= '0' && text[k] <= '9') k++;
    memcpy(big + pre + 2, text + k, len - k);
    assert_int_equal(semid_write_file_atomic(edited, big, pre + 2 + len - k), SEMID_OK);
    assert_int_equal(semid_idtable_load(edited, &back), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "item 0"));
    free(big);
    *p = saved;
    assert_int_equal(semid_write_file_atomic(edited, text, len / 2), SEMID_OK);
    assert_int_equal(semid_idtable_load(edited, &back), SEMID_EPARSE);
    assert_null(back.codes);
    test_verify_on();
    free(text);
    free(edited);

    /* TSV export: header and one line per item and task. */
    char *tsv = semid_path_join(tmpdir, "sid.tsv");
    assert_int_equal(semid_idtable_export_tsv(&t, tsv), SEMID_OK);
    assert_int_equal(semid_read_file(tsv, &text, &len), SEMID_OK);
    assert_true(strncmp(text, "item_id\ttask\ttokens\n", 20) == 0);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    assert_int_equal(lines, 1 + 80);
    char expect[64];
    int32_t tok[2];
    semid_idtable_tokens(&t, SEMID_TASK_REC, 0, tok);
    snprintf(expect, sizeof expect, "m0\trec\t%d\t%d\n", tok[0], tok[1]);
    assert_non_null(strstr(text, expect));
    free(text);
    free(tsv);
    for (int i = 0; i < 40; i++) free(ids[i]);
    semid_idtable_free(&t);
    free(path);
}

static void test_collisions_and_disambiguation(void **state) {
    (void)state;
    semid_idtable t;
    int32_t sizes[4] = {3, 3, 4, 2};
    make_table(&t, 60, 2, sizes, 0, 4); /* 60 items in 9 (search) and 8 (rec) IDs */
    semid_collision_stats cs;
    assert_int_equal(semid_idtable_collisions(&t, SEMID_TASK_SEARCH, &cs), SEMID_OK);
    assert_true(cs.distinct_ids <= 9);
    assert_true(cs.max_items_per_id >= 7);
    assert_int_equal(cs.colliding_items, 60);
    assert_float_equal(cs.rate, 1.0 - cs.distinct_ids / 60.0, 1e-12);
    int32_t before_tokens = t.n_tokens;
    int32_t old_codes[240];
    memcpy(old_codes, t.codes, sizeof old_codes);
    uint64_t fp = t.fingerprint;
    int64_t pop[60];
    for (int i = 0; i < 60; i++) pop[i] = (i * 37) % 11;
    assert_int_equal(semid_idtable_disambiguate(&t, pop), SEMID_OK);
    assert_int_equal(t.n_levels, 3);
    assert_true(t.disambiguated);
    assert_int_not_equal(t.fingerprint, fp);
    assert_int_equal(semid_idtable_validate(&t), SEMID_OK);
    assert_int_equal(t.token_offset[2], before_tokens);
    for (int task = 0; task < 2; task++) {
        assert_int_equal(semid_idtable_collisions(&t, task, &cs), SEMID_OK);
        assert_int_equal(cs.distinct_ids, 60);
        assert_int_equal(cs.colliding_items, 0);
        assert_float_equal(cs.rate, 0.0, 0);
        for (int i = 0; i < 60; i++) {
            /* Old levels kept; within a group, more popular items come first. */
            assert_memory_equal(t.codes + ((int64_t)task * 60 + i) * 3, old_codes + ((int64_t)task * 60 + i) * 2,
                                sizeof(int32_t) * 2);
            for (int j = 0; j < 60; j++) {
                const int32_t *a = t.codes + ((int64_t)task * 60 + i) * 3, *b = t.codes + ((int64_t)task * 60 + j) * 3;
                if (a[0] == b[0] && a[1] == b[1] && (pop[i] > pop[j] || (pop[i] == pop[j] && i < j)))
                    assert_true(a[2] < b[2]);
            }
        }
    }
    /* Tokens of the new levels of the two tasks do not overlap. */
    assert_int_equal(t.token_offset[5], t.token_offset[2] + t.level_size[2]);
    semid_idtable_free(&t);
}

/* The digits of a capped disambiguation against brute force: for every
 * group size and cap, the fewest levels of at most `cap` codes that count
 * the group, and numbers written and read back unchanged. */
static void test_disambiguation_levels_brute_force(void **state) {
    (void)state;
    assert_int_equal(semid_idtable_disambiguation_levels(41400, 1024), 2);
    assert_int_equal(semid_idtable_disambiguation_levels(480, 1024), 1);
    assert_int_equal(semid_idtable_disambiguation_levels(1025, 1024), 2);
    assert_int_equal(semid_idtable_disambiguation_levels(1 << 20, 0), 1);
    for (int32_t cap = 2; cap <= 12; cap++)
        for (int32_t g = 1; g <= 300; g++) {
            int32_t D = semid_idtable_disambiguation_levels(g, cap), want = 1;
            int64_t room = cap;
            while (room < g) {
                room *= cap;
                want++;
            }
            assert_int_equal(D, want);
        }
    int32_t size[3] = {4, 7, 5};
    for (int32_t num = 0; num < 4 * 7 * 5; num++) {
        int32_t c[3];
        semid_idtable_number_to_codes(num, size, 3, c);
        for (int d = 0; d < 3; d++) assert_true(c[d] >= 0 && c[d] < size[d]);
        assert_int_equal(semid_idtable_codes_to_number(c, size, 3), num);
    }
}

/* A cap smaller than the largest group: more appended levels, each within
 * the cap, every ID unique, the group's order kept in the numbers, the
 * collisions before it unchanged, and the layout saved and loaded. A cap
 * at or above the largest group gives the uncapped table exactly. */
static void test_capped_disambiguation(void **state) {
    (void)state;
    int32_t sizes[4] = {2, 2, 3, 2};
    int64_t pop[90];
    for (int i = 0; i < 90; i++) pop[i] = (i * 53) % 17;
    semid_idtable a, b;
    make_table(&a, 90, 2, sizes, 0, 9);
    make_table(&b, 90, 2, sizes, 0, 9);
    semid_collision_stats before[2];
    for (int task = 0; task < 2; task++) assert_int_equal(semid_idtable_collisions(&a, task, &before[task]), SEMID_OK);
    int32_t largest = before[0].max_items_per_id > before[1].max_items_per_id ? before[0].max_items_per_id
                                                                              : before[1].max_items_per_id;
    assert_true(largest > 16); /* 90 items in at most 6 IDs a task */
    assert_int_equal(semid_idtable_disambiguate_capped(&a, pop, 4), SEMID_OK);
    int32_t D = a.disambiguated, L = a.n_levels;
    assert_int_equal(D, semid_idtable_disambiguation_levels(largest, 4));
    assert_true(D >= 3);
    assert_int_equal(L, 2 + D);
    assert_int_equal(semid_idtable_validate(&a), SEMID_OK);
    for (int task = 0; task < 2; task++) {
        for (int d = 0; d < D; d++) assert_true(a.level_size[task * L + 2 + d] <= 4);
        semid_collision_stats cs, cb;
        assert_int_equal(semid_idtable_collisions(&a, task, &cs), SEMID_OK);
        assert_int_equal(cs.distinct_ids, 90);
        assert_int_equal(semid_idtable_collisions_before(&a, task, &cb), SEMID_OK);
        assert_memory_equal(&cb, &before[task], sizeof cb);
        const int32_t *dsize = a.level_size + task * L + 2;
        for (int i = 0; i < 90; i++)
            for (int j = 0; j < 90; j++) {
                const int32_t *ci = a.codes + ((int64_t)task * 90 + i) * L, *cj = a.codes + ((int64_t)task * 90 + j) * L;
                if (ci[0] != cj[0] || ci[1] != cj[1] || !(pop[i] > pop[j] || (pop[i] == pop[j] && i < j))) continue;
                assert_true(semid_idtable_codes_to_number(ci + 2, dsize, D) <
                            semid_idtable_codes_to_number(cj + 2, dsize, D));
            }
    }
    /* The capped table, saved and loaded, keeps its appended levels. */
    char *path = semid_path_join(tmpdir, "capped.json");
    assert_int_equal(semid_idtable_save(&a, path), SEMID_OK);
    semid_idtable back;
    assert_int_equal(semid_idtable_load(path, &back), SEMID_OK);
    assert_int_equal(back.disambiguated, D);
    assert_int_equal(back.fingerprint, a.fingerprint);
    semid_idtable_free(&back);
    free(path);
    /* Disambiguating twice is refused. */
    assert_int_equal(semid_idtable_disambiguate_capped(&a, pop, 4), SEMID_EINVAL);
    semid_idtable_free(&a);
    /* A cap the largest group fits in: the one level of the uncapped table. */
    semid_idtable c;
    make_table(&c, 90, 2, sizes, 0, 9);
    assert_int_equal(semid_idtable_disambiguate_capped(&b, pop, largest), SEMID_OK);
    assert_int_equal(semid_idtable_disambiguate(&c, pop), SEMID_OK);
    assert_int_equal(b.disambiguated, 1);
    assert_int_equal(b.n_levels, 3);
    assert_int_equal(b.fingerprint, c.fingerprint);
    semid_idtable_free(&b);
    semid_idtable_free(&c);
}

/* Walking each item's tokens through the trie reaches a leaf listing it;
 * every leaf's items share the leaf's path; children are sorted. */
static void test_trie_paths_equal_table(void **state) {
    (void)state;
    semid_idtable t;
    int32_t sizes[4] = {5, 6, 5, 6};
    make_table(&t, 200, 2, sizes, 1, 5);
    for (int task = 0; task < 2; task++) {
        semid_trie *tr;
        assert_int_equal(semid_trie_build(&t, task, &tr), SEMID_OK);
        assert_int_equal(semid_trie_depth(tr), 2);
        int64_t leaf_total = 0;
        for (int32_t node = 0; node < semid_trie_node_count(tr); node++) {
            const int32_t *tok, *ch, *items;
            int32_t nc = semid_trie_children(tr, node, &tok, &ch);
            for (int32_t c = 1; c < nc; c++) assert_true(tok[c - 1] < tok[c]);
            for (int32_t c = 0; c < nc; c++) assert_int_equal(semid_trie_node_depth(tr, ch[c]), semid_trie_node_depth(tr, node) + 1);
            int32_t ni = semid_trie_items(tr, node, &items);
            if (semid_trie_node_depth(tr, node) == 2) assert_true(ni >= 1 && nc == 0);
            else assert_int_equal(ni, 0);
            leaf_total += ni;
            for (int32_t k = 1; k < ni; k++) assert_true(items[k - 1] < items[k]);
        }
        assert_int_equal(leaf_total, 200);
        for (int32_t i = 0; i < 200; i++) {
            int32_t tok[2], node = 0;
            semid_idtable_tokens(&t, task, i, tok);
            for (int l = 0; l < 2; l++) {
                node = semid_trie_child(tr, node, tok[l]);
                assert_true(node > 0);
            }
            const int32_t *items;
            int32_t ni = semid_trie_items(tr, node, &items);
            int found = 0;
            for (int32_t k = 0; k < ni; k++) {
                found |= items[k] == i;
                int32_t other[2];
                semid_idtable_tokens(&t, task, items[k], other);
                assert_memory_equal(other, tok, sizeof tok);
            }
            assert_true(found);
        }
        /* A token of the other task's level 1 (not shared) leads nowhere. */
        int32_t tok[2];
        semid_idtable_tokens(&t, 1 - task, 0, tok);
        int32_t n1 = semid_trie_child(tr, 0, tok[0]);
        assert_true(n1 > 0); /* level 0 is shared */
        assert_int_equal(semid_trie_child(tr, n1, tok[1]), -1);
        assert_int_equal(semid_trie_child(tr, 0, -5), -1);
        semid_trie_free(tr);
    }
    semid_idtable_free(&t);
}

static semid_matrix blobs(int64_t n, int32_t D, uint64_t seed) {
    semid_matrix m;
    assert_int_equal(semid_matrix_alloc(&m, n, D), SEMID_OK);
    semid_rng r;
    semid_rng_seed(&r, seed);
    for (int64_t i = 0; i < n * D; i++) m.data[i] = (float)semid_rng_normal(&r) + (float)((i / D) % 7);
    return m;
}

/* Each strategy kind: table shape, names, offsets; errors for missing or
 * mismatched inputs; cold-start tokens equal the table's for known items. */
static void test_strategies(void **state) {
    (void)state;
    semid_matrix S = blobs(120, 8, 1), R = blobs(120, 5, 2), R2 = blobs(100, 5, 3);
    semid_strategy_options opt;
    memset(&opt, 0, sizeof opt);
    opt.tokenizer = semid_tokenizer_defaults();
    opt.tokenizer.codebook_size = 8;
    semid_strategy_result res;

    opt.strategy = "fused_svd";
    semid_strategy_inputs one = {&S, NULL, NULL};
    assert_int_equal(semid_strategy_build(&one, &opt, &res), SEMID_OK);
    assert_int_equal(res.table.n_tasks, 1);
    assert_string_equal(res.table.strategy, "fused_svd");
    assert_string_equal(res.table.method, "rqkmeans");
    assert_int_equal(res.n_tokenizers, 1);
    assert_non_null(res.level_error[0]);
    assert_true(res.level_error[0][1] < res.level_error[0][0]);
    /* Encoding the training items again reproduces the table's tokens. */
    int32_t *codes = malloc(sizeof(int32_t) * 120 * 2), *tokens = malloc(sizeof(int32_t) * 120 * 2);
    assert_int_equal(semid_tokenizer_encode(res.tokenizers[0], &S, codes), SEMID_OK);
    assert_int_equal(semid_strategy_codes_to_tokens(&res.table, SEMID_TASK_REC, res.tokenizers[0], codes, 120, tokens),
                     SEMID_OK);
    for (int32_t i = 0; i < 120; i++) {
        int32_t tok[2];
        semid_idtable_tokens(&res.table, SEMID_TASK_REC, i, tok);
        assert_memory_equal(tok, tokens + i * 2, sizeof tok);
    }
    semid_strategy_result_free(&res);

    opt.strategy = "separate";
    opt.disambiguate = 1;
    semid_strategy_inputs two = {NULL, &S, &R};
    assert_int_equal(semid_strategy_build(&two, &opt, &res), SEMID_OK);
    assert_int_equal(res.table.n_tasks, 2);
    assert_int_equal(res.table.n_levels, 3);
    assert_int_equal(res.n_tokenizers, 2);
    assert_int_equal(res.table.token_offset[3], 16); /* rec level 0 after search's two levels */
    assert_int_equal(semid_tokenizer_dim(res.tokenizers[SEMID_TASK_REC]), 5);
    for (int task = 0; task < 2; task++) {
        semid_collision_stats cs;
        assert_int_equal(semid_idtable_collisions(&res.table, task, &cs), SEMID_OK);
        assert_int_equal(cs.distinct_ids, 120);
    }
    /* The search tokenizer is not the rec task's. */
    assert_int_equal(semid_tokenizer_encode(res.tokenizers[0], &S, codes), SEMID_OK);
    assert_int_equal(semid_strategy_codes_to_tokens(&res.table, SEMID_TASK_REC, res.tokenizers[0], codes, 120, tokens),
                     SEMID_EFORMAT);
    semid_strategy_result_free(&res);

    semid_strategy_inputs bad = {NULL, &S, &R2};
    assert_int_equal(semid_strategy_build(&bad, &opt, &res), SEMID_EINVAL);
    assert_null(res.table.codes);
    assert_int_equal(semid_strategy_build(&one, &opt, &res), SEMID_EINVAL); /* separate without search/rec */
    opt.strategy = "prefix_share";
    if (!semid_prefix_share_impl) {
        assert_int_equal(semid_strategy_build(&two, &opt, &res), SEMID_EINVAL);
    } else {
        assert_int_equal(semid_strategy_build(&two, &opt, &res), SEMID_OK);
        assert_int_equal(res.table.token_offset[0], res.table.token_offset[res.table.n_levels]);
        semid_strategy_result_free(&res);
    }
    opt.strategy = "nosuch";
    assert_int_equal(semid_strategy_build(&one, &opt, &res), SEMID_EINVAL);
    free(codes);
    free(tokens);
    semid_matrix_free(&S);
    semid_matrix_free(&R);
    semid_matrix_free(&R2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_round_trip_and_damage),
        cmocka_unit_test(test_collisions_and_disambiguation),
        cmocka_unit_test(test_disambiguation_levels_brute_force),
        cmocka_unit_test(test_capped_disambiguation),
        cmocka_unit_test(test_trie_paths_equal_table),
        cmocka_unit_test(test_strategies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
