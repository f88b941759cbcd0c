/* semid's k-means and RQ-KMeans on the data FAISS gets (bench/faiss_rq.py):
 * writes the data sets as .npy (if absent), then times training and
 * measures the reconstruction error (mean over vectors of the squared L2
 * error) over several runs. Results go to DIR/semid_results.tsv; the Python
 * peer writes DIR/faiss_results.tsv and prints both side by side.
 *
 *   bench_quant_faiss DIR [--runs 3] [--threads 2] [--sets small,paper]
 *
 * Data: "small" is ML-1M-sized (3,416 x 256), "paper" the paper's scale
 * (62,000 x 768): mixtures of Gaussians (400 / 4,000 components, grouped
 * around 32 broad centres, Zipf-like weights) with a decaying spectrum
 * (variance of dimension j ~ 1/(1+j/8)), as item embeddings tend to look:
 * more components than codes, so no codebook fits the data exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "io/npy.h"
#include "quant/kmeans.h"
#include "quant/rqkmeans.h"
#include "semid/semid.h"
#include "bench_stats.h"

typedef struct dataset_spec {
    const char *name;
    int64_t n;
    int32_t d;
    int32_t components;
} dataset_spec;

static const dataset_spec SPECS[] = {{"small", 3416, 256, 400}, {"paper", 62000, 768, 4000}};

static semid_status make_data(const dataset_spec *s, semid_matrix *m) {
    SEMID_TRY(semid_matrix_alloc(m, s->n, s->d));
    semid_rng r;
    semid_rng_seed(&r, 20250801);
    const int32_t G = 32; /* broad groups ("genres"), each holding components */
    double *sigma = malloc(sizeof(double) * (size_t)s->d);
    double *w = malloc(sizeof(double) * (size_t)s->components);
    float *groups = malloc(sizeof(float) * (size_t)G * (size_t)s->d);
    float *centres = malloc(sizeof(float) * (size_t)s->components * (size_t)s->d);
    if (!sigma || !w || !groups || !centres) return SEMID_ENOMEM;
    for (int32_t j = 0; j < s->d; j++) sigma[j] = 1.0 / sqrt(1.0 + j / 8.0);
    for (int64_t i = 0; i < (int64_t)G * s->d; i++) groups[i] = (float)(semid_rng_normal(&r) * sigma[i % s->d]);
    double total = 0;
    for (int32_t k = 0; k < s->components; k++) {
        w[k] = 1.0 / pow(k + 1.0, 0.7);
        total += w[k];
        int64_t g = (int64_t)semid_rng_below(&r, (uint64_t)G);
        for (int32_t j = 0; j < s->d; j++)
            centres[(int64_t)k * s->d + j] = groups[g * s->d + j] + (float)(0.7 * semid_rng_normal(&r) * sigma[j]);
    }
    for (int64_t i = 0; i < s->n; i++) {
        size_t k = semid_rng_weighted(&r, w, (size_t)s->components, total);
        for (int32_t j = 0; j < s->d; j++)
            m->data[i * s->d + j] = centres[k * s->d + j] + (float)(0.5 * semid_rng_normal(&r) * sigma[j]);
    }
    free(sigma);
    free(w);
    free(groups);
    free(centres);
    return SEMID_OK;
}

static double mse_of(const semid_matrix *X, const float *rec) {
    double s = 0;
    for (int64_t i = 0; i < X->rows * X->cols; i++) {
        double t = (double)X->data[i] - rec[i];
        s += t * t;
    }
    return s / (double)X->rows;
}

typedef struct result {
    double mse, train_s, encode_s, train_cpu_s; /* train_cpu_s: CPU time of all threads */
} result;

static double cpu_now(void) { return (double)clock() / CLOCKS_PER_SEC; }

static semid_status run_kmeans(const semid_matrix *X, semid_kmeans_init init, result *out) {
    semid_kmeans_config cfg = semid_kmeans_defaults();
    cfg.init = init;
    const int32_t K = 256;
    float *C = malloc(sizeof(float) * (size_t)K * (size_t)X->cols);
    if (!C) return SEMID_ENOMEM;
    double t0 = semid_now(), c0 = cpu_now();
    semid_status st = semid_kmeans_fit(X->data, X->rows, (int32_t)X->cols, K, &cfg, C, NULL);
    out->train_s = semid_now() - t0;
    out->train_cpu_s = cpu_now() - c0;
    double obj = 0;
    t0 = semid_now();
    if (st == SEMID_OK) st = semid_kmeans_objective(X->data, X->rows, (int32_t)X->cols, C, K, &obj);
    out->encode_s = semid_now() - t0;
    out->mse = obj / (double)X->rows;
    free(C);
    return st;
}

