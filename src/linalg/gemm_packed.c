/* semid_gemm (gemm.h): products packed for AVX-512 register tiles, in fp32
 * or in bf16 with fp32 accumulation.
 *
 * Operands are packed once per call where their layout does not suit the
 * tiles: B into panels of GP_NR columns (for each k, GP_NR values side by
 * side) when transposed, A into panels of GP_MR rows (for each k, the
 * panel's GP_MR values) when transposed; otherwise the tiles read them in
 * place. A tile of GP_MR x GP_NR results lives in 16 registers: it starts
 * from C (accumulate), a bias row or 0 and takes one fused multiply-add per
 * k in order, so each result is a fixed chain whatever the blocking and the
 * threads; threads share the tiles, never a sum.
 *
 * bf16: both operands are always packed, rounded to bfloat16 (nearest
 * even) on the way, pairs of k side by side in 32-bit words (a row-major A
 * stays rows: its pairs are adjacent already); _mm512_dpbf16_ps adds
 * a[2i]b[2i] + a[2i+1]b[2i+1] to each fp32 lane; an odd K gets a zero
 * partner. */
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/gemm.h"
#include "semid/semid.h"

#if defined(__AVX512F__) && defined(__FMA__)
#define GP_AVX512 1
#include <immintrin.h>
#endif
#if defined(GP_AVX512) && defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define GP_BF16 1
#endif

bool semid_gemm_has_bf16(void) {
#ifdef GP_BF16
    return true;
#else
    return false;
#endif
}

#ifndef GP_AVX512

void semid_gemm_small(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                      bool accumulate, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float s = accumulate ? C[i * ldc + j] : 0.0f;
            for (int64_t k = 0; k < K; k++) s += A[i * lda + k] * B[k * ldb + j];
            C[i * ldc + j] = s;
        }
}

void semid_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                const float *B, int64_t ldb, const float *bias, bool accumulate, float *C, int64_t ldc,
                semid_gemm_kind kind) {
    (void)kind;
    if (bias)
        for (int64_t i = 0; i < M; i++) memcpy(C + i * ldc, bias, (size_t)N * sizeof *C);
    semid_sgemm(trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, accumulate || bias ? 1.0f : 0.0f, C, ldc);
}

#else

enum {
    GP_MR = 8,    /* rows of a register tile */
    GP_NR = 32,   /* columns of a register tile (two vectors) */
    GP_MC = 64,   /* rows of a task: its A panels stay in L2 while it walks one B panel */
    GP_KC = 256,  /* k of a block: a B panel block (32 KB in fp32) stays in L1 */
};
/* Products below this many multiply-adds go to semid_sgemm (packing would
 * cost more than it saves), and below GP_PAR_MIN_WORK run on one thread. */
#define GP_MIN_WORK (32 * 32 * 32)
#define GP_PAR_MIN_WORK (1 << 21)

/* ---- the packing buffer: one per calling thread, kept between calls
 * (fresh memory for every product cost page faults), freed at thread exit ---- */

typedef struct scratch {
    void *p;
    size_t n;
} scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_ok;

static void scratch_free(void *x) {
    scratch *s = x;
    free(s->p);
    free(s);
}

static void scratch_init(void) { scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

/* n bytes aligned to 64, or NULL. */
static void *scratch_get(size_t n) {
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_ok) return NULL;
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        if (pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->n < n) {
        free(s->p);
        s->n = 0;
        s->p = aligned_alloc(64, (n + 63) / 64 * 64);
        if (!s->p) return NULL;
        s->n = n;
    }
    return s->p;
}

/* ---- packing ---- */

/* Transposed A (A(i,k) = A[k*lda + i]) into panels: panel p holds rows
 * p*GP_MR.., for each k GP_MR floats (zeros past M). */
static void pack_a_f32(float *dst, const float *A, int64_t lda, int64_t M, int64_t K, int64_t p) {
    int64_t i0 = p * GP_MR, mr = M - i0 < GP_MR ? M - i0 : GP_MR;
    float *d = dst + p * GP_MR * K;
    __mmask16 m = (__mmask16)((1u << mr) - 1);
    for (int64_t k = 0; k < K; k++)
        _mm256_storeu_ps(d + k * GP_MR, _mm512_castps512_ps256(_mm512_maskz_loadu_ps(m, A + k * lda + i0)));
}

