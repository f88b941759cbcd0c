/* The paper's ablation tokenizers side by side with RQ-KMeans on the same
 * vectors: reconstruction error after each level (mean over items of the
 * squared L2 error, as FAISS reports it), code use, distinct IDs and time;
 * then the prefix-share quantizer on a (search, rec) pair.
 *
 *   bench_quant_ablate [--data X.npy] [--rec R.npy] [--n 3416] [--dim 256]
 *                      [--levels 2] [--k 256] [--epochs 100] [--threads 2]
 *                      [--methods rqkmeans,rqvae,rlfq,dict] [--seed 1234] [--prefix 1]
 *                      [--lfq-temp 1] [--lfq-entropy 1]
 *
 * Without --data the vectors are synthetic, ML-1M sized: a mixture of 400
 * Gaussian components grouped around 32 broad centres with Zipf-like
 * weights and a decaying spectrum (variance of dimension j ~ 1/(1+j/8)).
 * The rec vectors (without --rec) share each item's broad group but draw
 * their own component, so the two tasks agree on the coarse structure only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "io/npy.h"
#include "quant/dictenc.h"
#include "quant/prefix_share.h"
#include "quant/rlfq.h"
#include "quant/rqvae.h"
#include "quant/tokenizer.h"
#include "quant/vq.h"
#include "semid/semid.h"

/* Items of G broad groups; component c of group c % G. group_of (n) receives
 * each item's group. `salt` changes the components but not the groups. */
static semid_status synth(int64_t n, int64_t D, int32_t comps, uint64_t seed, uint64_t salt, const int32_t *group_in,
                          int32_t *group_out, semid_matrix *X) {
    const int32_t G = 32;
    SEMID_TRY(semid_matrix_alloc(X, n, D));
    semid_rng r, rs;
    semid_rng_seed(&r, seed);
    semid_rng_seed(&rs, seed ^ salt);
    float *groups = malloc(sizeof(float) * (size_t)(G * D)), *cent = malloc(sizeof(float) * (size_t)(comps * D));
    double *w = malloc(sizeof(double) * (size_t)comps);
    if (!groups || !cent || !w) return SEMID_ENOMEM;
    for (int64_t i = 0; i < G * D; i++) groups[i] = (float)(semid_rng_normal(&r) / sqrt(1.0 + (double)(i % D) / 8.0));
    for (int32_t k = 0; k < comps; k++) {
        w[k] = 1.0 / pow(k + 1.0, 0.8);
        for (int64_t j = 0; j < D; j++)
            cent[k * D + j] = groups[(k % G) * D + j] + (float)(0.5 * semid_rng_normal(&rs) / sqrt(1.0 + (double)j / 8.0));
    }
    double total = 0;
    for (int32_t k = 0; k < comps; k++) total += w[k];
    for (int64_t i = 0; i < n; i++) {
        int32_t k;
        if (group_in) { /* a component of the given group */
            int32_t per = comps / G;
            k = group_in[i] + G * (int32_t)semid_rng_below(&rs, (uint64_t)per);
        } else {
            k = (int32_t)semid_rng_weighted(&r, w, (size_t)comps, total);
        }
        if (group_out) group_out[i] = k % G;
        for (int64_t j = 0; j < D; j++)
            X->data[i * D + j] = cent[k * D + j] + (float)(0.25 * semid_rng_normal(&rs) / sqrt(1.0 + (double)j / 8.0));
    }
    free(groups);
    free(cent);
    free(w);
    return SEMID_OK;
}

static double total_variance(const semid_matrix *X) { return semid_quant_variance(X->data, X->rows, X->cols) * (double)X->cols; }

static int distinct_ids(const int32_t *codes, int64_t n, int L, int64_t K) {
    /* IDs as integers in base K, sorted. */
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = 0;
        for (int l = 0; l < L; l++) v = v * K + codes[i * L + l];
        ids[i] = v;
    }
    for (int64_t i = 1; i < n; i++) { /* insertion sort: n is small */
        int64_t v = ids[i], j = i;
        while (j > 0 && ids[j - 1] > v) ids[j] = ids[j - 1], j--;
        ids[j] = v;
    }
    int d = n > 0;
    for (int64_t i = 1; i < n; i++) d += ids[i] != ids[i - 1];
    free(ids);
    return d;
}

