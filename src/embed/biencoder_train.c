/* Bi-encoder training loops for the search and multi-task embeddings (see
 * biencoder_train.h). Dimension legend: B = pairs per step and task,
 * Dout = encoder output width, I = items, Q = training queries. */
#include "embed/biencoder_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "base/threads.h"
#include "dist/dist.h"
#include "embed/biencoder_dist.h"
#include "embed/content.h"

semid_biencoder_config semid_biencoder_defaults(void) {
    semid_biencoder_config c = {0};
    c.encoder = semid_text_encoder_defaults();
    c.task = SEMID_BIENCODER_SEARCH;
    c.batch = 512;
    c.epochs = 5;
    c.lr = 1e-2f;
    c.weight_decay = 0.01f;
    c.warmup_frac = 0.1f;
    c.clip_norm = 0.0f;
    c.loss = semid_infonce_defaults();
    c.rec_window = 3;
    c.search_weight = 1.0f;
    c.rec_weight = 1.0f;
    c.max_rec_pairs = 0;
    c.seed = 42;
    c.threads = 0;
    return c;
}

semid_status semid_biencoder_rec_pairs(const semid_dataset *ds, int32_t window, int64_t max_pairs, uint64_t seed,
                                       int32_t **a, int32_t **b, int64_t *n) {
    *a = *b = NULL;
    *n = 0;
    if (window < 1) return semid_fail(SEMID_EINVAL, "rec pairs: window %d < 1", window);
    int64_t total = 0;
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split s = semid_dataset_user_split(ds, u);
        for (int64_t k = s.train_begin; k < s.train_end; k++)
            for (int32_t d = 1; d <= window && k + d < s.train_end; d++) total += ds->seq_items[k] != ds->seq_items[k + d];
    }
    int32_t *pa = malloc((size_t)(total > 0 ? total : 1) * sizeof(int32_t));
    int32_t *pb = malloc((size_t)(total > 0 ? total : 1) * sizeof(int32_t));
    int64_t *perm = NULL;
    if (!pa || !pb) goto oom;
    /* Co-occurrence has no direction: each pair's is drawn at random. */
    semid_rng rng;
    semid_rng_seed(&rng, seed);
    int64_t m = 0;
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split s = semid_dataset_user_split(ds, u);
        for (int64_t k = s.train_begin; k < s.train_end; k++)
            for (int32_t d = 1; d <= window && k + d < s.train_end; d++) {
                int32_t x = ds->seq_items[k], y = ds->seq_items[k + d];
                if (x == y) continue;
                int swap = (int)(semid_rng_u64(&rng) & 1);
                pa[m] = swap ? y : x;
                pb[m] = swap ? x : y;
                m++;
            }
    }
    if (max_pairs > 0 && m > max_pairs) {
        /* Seeded subsample: a partial Fisher-Yates shuffle keeps max_pairs. */
        for (int64_t i = 0; i < max_pairs; i++) {
            int64_t j = i + (int64_t)semid_rng_below(&rng, (uint64_t)(m - i));
            int32_t t = pa[i];
            pa[i] = pa[j], pa[j] = t;
            t = pb[i];
            pb[i] = pb[j], pb[j] = t;
        }
        m = max_pairs;
    }
    *a = pa, *b = pb, *n = m;
    free(perm);
    return SEMID_OK;
oom:
    free(pa), free(pb), free(perm);
    return semid_fail(SEMID_ENOMEM, "out of memory for %lld rec pairs", (long long)total);
}

static semid_status check_config(const semid_biencoder_config *c) {
    if (c->batch < 2) return semid_fail(SEMID_EINVAL, "bi-encoder: batch %d < 2", c->batch);
    if (c->epochs < 1 || c->epochs > SEMID_BIENCODER_MAX_EPOCHS)
        return semid_fail(SEMID_EINVAL, "bi-encoder: epochs %d not in 1..%d", c->epochs, SEMID_BIENCODER_MAX_EPOCHS);
    if (!(c->lr > 0.0f)) return semid_fail(SEMID_EINVAL, "bi-encoder: learning rate must be > 0");
    if (!(c->weight_decay >= 0.0f)) return semid_fail(SEMID_EINVAL, "bi-encoder: weight decay must be >= 0");
    if (!(c->warmup_frac >= 0.0f && c->warmup_frac < 1.0f))
        return semid_fail(SEMID_EINVAL, "bi-encoder: warmup_frac must be in [0, 1)");
    if (!(c->loss.temperature > 0.0f)) return semid_fail(SEMID_EINVAL, "bi-encoder: temperature must be > 0");
    if (!(c->search_weight >= 0.0f) || !(c->rec_weight >= 0.0f))
        return semid_fail(SEMID_EINVAL, "bi-encoder: loss weights must be >= 0");
    return SEMID_OK;
}

