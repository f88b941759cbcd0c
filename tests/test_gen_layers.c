/* Every layer's backward against central finite differences of the scalar
 * sum(out * R) for a random R (so dout = R), plus a few forward properties
 * (the forward values themselves are checked against PyTorch in
 * test_gen_reference). */
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

enum { B = 2, T = 5, C = 8, NH = 2, OC = 6, V = 11, N = B * T };

static semid_rng rng;

static float *randn(int64_t n, float std) {
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)(semid_rng_normal(&rng) * std);
    return x;
}

static float *zeros(int64_t n) { return calloc((size_t)n, sizeof(float)); }

/* The layer under test, as a forward that writes `out` from the inputs it
 * reads through `ctx`. */
typedef void (*forward_fn)(void *ctx, float *out);

static double objective(forward_fn f, void *ctx, float *out, const float *R, int64_t n_out) {
    f(ctx, out);
    double s = 0;
    for (int64_t i = 0; i < n_out; i++) s += (double)out[i] * R[i];
    return s;
}

/* Compares grad (n) with central differences of the objective in x (n). */
static void check_grad(const char *what, float *x, const float *grad, int64_t n, forward_fn f, void *ctx,
                       int64_t n_out, const float *R) {
    float *out = malloc((size_t)n_out * sizeof(float));
    const float eps = 1e-2f;
    double max_err = 0;
    for (int64_t i = 0; i < n; i++) {
        float saved = x[i];
        x[i] = saved + eps;
        double lp = objective(f, ctx, out, R, n_out);
        x[i] = saved - eps;
        double lm = objective(f, ctx, out, R, n_out);
        x[i] = saved;
        double fd = (lp - lm) / (2.0 * eps);
        double err = fabs(fd - grad[i]) / (fabs(fd) + fabs(grad[i]) + 1e-2);
        if (err > max_err) max_err = err;
        if (err > 1e-2) fprintf(stderr, "%s[%lld]: fd %.6g backward %.6g\n", what, (long long)i, fd, grad[i]);
    }
    fprintf(stderr, "%-16s max scaled error %.2g over %lld values\n", what, max_err, (long long)n);
    assert_true(max_err < 1e-2);
    free(out);
}

/* ---- encoder ---- */
typedef struct {
    int32_t *inp;
    float *wte, *wpe;
    const int32_t *pos;
} enc_ctx;
static void enc_fwd(void *c, float *out) {
    enc_ctx *e = c;
    semid_encoder_forward(out, e->inp, e->pos, e->wte, e->wpe, B, T, C);
}

/* Packed rows: row 0 holds sequences of 2 and 3 tokens, row 1 one of 4 and one of 1. */
static const int32_t packed_pos[N] = {0, 1, 0, 1, 2, 0, 1, 2, 3, 0};

static void test_encoder(void **state) {
    (void)state;
    int32_t inp[N] = {1, 3, 3, 0, 10, 3, 2, 2, 7, 1}; /* repeated tokens accumulate */
    for (int packed = 0; packed < 2; packed++) {
        enc_ctx e = {inp, randn(V * C, 1), randn(T * C, 1), packed ? packed_pos : NULL};
        float *R = randn(N * C, 1), *dwte = zeros(V * C), *dwpe = zeros(T * C);
        semid_encoder_backward(dwte, dwpe, R, inp, e.pos, B, T, C);
        check_grad("encoder.wte", e.wte, dwte, V * C, enc_fwd, &e, N * C, R);
        check_grad("encoder.wpe", e.wpe, dwpe, T * C, enc_fwd, &e, N * C, R);
        if (packed) /* position 4 is nobody's */
            for (int i = 0; i < C; i++) assert_float_equal(dwpe[4 * C + i], 0, 0);
        free(e.wte), free(e.wpe), free(R), free(dwte), free(dwpe);
    }
}

/* ---- layernorm ---- */
typedef struct {
    float *inp, *w, *b, *mean, *rstd;
} ln_ctx;
static void ln_fwd(void *c, float *out) {
    ln_ctx *l = c;
    semid_layernorm_forward(out, l->mean, l->rstd, l->inp, l->w, l->b, N, C);
}

