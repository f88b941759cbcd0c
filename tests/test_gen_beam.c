/* Beam search against brute force on a tiny random model: every valid ID
 * scored by the full forward pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/beam.h"
#include "semid/semid.h"
#include "gen/model.h"
#include "quant/idtable.h"
#include "quant/trie.h"

enum { SID_BASE = 5, V = 20, TMAX = 12, N_ITEMS = 10 };

/* 10 items over a 3 x 4 code grid; items 8 and 9 share the IDs of 0 and 1
 * (collisions); 4 of the 12 IDs name no item. */
static const int32_t CODES[N_ITEMS][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 3}, {2, 1}, {2, 2}, {2, 3}, {0, 0}, {0, 1}};
static const int64_t POP[N_ITEMS] = {5, 1, 3, 3, 3, 3, 3, 3, 9, 0};

static semid_gpt *model;
static semid_idtable table;
static semid_trie *trie;

static void make_table(semid_idtable *t, int full) {
    int32_t sizes[2] = {3, 4};
    int32_t n = full ? 12 : N_ITEMS;
    assert_int_equal(semid_idtable_create(t, "test", "hand", n, 1, 2, sizes, 0), SEMID_OK);
    for (int32_t i = 0; i < n; i++) {
        t->codes[i * 2] = full ? i / 4 : CODES[i][0];
        t->codes[i * 2 + 1] = full ? i % 4 : CODES[i][1];
    }
    semid_idtable_update_fingerprint(t);
}

static int setup(void **state) {
    (void)state;
    semid_gpt_config cfg = {.vocab_size = V, .max_seq_len = TMAX, .n_layer = 2, .n_head = 2, .d_model = 16};
    if (semid_gpt_create(&cfg, 7, &model) != SEMID_OK) return -1;
    /* Larger weights than the default init, so scores differ clearly. */
    int64_t n;
    float *p = semid_gpt_params(model, &n);
    for (int64_t i = 0; i < n; i++) p[i] *= 8.0f;
    make_table(&table, 0);
    return semid_trie_build(&table, SEMID_TASK_SEARCH, &trie) == SEMID_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_trie_free(trie);
    semid_idtable_free(&table);
    semid_gpt_free(model);
    return 0;
}

/* Score of the ID (c0, c1) after `prompt` by one full forward pass:
 * log-softmax over the ID tokens at each of the two positions. */
static double brute_score(const int32_t *prompt, int32_t P, const int32_t *tok_local) {
    int32_t in[TMAX];
    memcpy(in, prompt, (size_t)P * sizeof *in);
    in[P] = SID_BASE + tok_local[0];
    assert_int_equal(semid_gpt_forward(model, in, NULL, 1, P + 1, NULL), SEMID_OK);
    const float *lg = semid_gpt_logits(model);
    double s = 0;
    for (int l = 0; l < 2; l++) {
        const float *row = lg + (int64_t)(P - 1 + l) * V + SID_BASE;
        double mx = row[0], sum = 0;
        for (int j = 1; j < table.n_tokens; j++) mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < table.n_tokens; j++) sum += exp(row[j] - mx);
        s += row[tok_local[l]] - mx - log(sum);
    }
    return s;
}

typedef struct scored {
    int32_t item;
    double score;
} scored;

static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (POP[x->item] != POP[y->item]) return POP[x->item] > POP[y->item] ? -1 : 1;
    return x->item - y->item;
}

/* All items (but excluded ones) ranked by brute force. */
static int32_t brute_rank(const int32_t *prompt, int32_t P, const int32_t *excl, int32_t n_excl, scored *out) {
    int32_t n = 0;
    for (int32_t i = 0; i < N_ITEMS; i++) {
        int skip = 0;
        for (int32_t e = 0; e < n_excl; e++) skip |= excl[e] == i;
        if (skip) continue;
        int32_t tok[2];
        semid_idtable_tokens(&table, SEMID_TASK_SEARCH, i, tok);
        out[n++] = (scored){i, brute_score(prompt, P, tok)};
    }
    qsort(out, (size_t)n, sizeof *out, cmp_scored);
    return n;
}

