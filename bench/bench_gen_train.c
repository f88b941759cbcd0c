/* Training throughput of the transformer (forward + backward + AdamW step),
 * the peer of bench/torch_gpt.py (same model, config and targets), and the
 * speed of KV-cache decoding steps.
 *
 *   bench_gen_train [key=value ...]
 *   keys: V=2000 T=64 L=4 C=128 NH=4 B=32 steps=20 warmup=3 threads=2
 *         targets=all|sparse (sparse: only the last 4 positions of each
 *         sequence have a target, as in search examples) decode_rows=300
 *         bf16=0|1 (the products in bf16 with fp32 sums)
 *
 * Prints the median step time and tokens/s (B*T / step time).
 *
 * Real batches: dataset=DS.sdd sids=SIDS.json (as for semid train) trains
 * on the trainer's sequences (window=20 items, a seeded shuffle, B of them
 * per step) instead, V and T from them, the softmax over the ID tokens:
 *   pack=1|0 (sequences packed into shared rows, as the trainer; or a
 *   padded row each) and dump=PREFIX, which writes the steps' batches,
 *   padded, for torch_gpt.py --batches PREFIX (PREFIX.inputs.npy,
 *   PREFIX.targets.npy: (steps x B, Tmax); PREFIX.meta.npy: V, the ID
 *   tokens' first and end, B, Tmax, then each step's T).
 * It prints the tokens of real work per second (padding excluded), wall
 * and per CPU second, over all timed steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "data/dataset.h"
#include "gen/examples.h"
#include "gen/model.h"
#include "gen/vocab.h"
#include "io/npy.h"
#include "linalg/adamw.h"
#include "quant/idtable.h"
#include "semid/semid.h"
#include "bench_stats.h"

/* Real batches (see the header). */
static int real_batches(const char *dataset, const char *sids, const char *dump, int L, int C, int NH, int B, int steps,
                        int warmup, int threads, int pack, int bf16) {
    semid_dataset ds = {0};
    semid_idtable tb = {0};
    semid_gen_vocab v = {0};
    semid_gen_seqs seqs = {0};
    semid_status st = semid_dataset_load(dataset, &ds);
    if (st == SEMID_OK) st = semid_idtable_load(sids, &tb);
    semid_gen_example_options ex = semid_gen_example_defaults();
    ex.max_seq_len = (ex.history_window + 1) * tb.n_levels > 24 + 1 + tb.n_levels ? (ex.history_window + 1) * tb.n_levels
                                                                                   : 24 + 1 + tb.n_levels;
    uint8_t *role = malloc((size_t)(ds.n_queries > 0 ? ds.n_queries : 1)), *is_train = malloc((size_t)(ds.n_queries > 0 ? ds.n_queries : 1));
    if (st == SEMID_OK) {
        semid_gen_query_roles(&ds, &ex, role);
        for (int32_t q = 0; q < ds.n_queries; q++) is_train[q] = role[q] == SEMID_SPLIT_TRAIN;
        semid_gen_vocab_options vo = semid_gen_vocab_defaults();
        st = semid_gen_vocab_build(&ds, is_train, &tb, &vo, &v);
    }
    if (st == SEMID_OK) st = semid_gen_examples_train(&ds, &tb, &v, role, &ex, &seqs);
    semid_gpt *m = NULL;
    semid_gpt_config cfg = {.vocab_size = v.size, .max_seq_len = ex.max_seq_len, .n_layer = L, .n_head = NH, .d_model = C};
    if (st == SEMID_OK) st = semid_gpt_create(&cfg, 1, &m);
    if (st == SEMID_OK) st = semid_gpt_set_output_range(m, v.sid_base, v.sid_base + v.n_sid);
    if (st != SEMID_OK) {
        fprintf(stderr, "%s\n", semid_last_error());
        return 1;
    }
    semid_gpt_set_gemm(m, bf16 ? SEMID_GEMM_BF16 : SEMID_GEMM_FP32);
    semid_set_threads(threads);
    if (semid_gpt_reserve(m, B, seqs.max_len - 1) != SEMID_OK) return 1;
    int n_steps = warmup + steps;
    int64_t *order = malloc((size_t)seqs.n * sizeof *order);
    for (int64_t j = 0; j < seqs.n; j++) order[j] = j;
    semid_rng r;
    semid_rng_seed(&r, 1);
    semid_rng_shuffle_i64(&r, order, (size_t)seqs.n);
    int32_t Tmax = seqs.max_len - 1;
    size_t cells = (size_t)B * (size_t)seqs.max_len;
    int32_t *in = malloc(cells * sizeof *in), *tg = malloc(cells * sizeof *tg), *pos = malloc(cells * sizeof *pos);
    int32_t *din = dump ? calloc((size_t)n_steps * B * (size_t)Tmax, sizeof *din) : NULL;
    int32_t *dtg = dump ? malloc((size_t)n_steps * B * (size_t)Tmax * sizeof *dtg) : NULL;
    int32_t *meta = dump ? malloc((size_t)(5 + n_steps) * sizeof *meta) : NULL;
    int64_t n;
    float *params = semid_gpt_params(m, &n);
    semid_adamw_config ac = semid_adamw_defaults();
    semid_adamw opt;
    if (semid_adamw_init(&opt, &ac, n) != SEMID_OK) return 1;
    double *times = malloc((size_t)n_steps * sizeof *times), t_all = 0, c_all = 0, tok_all = 0, slots_all = 0;
    float loss = 0;
    for (int s = 0; s < n_steps; s++) {
        const int64_t *idx = order + ((int64_t)s * B) % (seqs.n - B);
        int32_t rows = B, T = 0;
        if (dump) { /* the padded batch, for the peer */
            semid_gen_batch_fill(&seqs, idx, B, in, tg, &T);
            meta[5 + s] = T;
            for (int32_t b = 0; b < B; b++)
                for (int32_t t = 0; t < Tmax; t++) {
                    int64_t d = ((int64_t)s * B + b) * Tmax + t;
                    din[d] = t < T ? in[b * T + t] : SEMID_TOK_PAD;
                    dtg[d] = t < T ? tg[b * T + t] : -1;
                }
        }
        double t0 = semid_now(), c0 = semid_cpu_now();
        if (pack) semid_gen_batch_pack(&seqs, idx, B, in, tg, pos, &rows, &T, NULL);
        else semid_gen_batch_fill(&seqs, idx, B, in, tg, &T);
        if (semid_gpt_forward_packed(m, in, tg, pack ? pos : NULL, rows, T, &loss) != SEMID_OK) {
            fprintf(stderr, "%s\n", semid_last_error());
            return 1;
        }
        semid_gpt_zero_grad(m);
        semid_gpt_backward(m);
        semid_adamw_step(&opt, params, semid_gpt_grads(m, NULL), semid_gpt_decay_mask(m));
        double dt = semid_now() - t0, dc = semid_cpu_now() - c0;
        times[s] = dt;
        if (s >= warmup) {
            t_all += dt;
            c_all += dc;
            for (int64_t j = 0; j < (int64_t)rows * T; j++) tok_all += in[j] != SEMID_TOK_PAD;
            slots_all += (double)rows * T;
        }
    }
    printf("semid train (real batches): %s, L=%d C=%d NH=%d B=%d threads=%d pack=%d bf16=%d V=%d T<=%d, %lld sequences\n",
           dataset, L, C, NH, B, threads, pack, bf16, v.size, Tmax, (long long)seqs.n);
    printf("semid train: %.0f tokens/s, %.0f tokens per CPU second (real tokens; %.1f%% of the slots padding), "
           "median step %.2f ms; last loss %.4f\n",
           tok_all / t_all, tok_all / c_all, 100.0 * (1.0 - tok_all / slots_all), bench_median(times + warmup, steps) * 1e3, loss);
    int rc = 0;
    if (dump) {
        meta[0] = v.size;
        meta[1] = v.sid_base;
        meta[2] = v.sid_base + v.n_sid;
        meta[3] = B;
        meta[4] = Tmax;
        char path[1024];
        snprintf(path, sizeof path, "%s.inputs.npy", dump);
        st = semid_npy_write_i32(path, din, (int64_t)n_steps * B, Tmax);
        snprintf(path, sizeof path, "%s.targets.npy", dump);
        if (st == SEMID_OK) st = semid_npy_write_i32(path, dtg, (int64_t)n_steps * B, Tmax);
        snprintf(path, sizeof path, "%s.meta.npy", dump);
        if (st == SEMID_OK) st = semid_npy_write_i32(path, meta, 5 + n_steps, 0);
        if (st != SEMID_OK) {
            fprintf(stderr, "%s\n", semid_last_error());
            rc = 1;
        } else {
            printf("wrote %s.{inputs,targets,meta}.npy: %d batches\n", dump, n_steps);
        }
    }
    semid_adamw_free(&opt);
    semid_gpt_free(m);
    free(times), free(order), free(in), free(tg), free(pos), free(din), free(dtg), free(meta), free(role), free(is_train);
    semid_gen_seqs_free(&seqs);
    semid_gen_vocab_free(&v);
    semid_idtable_free(&tb);
    semid_dataset_free(&ds);
    return rc;
}

