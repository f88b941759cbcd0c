/* The forward-only kernels of decoding against their reference paths:
 * packed linear layers against a double-precision product (their epilogues
 * bit for bit against the training kernels, each row independent of the
 * others and of the threads), the log-sum-exp against double precision,
 * and the key/value cache (prefills, steps, scores, gathers and attaches in
 * random order, rows of one prompt at different lengths) against the full
 * forward pass, over several widths and head sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "gen/layers.h"
#include "gen/model.h"
#include "semid/semid.h"

static float *randn(semid_rng *r, int64_t n, float std) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(semid_rng_normal(r) * std);
    return x;
}

/* ---- packed linear layers ---- */

static void check_linear(int64_t N, int64_t C, int64_t OC, uint64_t seed) {
    semid_rng r;
    semid_rng_seed(&r, seed);
    int64_t ldi = C + 3, ldo = OC + 5;
    float *inp = randn(&r, N * ldi, 1.0f), *w = randn(&r, OC * C, 0.3f), *bias = randn(&r, OC, 0.5f);
    float *packed = malloc((size_t)semid_linear_packed_size(C, OC) * sizeof(float));
    float *set = randn(&r, N * ldo, 1.0f), *nob = randn(&r, N * ldo, 1.0f), *gelu = randn(&r, N * ldo, 1.0f);
    float *base = randn(&r, N * ldo, 1.0f), *add = malloc((size_t)(N * ldo) * sizeof(float));
    float *part = randn(&r, N * ldo, 1.0f), *ref_gelu = malloc((size_t)OC * sizeof(float));
    memcpy(add, base, (size_t)(N * ldo) * sizeof(float));
    semid_linear_pack(packed, w, C, OC);
    semid_linear_packed_forward(set, ldo, inp, ldi, packed, bias, N, C, OC, SEMID_LINEAR_SET);
    semid_linear_packed_forward(nob, ldo, inp, ldi, packed, NULL, N, C, OC, SEMID_LINEAR_SET);
    semid_linear_packed_forward(gelu, ldo, inp, ldi, packed, bias, N, C, OC, SEMID_LINEAR_GELU);
    semid_linear_packed_forward(add, ldo, inp, ldi, packed, bias, N, C, OC, SEMID_LINEAR_ADD);
    /* rows 3.. alone (another tiling of the same rows) */
    int64_t r0 = N > 3 ? 3 : 0;
    semid_linear_packed_forward(part + r0 * ldo, ldo, inp + r0 * ldi, ldi, packed, bias, N - r0, C, OC,
                                SEMID_LINEAR_SET);
    double max_err = 0;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t o = 0; o < OC; o++) {
            double acc = 0, mag = 0;
            for (int64_t k = 0; k < C; k++) {
                acc += (double)inp[i * ldi + k] * w[o * C + k];
                mag += fabs((double)inp[i * ldi + k] * w[o * C + k]);
            }
            double err = fabs(set[i * ldo + o] - (acc + bias[o])) / (mag + fabs(bias[o]) + 1.0);
            double err2 = fabs(nob[i * ldo + o] - acc) / (mag + 1.0);
            if (err > max_err) max_err = err;
            if (err2 > max_err) max_err = err2;
            /* the epilogues are the training kernels' operations on the same sum; the
             * fallback (semid_sgemm) adds a residual's bias first */
            float t = set[i * ldo + o];
#if defined(__AVX512F__) && defined(__FMA__)
            assert_true(add[i * ldo + o] == base[i * ldo + o] + t);
            if (i >= r0) assert_memory_equal(&part[i * ldo + o], &set[i * ldo + o], sizeof(float));
#else
            double b = base[i * ldo + o];
            assert_true(fabs(add[i * ldo + o] - (b + t)) <= 1e-5 * (fabs(b) + mag + 1.0));
            if (i >= r0) assert_true(fabs(part[i * ldo + o] - t) <= 1e-5 * (mag + 1.0));
#endif
        }
        semid_gelu_forward(ref_gelu, set + i * ldo, OC);
        assert_memory_equal(ref_gelu, gelu + i * ldo, (size_t)OC * sizeof(float));
        /* nothing written past OC */
        for (int64_t o = OC; o < ldo && i + 1 < N; o++) assert_true(add[i * ldo + o] == base[i * ldo + o]);
    }
    fprintf(stderr, "linear N=%lld C=%lld OC=%lld: max scaled error %.2g\n", (long long)N, (long long)C, (long long)OC,
            max_err);
    assert_true(max_err < 1e-6);
    free(inp);
    free(w);
    free(bias);
    free(packed);
    free(set);
    free(nob);
    free(gelu);
    free(base);
    free(add);
    free(part);
    free(ref_gelu);
}