static const int32_t PROMPTS[3][4] = {{1, 2, 3, 4}, {4}, {3, 19, 0, 2}};
static const int32_t PLEN[3] = {4, 1, 3};

static void test_constrained_equals_brute_force(void **state) {
    (void)state;
    semid_beam_space sp = {.sid_base = SID_BASE, .n_sid = table.n_tokens, .popularity = POP};
    int32_t excl2[2] = {3, 3}; /* repeats are fine */
    semid_beam_query q[3];
    for (int i = 0; i < 3; i++) q[i] = (semid_beam_query){PROMPTS[i], PLEN[i], NULL, 0};
    q[2].exclude = excl2;
    q[2].n_exclude = 2;
    semid_beam_options o = semid_beam_defaults();
    o.beam_size = 12; /* covers every ID */
    o.k = 7;
    for (int chunked = 0; chunked < 2; chunked++) {
        o.max_cache_mb = chunked ? 1 : 512;
        semid_beam_hits h;
        assert_int_equal(semid_beam_search(model, trie, &sp, q, 3, &o, &h), SEMID_OK);
        for (int i = 0; i < 3; i++) {
            scored ref[N_ITEMS];
            int32_t n = brute_rank(PROMPTS[i], PLEN[i], q[i].exclude, q[i].n_exclude, ref);
            assert_int_equal(h.n_hits[i], n < o.k ? n : o.k);
            for (int32_t j = 0; j < h.n_hits[i]; j++) {
                assert_int_equal(h.items[i * o.k + j], ref[j].item);
                assert_true(fabs(h.scores[i * o.k + j] - ref[j].score) < 1e-4);
                for (int32_t u = 0; u < j; u++) assert_int_not_equal(h.items[i * o.k + u], h.items[i * o.k + j]);
                if (i == 2) assert_int_not_equal(h.items[i * o.k + j], 3);
            }
        }
        semid_beam_hits_free(&h);
    }
}

/* A narrow beam still returns distinct, valid items, best first. */
static void test_narrow_beam_distinct(void **state) {
    (void)state;
    semid_beam_space sp = {.sid_base = SID_BASE, .n_sid = table.n_tokens, .popularity = NULL};
    semid_beam_query q = {PROMPTS[0], PLEN[0], NULL, 0};
    semid_beam_options o = semid_beam_defaults();
    o.beam_size = 3;
    o.k = 10;
    semid_beam_hits h;
    assert_int_equal(semid_beam_search(model, trie, &sp, &q, 1, &o, &h), SEMID_OK);
    assert_true(h.n_hits[0] >= 3 && h.n_hits[0] <= 5); /* 3 leaves, two of them may hold 2 items */
    for (int32_t j = 0; j < h.n_hits[0]; j++) {
        assert_true(h.items[j] >= 0 && h.items[j] < N_ITEMS);
        if (j) assert_true(h.scores[j] <= h.scores[j - 1]);
        for (int32_t u = 0; u < j; u++) assert_int_not_equal(h.items[u], h.items[j]);
    }
    assert_int_equal(h.items[h.n_hits[0]], -1);
    semid_beam_hits_free(&h);
}

/* Many queries decode to the same items and scores on 1 and on 2 threads
 * (threads take whole chunks of queries, each with its own cache). */