int main(int argc, char **argv) {
    int V = 2000, T = 64, L = 4, C = 128, NH = 4, B = 32, steps = 20, warmup = 3, threads = 2, rows = 300;
    int pack = 1, bf16 = 0;
    const char *targets_mode = "all", *dataset = NULL, *sids = NULL, *dump = NULL;
    for (int i = 1; i < argc; i++) {
        char key[32];
        int val;
        if (sscanf(argv[i], "targets=%31s", key) == 1) {
            targets_mode = argv[i] + strlen("targets=");
            continue;
        }
        if (!strncmp(argv[i], "dataset=", 8)) {
            dataset = argv[i] + 8;
            continue;
        }
        if (!strncmp(argv[i], "sids=", 5)) {
            sids = argv[i] + 5;
            continue;
        }
        if (!strncmp(argv[i], "dump=", 5)) {
            dump = argv[i] + 5;
            continue;
        }
        if (sscanf(argv[i], "%31[^=]=%d", key, &val) != 2) {
            fprintf(stderr, "usage: bench_gen_train [V= T= L= C= NH= B= steps= warmup= threads= decode_rows= "
                            "targets=all|sparse bf16=0|1] [dataset= sids= pack=1|0 dump=PREFIX]\n");
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
        else if (!strcmp(key, "pack")) pack = val;
        else if (!strcmp(key, "bf16")) bf16 = val;
        else {
            fprintf(stderr, "unknown key %s\n", key);
            return 2;
        }
    }
    if (dataset || sids) {
        if (!dataset || !sids) {
            fprintf(stderr, "bench_gen_train: real batches need both dataset= and sids=\n");
            return 2;
        }
        return real_batches(dataset, sids, dump, L, C, NH, B, steps, warmup, threads, pack, bf16);
    }
    int sparse = strcmp(targets_mode, "sparse") == 0;
    semid_set_threads(threads);
    semid_gpt_config cfg = {.vocab_size = V, .max_seq_len = T, .n_layer = L, .n_head = NH, .d_model = C};
    semid_gpt *m;
    if (semid_gpt_create(&cfg, 1, &m) != SEMID_OK) {
        fprintf(stderr, "%s\n", semid_last_error());
        return 1;
    }
    semid_gpt_set_gemm(m, bf16 ? SEMID_GEMM_BF16 : SEMID_GEMM_FP32);
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
        double t0 = semid_now(), c0 = semid_cpu_now();
        if (semid_gpt_forward(m, in, tg, B, T, &loss) != SEMID_OK) {
            fprintf(stderr, "%s\n", semid_last_error());
            return 1;
        }
        semid_gpt_zero_grad(m);
        semid_gpt_backward(m);
        semid_adamw_step(&opt, params, semid_gpt_grads(m, NULL), semid_gpt_decay_mask(m));
        if (s >= warmup) {
            times[s - warmup] = semid_now() - t0;
            cpu[s - warmup] = semid_cpu_now() - c0;
        }
    }
    double med = bench_median(times, steps), cmed = bench_median(cpu, steps);
    printf("semid train: V=%d T=%d L=%d C=%d NH=%d B=%d threads=%d targets=%s bf16=%d params=%lld\n", V, T, L, C, NH, B,
           threads, targets_mode, bf16, (long long)n);
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
        double t0 = semid_now(), c0 = semid_cpu_now();
        semid_gpt_cache_prefill(m, c, rows, slots, ptok, lens, 0, V, logits);
        double t_prefill = semid_now() - t0, c_prefill = semid_cpu_now() - c0;
        for (int i = 0; i < rows; i++) semid_gpt_cache_attach(c, i, i);
        int dsteps = 8 < T - prompt ? 8 : T - prompt;
        double *dt = malloc((size_t)dsteps * sizeof(double)), *dc = malloc((size_t)dsteps * sizeof(double));
        for (int s = 0; s < dsteps; s++) {
            for (int i = 0; i < rows; i++) tok[i] = (int32_t)semid_rng_below(&r, (uint64_t)V);
            double t1 = semid_now(), c1 = semid_cpu_now();
            semid_gpt_cache_step(m, c, tok, rows, 0, V, logits);
            dt[s] = semid_now() - t1;
            dc[s] = semid_cpu_now() - c1;
        }
        double dm = bench_median(dt, dsteps), dcm = bench_median(dc, dsteps);
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