/* Transposed B (B(k,j) = B[j*ldb + k]) into panels: panel q holds columns
 * q*GP_NR.., for each k GP_NR floats (zeros past N); tiles of 16 k so that
 * both sides run short. */
static void pack_b_f32(float *dst, const float *B, int64_t ldb, int64_t N, int64_t K, int64_t q) {
    int64_t j0 = q * GP_NR, nr = N - j0 < GP_NR ? N - j0 : GP_NR;
    float *d = dst + q * GP_NR * K;
    for (int64_t k0 = 0; k0 < K; k0 += 16) {
        int64_t kn = K - k0 < 16 ? K - k0 : 16;
        for (int64_t j = 0; j < GP_NR; j++) {
            float *dd = d + k0 * GP_NR + j;
            if (j < nr) {
                const float *s = B + (j0 + j) * ldb + k0;
                for (int64_t k = 0; k < kn; k++) dd[k * GP_NR] = s[k];
            } else {
                for (int64_t k = 0; k < kn; k++) dd[k * GP_NR] = 0.0f;
            }
        }
    }
}

/* ---- the fp32 tile ---- */

/* C tile (GP_MR rows, columns under m0/m1) = (acc_in ? the start : 0) +
 * the products over k in [0, K) of A (row r's value k at a[r * ars + k *
 * aks]) and B (GP_NR values of k at b + k * bks, under m0/m1). The start
 * of row r is at s + r * lds: C itself (s = c, lds = ldc) or a bias row
 * (lds = 0). Every row is read and written: a tile past M's edge runs on
 * copies (tile_f32_any). */
/* The tile's 2 x GP_MR accumulators are named variables, not an array:
 * GCC kept an array of them in memory, stored at every k. */
#define GP_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define GP_LOAD(r)                                                                                     \
    __m512 c0_##r = acc_in ? _mm512_maskz_loadu_ps(m0, s + (r) * lds) : _mm512_setzero_ps();          \
    __m512 c1_##r = acc_in ? _mm512_maskz_loadu_ps(m1, s + (r) * lds + 16) : _mm512_setzero_ps();
#define GP_STORE(r)                                                                                    \
    _mm512_mask_storeu_ps(c + (r) * ldc, m0, c0_##r);                                                  \
    _mm512_mask_storeu_ps(c + (r) * ldc + 16, m1, c1_##r);
#define GP_FMA(r)                                                                                      \
    {                                                                                                  \
        __m512 x = _mm512_set1_ps(a[(r) * ars + k * aks]);                                             \
        c0_##r = _mm512_fmadd_ps(x, b0, c0_##r);                                                       \
        c1_##r = _mm512_fmadd_ps(x, b1, c1_##r);                                                       \
    }

static inline __attribute__((always_inline)) void tile_f32(const int64_t ars, const int64_t aks, int64_t K,
                                                           const float *a, const float *b, int64_t bks, float *c,
                                                           int64_t ldc, const float *s, int64_t lds, __mmask16 m0,
                                                           __mmask16 m1, bool acc_in) {
    GP_ROWS(GP_LOAD)
    for (int64_t k = 0; k < K; k++) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b + k * bks), b1 = _mm512_maskz_loadu_ps(m1, b + k * bks + 16);
        GP_ROWS(GP_FMA)
    }
    GP_ROWS(GP_STORE)
}

/* The C tile a kernel works on: C itself when all GP_MR rows are in it,
 * else a copy of its mr rows (edge_tile), written back by edge_done. */
static inline float *edge_tile(float *buf, float *c, int64_t ldc, int64_t mr, __mmask16 m0, __mmask16 m1, bool acc_in,
                               int64_t *ld) {
    if (mr == GP_MR) {
        *ld = ldc;
        return c;
    }
    *ld = GP_NR;
    if (acc_in)
        for (int64_t r = 0; r < mr; r++) {
            _mm512_storeu_ps(buf + r * GP_NR, _mm512_maskz_loadu_ps(m0, c + r * ldc));
            _mm512_storeu_ps(buf + r * GP_NR + 16, _mm512_maskz_loadu_ps(m1, c + r * ldc + 16));
        }
    return buf;
}

