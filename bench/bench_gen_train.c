/* Training throughput of the transformer (forward + backward + AdamW step),
 * the peer of bench/torch_gpt.py (same model, config and targets), and the
 * speed of KV-cache decoding steps.
 *
 *   bench_gen_train [key=value ...]
 *   keys: V=2000 T=64 L=4 C=128 NH=4 B=32 steps=20 warmup=3 threads=2
 *         targets=all|sparse (sparse: only the last 4 positions of each
 *         sequence have a target, as in search examples) decode_rows=300
 *
 * Prints the median step time and tokens/s (B*T / step time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "gen/model.h"
#include "linalg/adamw.h"
#include "semid/semid.h"

/* CPU time of the whole process (all threads), robust to a busy machine
 * when threads=1. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

int main(int argc, char **argv) {
    int V = 2000, T = 64, L = 4, C = 128, NH = 4, B = 32, steps = 20, warmup = 3, threads = 2, rows = 300;
    const char *targets_mode = "all";
    for (int i = 1; i < argc; i++) {
        char key[32];
        int val;
        if (sscanf(argv[i], "targets=%31s", key) == 1) {
            targets_mode = argv[i] + strlen("targets=");
            continue;
        }
        if (sscanf(argv[i], "%31[^=]=%d", key, &val) != 2) {
            fprintf(stderr, "usage: bench_gen_train [V= T= L= C= NH= B= steps= warmup= threads= decode_rows= targets=all|sparse]\n");
            return 2;
        }
        if (!strcmp(key, "V")) V = val;
        else if (!strcmp(key, "T")) T = val;
        else if (!strcmp(key, "L")) L = val;
        else if (!strcmp(key, "C")) C = val;
        else if (!strcmp(key, "NH")) NH = val;
        else if (!strcmp(key, "B")) B = val;
        else if (!strcmp(key, "steps")) steps = val;
        else if (!strcmp(key, "warmup")) warmup = val;
        else if (!strcmp(key, "threads")) threads = val;
        else if (!strcmp(key, "decode_rows")) rows = val;
        else {
            fprintf(stderr, "unknown key %s\n", key);
            return 2;
        }
    }
    int sparse = strcmp(targets_mode, "sparse") == 0;
    semid_set_threads(threads);
    semid_gpt_config cfg = {.vocab_size = V, .max_seq_len = T, .n_layer = L, .n_head = NH, .d_model = C};
    semid_gpt *m;
    if (semid_gpt_create(&cfg, 1, &m) != SEMID_OK) {
        fprintf(stderr, "%s\n", semid_last_error());
        return 1;
    }
    int64_t N = (int64_t)B * T, n;
    int32_t *in = malloc((size_t)N * sizeof(int32_t)), *tg = malloc((size_t)N * sizeof(int32_t));
    semid_rng r;
    semid_rng_seed(&r, 7);
    for (int64_t i = 0; i < N; i++) {
        in[i] = (int32_t)semid_rng_below(&r, (uint64_t)V);
        tg[i] = (!sparse || i % T >= T - 4) ? (int32_t)semid_rng_below(&r, (uint64_t)V) : -1;
    }
    semid_adamw_config ac = semid_adamw_defaults();
    semid_adamw opt;
    float *params = semid_gpt_params(m, &n);
    if (semid_adamw_init(&opt, &ac, n) != SEMID_OK) return 1;
    double *times = malloc((size_t)steps * sizeof(double)), *cpu = malloc((size_t)steps * sizeof(double));
    float loss = 0;
    for (int s = 0; s < warmup + steps; s++) {
        double t0 = semid_now(), c0 = cpu_now();
        if (semid_gpt_forward(m, in, tg, B, T, &loss) != SEMID_OK) {
            fprintf(stderr, "%s\n", semid_last_error());
            return 1;
        }
        semid_gpt_zero_grad(m);
        semid_gpt_backward(m);
        semid_adamw_step(&opt, params, semid_gpt_grads(m, NULL), semid_gpt_decay_mask(m));
        if (s >= warmup) {
            times[s - warmup] = semid_now() - t0;
            cpu[s - warmup] = cpu_now() - c0;
        }
    }
    double med = median(times, steps), cmed = median(cpu, steps);
    printf("semid train: V=%d T=%d L=%d C=%d NH=%d B=%d threads=%d targets=%s params=%lld\n", V, T, L, C, NH, B,
           threads, targets_mode, (long long)n);
    printf("semid train: median step %.2f ms, %.0f tokens/s (cpu %.2f ms/step; last loss %.4f)\n", med * 1e3,
           (double)N / med, cmed * 1e3, loss);

    /* decoding: prefill a T/4-token prompt for every row (one batch), then single-token steps */
    semid_gpt_cache *c;
    int prompt = T / 4;
    if (rows > 0 && semid_gpt_cache_create(m, rows, rows, T - prompt, &c) == SEMID_OK) {
        float *logits = malloc((size_t)rows * (size_t)V * sizeof(float));
        int32_t *tok = malloc((size_t)rows * sizeof(int32_t));
        int32_t *ptok = malloc((size_t)rows * (size_t)prompt * sizeof(int32_t));
        int32_t *slots = malloc((size_t)rows * sizeof(int32_t)), *lens = malloc((size_t)rows * sizeof(int32_t));
        for (int i = 0; i < rows; i++) {
            memcpy(ptok + (int64_t)i * prompt, in + (int64_t)(i % B) * T, (size_t)prompt * sizeof(int32_t));
            slots[i] = i;
            lens[i] = prompt;
        }
        /* the first pass touches the cache's pages; time the second */
        semid_gpt_cache_prefill(m, c, rows, slots, ptok, lens, 0, V, logits);
        double t0 = semid_now(), c0 = cpu_now();
        semid_gpt_cache_prefill(m, c, rows, slots, ptok, lens, 0, V, logits);
        double t_prefill = semid_now() - t0, c_prefill = cpu_now() - c0;
        for (int i = 0; i < rows; i++) semid_gpt_cache_attach(c, i, i);
        int dsteps = 8 < T - prompt ? 8 : T - prompt;
        double *dt = malloc((size_t)dsteps * sizeof(double)), *dc = malloc((size_t)dsteps * sizeof(double));
        for (int s = 0; s < dsteps; s++) {
            for (int i = 0; i < rows; i++) tok[i] = (int32_t)semid_rng_below(&r, (uint64_t)V);
            double t1 = semid_now(), c1 = cpu_now();
            semid_gpt_cache_step(m, c, tok, rows, 0, V, logits);
            dt[s] = semid_now() - t1;
            dc[s] = cpu_now() - c1;
        }
        double dm = median(dt, dsteps), dcm = median(dc, dsteps);
        printf("semid decode: prefill %d rows x %d tokens %.1f ms (cpu %.1f); step of %d rows: median %.2f ms "
               "(cpu %.2f), %.0f row-steps/s\n",
               rows, prompt, t_prefill * 1e3, c_prefill * 1e3, rows, dm * 1e3, dcm * 1e3, rows / dm);
        free(dt);
        free(dc);
        free(logits);
        free(tok);
        free(ptok);
        free(slots);
        free(lens);
        semid_gpt_cache_free(c);
    }
    semid_adamw_free(&opt);
    free(times);
    free(cpu);
    free(in);
    free(tg);
    semid_gpt_free(m);
    return 0;
}