static void test_layernorm(void **state) {
    (void)state;
    ln_ctx l = {randn(N * C, 2), randn(C, 1), randn(C, 1), zeros(N), zeros(N)};
    float *out = zeros(N * C), *R = randn(N * C, 1);
    ln_fwd(&l, out);
    float *dinp = zeros(N * C), *dw = zeros(C), *db = zeros(C);
    semid_layernorm_backward(dinp, dw, db, R, l.inp, l.w, l.mean, l.rstd, N, C);
    check_grad("layernorm.inp", l.inp, dinp, N * C, ln_fwd, &l, N * C, R);
    check_grad("layernorm.w", l.w, dw, C, ln_fwd, &l, N * C, R);
    check_grad("layernorm.b", l.b, db, C, ln_fwd, &l, N * C, R);
    /* forward: with w = 1 and b = 0 each row has mean 0 and variance ~1 */
    for (int i = 0; i < C; i++) l.w[i] = 1, l.b[i] = 0;
    ln_fwd(&l, out);
    double m = 0, v = 0;
    for (int i = 0; i < C; i++) m += out[i];
    for (int i = 0; i < C; i++) v += (out[i] - m / C) * (out[i] - m / C);
    assert_float_equal(m / C, 0, 1e-5);
    assert_float_equal(v / C, 1, 1e-3);
    free(l.inp), free(l.w), free(l.b), free(l.mean), free(l.rstd), free(out), free(R), free(dinp), free(dw), free(db);
}

/* ---- matmul ---- */
typedef struct {
    float *inp, *w, *bias;
} mm_ctx;
static void mm_fwd(void *c, float *out) {
    mm_ctx *m = c;
    semid_matmul_forward(out, m->inp, m->w, m->bias, N, C, OC, SEMID_GEMM_FP32);
}

static void test_matmul(void **state) {
    (void)state;
    mm_ctx m = {randn(N * C, 1), randn(OC * C, 1), randn(OC, 1)};
    float *out = zeros(N * OC), *R = randn(N * OC, 1);
    mm_fwd(&m, out);
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            double s = m.bias[o];
            for (int i = 0; i < C; i++) s += (double)m.inp[r * C + i] * m.w[o * C + i];
            assert_float_equal(out[r * OC + o], s, 1e-4);
        }
    float *dinp = zeros(N * C), *dw = zeros(OC * C), *db = zeros(OC);
    semid_matmul_backward(dinp, false, dw, db, R, m.inp, m.w, N, C, OC, SEMID_GEMM_FP32);
    check_grad("matmul.inp", m.inp, dinp, N * C, mm_fwd, &m, N * OC, R);
    check_grad("matmul.w", m.w, dw, OC * C, mm_fwd, &m, N * OC, R);
    check_grad("matmul.bias", m.bias, db, OC, mm_fwd, &m, N * OC, R);
    /* set_dinp overwrites what was there: the accumulated result into zeros */
    float *dset = randn(N * C, 1);
    memset(dinp, 0, N * C * sizeof(float));
    semid_matmul_backward(dinp, false, NULL, NULL, R, m.inp, m.w, N, C, OC, SEMID_GEMM_FP32);
    semid_matmul_backward(dset, true, NULL, NULL, R, m.inp, m.w, N, C, OC, SEMID_GEMM_FP32);
    assert_memory_equal(dset, dinp, N * C * sizeof(float));
    free(m.inp), free(m.w), free(m.bias), free(out), free(R), free(dinp), free(dw), free(db), free(dset);
}

/* ---- attention ---- */
typedef struct {
    float *inp, *att, *scratch;
    const int32_t *pos;
} at_ctx;
static void at_fwd(void *c, float *out) {
    at_ctx *a = c;
    semid_attention_forward(out, a->att, a->scratch, a->inp, a->pos, B, T, C, NH);
}

