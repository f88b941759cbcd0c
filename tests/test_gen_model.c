/* The whole transformer: gradients against central finite differences on a
 * tiny config, decoding with the key/value cache against the full forward,
 * checkpoints (round trip, truncated and inconsistent files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/rng.h"
#include "gen/model.h"
#include "linalg/adamw.h"
#include "linalg/gemm.h"
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

static const semid_gpt_config tiny = {.vocab_size = 23, .max_seq_len = 9, .n_layer = 2, .n_head = 2, .d_model = 8};

/* A model whose every parameter (biases and LayerNorm gains included) is
 * random and large enough that each path carries a visible gradient. */
static semid_gpt *random_model(const semid_gpt_config *cfg, uint64_t seed) {
    semid_gpt *m;
    assert_int_equal(semid_gpt_create(cfg, seed, &m), SEMID_OK);
    int64_t n;
    float *p = semid_gpt_params(m, &n);
    semid_rng r;
    semid_rng_seed(&r, seed + 1);
    for (int64_t i = 0; i < n; i++) p[i] += (float)(0.3 * semid_rng_normal(&r));
    return m;
}

static void random_tokens(int32_t *x, int64_t n, int32_t V, uint64_t seed) {
    semid_rng r;
    semid_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) x[i] = (int32_t)semid_rng_below(&r, (uint64_t)V);
}

static void test_rejects_bad_config(void **state) {
    (void)state;
    semid_gpt *m;
    semid_gpt_config c = tiny;
    c.n_head = 3;
    assert_int_equal(semid_gpt_create(&c, 1, &m), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "n_head"));
    c = tiny;
    c.vocab_size = 0;
    assert_int_equal(semid_gpt_create(&c, 1, &m), SEMID_EINVAL);
}

static void test_init_deterministic_and_mask(void **state) {
    (void)state;
    semid_gpt *a, *b;
    assert_int_equal(semid_gpt_create(&tiny, 7, &a), SEMID_OK);
    assert_int_equal(semid_gpt_create(&tiny, 7, &b), SEMID_OK);
    int64_t n;
    float *pa = semid_gpt_params(a, &n);
    assert_int_equal(n, semid_gpt_num_params(a));
    int64_t V = tiny.vocab_size, Tm = tiny.max_seq_len, L = tiny.n_layer, C = tiny.d_model;
    assert_int_equal(n, V * C + Tm * C + L * (2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + 4 * C * C + 4 * C +
                                              4 * C * C + C) + 2 * C);
    assert_memory_equal(pa, semid_gpt_params(b, NULL), (size_t)n * sizeof(float));
    /* wte ~ N(0, 0.02); the mask decays it but not the first LayerNorm gain (ones). */
    double sq = 0;
    for (int64_t i = 0; i < V * C; i++) sq += (double)pa[i] * pa[i];
    double sd = sqrt(sq / (double)(V * C));
    assert_true(sd > 0.012 && sd < 0.028);
    const uint8_t *mask = semid_gpt_decay_mask(a);
    assert_int_equal(mask[0], 1);
    assert_int_equal(mask[V * C + Tm * C], 0);
    assert_float_equal(pa[V * C + Tm * C], 1.0f, 0);
    semid_gpt_free(a);
    semid_gpt_free(b);
}

/* Every parameter's gradient (sampled) against central differences of the
 * loss, computed in float32 with a step of 1e-2 on a loss of order 1. */
/* Backward against central finite differences on every 7th parameter and
 * a random third of the rest (covers each tensor); returns the gradient. */
static float *check_finite_differences(semid_gpt *m, const int32_t *in, const int32_t *tg, int B, int T) {
    float loss;
    assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &loss), SEMID_OK);
    semid_gpt_zero_grad(m);
    assert_int_equal(semid_gpt_backward(m), SEMID_OK);
    int64_t n;
    float *p = semid_gpt_params(m, &n);
    float *g = semid_gpt_grads(m, NULL);
    float *grad = malloc((size_t)n * sizeof(float));
    memcpy(grad, g, (size_t)n * sizeof(float));
    semid_rng r;
    semid_rng_seed(&r, 5);
    const float eps = 1e-2f;
    double max_err = 0;
    int checked = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i % 7 != 0 && semid_rng_below(&r, 3) != 0) continue;
        float saved = p[i];
        float lp, lm;
        p[i] = saved + eps;
        assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &lp), SEMID_OK);
        p[i] = saved - eps;
        assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &lm), SEMID_OK);
        p[i] = saved;
        double fd = ((double)lp - lm) / (2.0 * eps);
        double err = fabs(fd - grad[i]) / (fabs(fd) + fabs(grad[i]) + 1e-2);
        if (err > max_err) max_err = err;
        if (err > 2e-2) fprintf(stderr, "param %lld: fd %.6g backward %.6g\n", (long long)i, fd, grad[i]);
        checked++;
    }
    fprintf(stderr, "checked %d parameters, max scaled error %.3g\n", checked, max_err);
    assert_true(checked > n / 3);
    assert_true(max_err < 2e-2);
    return grad;
}