static inline void edge_done(const float *buf, float *c, int64_t ldc, int64_t mr, __mmask16 m0, __mmask16 m1) {
    if (mr == GP_MR) return;
    for (int64_t r = 0; r < mr; r++) {
        _mm512_mask_storeu_ps(c + r * ldc, m0, _mm512_loadu_ps(buf + r * GP_NR));
        _mm512_mask_storeu_ps(c + r * ldc + 16, m1, _mm512_loadu_ps(buf + r * GP_NR + 16));
    }
}

/* A packed (GP_MR values per k: a0 is the panel) or read in place (rows of
 * k at stride lda); B packed (bks = GP_NR) or in place (bks = ldb). The
 * tile starts from bias (when given: GP_NR values of a row), else from C
 * when acc_in, else from 0. */
static void tile_f32_any(bool a_packed, int64_t K, const float *a0, int64_t lda, const float *b, int64_t bks, float *c,
                         int64_t ldc, int64_t mr, __mmask16 m0, __mmask16 m1, bool acc_in, const float *bias) {
    float buf[GP_MR * GP_NR] __attribute__((aligned(64)));
    int64_t ld;
    float *t = edge_tile(buf, c, ldc, mr, m0, m1, acc_in && !bias, &ld);
    const float *s = bias ? bias : t;
    int64_t lds = bias ? 0 : ld;
    acc_in = acc_in || bias;
    if (a_packed) {
        tile_f32(1, GP_MR, K, a0, b, bks, t, ld, s, lds, m0, m1, acc_in);
    } else if (mr == GP_MR) {
        tile_f32(lda, 1, K, a0, b, bks, t, ld, s, lds, m0, m1, acc_in);
    } else { /* the rows past M would be read: a packed copy of the rows there are (K <= GP_KC) */
        float ap[GP_MR * GP_KC] __attribute__((aligned(64)));
        for (int64_t k = 0; k < K; k++)
            for (int64_t r = 0; r < GP_MR; r++) ap[k * GP_MR + r] = r < mr ? a0[r * lda + k] : 0.0f;
        tile_f32(1, GP_MR, K, ap, b, bks, t, ld, s, lds, m0, m1, acc_in);
    }
    edge_done(buf, c, ldc, mr, m0, m1);
}

#ifdef GP_BF16
/* ---- bf16 ---- */

/* Rounds 16 floats to bf16 (nearest even). */
static inline __m256i to_bf16(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }

/* A in bf16, GP_MR rows p*GP_MR.. (zeros past M): as panels when A is
 * transposed (for each pair kp of k (2kp, 2kp+1), GP_MR 32-bit words, row
 * r's A(r,2kp) low and A(r,2kp+1) high), else as rows of Kp = ceil(K/2)
 * words (a row's pairs are adjacent values: converted in place, no
 * scatter). */
