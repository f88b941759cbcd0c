#include "exp/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "embed/embed_methods.h"
#include "text/tokenize.h"

static exp_key key_from_u64(uint64_t h) {
    exp_key k;
    snprintf(k.hex, sizeof k.hex, "%016llx", (unsigned long long)h);
    return k;
}

exp_key exp_key_make(const char *description, const exp_key *upstream) {
    uint64_t h = semid_hash_bytes(description, strlen(description), 0x5e1d5e1dULL);
    if (upstream) h = semid_hash_bytes(upstream->hex, 16, h);
    return key_from_u64(h);
}

exp_key exp_key_combine(const exp_key *a, const exp_key *b) {
    uint64_t h = semid_hash_bytes(a->hex, 16, 0x0c0ffeeULL);
    h = semid_hash_bytes(b->hex, 16, h);
    return key_from_u64(h);
}

/* Digest of "<tag>|<selected settings as JSON>|<extra>" and the upstream key. */
static semid_status key_from_config(const exp_config *cfg, const char *tag, const char *const *include,
                                    const char *const *exclude, const char *extra, const exp_key *upstream,
                                    exp_key *key) {
    char *json = include ? exp_config_select_json(cfg, include, exclude) : NULL;
    if (include && !json) return semid_fail(SEMID_ENOMEM, "out of memory");
    size_t n = strlen(tag) + (json ? strlen(json) : 0) + strlen(extra) + 3;
    char *desc = malloc(n);
    if (!desc) {
        free(json);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    snprintf(desc, n, "%s|%s|%s", tag, json ? json : "", extra);
    *key = exp_key_make(desc, upstream);
    free(desc);
    free(json);
    return SEMID_OK;
}

semid_status exp_key_dataset(const exp_config *cfg, exp_key *key) {
    static const char *const include[] = {"dataset", "dataset_format", "synthetic", "queries", "cold.fraction",
                                          "cold.seed", NULL};
    static const char *const exclude[] = {"queries.unseen_style", NULL}; /* a stage of its own (exp_key_unseen) */
    return key_from_config(cfg, "data v2", include, exclude, "", NULL, key);
}

semid_status exp_key_unseen(const exp_config *cfg, const exp_key *data_key, exp_key *key) {
    static const char *const include[] = {"queries.unseen_style", NULL};
    return key_from_config(cfg, "unseen v1", include, NULL, "", data_key, key);
}

exp_key exp_key_unseen_eval(const exp_key *eval_key, const exp_key *unseen_key) {
    return exp_key_combine(eval_key, unseen_key);
}

semid_status exp_key_embedding(const exp_config *cfg, const exp_key *upstream, const char *method, exp_key *key) {
    static const char *const embeddings[] = {"embeddings", NULL};
    static const char *const content[] = {"embeddings.glove", NULL};
    /* ENMF reads no text; the bi-encoders read no ENMF setting. */
    static const char *const not_enmf[] = {"embeddings.glove", "embeddings.dim", "embeddings.epochs",
                                           "embeddings.batch", "embeddings.lr", NULL};
    static const char *const not_biencoder[] = {"embeddings.enmf_dim", "embeddings.enmf_epochs", NULL};
    char extra[96];
    snprintf(extra, sizeof extra, "%s|seed=%lld", method, (long long)cfg->seeds[0]);
    const semid_embed_method *m;
    SEMID_TRY(semid_embed_method_lookup(method, "embedding method", &m));
    switch (m->kind) {
    case SEMID_EMBED_FUSED: return key_from_config(cfg, "emb v2", NULL, NULL, method, upstream, key); /* all upstream */
    case SEMID_EMBED_CONTENT: return key_from_config(cfg, "emb v2", content, NULL, method, upstream, key);
    case SEMID_EMBED_ENMF: return key_from_config(cfg, "emb v2", embeddings, not_enmf, extra, upstream, key);
    case SEMID_EMBED_BIENCODER: return key_from_config(cfg, "emb v2", embeddings, not_biencoder, extra, upstream, key);
    }
    return semid_fail(SEMID_EINTERNAL, "embedding method %s has no kind", method);
}

semid_status exp_key_sid(const exp_config *cfg, const exp_key *upstream, const char *strategy, const char *tokenizer,
                         exp_key *key) {
    static const char *const include[] = {"sid", NULL};
    static const char *const exclude[] = {"sid.strategies", "sid.ablation", "sid.atomic", NULL}; /* what to run, not how */
    char extra[96];
    snprintf(extra, sizeof extra, "%s|%s", strategy, tokenizer);
    return key_from_config(cfg, "sid v2", include, exclude, extra, upstream, key);
}

/* Runs that evaluate the whole test split (eval.* all 0) keep the keys
 * they had before the test sample. */
static const char *const *with_eval(const exp_config *cfg, const char *const *include, const char *const *with) {
    return cfg->eval_max_queries > 0 || cfg->eval_max_users > 0 ? with : include;
}

semid_status exp_key_model(const exp_config *cfg, const exp_key *sid_key, int64_t seed, exp_key *key) {
    static const char *const include[] = {"model", "k", NULL}, *const sampled[] = {"model", "k", "eval", NULL};
    /* Two-task models keep the keys they had before the third task. */
    static const char *const two_tasks[] = {"model.personal_share", NULL};
    char extra[48];
    snprintf(extra, sizeof extra, "seed=%lld", (long long)seed);
    return key_from_config(cfg, "gen v4", with_eval(cfg, include, sampled), cfg->model_personal_share > 0 ? NULL : two_tasks,
                           extra, sid_key, key);
}

semid_status exp_key_diverse(const exp_config *cfg, const exp_key *model_key, exp_key *key) {
    static const char *const include[] = {"decode", NULL};
    static const char *const exclude[] = {"decode.diverse", NULL}; /* whether to run it, not how */
    return key_from_config(cfg, "diverse v1", include, exclude, "", model_key, key);
}

semid_status exp_key_reference(const exp_config *cfg, const exp_key *upstream, const char *name, exp_key *key) {
    static const char *const include[] = {"k", "head_fraction", NULL}, *const sampled[] = {"k", "head_fraction", "eval", NULL};
    return key_from_config(cfg, "ref v2", with_eval(cfg, include, sampled), NULL, name, upstream, key);
}

semid_status exp_key_hybrid(const exp_config *cfg, const exp_key *model_key, const exp_key *emb_key, exp_key *key) {
    static const char *const include[] = {"hybrid", NULL};
    static const char *const exclude[] = {"hybrid.strategy", NULL};
    exp_key up = exp_key_combine(model_key, emb_key);
    return key_from_config(cfg, "hybrid v1", include, exclude, "", &up, key);
}

semid_status exp_key_cold(const exp_config *cfg, const exp_key *hybrid_key, exp_key *key) {
    static const char *const include[] = {"cold.expand_prefix", NULL};
    return key_from_config(cfg, "cold v1", include, NULL, "", hybrid_key, key);
}

static char *marker_path(const char *run_dir, const char *stage) {
    size_t n = strlen(run_dir) + strlen(stage) + 16;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s.done", run_dir, stage);
    return p;
}

bool exp_stage_fresh(const char *run_dir, const char *stage, const exp_key *key) {
    char *path = marker_path(run_dir, stage);
    if (!path) return false;
    char *data = NULL;
    size_t len = 0;
    bool fresh = semid_read_file(path, &data, &len) == SEMID_OK && len >= 16 && memcmp(data, key->hex, 16) == 0;
    free(data);
    free(path);
    semid_clear_error();
    return fresh;
}

semid_status exp_stage_mark(const char *run_dir, const char *stage, const exp_key *key) {
    char *path = marker_path(run_dir, stage);
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    char line[32];
    int n = snprintf(line, sizeof line, "%s\n", key->hex);
    semid_status st = semid_write_file_atomic(path, line, (size_t)n);
    free(path);
    return st;
}