static void test_gradients_match_finite_differences(void **state) {
    (void)state;
    enum { B = 2, T = 7 };
    semid_gpt *m = random_model(&tiny, 11);
    int32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, tiny.vocab_size, 3);
    random_tokens(tg, B * T, tiny.vocab_size, 4);
    tg[0] = tg[3] = tg[9] = -1; /* ignored positions */
    float *grad = check_finite_differences(m, in, tg, B, T);
    /* backward accumulates */
    float loss;
    int64_t n;
    semid_gpt_params(m, &n);
    float *g = semid_gpt_grads(m, NULL);
    assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &loss), SEMID_OK);
    assert_int_equal(semid_gpt_backward(m), SEMID_OK);
    for (int64_t i = 0; i < n; i += 13) assert_float_equal(g[i], 2 * grad[i], 1e-5 + 1e-4 * fabsf(grad[i]));
    free(grad);
    semid_gpt_free(m);
}

/* With an output range the loss is the cross-entropy of the softmax over
 * that range alone (checked against the full logits), and its gradient
 * passes finite differences. */
static void test_output_range(void **state) {
    (void)state;
    enum { B = 2, T = 7, LO = 15, HI = 23 };
    semid_gpt *m = random_model(&tiny, 12);
    int32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, tiny.vocab_size, 6);
    random_tokens(tg, B * T, HI - LO, 7);
    for (int i = 0; i < B * T; i++) tg[i] += LO;
    tg[2] = tg[8] = -1;
    assert_int_equal(semid_gpt_set_output_range(m, 0, 24), SEMID_EINVAL);
    assert_int_equal(semid_gpt_set_output_range(m, LO, HI), SEMID_OK);
    float loss;
    assert_int_equal(semid_gpt_forward(m, in, NULL, B, T, &loss), SEMID_OK);
    const float *all = semid_gpt_logits(m); /* (B, T, V): every position */
    double expect = 0;
    int count = 0;
    for (int i = 0; i < B * T; i++) {
        if (tg[i] < 0) continue;
        const float *z = all + (int64_t)i * tiny.vocab_size;
        double mx = z[LO], sum = 0;
        for (int v = LO; v < HI; v++) mx = z[v] > mx ? z[v] : mx;
        for (int v = LO; v < HI; v++) sum += exp(z[v] - mx);
        expect += -(z[tg[i]] - mx - log(sum));
        count++;
    }
    assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &loss), SEMID_OK);
    assert_float_equal(loss, expect / count, 1e-5);
    int64_t rows;
    semid_gpt_logit_positions(m, &rows);
    assert_int_equal(rows, count);
    int32_t outside[B * T];
    memcpy(outside, tg, sizeof outside);
    outside[0] = 3; /* a text token: not a valid target in this range */
    assert_int_equal(semid_gpt_forward(m, in, outside, B, T, &loss), SEMID_EINVAL);
    free(check_finite_differences(m, in, tg, B, T));
    semid_gpt_free(m);
}

/* Large enough that every loop runs in parallel: the gradients equal those
 * of one thread (the serial path is the one checked by finite differences). */