static void pack_a_bf16(uint32_t *dst, bool trans, const float *A, int64_t lda, int64_t M, int64_t K, int64_t p) {
    int64_t i0 = p * GP_MR, mr = M - i0 < GP_MR ? M - i0 : GP_MR, Kp = (K + 1) / 2;
    uint32_t *d = dst + p * GP_MR * Kp;
    if (trans) { /* A(i,k) = A[k*lda + i]: rows k and k+1, GP_MR values each */
        __mmask8 m = (__mmask8)((1u << mr) - 1);
        for (int64_t kp = 0; kp < Kp; kp++) {
            int64_t k = 2 * kp;
            __m256 lo = _mm256_maskz_loadu_ps(m, A + k * lda + i0);
            __m256 hi = k + 1 < K ? _mm256_maskz_loadu_ps(m, A + (k + 1) * lda + i0) : _mm256_setzero_ps();
            __m128i bl = (__m128i)_mm256_cvtneps_pbh(lo), bh = (__m128i)_mm256_cvtneps_pbh(hi);
            __m256i w = _mm256_set_m128i(_mm_unpackhi_epi16(bl, bh), _mm_unpacklo_epi16(bl, bh));
            _mm256_storeu_si256((__m256i *)(d + kp * GP_MR), w);
        }
        return;
    }
    for (int64_t r = 0; r < GP_MR; r++) {
        uint32_t *dr = d + r * Kp;
        if (r >= mr) {
            memset(dr, 0, (size_t)Kp * sizeof *dr);
            continue;
        }
        const float *src = A + (i0 + r) * lda;
        int64_t k = 0;
        for (; k + 16 <= K; k += 16) _mm256_storeu_si256((__m256i *)(dr + k / 2), to_bf16(_mm512_loadu_ps(src + k)));
        if (k < K) { /* the last values, an odd one paired with zero */
            __m256i w = to_bf16(_mm512_maskz_loadu_ps((__mmask16)((1u << (K - k)) - 1), src + k));
            _mm256_mask_storeu_epi32(dr + k / 2, (__mmask8)((1u << ((K - k + 1) / 2)) - 1), w);
        }
    }
}

/* B in bf16 panels: panel q holds, for each pair kp, GP_NR 32-bit words
 * (column j: B(2kp,j) low, B(2kp+1,j) high). */
static void pack_b_bf16(uint32_t *dst, bool trans, const float *B, int64_t ldb, int64_t N, int64_t K, int64_t q) {
    int64_t j0 = q * GP_NR, nr = N - j0 < GP_NR ? N - j0 : GP_NR, Kp = (K + 1) / 2;
    uint32_t *d = dst + q * GP_NR * Kp;
    if (!trans) { /* rows k and k+1 of the panel, interleaved */
        __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
        __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
        for (int64_t kp = 0; kp < Kp; kp++) {
            int64_t k = 2 * kp;
            const float *s0 = B + k * ldb + j0, *s1 = s0 + ldb;
            for (int h = 0; h < 2; h++) {
                __mmask16 m = h ? m1 : m0;
                __m256i lo = to_bf16(_mm512_maskz_loadu_ps(m, s0 + 16 * h));
                __m256i hi = k + 1 < K ? to_bf16(_mm512_maskz_loadu_ps(m, s1 + 16 * h)) : _mm256_setzero_si256();
                /* words j = lo[j] | hi[j] << 16, for the 16 columns in order */
                __m512i w = _mm512_or_si512(_mm512_cvtepu16_epi32(lo), _mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16));
                _mm512_storeu_si512(d + kp * GP_NR + 16 * h, w);
            }
        }
    } else { /* B(k,j) = B[j*ldb + k]: a column's pairs are adjacent values */
        for (int64_t j = 0; j < GP_NR; j++) {
            if (j >= nr) {
                for (int64_t kp = 0; kp < Kp; kp++) d[kp * GP_NR + j] = 0;
                continue;
            }
            const float *src = B + (j0 + j) * ldb;
            int64_t kp = 0;
            for (; 2 * kp + 32 <= K; kp += 16) {
                __m256i lo = to_bf16(_mm512_loadu_ps(src + 2 * kp)), hi = to_bf16(_mm512_loadu_ps(src + 2 * kp + 16));
                uint32_t w[16];
                _mm256_storeu_si256((__m256i *)w, lo);
                _mm256_storeu_si256((__m256i *)(w + 8), hi);
                for (int u = 0; u < 16; u++) d[(kp + u) * GP_NR + j] = w[u];
            }
            for (; kp < Kp; kp++) {
                int64_t k = 2 * kp;
                __m512 x = _mm512_maskz_loadu_ps((__mmask16)(k + 1 < K ? 3 : 1), src + k);
                uint32_t w[8];
                _mm256_storeu_si256((__m256i *)w, to_bf16(x));
                d[kp * GP_NR + j] = w[0];
            }
        }
    }
}