/* One task's share of a step: InfoNCE over rows [0,B) vs [B,2B) of Y,
 * gradient (scaled by weight) into the same rows of dY. */
static float task_loss(const float *Y, float *dY, const int32_t *ids, int32_t B, int32_t D, float *p_row, float *p_col,
                       float *dS, const semid_infonce_config *lc, float weight) {
    float loss = semid_infonce_forward(p_row, p_col, Y, Y + (int64_t)B * D, ids, B, D, lc);
    if (weight > 0.0f)
        semid_infonce_backward(dY, dY + (int64_t)B * D, dS, p_row, p_col, Y, Y + (int64_t)B * D, B, D, lc, weight);
    return loss;
}

/* A checksum of what must be the same on every rank (dist/dist.h): the
 * settings that shape the run (not the thread count), the encoder as it
 * starts (vocabulary and weights), the texts and the pairs. */
static uint64_t run_fingerprint(semid_text_encoder *enc, const semid_text_feats *f, const int64_t *left,
                                const int64_t *right, const int32_t *ids, int64_t n_pairs, const int64_t *rec_left,
                                const int64_t *rec_right, const int32_t *rec_ids, int64_t n_rec,
                                const semid_biencoder_config *c) {
    const semid_text_encoder_config *e = semid_text_encoder_get_config(enc);
    double settings[] = {c->batch, c->epochs, c->lr, c->weight_decay, c->warmup_frac, c->clip_norm,
                         c->loss.temperature, c->loss.symmetric, c->search_weight, c->rec_weight,
                         (double)c->seed, e->dim_word, e->dim_out, e->n_buckets, e->ngram_min, e->ngram_max,
                         (double)n_pairs, (double)n_rec, ids != NULL, rec_ids != NULL};
    int64_t n_params = 0;
    const float *params = semid_text_encoder_params(enc, &n_params);
    uint64_t feats = semid_text_feats_checksum(f);
    semid_xxh64_state h;
    semid_xxh64_init(&h);
    semid_xxh64_update(&h, settings, sizeof settings);
    semid_xxh64_update(&h, &feats, sizeof feats);
    semid_xxh64_update(&h, params, (size_t)n_params * sizeof *params);
    semid_xxh64_update(&h, left, (size_t)n_pairs * sizeof *left);
    semid_xxh64_update(&h, right, (size_t)n_pairs * sizeof *right);
    if (ids) semid_xxh64_update(&h, ids, (size_t)n_pairs * sizeof *ids);
    if (n_rec > 0) {
        semid_xxh64_update(&h, rec_left, (size_t)n_rec * sizeof *rec_left);
        semid_xxh64_update(&h, rec_right, (size_t)n_rec * sizeof *rec_right);
        if (rec_ids) semid_xxh64_update(&h, rec_ids, (size_t)n_rec * sizeof *rec_ids);
    }
    return semid_xxh64_final(&h);
}