static void test_threads_agree(void **state) {
    (void)state;
    enum { B = 8, T = 32 };
    semid_gpt_config cfg = {.vocab_size = 50, .max_seq_len = T, .n_layer = 1, .n_head = 4, .d_model = 128};
    semid_gpt *m = random_model(&cfg, 5);
    int32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, cfg.vocab_size, 8);
    random_tokens(tg, B * T, cfg.vocab_size, 9);
    for (int i = 0; i < B * T; i += 3) tg[i] = -1;
    int64_t n;
    float *g = semid_gpt_grads(m, &n);
    float *serial = malloc((size_t)n * sizeof(float));
    float loss1, loss2;
    int saved = semid_get_threads();
    for (int pass = 0; pass < 2; pass++) {
        semid_set_threads(pass == 0 ? 1 : 2);
        assert_int_equal(semid_gpt_forward(m, in, tg, B, T, pass == 0 ? &loss1 : &loss2), SEMID_OK);
        semid_gpt_zero_grad(m);
        assert_int_equal(semid_gpt_backward(m), SEMID_OK);
        if (pass == 0) memcpy(serial, g, (size_t)n * sizeof(float));
    }
    semid_set_threads(saved);
    assert_float_equal(loss1, loss2, 1e-6);
    for (int64_t i = 0; i < n; i++) assert_float_equal(g[i], serial[i], 1e-6 + 1e-4 * fabsf(serial[i]));
    free(serial);
    semid_gpt_free(m);
}

/* Sequences packed into shared rows (block-diagonal attention, positions
 * from each sequence's start) give the loss and gradients of the same
 * sequences padded to a row each. */
static void test_packed_matches_padded(void **state) {
    (void)state;
    enum { T = 8, NS = 5 };
    semid_gpt *m = random_model(&tiny, 4);
    static const int32_t len[NS] = {8, 5, 3, 4, 2};
    /* packed: row 0 = seq 0; row 1 = seqs 1, 2; row 2 = seqs 3, 4 and 2 positions of padding */
    static const int32_t row_of[NS] = {0, 1, 1, 2, 2}, at[NS] = {0, 0, 5, 0, 4};
    int32_t tok[NS][T], tgt[NS][T];
    for (int k = 0; k < NS; k++) {
        random_tokens(tok[k], T, tiny.vocab_size, 20 + (uint64_t)k);
        random_tokens(tgt[k], T, tiny.vocab_size, 40 + (uint64_t)k);
        for (int t = 0; t < T; t++)
            if (t >= len[k] || (t + k) % 3 == 0) tgt[k][t] = -1;
    }
    int32_t pin[NS * T], ptg[NS * T], qin[3 * T], qtg[3 * T], qpos[3 * T];
    for (int k = 0; k < NS; k++)
        for (int t = 0; t < T; t++) {
            pin[k * T + t] = t < len[k] ? tok[k][t] : 0;
            ptg[k * T + t] = tgt[k][t];
        }
    for (int j = 0; j < 3 * T; j++) {
        qin[j] = 0;
        qtg[j] = -1;
        qpos[j] = -1;
    }
    for (int k = 0; k < NS; k++)
        for (int t = 0; t < len[k]; t++) {
            int j = row_of[k] * T + at[k] + t;
            qin[j] = tok[k][t];
            qtg[j] = tgt[k][t];
            qpos[j] = t;
        }
    qpos[2 * T + 6] = 0; /* the padding */
    qpos[2 * T + 7] = 1;
    int64_t n;
    float *g = semid_gpt_grads(m, &n);
    float *padded = malloc((size_t)n * sizeof(float)), loss_padded, loss_packed;
    assert_int_equal(semid_gpt_forward(m, pin, ptg, NS, T, &loss_padded), SEMID_OK);
    semid_gpt_zero_grad(m);
    assert_int_equal(semid_gpt_backward(m), SEMID_OK);
    memcpy(padded, g, (size_t)n * sizeof(float));
    assert_int_equal(semid_gpt_forward_packed(m, qin, qtg, qpos, 3, T, &loss_packed), SEMID_OK);
    semid_gpt_zero_grad(m);
    assert_int_equal(semid_gpt_backward(m), SEMID_OK);
    assert_float_equal(loss_packed, loss_padded, 1e-5);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)g[i] - padded[i]) / (1e-4 + fabs((double)padded[i]));
        worst = err > worst ? err : worst;
    }
    assert_true(worst < 1e-3);
    /* positions must count up from 0 within a row */
    qpos[T + 5] = 1;
    assert_int_equal(semid_gpt_forward_packed(m, qin, qtg, qpos, 3, T, &loss_packed), SEMID_EINVAL);
    qpos[T + 5] = 0;
    qpos[T] = 1;
    assert_int_equal(semid_gpt_forward_packed(m, qin, qtg, qpos, 3, T, &loss_packed), SEMID_EINVAL);
    free(padded);
    semid_gpt_free(m);
}