int main(int argc, char **argv) {
    const char *data = NULL, *rec_path = NULL, *methods = "rqkmeans,rqvae,rlfq,dict";
    int64_t n = 3416, D = 256;
    int levels = 2, K = 256, epochs = 100, threads = 2, prefix = 1;
    uint64_t seed = 1234;
    semid_rlfq_config lfq = semid_rlfq_defaults();
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--rec")) rec_path = argv[i + 1];
        else if (!strcmp(argv[i], "--n")) n = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--dim")) D = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--levels")) levels = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--k")) K = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--methods")) methods = argv[i + 1];
        else if (!strcmp(argv[i], "--lfq-temp")) lfq.entropy_temp = (float)atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--lfq-entropy")) lfq.entropy_weight = (float)atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--prefix")) prefix = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    semid_set_threads(threads);
    semid_set_log_level(SEMID_LOG_WARN);
    semid_matrix X, R;
    int32_t *group = malloc(sizeof(int32_t) * (size_t)n);
    semid_status st = data ? semid_npy_read(data, &X) : synth(n, D, 400, 20250801, 0, NULL, group, &X);
    if (st != SEMID_OK) {
        fprintf(stderr, "error: %s\n", semid_last_error());
        return 1;
    }
    n = X.rows;
    D = X.cols;
    double tv = total_variance(&X);
    printf("data: %lld x %lld, total variance %.4f (the error of predicting the mean)\n", (long long)n, (long long)D, tv);
    printf("%-9s %12s %12s %10s %10s %9s %8s\n", "method", "err@1", "err@L", "err@L/var", "used@0", "distinct", "seconds");
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)(n * levels));
    char list[256];
    snprintf(list, sizeof list, "%s", methods);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        semid_tokenizer_config tc = semid_tokenizer_defaults();
        tc.method = name;
        tc.levels = levels;
        tc.codebook_size = K;
        tc.seed = seed;
        tc.threads = threads;
        if (!strcmp(name, "rqvae") || !strcmp(name, "rlfq")) tc.iters = epochs;
        if (!strcmp(name, "rlfq")) tc.method_config = &lfq;
        semid_tokenizer *tok = NULL;
        double t0 = semid_now();
        st = semid_tokenizer_fit(&X, &tc, &tok);
        if (st == SEMID_OK) st = semid_tokenizer_encode(tok, &X, codes);
        double secs = semid_now() - t0;
        if (st != SEMID_OK) {
            printf("%-9s error: %s\n", name, semid_last_error());
            if (tok) semid_tokenizer_free(tok);
            continue;
        }
        double err[8] = {0};
        double used, perp;
        if (semid_codes_usage(codes, n, levels, 0, K, &used, &perp) != SEMID_OK) {
            printf("%-9s error: %s\n", name, semid_last_error());
            semid_tokenizer_free(tok);
            continue;
        }
        if (semid_tokenizer_level_errors(tok, &X, codes, err) != SEMID_OK) {
            /* Dictionary codes carry no coefficients: report the sparse
             * coding error with the L atoms' least-squares coefficients. */
            const semid_dictenc *dm = semid_tokenizer_state(tok);
            float *e = malloc(sizeof(float) * (size_t)n);
            semid_dictenc_encode(dm, &X, codes, NULL, NULL, e);
            double s = 0;
            for (int64_t i = 0; i < n; i++) s += e[i];
            err[0] = NAN;
            err[levels - 1] = s / (double)n;
            free(e);
        }
        printf("%-9s %12.4f %12.4f %10.3f %9.1f%% %9d %8.1f\n", name, err[0], err[levels - 1], err[levels - 1] / tv,
               100.0 * used, distinct_ids(codes, n, levels, K), secs);
        semid_tokenizer_free(tok);
    }

    if (!prefix) {
        free(codes);
        free(group);
        semid_matrix_free(&X);
        return 0;
    }
    /* Prefix-share on (X, R). */
    st = rec_path ? semid_npy_read(rec_path, &R) : synth(n, D, 400, 20250801, 77, data ? NULL : group, NULL, &R);
    if (st == SEMID_OK && R.rows != n) st = semid_fail(SEMID_EINVAL, "rec rows %lld != %lld", (long long)R.rows, (long long)n);
    if (st != SEMID_OK) {
        fprintf(stderr, "error: %s\n", semid_last_error());
        return 1;
    }
    semid_prefix_share_config pc = semid_prefix_share_defaults();
    pc.shared_size = pc.task_size = K;
    pc.epochs = epochs;
    pc.seed = seed;
    semid_prefix_share *pm;
    semid_prefix_share_report rep;
    st = semid_prefix_share_fit(&X, &R, &pc, &pm, &rep);
    if (st != SEMID_OK) {
        fprintf(stderr, "error: %s\n", semid_last_error());
        return 1;
    }
    int32_t *sh = malloc(sizeof(int32_t) * (size_t)n), *cs = malloc(sizeof(int32_t) * (size_t)n),
            *cr = malloc(sizeof(int32_t) * (size_t)n);
    semid_prefix_share_encode(pm, &X, &R, sh, cs, cr);
    /* Does the shared code follow the groups both tasks share? */
    int64_t same = 0, same_hit = 0, diff = 0, diff_hit = 0;
    for (int64_t i = 0; i < n && !data; i += 7)
        for (int64_t j = i + 1; j < n; j += 11) {
            if (group[i] == group[j]) same++, same_hit += sh[i] == sh[j];
            else diff++, diff_hit += sh[i] == sh[j];
        }
    printf("prefix-share (K_s = K_t = %d, %d epochs, %.1fs): error per item search %.4f (variance %.4f, ratio %.3f), "
           "rec %.4f (variance %.4f, ratio %.3f); codes used shared %.1f%%, search %.1f%%, rec %.1f%%\n",
           K, epochs, rep.seconds, rep.recon_mse[0] * (double)D, total_variance(&X),
           rep.recon_mse[0] * (double)D / total_variance(&X), rep.recon_mse[1] * (double)R.cols, total_variance(&R),
           rep.recon_mse[1] * (double)R.cols / total_variance(&R), 100 * rep.shared_used_share,
           100 * rep.task_used_share[0], 100 * rep.task_used_share[1]);
    if (!data)
        printf("prefix-share: P(same shared code | same group) %.3f, | different group %.3f\n",
               same ? (double)same_hit / (double)same : 0.0, diff ? (double)diff_hit / (double)diff : 0.0);
    semid_prefix_share_free(pm);
    free(sh);
    free(cs);
    free(cr);
    free(codes);
    free(group);
    semid_matrix_free(&X);
    semid_matrix_free(&R);
    return 0;
}