/* tile_f32 over Kp pairs of k in bf16. */
#define GP_DPBF16(r)                                                                                   \
    {                                                                                                  \
        __m512bh x = (__m512bh)_mm512_set1_epi32((int)ap[(r) * ars + kp * aks]);                       \
        c0_##r = _mm512_dpbf16_ps(c0_##r, x, b0);                                                      \
        c1_##r = _mm512_dpbf16_ps(c1_##r, x, b1);                                                      \
    }

static inline __attribute__((always_inline)) void tile_bf16_full(const int64_t ars, const int64_t aks, int64_t Kp,
                                                                 const uint32_t *ap, const uint32_t *bp, float *c,
                                                                 int64_t ldc, const float *s, int64_t lds,
                                                                 __mmask16 m0, __mmask16 m1, bool acc_in) {
    GP_ROWS(GP_LOAD)
    for (int64_t kp = 0; kp < Kp; kp++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + kp * GP_NR);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + kp * GP_NR + 16);
        GP_ROWS(GP_DPBF16)
    }
    GP_ROWS(GP_STORE)
}

/* A as panels (a_rows 0: ap is the panel) or as rows of a_rows words
 * (ap is the tile's first row: rows past M are there, zero). */
static void tile_bf16(int64_t Kp, const uint32_t *ap, int64_t a_rows, const uint32_t *bp, float *c, int64_t ldc,
                      int64_t mr, __mmask16 m0, __mmask16 m1, bool acc_in, const float *bias) {
    float buf[GP_MR * GP_NR] __attribute__((aligned(64)));
    int64_t ld;
    float *t = edge_tile(buf, c, ldc, mr, m0, m1, acc_in && !bias, &ld);
    const float *s = bias ? bias : t;
    int64_t lds = bias ? 0 : ld;
    if (a_rows) tile_bf16_full(a_rows, 1, Kp, ap, bp, t, ld, s, lds, m0, m1, acc_in || bias);
    else tile_bf16_full(1, GP_MR, Kp, ap, bp, t, ld, s, lds, m0, m1, acc_in || bias);
    edge_done(buf, c, ldc, mr, m0, m1);
}
#endif

void semid_gemm_small(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                      bool accumulate, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* an empty sum */
        if (!accumulate)
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof *C);
        return;
    }
    for (int64_t j0 = 0; j0 < N; j0 += GP_NR) {
        int64_t nr = N - j0 < GP_NR ? N - j0 : GP_NR;
        __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
        __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
        for (int64_t i0 = 0; i0 < M; i0 += GP_MR) {
            int64_t mr = M - i0 < GP_MR ? M - i0 : GP_MR;
            for (int64_t k0 = 0; k0 < K; k0 += GP_KC) {
                int64_t kn = K - k0 < GP_KC ? K - k0 : GP_KC;
                tile_f32_any(false, kn, A + i0 * lda + k0, lda, B + k0 * ldb + j0, ldb, C + i0 * ldc + j0, ldc, mr, m0,
                             m1, accumulate || k0 > 0, NULL);
            }
        }
    }
}

/* The plain product (semid_sgemm) with gemm's bias. */
static void plain_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                       const float *B, int64_t ldb, const float *bias, bool accumulate, float *C, int64_t ldc) {
    if (bias)
        for (int64_t i = 0; i < M; i++) memcpy(C + i * ldc, bias, (size_t)N * sizeof *C);
    semid_sgemm(trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, accumulate || bias ? 1.0f : 0.0f, C, ldc);
}