/* Trains a model on one fixed batch (each target a function of its input
 * token) for `steps` AdamW steps; losses[s] is step s's loss. */
static void train_fixed_batch(semid_gemm_kind kind, int steps, float *losses) {
    enum { B = 8, T = 16 };
    semid_gpt_config cfg = {.vocab_size = 40, .max_seq_len = T, .n_layer = 2, .n_head = 4, .d_model = 64};
    semid_gpt *m;
    assert_int_equal(semid_gpt_create(&cfg, 11, &m), SEMID_OK);
    semid_gpt_set_gemm(m, kind);
    int32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, cfg.vocab_size, 12);
    for (int i = 0; i < B * T; i++) tg[i] = (in[i] * 7 + 3) % cfg.vocab_size;
    int64_t n;
    float *params = semid_gpt_params(m, &n);
    semid_adamw_config ac = semid_adamw_defaults();
    ac.lr = 3e-3f;
    semid_adamw opt;
    assert_int_equal(semid_adamw_init(&opt, &ac, n), SEMID_OK);
    for (int s = 0; s < steps; s++) {
        assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &losses[s]), SEMID_OK);
        semid_gpt_zero_grad(m);
        assert_int_equal(semid_gpt_backward(m), SEMID_OK);
        semid_adamw_step(&opt, params, semid_gpt_grads(m, NULL), semid_gpt_decay_mask(m));
    }
    semid_adamw_free(&opt);
    semid_gpt_free(m);
}

/* bf16 products (with fp32 sums, master weights and optimizer) train as
 * fp32 does: the loss falls as far, step for step within a few percent. */
static void test_bf16_training(void **state) {
    (void)state;
    enum { STEPS = 80 };
    float f32[STEPS], bf[STEPS];
    train_fixed_batch(SEMID_GEMM_FP32, STEPS, f32);
    train_fixed_batch(SEMID_GEMM_BF16, STEPS, bf);
    print_message("loss fp32 %.4f -> %.4f, bf16 %.4f -> %.4f (bf16 %s)\n", f32[0], f32[STEPS - 1], bf[0], bf[STEPS - 1],
                  semid_gemm_has_bf16() ? "native" : "run in fp32");
    assert_true(bf[STEPS - 1] < 0.2f * bf[0]);
    assert_float_equal(bf[0], f32[0], 0.01 * f32[0]);
    for (int s = 0; s < STEPS; s++) assert_float_equal(bf[s], f32[s], 0.05 * f32[0]);
    if (semid_gemm_has_bf16()) assert_true(bf[0] != f32[0]); /* it did run in bf16 */
}

static void test_forward_validates_and_logits_rows(void **state) {
    (void)state;
    enum { B = 2, T = 5 };
    semid_gpt *m = random_model(&tiny, 2);
    int32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, tiny.vocab_size, 1);
    for (int i = 0; i < B * T; i++) tg[i] = -1;
    float loss = -1;
    /* no targets at all: loss 0, backward adds nothing */
    assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &loss), SEMID_OK);
    assert_float_equal(loss, 0, 0);
    semid_gpt_zero_grad(m);
    assert_int_equal(semid_gpt_backward(m), SEMID_OK);
    int64_t n;
    float *g = semid_gpt_grads(m, &n);
    for (int64_t i = 0; i < n; i++) assert_float_equal(g[i], 0, 0);
    /* full logits without targets; packed rows with targets agree with them */
    assert_int_equal(semid_gpt_forward(m, in, NULL, B, T, NULL), SEMID_OK);
    int64_t rows;
    semid_gpt_logit_positions(m, &rows);
    assert_int_equal(rows, B * T);
    int64_t V = tiny.vocab_size;
    float *full = malloc((size_t)(B * T * V) * sizeof(float));
    memcpy(full, semid_gpt_logits(m), (size_t)(B * T * V) * sizeof(float));
    tg[3] = 4;
    tg[8] = 0;
    assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &loss), SEMID_OK);
    const int64_t *pos = semid_gpt_logit_positions(m, &rows);
    assert_int_equal(rows, 2);
    assert_int_equal(pos[0], 3);
    assert_int_equal(pos[1], 8);
    const float *lg = semid_gpt_logits(m);
    for (int64_t v = 0; v < V; v++) {
        assert_float_equal(lg[v], full[3 * V + v], 1e-5);
        assert_float_equal(lg[V + v], full[8 * V + v], 1e-5);
    }
    /* the loss is the mean cross-entropy of those two rows */
    double want = 0;
    for (int k = 0; k < 2; k++) {
        const float *row = full + (k == 0 ? 3 : 8) * V;
        double mx = row[0], s = 0;
        for (int64_t v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
        for (int64_t v = 0; v < V; v++) s += exp(row[v] - mx);
        want += mx + log(s) - row[k == 0 ? 4 : 0];
    }
    assert_float_equal(loss, want / 2, 1e-5);
    free(full);
    /* bad inputs */
    in[2] = (int32_t)V;
    assert_int_equal(semid_gpt_forward(m, in, NULL, B, T, NULL), SEMID_EINVAL);
    in[2] = 0;
    tg[1] = -2;
    assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &loss), SEMID_EINVAL);
    assert_int_equal(semid_gpt_forward(m, in, NULL, 1, tiny.max_seq_len + 1, NULL), SEMID_EINVAL);
    /* room made ahead of time; a length past the context is refused there too */
    assert_int_equal(semid_gpt_reserve(m, B, tiny.max_seq_len + 1), SEMID_EINVAL);
    assert_int_equal(semid_gpt_reserve(m, 2 * B, tiny.max_seq_len), SEMID_OK);
    tg[1] = 3;
    assert_int_equal(semid_gpt_forward(m, in, tg, B, T, &loss), SEMID_OK);
    assert_int_equal(semid_gpt_backward(m), SEMID_OK);
    semid_gpt_free(m);
}

