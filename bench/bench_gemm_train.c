/* The training step's products at the 2 x 128 model's shapes (a packed
 * ML-1M batch: about 4,000 rows, 516 ID tokens): semid_sgemm (OpenBLAS, as
 * the trainer used before) beside semid_gemm in fp32 and in bf16.
 *
 *   bench_gemm_train [threads=1] [reps=20] [rows=4032] [C=128] [V=516]
 *
 * Prints the median time and GFLOP/s of each product (wall and per CPU
 * second). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/rng.h"
#include "linalg/gemm.h"
#include "semid/semid.h"
#include "bench_stats.h"

typedef struct {
    const char *name;
    int ta, tb;
    int64_t M, N, K;
} shape;

int main(int argc, char **argv) {
    int threads = 1, reps = 20;
    int64_t rows = 4032, C = 128, V = 516;
    for (int i = 1; i < argc; i++) {
        long long v;
        char key[32];
        if (sscanf(argv[i], "%31[^=]=%lld", key, &v) != 2) {
            fprintf(stderr, "usage: bench_gemm_train [threads=] [reps=] [rows=] [C=] [V=]\n");
            return 2;
        }
        if (!strcmp(key, "threads")) threads = (int)v;
        else if (!strcmp(key, "reps")) reps = (int)v;
        else if (!strcmp(key, "rows")) rows = v;
        else if (!strcmp(key, "C")) C = v;
        else if (!strcmp(key, "V")) V = v;
        else {
            fprintf(stderr, "unknown key %s\n", key);
            return 2;
        }
    }
    semid_set_threads(threads);
    int64_t lr = rows * 7 / 10; /* rows with a target (ML-1M: about 70%) */
    shape shapes[] = {
        {"qkv fwd      x.W^T", 0, 1, rows, 3 * C, C},   {"qkv dx       d.W", 0, 0, rows, C, 3 * C},
        {"qkv dW       d^T.x", 1, 0, 3 * C, C, rows},   {"proj fwd", 0, 1, rows, C, C},
        {"proj dx", 0, 0, rows, C, C},                   {"proj dW", 1, 0, C, C, rows},
        {"fc fwd", 0, 1, rows, 4 * C, C},                {"fc dx", 0, 0, rows, C, 4 * C},
        {"fc dW", 1, 0, 4 * C, C, rows},                 {"fcproj fwd", 0, 1, rows, C, 4 * C},
        {"fcproj dx", 0, 0, rows, 4 * C, C},             {"fcproj dW", 1, 0, C, 4 * C, rows},
        {"logits fwd", 0, 1, lr, V, C},                  {"logits dx", 0, 0, lr, C, V},
        {"logits dW", 1, 0, V, C, lr},
    };
    int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    semid_rng r;
    semid_rng_seed(&r, 1);
    printf("threads=%d rows=%lld C=%lld V=%lld, median of %d; GFLOP/s wall (per CPU second); bf16 %s\n", threads,
           (long long)rows, (long long)C, (long long)V, reps, semid_gemm_has_bf16() ? "native" : "runs in fp32");
    printf("%-20s %8s %16s %16s %16s\n", "product", "MFLOP", "sgemm", "gemm fp32", "gemm bf16");
    double tot[3] = {0, 0, 0}, tot_cpu[3] = {0, 0, 0}, flops = 0;
    for (int s = 0; s < n_shapes; s++) {
        shape *h = &shapes[s];
        int64_t asz = h->M * h->K, bsz = h->K * h->N;
        float *A = malloc((size_t)asz * sizeof *A), *B = malloc((size_t)bsz * sizeof *B);
        float *Cm = calloc((size_t)(h->M * h->N), sizeof *Cm);
        for (int64_t i = 0; i < asz; i++) A[i] = (float)semid_rng_normal(&r);
        for (int64_t i = 0; i < bsz; i++) B[i] = (float)semid_rng_normal(&r);
        int64_t lda = h->ta ? h->M : h->K, ldb = h->tb ? h->K : h->N;
        double f = 2.0 * (double)h->M * (double)h->N * (double)h->K;
        flops += f;
        printf("%-20s %8.0f", h->name, f / 1e6);
        for (int v = 0; v < 3; v++) {
            double *t = malloc((size_t)reps * sizeof *t), *c = malloc((size_t)reps * sizeof *c);
            for (int i = -2; i < reps; i++) {
                double t0 = semid_now(), c0 = semid_cpu_now();
                if (v == 0) semid_sgemm(h->ta, h->tb, h->M, h->N, h->K, 1.0f, A, lda, B, ldb, 1.0f, Cm, h->N);
                else semid_gemm(h->ta, h->tb, h->M, h->N, h->K, A, lda, B, ldb, NULL, true, Cm, h->N,
                                v == 1 ? SEMID_GEMM_FP32 : SEMID_GEMM_BF16);
                if (i >= 0) {
                    t[i] = semid_now() - t0;
                    c[i] = semid_cpu_now() - c0;
                }
            }
            double mt = bench_median(t, reps), mc = bench_median(c, reps);
            tot[v] += mt;
            tot_cpu[v] += mc;
            printf(" %7.0f (%6.0f)", f / mt / 1e9, f / mc / 1e9);
            free(t);
            free(c);
        }
        printf("\n");
        free(A);
        free(B);
        free(Cm);
    }
    printf("%-20s %8.0f", "all (one layer + logits)", flops / 1e6);
    for (int v = 0; v < 3; v++) printf(" %7.0f (%6.0f)", flops / tot[v] / 1e9, flops / tot_cpu[v] / 1e9);
    printf("\ntime of all: sgemm %.2f ms, fp32 %.2f ms, bf16 %.2f ms (CPU %.2f, %.2f, %.2f)\n", tot[0] * 1e3,
           tot[1] * 1e3, tot[2] * 1e3, tot_cpu[0] * 1e3, tot_cpu[1] * 1e3, tot_cpu[2] * 1e3);
    return 0;
}