static void test_attention(void **state) {
    (void)state;
    float *scratch = zeros(semid_attention_scratch_size(B, T, C, NH));
    at_ctx a = {randn(N * 3 * C, 1), zeros(B * NH * T * T), scratch, NULL};
    float *out = zeros(N * C), *R = randn(N * C, 1);
    at_fwd(&a, out);
    /* probabilities: rows sum to 1, nothing above the diagonal */
    for (int r = 0; r < B * NH * T; r++) {
        int t = r % T;
        double s = 0;
        for (int t2 = 0; t2 < T; t2++) {
            if (t2 > t) assert_float_equal(a.att[r * T + t2], 0, 0);
            s += a.att[r * T + t2];
        }
        assert_float_equal(s, 1, 1e-5);
    }
    /* causal: changing the last position's key and value leaves earlier outputs alone */
    float *before = malloc(N * C * sizeof(float));
    memcpy(before, out, N * C * sizeof(float));
    for (int i = C; i < 3 * C; i++) a.inp[(T - 1) * 3 * C + i] += 1.0f;
    at_fwd(&a, out);
    assert_memory_equal(out, before, (T - 1) * C * sizeof(float));
    assert_true(memcmp(out + (T - 1) * C, before + (T - 1) * C, C * sizeof(float)) != 0);
    at_fwd(&a, out);
    float *dinp = zeros(N * 3 * C);
    semid_attention_backward(dinp, scratch, R, a.inp, a.att, NULL, B, T, C, NH);
    check_grad("attention.inp", a.inp, dinp, N * 3 * C, at_fwd, &a, N * C, R);
    free(a.inp), free(a.att), free(out), free(R), free(scratch), free(before), free(dinp);
}

/* Packed rows: each position attends within its own sequence, and a row of
 * sequences gives what each sequence gives alone. */
static void test_attention_packed(void **state) {
    (void)state;
    float *scratch = zeros(semid_attention_scratch_size(B, T, C, NH));
    at_ctx a = {randn(N * 3 * C, 1), zeros(B * NH * T * T), scratch, packed_pos};
    float *out = zeros(N * C), *R = randn(N * C, 1);
    at_fwd(&a, out);
    for (int r = 0; r < B * NH * T; r++) {
        int b = r / (NH * T), t = r % T, s0 = t - packed_pos[b * T + t];
        double s = 0;
        for (int t2 = 0; t2 < T; t2++) {
            if (t2 > t || t2 < s0) assert_float_equal(a.att[r * T + t2], 0, 0);
            s += a.att[r * T + t2];
        }
        assert_float_equal(s, 1, 1e-5);
    }
    /* row 0's second sequence (positions 2..4) alone, as a row of its own */
    float *one = zeros(N * 3 * C), *one_out = zeros(N * C), *one_att = zeros(B * NH * T * T);
    memcpy(one, a.inp + 2 * 3 * C, 3 * 3 * C * sizeof(float));
    semid_attention_forward(one_out, one_att, scratch, one, NULL, 1, 3, C, NH);
    for (int i = 0; i < 3 * C; i++) assert_float_equal(one_out[i], out[2 * C + i], 1e-6);
    float *dinp = zeros(N * 3 * C);
    at_fwd(&a, out);
    semid_attention_backward(dinp, scratch, R, a.inp, a.att, packed_pos, B, T, C, NH);
    check_grad("attention.inp (packed)", a.inp, dinp, N * 3 * C, at_fwd, &a, N * C, R);
    free(a.inp), free(a.att), free(out), free(R), free(scratch), free(dinp), free(one), free(one_out), free(one_att);
}

/* ---- gelu, residual ---- */
typedef struct {
    float *x, *y;
    int64_t n;
} pw_ctx;
static void gelu_fwd(void *c, float *out) {
    pw_ctx *p = c;
    semid_gelu_forward(out, p->x, p->n);
}
static void res_fwd(void *c, float *out) {
    pw_ctx *p = c;
    semid_residual_forward(out, p->x, p->y, p->n);
}

static void test_gelu_and_residual(void **state) {
    (void)state;
    enum { M = 40 };
    pw_ctx p = {randn(M, 2), randn(M, 1), M};
    float *out = zeros(M), *R = randn(M, 1), *dx = zeros(M), *dy = zeros(M);
    float probe[3] = {0, 1, -1}, got[3];
    semid_gelu_forward(got, probe, 3);
    assert_float_equal(got[0], 0, 0);
    assert_float_equal(got[1], 0.841192f, 1e-5); /* tanh-approximated GELU(1) */
    assert_float_equal(got[2], -0.158808f, 1e-5);
    semid_gelu_backward(dx, p.x, R, M);
    check_grad("gelu", p.x, dx, M, gelu_fwd, &p, M, R);
    memset(dx, 0, M * sizeof(float));
    semid_residual_backward(dx, dy, R, M);
    check_grad("residual.a", p.x, dx, M, res_fwd, &p, M, R);
    check_grad("residual.b", p.y, dy, M, res_fwd, &p, M, R);
    free(p.x), free(p.y), free(out), free(R), free(dx), free(dy);
}