/* Prefill prompts of different lengths in one batch, attach rows to them,
 * then step token by token (with a gather in between): the logits equal the
 * full forward's. Rows 0 and 1 share one prompt, as beams do. */
static void test_cache_matches_forward(void **state) {
    (void)state;
    enum { R = 3, T = 9, SUF = 3 };
    semid_gpt *m = random_model(&tiny, 21);
    int32_t V = tiny.vocab_size;
    int32_t seq[R][T];
    for (int r = 0; r < R; r++) random_tokens(seq[r], T, V, 100 + r);
    memcpy(seq[1], seq[0], 4 * sizeof(int32_t)); /* row 1 continues row 0's 4-token prompt its own way */
    float *full = malloc((size_t)(R * T * V) * sizeof(float));
    assert_int_equal(semid_gpt_forward(m, &seq[0][0], NULL, R, T, NULL), SEMID_OK);
    memcpy(full, semid_gpt_logits(m), (size_t)(R * T * V) * sizeof(float));

    semid_gpt_cache *c;
    assert_int_equal(semid_gpt_cache_create(m, 2, R, SUF, &c), SEMID_OK);
    float logits[R * 23];
    /* slot 1 = the first 4 tokens of rows 0 and 1, slot 0 = row 2's first 5 */
    int32_t slots[2] = {1, 0}, lens[2] = {4, 5}, ptok[9];
    memcpy(ptok, seq[0], 4 * sizeof(int32_t));
    memcpy(ptok + 4, seq[2], 5 * sizeof(int32_t));
    assert_int_equal(semid_gpt_cache_prefill(m, c, 2, slots, ptok, lens, 0, V, logits), SEMID_OK);
    for (int64_t v = 0; v < V; v++) {
        assert_float_equal(logits[v], full[(0 * T + 3) * V + v], 1e-4);
        assert_float_equal(logits[V + v], full[(2 * T + 4) * V + v], 1e-4);
    }
    int32_t zero = 0;
    assert_int_equal(semid_gpt_cache_step(m, c, &zero, 1, 0, V, logits), SEMID_EINVAL); /* row 0 unattached */
    int prompt[R] = {4, 4, 5};
    assert_int_equal(semid_gpt_cache_attach(c, 0, 1), SEMID_OK);
    assert_int_equal(semid_gpt_cache_attach(c, 1, 1), SEMID_OK);
    assert_int_equal(semid_gpt_cache_attach(c, 2, 0), SEMID_OK);
    assert_int_equal(semid_gpt_cache_length(c, 2), 5);
    double max_diff = 0;
    for (int s = 0; s < 2; s++) {
        int32_t tok[R];
        for (int r = 0; r < R; r++) tok[r] = seq[r][prompt[r] + s];
        assert_int_equal(semid_gpt_cache_step(m, c, tok, R, 0, V, logits), SEMID_OK);
        for (int r = 0; r < R; r++)
            for (int64_t v = 0; v < V; v++) {
                double d = fabs(logits[r * V + v] - full[(r * T + prompt[r] + s) * V + v]);
                if (d > max_diff) max_diff = d;
            }
    }
    assert_true(max_diff < 1e-4);
    assert_int_equal(semid_gpt_cache_length(c, 0), 6);
    /* gather: row 0 <- row 2, row 1 <- row 0, row 2 <- row 2 (a permutation with a duplicate) */
    int32_t src[R] = {2, 0, 2};
    assert_int_equal(semid_gpt_cache_gather(c, src, R), SEMID_OK);
    assert_int_equal(semid_gpt_cache_length(c, 0), 5 + 2);
    assert_int_equal(semid_gpt_cache_length(c, 1), 4 + 2);
    int32_t tok2[R] = {seq[2][7], seq[0][6], seq[2][7]};
    int old_row[R] = {2, 0, 2}, next[R] = {7, 6, 7};
    float part[R * 5];
    assert_int_equal(semid_gpt_cache_step(m, c, tok2, R, 10, 15, part), SEMID_OK);
    for (int r = 0; r < R; r++)
        for (int64_t v = 0; v < 5; v++)
            assert_float_equal(part[r * 5 + v], full[(old_row[r] * T + next[r]) * V + 10 + v], 1e-4);
    /* a full suffix refuses more tokens; bad prompts, slots and tokens are refused */
    assert_int_equal(semid_gpt_cache_step(m, c, tok2, R, 0, V, logits), SEMID_EINVAL);
    int32_t too_long = T + 1, two[2] = {0, 0}, lens2[2] = {1, 1}, slot2 = 2, bad = V;
    assert_int_equal(semid_gpt_cache_prefill(m, c, 1, &zero, ptok, &too_long, 0, V, logits), SEMID_EINVAL);
    assert_int_equal(semid_gpt_cache_prefill(m, c, 2, two, ptok, lens2, 0, V, logits), SEMID_EINVAL);
    assert_int_equal(semid_gpt_cache_prefill(m, c, 1, &slot2, ptok, lens2, 0, V, logits), SEMID_EINVAL);
    assert_int_equal(semid_gpt_cache_prefill(m, c, 1, &zero, &bad, lens2, 0, V, logits), SEMID_EINVAL);
    assert_int_equal(semid_gpt_cache_attach(c, 3, 0), SEMID_EINVAL);
    assert_int_equal(semid_gpt_cache_attach(c, 0, 2), SEMID_EINVAL);
    semid_gpt_cache_free(c);
    free(full);
    semid_gpt_free(m);
}