void semid_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                const float *B, int64_t ldb, const float *bias, bool accumulate, float *C, int64_t ldc,
                semid_gemm_kind kind) {
    if (M <= 0 || N <= 0) return;
#ifndef GP_BF16
    kind = SEMID_GEMM_FP32;
#endif
    bool bf16 = kind == SEMID_GEMM_BF16;
    if (K <= 0 || M * N * K < GP_MIN_WORK) {
        plain_gemm(trans_a, trans_b, M, N, K, A, lda, B, ldb, bias, accumulate, C, ldc);
        return;
    }
    int64_t np_a = (M + GP_MR - 1) / GP_MR, np_b = (N + GP_NR - 1) / GP_NR;
    int64_t Kp = bf16 ? (K + 1) / 2 : K; /* packed k steps: pairs in bf16 */
    bool pack_a = bf16 || trans_a, pack_b = bf16 || trans_b;
    size_t a_bytes = pack_a ? (size_t)(np_a * GP_MR * Kp) * 4 : 0, b_bytes = pack_b ? (size_t)(np_b * GP_NR * Kp) * 4 : 0;
    a_bytes = (a_bytes + 63) / 64 * 64;
    char *buf = a_bytes + b_bytes > 0 ? scratch_get(a_bytes + b_bytes) : NULL;
    if (a_bytes + b_bytes > 0 && !buf) { /* no room to pack: the plain product */
        plain_gemm(trans_a, trans_b, M, N, K, A, lda, B, ldb, bias, accumulate, C, ldc);
        return;
    }
    void *ap = buf, *bp = buf ? buf + a_bytes : NULL;
    int64_t n_blocks = (M + GP_MC - 1) / GP_MC, tasks = n_blocks * np_b;
    int threads = 1;
    if (!omp_in_parallel() && M * N * K >= GP_PAR_MIN_WORK) {
        threads = semid_get_threads();
        if (threads > tasks) threads = (int)tasks;
    }
    int64_t kc = bf16 ? GP_KC / 2 : GP_KC; /* packed k steps per block */
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int64_t n_pa = pack_a ? np_a : 0, n_pb = pack_b ? np_b : 0;
#pragma omp for schedule(static)
        for (int64_t p = 0; p < n_pa + n_pb; p++) {
#ifdef GP_BF16
            if (bf16) {
                if (p < n_pa) pack_a_bf16(ap, trans_a, A, lda, M, K, p);
                else pack_b_bf16(bp, trans_b, B, ldb, N, K, p - n_pa);
                continue;
            }
#endif
            if (p < n_pa) pack_a_f32(ap, A, lda, M, K, p);
            else pack_b_f32(bp, B, ldb, N, K, p - n_pa);
        }
        /* a task: one block of GP_MC rows against one B panel, k in blocks */
#pragma omp for schedule(static)
        for (int64_t t = 0; t < tasks; t++) {
            int64_t blk = t / np_b, q = t % np_b;
            int64_t j0 = q * GP_NR, nr = N - j0 < GP_NR ? N - j0 : GP_NR;
            __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
            __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
            int64_t p0 = blk * (GP_MC / GP_MR), p1 = p0 + GP_MC / GP_MR < np_a ? p0 + GP_MC / GP_MR : np_a;
            for (int64_t k0 = 0; k0 < Kp; k0 += kc) {
                int64_t kn = Kp - k0 < kc ? Kp - k0 : kc;
                bool acc_in = accumulate || k0 > 0;
                const float *bs = bias && k0 == 0 ? bias + j0 : NULL; /* the first block starts from the bias */
                for (int64_t p = p0; p < p1; p++) {
                    int64_t i0 = p * GP_MR, mr = M - i0 < GP_MR ? M - i0 : GP_MR;
                    float *c = C + i0 * ldc + j0;
#ifdef GP_BF16
                    if (bf16) {
                        /* panel p: GP_MR words per pair (transposed A), or GP_MR rows of Kp words */
                        const uint32_t *a0 = (const uint32_t *)ap + p * GP_MR * Kp + (trans_a ? k0 * GP_MR : k0);
                        tile_bf16(kn, a0, trans_a ? 0 : Kp, (const uint32_t *)bp + (q * Kp + k0) * GP_NR, c, ldc, mr, m0,
                                  m1, acc_in, bs);
                        continue;
                    }
#endif
                    const float *a0 = pack_a ? (const float *)ap + (p * Kp + k0) * GP_MR : A + i0 * lda + k0;
                    const float *b0 = pack_b ? (const float *)bp + (q * Kp + k0) * GP_NR : B + k0 * ldb + j0;
                    tile_f32_any(pack_a, kn, a0, lda, b0, pack_b ? GP_NR : ldb, c, ldc, mr, m0, m1, acc_in, bs);
                }
            }
        }
    }
}

#endif