static semid_status run_rq(const semid_matrix *X, int32_t beam, result *out) {
    semid_rqkmeans_config cfg = semid_rqkmeans_defaults();
    cfg.beam = beam;
    semid_rqkmeans *rq;
    double t0 = semid_now(), c0 = cpu_now();
    SEMID_TRY(semid_rqkmeans_fit(X, &cfg, &rq));
    out->train_s = semid_now() - t0;
    out->train_cpu_s = cpu_now() - c0;
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)X->rows * 2);
    float *rec = malloc(sizeof(float) * (size_t)(X->rows * X->cols));
    semid_status st = codes && rec ? SEMID_OK : SEMID_ENOMEM;
    t0 = semid_now();
    if (st == SEMID_OK) st = semid_rqkmeans_encode(rq, X, codes);
    out->encode_s = semid_now() - t0;
    if (st == SEMID_OK) {
        semid_rqkmeans_reconstruct(rq, codes, X->rows, 2, rec);
        out->mse = mse_of(X, rec);
    }
    free(codes);
    free(rec);
    semid_rqkmeans_free(rq);
    return st;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_quant_faiss DIR [--runs 3] [--threads 2] [--sets small,paper]\n");
        return 2;
    }
    const char *dir = argv[1], *sets = "small,paper";
    int runs = 3, threads = 2;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--runs") == 0) runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--sets") == 0) sets = argv[i + 1];
    }
    if (runs < 1 || runs > 50) runs = 3;
    semid_set_threads(threads);
    if (semid_mkdirs(dir) != SEMID_OK) {
        fprintf(stderr, "bench: %s\n", semid_last_error());
        return 1;
    }
    char *out_path = semid_path_join(dir, "semid_results.tsv");
    FILE *out = fopen(out_path, "w");
    if (!out) {
        fprintf(stderr, "bench: cannot write %s\n", out_path);
        return 1;
    }
    fprintf(out, "side\tdata\talgo\tmse\ttrain_s\tencode_s\ttrain_cpu_s\n");
    for (size_t s = 0; s < sizeof SPECS / sizeof SPECS[0]; s++) {
        const dataset_spec *spec = &SPECS[s];
        if (!strstr(sets, spec->name)) continue;
        char name[64];
        snprintf(name, sizeof name, "%s.npy", spec->name);
        char *path = semid_path_join(dir, name);
        semid_matrix X;
        if (!semid_path_exists(path)) {
            if (make_data(spec, &X) != SEMID_OK || semid_npy_write(path, &X) != SEMID_OK) {
                fprintf(stderr, "bench: cannot make %s: %s\n", path, semid_last_error());
                return 1;
            }
            semid_matrix_free(&X);
        }
        if (semid_npy_read(path, &X) != SEMID_OK) {
            fprintf(stderr, "bench: %s\n", semid_last_error());
            return 1;
        }
        free(path);
        const char *algos[] = {"kmeans_pp", "kmeans_random", "rq_beam1", "rq_beam5"};
        for (int a = 0; a < 4; a++) {
            double mse[50], tr[50], en[50], cpu[50];
            for (int r = 0; r < runs; r++) {
                result res = {0};
                semid_status st = a == 0 ? run_kmeans(&X, SEMID_KMEANS_INIT_PLUSPLUS, &res)
                                  : a == 1 ? run_kmeans(&X, SEMID_KMEANS_INIT_RANDOM, &res)
                                  : run_rq(&X, a == 2 ? 1 : 5, &res);
                if (st != SEMID_OK) {
                    fprintf(stderr, "bench: %s\n", semid_last_error());
                    return 1;
                }
                fprintf(out, "semid\t%s\t%s\t%.6f\t%.4f\t%.4f\t%.4f\n", spec->name, algos[a], res.mse, res.train_s,
                        res.encode_s, res.train_cpu_s);
                fflush(out);
                mse[r] = res.mse;
                tr[r] = res.train_s;
                en[r] = res.encode_s;
                cpu[r] = res.train_cpu_s;
            }
            printf("semid  %-6s %-14s mse %10.5f  train %8.3fs (cpu %8.3fs)  encode %7.3fs  (median of %d, %d threads)\n",
                   spec->name, algos[a], bench_median(mse, runs), bench_median(tr, runs), bench_median(cpu, runs), bench_median(en, runs), runs,
                   threads);
            fflush(stdout);
        }
        semid_matrix_free(&X);
    }
    fclose(out);
    free(out_path);
    return 0;
}