static void test_checkpoint_roundtrip(void **state) {
    (void)state;
    semid_gpt *m = random_model(&tiny, 31);
    char *path = semid_path_join(tmpdir, "model.safetensors");
    assert_int_equal(semid_gpt_save(m, path, "{\"step\": 12, \"vocab\": \"v.txt\"}"), SEMID_OK);
    semid_gpt *back;
    char *extra;
    assert_int_equal(semid_gpt_load(path, &back, &extra), SEMID_OK);
    assert_string_equal(extra, "{\"step\": 12, \"vocab\": \"v.txt\"}");
    free(extra);
    assert_memory_equal(semid_gpt_get_config(back), &tiny, sizeof tiny);
    int64_t n, n2;
    float *p = semid_gpt_params(m, &n), *p2 = semid_gpt_params(back, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(p, p2, (size_t)n * sizeof(float));
    assert_memory_equal(semid_gpt_decay_mask(m), semid_gpt_decay_mask(back), (size_t)n);
    /* NULL extra: saved without, returned as NULL */
    assert_int_equal(semid_gpt_save(back, path, NULL), SEMID_OK);
    semid_gpt_free(back);
    assert_int_equal(semid_gpt_load(path, &back, &extra), SEMID_OK);
    assert_null(extra);
    semid_gpt_free(back);

    /* truncated: every shorter prefix is refused with the file named, as
     * corrupt once its checksum is there to say so, and, without the
     * checksum check, as truncated */
    char *data;
    size_t len;
    assert_int_equal(semid_read_file(path, &data, &len), SEMID_OK);
    char *cut = semid_path_join(tmpdir, "cut.safetensors");
    size_t cuts[] = {0, 5, 8, 40, len / 2, len - 1};
    for (int verify = 1; verify >= 0; verify--) {
        if (!verify) test_verify_off();
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            assert_int_equal(semid_write_file_atomic(cut, data, cuts[i]), SEMID_OK);
            assert_int_equal(semid_gpt_load(cut, &back, &extra), SEMID_EFORMAT);
            assert_null(back);
            assert_non_null(strstr(semid_last_error(), "cut.safetensors"));
            if (verify && cuts[i] >= len / 2) assert_non_null(strstr(semid_last_error(), "is corrupt"));
            else assert_non_null(strstr(semid_last_error(), "truncated"));
        }
    }
    test_verify_on();
    free(data);
    free(cut);
    free(path);
    semid_gpt_free(m);
}