static void test_linear_packed(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{1, 8, 6},   {13, 16, 32}, {37, 20, 45},  {64, 128, 384},
                                        {9, 512, 128}, {100, 33, 70}, {8, 1, 1}, {17, 64, 544}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        check_linear(shapes[s][0], shapes[s][1], shapes[s][2], 100 + s);
}

/* A product big enough to be split over threads gives the same bits on any team. */
static void test_linear_packed_threads(void **state) {
    (void)state;
    enum { N = 300, C = 128, OC = 520 };
    semid_rng r;
    semid_rng_seed(&r, 9);
    float *inp = randn(&r, N * C, 1.0f), *w = randn(&r, OC * C, 0.3f), *bias = randn(&r, OC, 0.5f);
    float *packed = malloc((size_t)semid_linear_packed_size(C, OC) * sizeof(float));
    float *a = malloc((size_t)N * OC * sizeof(float)), *b = malloc((size_t)N * OC * sizeof(float));
    semid_linear_pack(packed, w, C, OC);
    int prev = semid_get_threads();
    semid_set_threads(1);
    semid_linear_packed_forward(a, OC, inp, C, packed, bias, N, C, OC, SEMID_LINEAR_GELU);
    semid_set_threads(2);
    semid_linear_packed_forward(b, OC, inp, C, packed, bias, N, C, OC, SEMID_LINEAR_GELU);
    semid_set_threads(prev);
    assert_memory_equal(a, b, (size_t)N * OC * sizeof(float));
    free(inp);
    free(w);
    free(bias);
    free(packed);
    free(a);
    free(b);
}

static void test_logsumexp(void **state) {
    (void)state;
    static const int64_t ns[] = {1, 2, 15, 16, 17, 31, 100, 522};
    semid_rng r;
    semid_rng_seed(&r, 5);
    for (size_t s = 0; s < sizeof ns / sizeof *ns; s++) {
        int64_t n = ns[s];
        float *x = randn(&r, n, 6.0f);
        if (n > 3) x[n / 2] = -120.0f; /* far below the rest */
        double mx = x[0], sum = 0;
        for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
        for (int64_t i = 0; i < n; i++) sum += exp((double)x[i] - mx);
        double ref = mx + log(sum), got = semid_logsumexp(x, n);
        assert_true(fabs(got - ref) <= 1e-6 * (1.0 + fabs(ref)));
        free(x);
    }
}

/* ---- the key/value cache against the full forward ---- */

enum { ROWS = 7, SLOTS = 3, SMAX = 3 };

typedef struct shadow {
    int32_t seq[64]; /* the row's tokens: its prompt, then its suffix */
    int32_t len, slot;
} shadow;

/* Logits after seq[0..len) by the full forward pass, into out (V). */
static void forward_last(semid_gpt *m, const int32_t *seq, int32_t len, float *out) {
    int32_t V = semid_gpt_get_config(m)->vocab_size;
    assert_int_equal(semid_gpt_forward(m, seq, NULL, 1, len, NULL), SEMID_OK);
    memcpy(out, semid_gpt_logits(m) + (int64_t)(len - 1) * V, (size_t)V * sizeof(float));
}

static double compare_rows(semid_gpt *m, const shadow *rows, int32_t n, const int32_t *tok, const float *logits,
                           int32_t lo, int32_t hi) {
    int32_t V = semid_gpt_get_config(m)->vocab_size;
    float *ref = malloc((size_t)V * sizeof(float));
    double max_diff = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t seq[64];
        memcpy(seq, rows[i].seq, (size_t)rows[i].len * sizeof(int32_t));
        seq[rows[i].len] = tok[i];
        forward_last(m, seq, rows[i].len + 1, ref);
        for (int32_t v = lo; v < hi; v++) {
            double d = fabs(logits[(int64_t)i * (hi - lo) + v - lo] - ref[v]);
            if (d > max_diff) max_diff = d;
        }
    }
    free(ref);
    return max_diff;
}