static void test_threads_agree(void **state) {
    (void)state;
    enum { NQ = 40 };
    int32_t prompts[NQ][3];
    semid_beam_query q[NQ];
    for (int i = 0; i < NQ; i++) {
        for (int t = 0; t < 3; t++) prompts[i][t] = (i * 7 + t * 3) % SID_BASE;
        q[i] = (semid_beam_query){prompts[i], 1 + i % 3, NULL, 0};
    }
    semid_beam_space sp = {.sid_base = SID_BASE, .n_sid = table.n_tokens, .popularity = POP};
    semid_beam_options o = semid_beam_defaults();
    o.beam_size = 3;
    o.k = 4;
    semid_beam_hits h[2];
    for (int t = 0; t < 2; t++) {
        semid_set_threads(t + 1);
        assert_int_equal(semid_beam_search(model, trie, &sp, q, NQ, &o, &h[t]), SEMID_OK);
    }
    semid_set_threads(2);
    assert_memory_equal(h[0].items, h[1].items, NQ * o.k * sizeof(int32_t));
    assert_memory_equal(h[0].scores, h[1].scores, NQ * o.k * sizeof(float));
    assert_memory_equal(h[0].n_hits, h[1].n_hits, NQ * sizeof(int32_t));
    /* the same prompt decodes the same wherever it sits in a chunk */
    for (int i = 1; i < NQ; i++)
        if (q[i].prompt_len == q[0].prompt_len && memcmp(prompts[i], prompts[0], sizeof prompts[0]) == 0)
            for (int j = 0; j < o.k; j++) assert_int_equal(h[0].items[i * o.k + j], h[0].items[j]);
    semid_beam_hits_free(&h[0]);
    semid_beam_hits_free(&h[1]);
}

/* Diverse search with one group and no penalty, with a beam covering every
 * token pair, is exhaustive over all 12 pairs: its valid results equal brute
 * force and the 4 pairs naming no item are counted. */
static void test_diverse_g1_exhaustive(void **state) {
    (void)state;
    semid_beam_space sp = {.sid_base = SID_BASE, .n_sid = table.n_tokens, .popularity = POP};
    semid_beam_query q = {PROMPTS[2], PLEN[2], NULL, 0};
    semid_beam_options o = semid_beam_defaults();
    o.beam_size = 12;
    o.groups = 1;
    o.diversity = 0;
    o.k = 10;
    semid_beam_hits h;
    assert_int_equal(semid_beam_search_diverse(model, &table, SEMID_TASK_SEARCH, trie, &sp, &q, 1, &o, &h), SEMID_OK);
    scored ref[N_ITEMS];
    int32_t n = brute_rank(PROMPTS[2], PLEN[2], NULL, 0, ref);
    assert_int_equal(h.n_hits[0], n);
    assert_int_equal(h.n_invalid[0], 4);
    for (int32_t j = 0; j < n; j++) {
        assert_int_equal(h.items[j], ref[j].item);
        assert_true(fabs(h.scores[j] - ref[j].score) < 1e-4);
    }
    semid_beam_hits_free(&h);
}

/* On a table where every pair is an item, diverse search with G = 1 and
 * lambda = 0 is plain unconstrained beam search, which must then equal the
 * constrained search at the same (narrow) beam: two separate code paths. */