/* A checkpoint whose tensors disagree with its config (here a vocabulary of
 * 24 rows in wte under a config that says 23) is refused, naming the tensor. */
static void test_checkpoint_wrong_vocab(void **state) {
    (void)state;
    semid_gpt_config big = tiny;
    big.vocab_size = 24;
    semid_gpt *m24;
    assert_int_equal(semid_gpt_create(&big, 1, &m24), SEMID_OK);
    char *path = semid_path_join(tmpdir, "v24.safetensors");
    assert_int_equal(semid_gpt_save(m24, path, NULL), SEMID_OK);
    /* rewrite the config in the header to claim 23 (same length, so offsets hold) */
    char *data;
    size_t len;
    assert_int_equal(semid_read_file(path, &data, &len), SEMID_OK);
    char *hit = strstr(data + 8, "vocab_size\\\":24");
    assert_non_null(hit);
    hit[strlen("vocab_size\\\":") + 1] = '3';
    assert_int_equal(semid_write_file_atomic(path, data, len), SEMID_OK);
    semid_gpt *back;
    assert_int_equal(semid_gpt_load(path, &back, NULL), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "v24.safetensors is corrupt"));
    /* the checks behind the checksum, for files without one */
    test_verify_off();
    assert_int_equal(semid_gpt_load(path, &back, NULL), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "v24.safetensors"));
    assert_non_null(strstr(semid_last_error(), "'wte'"));
    assert_non_null(strstr(semid_last_error(), "vocab_size 23"));
    /* a NaN in the weights is refused, naming the tensor (the last one, lnf.b, ends the file) */
    semid_gpt_free(m24);
    assert_int_equal(semid_gpt_create(&tiny, 1, &m24), SEMID_OK);
    assert_int_equal(semid_gpt_save(m24, path, NULL), SEMID_OK);
    free(data);
    assert_int_equal(semid_read_file(path, &data, &len), SEMID_OK);
    float nan = NAN;
    memcpy(data + len - sizeof nan, &nan, sizeof nan);
    assert_int_equal(semid_write_file_atomic(path, data, len), SEMID_OK);
    assert_int_equal(semid_gpt_load(path, &back, NULL), SEMID_ENUMERIC);
    assert_non_null(strstr(semid_last_error(), "'lnf.b'"));
    test_verify_on();
    /* a safetensors file that is not a semid checkpoint */
    char *other = semid_path_join(tmpdir, "other.safetensors");
    assert_int_equal(semid_write_file_atomic(other, "\x08\0\0\0\0\0\0\0{}      ", 16), SEMID_OK);
    assert_int_equal(semid_gpt_load(other, &back, NULL), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "not a semid model checkpoint"));
    free(other);
    /* a missing file */
    char *none = semid_path_join(tmpdir, "none.safetensors");
    assert_int_equal(semid_gpt_load(none, &back, NULL), SEMID_ENOTFOUND);
    free(none);
    free(data);
    free(path);
    semid_gpt_free(m24);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_config),
        cmocka_unit_test(test_init_deterministic_and_mask),
        cmocka_unit_test(test_gradients_match_finite_differences),
        cmocka_unit_test(test_output_range),
        cmocka_unit_test(test_threads_agree),
        cmocka_unit_test(test_packed_matches_padded),
        cmocka_unit_test(test_bf16_training),
        cmocka_unit_test(test_forward_validates_and_logits_rows),
        cmocka_unit_test(test_cache_matches_forward),
        cmocka_unit_test(test_checkpoint_roundtrip),
        cmocka_unit_test(test_checkpoint_wrong_vocab),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