/* ---- softmax cross-entropy ---- */
typedef struct {
    float *logits, *lse;
    int32_t *targets;
} xe_ctx;
static void xe_fwd(void *c, float *out) {
    xe_ctx *x = c;
    semid_softmax_xent_forward(out, x->lse, x->logits, x->targets, N, V);
}

static void test_softmax_xent(void **state) {
    (void)state;
    int32_t targets[N] = {3, -1, 0, 10, -1, 5, 5, 1, -1, 2};
    xe_ctx x = {randn(N * V, 2), zeros(N), targets};
    float *losses = zeros(N), *R = malloc(N * sizeof(float)), *dl = zeros(N * V);
    int64_t count = semid_softmax_xent_forward(losses, x.lse, x.logits, targets, N, V);
    assert_int_equal(count, 7);
    assert_float_equal(losses[1], 0, 0);
    double s = 0;
    for (int i = 0; i < V; i++) s += exp(x.logits[i]);
    assert_float_equal(losses[0], log(s) - x.logits[3], 1e-5);
    const float dloss = 1.0f / 7;
    for (int i = 0; i < N; i++) R[i] = dloss;
    semid_softmax_xent_backward(dl, x.logits, x.lse, targets, dloss, N, V);
    for (int i = 0; i < V; i++) assert_float_equal(dl[1 * V + i], 0, 0); /* ignored row */
    check_grad("softmax_xent", x.logits, dl, N * V, xe_fwd, &x, N, R);
    free(x.logits), free(x.lse), free(losses), free(R), free(dl);
}

/* ---- tied output projection ---- */
typedef struct {
    float *inp, *wte;
} tl_ctx;
static void tl_fwd(void *c, float *out) {
    tl_ctx *t = c;
    semid_tied_logits_forward(out, t->inp, t->wte, N, C, V, SEMID_GEMM_FP32);
}

static void test_tied_logits(void **state) {
    (void)state;
    tl_ctx t = {randn(N * C, 1), randn(V * C, 1)};
    float *R = randn(N * V, 1), *dinp = zeros(N * C), *dwte = zeros(V * C);
    semid_tied_logits_backward(dinp, dwte, R, t.inp, t.wte, N, C, V, SEMID_GEMM_FP32);
    check_grad("tied.inp", t.inp, dinp, N * C, tl_fwd, &t, N * V, R);
    check_grad("tied.wte", t.wte, dwte, V * C, tl_fwd, &t, N * V, R);
    free(t.inp), free(t.wte), free(R), free(dinp), free(dwte);
}

static void test_fast_exp(void **state) {
    (void)state;
    double worst = 0;
    for (float x = -80.0f; x <= 80.0f; x += 0.01237f) {
        double e = fabs(semid_fast_expf(x) - exp((double)x)) / exp((double)x);
        if (e > worst) worst = e;
    }
    fprintf(stderr, "fast exp: worst relative error %.3g\n", worst);
    assert_true(worst < 5e-7);
    assert_float_equal(semid_fast_expf(0), 1, 0);
    assert_true(semid_fast_expf(-1000.0f) < 1e-37f && semid_fast_expf(-1000.0f) >= 0);
    assert_true(isfinite(semid_fast_expf(1000.0f)));
    /* A NaN (a diverged logit) must come out as NaN, not as some finite value. */
    assert_true(isnan(semid_fast_expf(NAN)));
#if defined(__AVX512F__) && defined(__FMA__)
    float in[16], out[16];
    for (int i = 0; i < 16; i++) in[i] = i == 5 ? NAN : -0.5f * (float)i;
    _mm512_storeu_ps(out, semid_fast_expf16(_mm512_loadu_ps(in)));
    for (int i = 0; i < 16; i++) {
        if (i == 5) assert_true(isnan(out[i]));
        else assert_true(out[i] == semid_fast_expf(in[i])); /* same bits as the scalar */
    }
#endif
}

static int setup(void **state) {
    (void)state;
    semid_rng_seed(&rng, 42);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder),    cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_matmul),     cmocka_unit_test(test_attention), cmocka_unit_test(test_attention_packed),
        cmocka_unit_test(test_gelu_and_residual), cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_tied_logits),       cmocka_unit_test(test_fast_exp),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