semid_status semid_biencoder_train_pairs(semid_text_encoder *enc, const semid_text_feats *f, const int64_t *left,
                                         const int64_t *right, const int32_t *ids, int64_t n_pairs,
                                         const int64_t *rec_left, const int64_t *rec_right, const int32_t *rec_ids,
                                         int64_t n_rec, const semid_biencoder_config *cfg,
                                         semid_biencoder_stats *stats) {
    SEMID_TRY(check_config(cfg));
    if (n_pairs < 2) return semid_fail(SEMID_EINVAL, "bi-encoder: %lld training pairs (need at least 2)", (long long)n_pairs);
    int multitask = rec_left != NULL && n_rec >= 2;
    if (rec_left && n_rec < 2) return semid_fail(SEMID_EINVAL, "bi-encoder: %lld rec pairs (need at least 2)", (long long)n_rec);
    int32_t B = cfg->batch;
    if (B > n_pairs) {
        SEMID_WARN("bi-encoder: batch %d larger than the %lld pairs; using %lld", B, (long long)n_pairs, (long long)n_pairs);
        B = (int32_t)n_pairs;
    }
    if (multitask && B > n_rec) B = (int32_t)n_rec;
    const int32_t D = semid_text_encoder_get_config(enc)->dim_out;
    const int tasks = multitask ? 2 : 1;
    const int64_t steps_per_epoch = (n_pairs + B - 1) / B;
    int old_threads = semid_threads_push(cfg->threads);

    semid_adamw_config ac = semid_adamw_defaults();
    ac.lr = cfg->lr;
    ac.weight_decay = cfg->weight_decay;
    ac.clip_norm = cfg->clip_norm;
    ac.total_steps = steps_per_epoch * cfg->epochs;
    ac.warmup_steps = (int64_t)(cfg->warmup_frac * (float)ac.total_steps);
    ac.decay = SEMID_LR_LINEAR;
    semid_text_encoder_opt opt = {0};
    int64_t rows = (int64_t)2 * tasks * B;
    int64_t *idx = malloc((size_t)rows * sizeof(int64_t));
    int32_t *bid = malloc((size_t)2 * B * sizeof(int32_t));
    float *Y = malloc((size_t)rows * D * sizeof(float));
    float *dY = malloc((size_t)rows * D * sizeof(float));
    float *p_row = malloc((size_t)B * B * sizeof(float));
    float *p_col = malloc((size_t)B * B * sizeof(float));
    float *dS = malloc((size_t)B * B * sizeof(float));
    int64_t *perm = malloc((size_t)n_pairs * sizeof(int64_t));
    int64_t *rperm = multitask ? malloc((size_t)n_rec * sizeof(int64_t)) : NULL;
    semid_status st = SEMID_OK;
    if (!idx || !bid || !Y || !dY || !p_row || !p_col || !dS || !perm || (multitask && !rperm))
        st = semid_fail(SEMID_ENOMEM, "out of memory for bi-encoder training (batch %d)", B);
    if (st == SEMID_OK) st = semid_text_encoder_opt_init(&opt, enc, &ac);
    semid_biencoder_dist dist = {0};
    if (st == SEMID_OK) st = semid_biencoder_dist_init(&dist, enc, B, 2 * tasks);
    /* Every rank starts from the same texts, pairs, encoder and settings. */
    st = semid_dist_agree(st);
    if (st == SEMID_OK && dist.ranks > 1)
        st = semid_dist_check_same(run_fingerprint(enc, f, left, right, ids, n_pairs, rec_left, rec_right, rec_ids,
                                                   multitask ? n_rec : 0, cfg),
                                   "bi-encoder training data or settings");
    if (st == SEMID_OK && dist.ranks > 1)
        SEMID_INFO("bi-encoder: %d ranks, each a share of every batch of %d pairs", dist.ranks, B);
    if (stats) {
        memset(stats, 0, sizeof(*stats));
        stats->n_search_pairs = n_pairs;
        stats->n_rec_pairs = multitask ? n_rec : 0;
    }
    semid_rng root;
    semid_rng_seed(&root, cfg->seed);
    semid_rng rec_rng = semid_rng_fork(&root, UINT64_C(0x5ec0000000000000));
    int64_t rec_pos = n_rec;
    if (multitask && st == SEMID_OK)
        for (int64_t k = 0; k < n_rec; k++) rperm[k] = k;
    if (st == SEMID_OK)
        for (int64_t k = 0; k < n_pairs; k++) perm[k] = k;
    semid_text_encoder_zero_grad(enc);
    double t_train = 0.0;
    int64_t pairs_seen = 0;
    for (int32_t ep = 0; ep < cfg->epochs && st == SEMID_OK; ep++) {
        double t0 = semid_now();
        semid_rng er = semid_rng_fork(&root, (uint64_t)ep);
        semid_rng_shuffle_i64(&er, perm, (size_t)n_pairs);
        double sum_s = 0.0, sum_r = 0.0;
        int64_t n_steps = 0;
        semid_progress prog;
        char label[64];
        snprintf(label, sizeof(label), "bi-encoder epoch %d/%d", ep + 1, cfg->epochs);
        semid_progress_start(&prog, label, steps_per_epoch);
        for (int64_t s = 0; s < steps_per_epoch && st == SEMID_OK; s++) {
            int64_t start = s * B;
            int32_t b = (int32_t)(n_pairs - start < B ? n_pairs - start : B);
            if (b < 2) break; /* a single pair has no negative */
            for (int32_t k = 0; k < b; k++) {
                int64_t p = perm[start + k];
                idx[k] = left[p];
                idx[b + k] = right[p];
                bid[k] = ids ? ids[p] : (int32_t)k;
            }
            int32_t nrows = 2 * b;
            if (multitask) {
                for (int32_t k = 0; k < b; k++) {
                    if (rec_pos == n_rec) {
                        semid_rng_shuffle_i64(&rec_rng, rperm, (size_t)n_rec);
                        rec_pos = 0;
                    }
                    int64_t p = rperm[rec_pos++];
                    idx[2 * b + k] = rec_left[p];
                    idx[3 * b + k] = rec_right[p];
                    bid[b + k] = rec_ids ? rec_ids[p] : (int32_t)k;
                }
                nrows = 4 * b;
            }
            /* this rank's share of the texts (all of them on one rank),
             * then the whole batch's vectors on every rank */
            int32_t lo, share;
            semid_biencoder_dist_share(&dist, b, &lo, &share);
            const int64_t *idx_own;
            float *Y_own;
            semid_biencoder_dist_own_texts(&dist, idx, Y, b, &idx_own, &Y_own);
            if (share > 0) st = semid_text_encoder_forward(enc, f, idx_own, nrows / b * share, Y_own);
            st = semid_biencoder_dist_gather(&dist, Y, b, st);
            float ls = 0.0f, lr_ = 0.0f;
            if (st == SEMID_OK) {
                memset(dY, 0, (size_t)nrows * D * sizeof(float));
                ls = task_loss(Y, dY, bid, b, D, p_row, p_col, dS, &cfg->loss, multitask ? cfg->search_weight : 1.0f);
                if (multitask)
                    lr_ = task_loss(Y + (int64_t)2 * b * D, dY + (int64_t)2 * b * D, bid + b, b, D, p_row, p_col, dS,
                                    &cfg->loss, cfg->rec_weight);
                if (share > 0) st = semid_text_encoder_backward(enc, semid_biencoder_dist_own_grads(&dist, dY, b));
            }
            st = semid_biencoder_dist_sum_grads(&dist, enc, st);
            if (st != SEMID_OK) break;
            sum_s += ls;
            sum_r += lr_;
            char extra[96];
            if (multitask)
                snprintf(extra, sizeof(extra), "search loss %.4f rec loss %.4f", ls, lr_);
            else
                snprintf(extra, sizeof(extra), "loss %.4f", ls);
            semid_text_encoder_step(enc, &opt);
            semid_text_encoder_zero_grad(enc);
            n_steps++;
            pairs_seen += (int64_t)b * tasks;
            semid_progress_update(&prog, s + 1, extra);
        }
        double dt = semid_now() - t0;
        t_train += dt;
        char extra[96];
        double ms = n_steps ? sum_s / n_steps : 0.0, mr = n_steps ? sum_r / n_steps : 0.0;
        if (multitask)
            snprintf(extra, sizeof(extra), "search loss %.4f rec loss %.4f", ms, mr);
        else
            snprintf(extra, sizeof(extra), "loss %.4f", ms);
        semid_progress_finish(&prog, extra);
        if (stats && st == SEMID_OK) {
            stats->search_loss[ep] = ms;
            stats->rec_loss[ep] = mr;
            stats->epoch_seconds[ep] = dt;
            stats->epochs = ep + 1;
            stats->steps += n_steps;
        }
    }
    if (stats && t_train > 0) stats->pairs_per_second = (double)pairs_seen / t_train;
    if (stats) {
        stats->ranks = dist.ranks;
        stats->train_seconds = t_train;
        stats->exchange_seconds = dist.seconds;
        stats->exchange_bytes_per_step = dist.steps ? dist.bytes / (double)dist.steps : 0.0;
    }
    semid_biencoder_dist_free(&dist);
    semid_text_encoder_opt_free(&opt);
    free(idx), free(bid), free(Y), free(dY), free(p_row), free(p_col), free(dS), free(perm), free(rperm);
    semid_threads_pop(old_threads);
    return st;
}