static void check_cache(const semid_gpt_config *cfg, uint64_t seed) {
    semid_gpt *m;
    assert_int_equal(semid_gpt_create(cfg, seed, &m), SEMID_OK);
    int64_t np;
    float *p = semid_gpt_params(m, &np);
    semid_rng r;
    semid_rng_seed(&r, seed + 1);
    for (int64_t i = 0; i < np; i++) p[i] += (float)(0.3 * semid_rng_normal(&r));
    int32_t V = cfg->vocab_size, Tm = cfg->max_seq_len;
    semid_gpt_cache *c;
    assert_int_equal(semid_gpt_cache_create(m, SLOTS, ROWS, SMAX, &c), SEMID_OK);
    int32_t prompt[SLOTS][64], plen[SLOTS];
    shadow rows[ROWS];
    float *logits = malloc((size_t)ROWS * V * sizeof(float)), *ref = malloc((size_t)V * sizeof(float));
    double max_diff = 0;
    /* all slots, in a mixed order and of different lengths */
    int32_t slots[SLOTS] = {2, 0, 1}, lens[SLOTS], ptok[3 * 64], at = 0;
    for (int s = 0; s < SLOTS; s++) {
        lens[s] = 1 + (int32_t)semid_rng_below(&r, (uint64_t)(Tm - SMAX - 1));
        for (int32_t t = 0; t < lens[s]; t++)
            ptok[at + t] = prompt[slots[s]][t] = (int32_t)semid_rng_below(&r, (uint64_t)V);
        plen[slots[s]] = lens[s];
        at += lens[s];
    }
    assert_int_equal(semid_gpt_cache_prefill(m, c, SLOTS, slots, ptok, lens, 0, V, logits), SEMID_OK);
    for (int s = 0; s < SLOTS; s++) {
        forward_last(m, prompt[slots[s]], plen[slots[s]], ref);
        for (int32_t v = 0; v < V; v++) {
            double d = fabs(logits[(int64_t)s * V + v] - ref[v]);
            if (d > max_diff) max_diff = d;
        }
    }
    for (int32_t i = 0; i < ROWS; i++) {
        rows[i].slot = i % 2; /* rows of one slot side by side and apart */
        if (i >= 4) rows[i].slot = 2;
        memcpy(rows[i].seq, prompt[rows[i].slot], (size_t)plen[rows[i].slot] * sizeof(int32_t));
        rows[i].len = plen[rows[i].slot];
        assert_int_equal(semid_gpt_cache_attach(c, i, rows[i].slot), SEMID_OK);
    }
    int32_t tok[ROWS], src[ROWS];
    for (int it = 0; it < 40; it++) {
        int action = (int)semid_rng_below(&r, 5);
        int32_t n = 1 + (int32_t)semid_rng_below(&r, ROWS);
        if (action == 0 || action == 1) { /* step rows 0..n-1 (a full row starts again first) */
            for (int32_t i = 0; i < n; i++) {
                if (rows[i].len - plen[rows[i].slot] == SMAX) {
                    assert_int_equal(semid_gpt_cache_attach(c, i, rows[i].slot), SEMID_OK);
                    rows[i].len = plen[rows[i].slot];
                }
                tok[i] = (int32_t)semid_rng_below(&r, (uint64_t)V);
            }
            int32_t lo = (int32_t)semid_rng_below(&r, (uint64_t)V);
            int32_t hi = lo + 1 + (int32_t)semid_rng_below(&r, (uint64_t)(V - lo));
            assert_int_equal(semid_gpt_cache_step(m, c, tok, n, lo, hi, logits), SEMID_OK);
            double d = compare_rows(m, rows, n, tok, logits, lo, hi);
            if (d > max_diff) max_diff = d;
            for (int32_t i = 0; i < n; i++) rows[i].seq[rows[i].len++] = tok[i];
        } else if (action == 2) { /* score: the rows keep nothing */
            for (int32_t i = 0; i < n; i++) tok[i] = (int32_t)semid_rng_below(&r, (uint64_t)V);
            assert_int_equal(semid_gpt_cache_score(m, c, tok, n, 0, V, logits), SEMID_OK);
            double d = compare_rows(m, rows, n, tok, logits, 0, V);
            if (d > max_diff) max_diff = d;
        } else if (action == 3) { /* gather, repeats allowed */
            shadow old[ROWS];
            memcpy(old, rows, sizeof rows);
            for (int32_t i = 0; i < n; i++) {
                src[i] = (int32_t)semid_rng_below(&r, ROWS);
                rows[i] = old[src[i]];
            }
            assert_int_equal(semid_gpt_cache_gather(c, src, n), SEMID_OK);
        } else { /* a new prompt in one slot; its rows start again */
            int32_t s = (int32_t)semid_rng_below(&r, SLOTS);
            int32_t len = 1 + (int32_t)semid_rng_below(&r, (uint64_t)(Tm - SMAX - 1));
            for (int32_t t = 0; t < len; t++) prompt[s][t] = (int32_t)semid_rng_below(&r, (uint64_t)V);
            plen[s] = len;
            assert_int_equal(semid_gpt_cache_prefill(m, c, 1, &s, prompt[s], &len, 0, V, logits), SEMID_OK);
            forward_last(m, prompt[s], len, ref);
            for (int32_t v = 0; v < V; v++) {
                double d = fabs(logits[v] - ref[v]);
                if (d > max_diff) max_diff = d;
            }
            for (int32_t i = 0; i < ROWS; i++)
                if (rows[i].slot == s) {
                    assert_int_equal(semid_gpt_cache_attach(c, i, s), SEMID_OK);
                    memcpy(rows[i].seq, prompt[s], (size_t)len * sizeof(int32_t));
                    rows[i].len = len;
                }
        }
        for (int32_t i = 0; i < ROWS; i++) assert_int_equal(semid_gpt_cache_length(c, i), rows[i].len);
    }
    fprintf(stderr, "cache C=%d heads=%d layers=%d: max |logit - forward| %.2g\n", cfg->d_model, cfg->n_head,
            cfg->n_layer, max_diff);
    assert_true(max_diff < 1e-4);
    semid_gpt_cache_free(c);
    free(logits);
    free(ref);
    semid_gpt_free(m);
}