static void test_diverse_g1_equals_plain_beam(void **state) {
    (void)state;
    semid_idtable full;
    make_table(&full, 1);
    semid_trie *ft;
    assert_int_equal(semid_trie_build(&full, SEMID_TASK_SEARCH, &ft), SEMID_OK);
    semid_beam_space sp = {.sid_base = SID_BASE, .n_sid = full.n_tokens, .popularity = NULL};
    semid_beam_query q[3];
    for (int i = 0; i < 3; i++) q[i] = (semid_beam_query){PROMPTS[i], PLEN[i], NULL, 0};
    for (int32_t beam = 1; beam <= 5; beam += 2) {
        semid_beam_options o = semid_beam_defaults();
        o.beam_size = beam;
        o.k = beam;
        semid_beam_hits a, b;
        assert_int_equal(semid_beam_search(model, ft, &sp, q, 3, &o, &a), SEMID_OK);
        assert_int_equal(semid_beam_search_diverse(model, &full, SEMID_TASK_SEARCH, ft, &sp, q, 3, &o, &b), SEMID_OK);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(a.n_hits[i], beam);
            assert_int_equal(b.n_hits[i], beam);
            assert_int_equal(b.n_invalid[i], 0);
            for (int j = 0; j < beam; j++) {
                assert_int_equal(a.items[i * beam + j], b.items[i * beam + j]);
                assert_true(fabs(a.scores[i * beam + j] - b.scores[i * beam + j]) < 1e-5);
            }
        }
        semid_beam_hits_free(&a);
        semid_beam_hits_free(&b);
    }
    /* Groups of one beam with a huge penalty choose different first tokens. */
    semid_beam_options o = semid_beam_defaults();
    o.beam_size = 3;
    o.groups = 3;
    o.diversity = 1000.0f;
    o.k = 3;
    semid_beam_hits h;
    assert_int_equal(semid_beam_search_diverse(model, &full, SEMID_TASK_SEARCH, ft, &sp, q, 1, &o, &h), SEMID_OK);
    assert_int_equal(h.n_hits[0], 3);
    int seen[3] = {0, 0, 0};
    for (int j = 0; j < 3; j++) seen[full.codes[h.items[j] * 2]]++;
    assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    semid_beam_hits_free(&h);
    semid_trie_free(ft);
    semid_idtable_free(&full);
}

/* Diverse search over a one-level table (as atomic IDs are) against a
 * reference written from the definition: group after group, each takes
 * its Bg best tokens by log-probability less lambda times how often earlier
 * groups took the token; the beams are then ranked by that score, repeated
 * items dropped. The first level is where every group extends the same
 * prompt, the case the search shortcuts. */
static void test_diverse_first_level_equals_reference(void **state) {
    (void)state;
    enum { T = 12 };
    semid_idtable one;
    int32_t size[1] = {T};
    assert_int_equal(semid_idtable_create(&one, "test", "hand", T, 1, 1, size, 0), SEMID_OK);
    for (int32_t i = 0; i < T; i++) one.codes[i] = i;
    semid_idtable_update_fingerprint(&one);
    semid_trie *ot;
    assert_int_equal(semid_trie_build(&one, SEMID_TASK_SEARCH, &ot), SEMID_OK);
    semid_beam_space sp = {.sid_base = SID_BASE, .n_sid = T, .popularity = NULL};
    const int32_t shapes[3][2] = {{6, 3}, {12, 6}, {8, 2}}; /* beam, groups */
    const float lambdas[3] = {0.7f, 0.25f, 3.0f};
    for (int pi = 0; pi < 3; pi++)
        for (int si = 0; si < 3; si++) {
            int32_t Bm = shapes[si][0], G = shapes[si][1], Bg = Bm / G, P = PLEN[pi];
            float lambda = lambdas[si];
            assert_int_equal(semid_gpt_forward(model, PROMPTS[pi], NULL, 1, P, NULL), SEMID_OK);
            const float *row = semid_gpt_logits(model) + (int64_t)(P - 1) * V + SID_BASE;
            double mx = row[0], sum = 0;
            for (int t = 1; t < T; t++) mx = row[t] > mx ? row[t] : mx;
            for (int t = 0; t < T; t++) sum += exp(row[t] - mx);
            double lp[T], beam_score[12];
            int32_t count[T] = {0}, beam_tok[12], nb = 0;
            for (int t = 0; t < T; t++) lp[t] = row[t] - mx - log(sum);
            for (int32_t g = 0; g < G; g++) {
                int taken[T] = {0};
                for (int32_t j = 0; j < Bg; j++) {
                    int best = -1;
                    for (int t = 0; t < T; t++)
                        if (!taken[t] && (best < 0 || lp[t] - lambda * count[t] > lp[best] - lambda * count[best])) best = t;
                    taken[best] = 1;
                    beam_tok[nb] = best;
                    beam_score[nb++] = lp[best] - lambda * count[best];
                }
                for (int32_t j = nb - Bg; j < nb; j++) count[beam_tok[j]]++;
            }
            /* Rank the beams (ties: the earlier beam), drop repeated items. */
            int32_t order[12], want[12], nw = 0;
            for (int32_t b = 0; b < nb; b++) {
                int32_t j = b;
                while (j > 0 && beam_score[order[j - 1]] < beam_score[b]) {
                    order[j] = order[j - 1];
                    j--;
                }
                order[j] = b;
            }
            double want_score[12];
            for (int32_t b = 0; b < nb; b++) {
                int dup = 0;
                for (int32_t u = 0; u < nw; u++) dup |= want[u] == beam_tok[order[b]];
                if (dup) continue;
                want_score[nw] = beam_score[order[b]];
                want[nw++] = beam_tok[order[b]];
            }
            semid_beam_options o = semid_beam_defaults();
            o.beam_size = Bm;
            o.groups = G;
            o.diversity = lambda;
            o.k = Bm;
            semid_beam_query q = {PROMPTS[pi], P, NULL, 0};
            semid_beam_hits h;
            assert_int_equal(semid_beam_search_diverse(model, &one, SEMID_TASK_SEARCH, ot, &sp, &q, 1, &o, &h), SEMID_OK);
            assert_int_equal(h.n_hits[0], nw);
            for (int32_t j = 0; j < nw; j++) {
                assert_int_equal(h.items[j], want[j]);
                assert_true(fabs(h.scores[j] - want_score[j]) < 1e-4);
            }
            semid_beam_hits_free(&h);
        }
    semid_trie_free(ot);
    semid_idtable_free(&one);
}