semid_status semid_biencoder_train(const semid_dataset *ds, const semid_wordvec *init,
                                   const semid_biencoder_config *cfg, semid_text_encoder **enc_out,
                                   semid_matrix *items_out, semid_biencoder_stats *stats) {
    if (enc_out) *enc_out = NULL;
    if (items_out) memset(items_out, 0, sizeof(*items_out));
    SEMID_TRY(check_config(cfg));
    const int32_t I = ds->n_items;
    int64_t Q = 0;
    for (int32_t q = 0; q < ds->n_queries; q++)
        Q += ds->queries[q].split == SEMID_SPLIT_TRAIN && ds->queries[q].item >= 0 && ds->queries[q].item < I;
    if (Q < 2) return semid_fail(SEMID_EINVAL, "bi-encoder: the dataset has %lld training queries (need at least 2)", (long long)Q);

    /* Texts: the items first, then the training queries. */
    char **item_texts = NULL;
    SEMID_TRY(semid_item_texts(ds, &item_texts));
    const char **texts = malloc(((size_t)I + (size_t)Q) * sizeof(char *));
    int64_t *left = malloc((size_t)Q * sizeof(int64_t)), *right = malloc((size_t)Q * sizeof(int64_t));
    int32_t *ids = malloc((size_t)Q * sizeof(int32_t));
    int32_t *ra = NULL, *rb = NULL;
    int64_t *rl = NULL, *rr = NULL;
    int64_t n_rec = 0;
    semid_text_encoder *enc = NULL;
    semid_text_feats *f = NULL;
    semid_status st = SEMID_OK;
    if (!texts || !left || !right || !ids) {
        st = semid_fail(SEMID_ENOMEM, "out of memory for bi-encoder training data");
        goto done;
    }
    for (int32_t i = 0; i < I; i++) texts[i] = item_texts[i];
    int64_t k = 0;
    for (int32_t q = 0; q < ds->n_queries; q++) {
        const semid_query *qq = &ds->queries[q];
        if (qq->split != SEMID_SPLIT_TRAIN || qq->item < 0 || qq->item >= I) continue;
        texts[I + k] = qq->text;
        left[k] = I + k;
        right[k] = qq->item;
        ids[k] = qq->item;
        k++;
    }
    if (cfg->task == SEMID_BIENCODER_MULTITASK) {
        st = semid_biencoder_rec_pairs(ds, cfg->rec_window, cfg->max_rec_pairs, cfg->seed ^ UINT64_C(0x9e3779b97f4a7c15),
                                       &ra, &rb, &n_rec);
        if (st != SEMID_OK) goto done;
        if (n_rec < 2) {
            st = semid_fail(SEMID_EINVAL, "bi-encoder: multi-task needs co-occurring items, found %lld pairs", (long long)n_rec);
            goto done;
        }
        rl = malloc((size_t)n_rec * sizeof(int64_t));
        rr = malloc((size_t)n_rec * sizeof(int64_t));
        if (!rl || !rr) {
            st = semid_fail(SEMID_ENOMEM, "out of memory for rec pairs");
            goto done;
        }
        for (int64_t p = 0; p < n_rec; p++) rl[p] = ra[p], rr[p] = rb[p];
    }
    SEMID_INFO("bi-encoder (%s): %lld search pairs%s, %d items", cfg->task == SEMID_BIENCODER_MULTITASK ? "multi-task" : "search",
               (long long)Q, cfg->task == SEMID_BIENCODER_MULTITASK ? " + rec pairs" : "", I);
    if ((st = semid_text_encoder_create(&cfg->encoder, texts, I + Q, init, &enc)) != SEMID_OK) goto done;
    if ((st = semid_text_encoder_featurize(enc, texts, I + Q, &f)) != SEMID_OK) goto done;
    st = semid_biencoder_train_pairs(enc, f, left, right, ids, Q, rl, rr, cfg->task == SEMID_BIENCODER_MULTITASK ? rb : NULL,
                                     n_rec, cfg, stats);
    if (st == SEMID_OK && items_out) st = semid_text_encoder_encode(enc, (const char *const *)item_texts, I, items_out);
done:
    semid_text_feats_free(f);
    if (st == SEMID_OK && enc_out)
        *enc_out = enc;
    else
        semid_text_encoder_free(enc);
    semid_item_texts_free(item_texts, I);
    free(texts), free(left), free(right), free(ids), free(ra), free(rb), free(rl), free(rr);
    return st;
}