static void test_cache_random_against_forward(void **state) {
    (void)state;
    /* head sizes 4, 24, 12, 64, 20: below, between and above whole vectors of 16 */
    static const semid_gpt_config cfgs[] = {
        {.vocab_size = 23, .max_seq_len = 12, .n_layer = 2, .n_head = 2, .d_model = 8},
        {.vocab_size = 40, .max_seq_len = 20, .n_layer = 1, .n_head = 2, .d_model = 48},
        {.vocab_size = 31, .max_seq_len = 9, .n_layer = 2, .n_head = 3, .d_model = 36},
        {.vocab_size = 50, .max_seq_len = 40, .n_layer = 2, .n_head = 1, .d_model = 64},
        {.vocab_size = 29, .max_seq_len = 33, .n_layer = 3, .n_head = 2, .d_model = 40},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) check_cache(&cfgs[i], 40 + i);
}

/* Scores leave the rows as they were; a step needs room in the suffix, a
 * score only in the context. */
static void test_cache_score_keeps_rows(void **state) {
    (void)state;
    semid_gpt_config cfg = {.vocab_size = 23, .max_seq_len = 6, .n_layer = 2, .n_head = 2, .d_model = 8};
    semid_gpt *m;
    assert_int_equal(semid_gpt_create(&cfg, 3, &m), SEMID_OK);
    semid_gpt_cache *c;
    assert_int_equal(semid_gpt_cache_create(m, 1, 2, 1, &c), SEMID_OK);
    int32_t slot = 0, len = 4, prompt[4] = {1, 2, 3, 4}, tok[2] = {5, 6};
    float a[2 * 23], b[2 * 23];
    assert_int_equal(semid_gpt_cache_prefill(m, c, 1, &slot, prompt, &len, 0, 23, a), SEMID_OK);
    assert_int_equal(semid_gpt_cache_attach(c, 0, 0), SEMID_OK);
    assert_int_equal(semid_gpt_cache_attach(c, 1, 0), SEMID_OK);
    assert_int_equal(semid_gpt_cache_score(m, c, tok, 2, 0, 23, a), SEMID_OK);
    assert_int_equal(semid_gpt_cache_length(c, 0), 4);
    assert_int_equal(semid_gpt_cache_step(m, c, tok, 2, 0, 23, b), SEMID_OK);
    assert_memory_equal(a, b, sizeof a); /* the same computation */
    assert_int_equal(semid_gpt_cache_length(c, 0), 5);
    /* the suffix is full: a step is refused, a score still fits the context (5 < 6) */
    assert_int_equal(semid_gpt_cache_step(m, c, tok, 2, 0, 23, b), SEMID_EINVAL);
    assert_int_equal(semid_gpt_cache_score(m, c, tok, 2, 0, 23, b), SEMID_OK);
    assert_int_equal(semid_gpt_cache_score(m, c, tok, 3, 0, 23, b), SEMID_EINVAL);
    semid_gpt_cache_free(c);
    semid_gpt_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_packed),
        cmocka_unit_test(test_linear_packed_threads),
        cmocka_unit_test(test_logsumexp),
        cmocka_unit_test(test_cache_random_against_forward),
        cmocka_unit_test(test_cache_score_keeps_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