static void test_bad_input(void **state) {
    (void)state;
    semid_beam_space sp = {.sid_base = SID_BASE, .n_sid = table.n_tokens, .popularity = NULL};
    int32_t longp[TMAX] = {0};
    semid_beam_query q = {longp, TMAX, NULL, 0}; /* no room for the second level */
    semid_beam_options o = semid_beam_defaults();
    semid_beam_hits h;
    assert_int_equal(semid_beam_search(model, trie, &sp, &q, 1, &o, &h), SEMID_EINVAL);
    int32_t badtok = V + 3;
    q = (semid_beam_query){&badtok, 1, NULL, 0};
    assert_int_equal(semid_beam_search(model, trie, &sp, &q, 1, &o, &h), SEMID_EINVAL);
    q = (semid_beam_query){PROMPTS[0], PLEN[0], NULL, 0};
    o.groups = 7; /* does not divide 30 */
    assert_int_equal(semid_beam_search_diverse(model, &table, SEMID_TASK_SEARCH, trie, &sp, &q, 1, &o, &h), SEMID_EINVAL);
    sp.sid_base = V - 2; /* ID tokens outside the vocabulary */
    o = semid_beam_defaults();
    assert_int_equal(semid_beam_search(model, trie, &sp, &q, 1, &o, &h), SEMID_EINVAL);
    /* Zero queries is fine. */
    sp.sid_base = SID_BASE;
    assert_int_equal(semid_beam_search(model, trie, &sp, &q, 0, &o, &h), SEMID_OK);
    semid_beam_hits_free(&h);
    semid_beam_options p = semid_beam_paper_diverse(30);
    assert_int_equal(p.beam_size, 60);
    assert_int_equal(p.groups, 30);
    assert_true(fabsf(p.diversity - 0.25f) < 1e-6f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constrained_equals_brute_force),
        cmocka_unit_test(test_diverse_first_level_equals_reference),
        cmocka_unit_test(test_narrow_beam_distinct),
        cmocka_unit_test(test_threads_agree),
        cmocka_unit_test(test_diverse_g1_exhaustive),
        cmocka_unit_test(test_diverse_g1_equals_plain_beam),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
