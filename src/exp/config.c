#include "exp/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/status.h"
#include "base/threads.h"
#include "data/import.h"
#include "embed/embed_methods.h"
#include "gen/examples.h"
#include "gen/task_mix.h"
#include "io/json.h"
#include "quant/strategy.h"
#include "quant/tokenizer.h"

/* Seeds are exact integers in a JSON number (a double). */
#define EXP_MAX_SEED 9007199254740991.0

static int in_list(const char *name, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0) return 1;
    return 0;
}

int exp_is_strategy(const char *name) { return semid_strategy_find(name) != NULL; }
int exp_is_tokenizer(const char *name) { return semid_tokenizer_find_method(name) != NULL; }

/* K_SHARE: a share in [min, max] or "auto" (stored as SEMID_GEN_SHARE_AUTO). */
typedef enum { K_INT, K_DOUBLE, K_STRING, K_SEEDS, K_STRATEGIES, K_TOKENIZERS, K_SEED, K_SHARE } key_type;

typedef struct key_spec {
    const char *name; /* dotted path */
    key_type type;
    size_t offset;
    size_t size;      /* strings: buffer size */
    double min, max;
} key_spec;

#define F(field) offsetof(exp_config, field)
static const key_spec KEYS[] = {
    {"dataset", K_STRING, F(dataset), sizeof(((exp_config *)0)->dataset), 0, 0},
    {"dataset_format", K_STRING, F(dataset_format), sizeof(((exp_config *)0)->dataset_format), 0, 0},
    {"synthetic.items", K_INT, F(synth_items), 0, 50, 10000000},
    {"synthetic.users", K_INT, F(synth_users), 0, 10, 100000000},
    {"queries.per_item", K_INT, F(queries_per_item), 0, 2, 1000},
    {"queries.train", K_INT, F(queries_train), 0, 1, 999},
    {"queries.unseen_style", K_INT, F(queries_unseen_style), 0, 0, 1000},
    {"seeds", K_SEEDS, F(seeds), 0, 0, 0},
    {"threads", K_INT, F(threads), 0, 0, 1024},
    {"k", K_INT, F(k), 0, 1, 100000},
    {"head_fraction", K_DOUBLE, F(head_fraction), 0, 1e-6, 1.0},
    {"embeddings.glove", K_STRING, F(glove), sizeof(((exp_config *)0)->glove), 0, 0},
    {"embeddings.dim", K_INT, F(embed_dim), 0, 2, 8192},
    {"embeddings.epochs", K_INT, F(embed_epochs), 0, 1, 10000},
    {"embeddings.batch", K_INT, F(embed_batch), 0, 2, 1000000},
    {"embeddings.lr", K_DOUBLE, F(embed_lr), 0, 1e-9, 10},
    {"embeddings.enmf_dim", K_INT, F(enmf_dim), 0, 2, 8192},
    {"embeddings.enmf_epochs", K_INT, F(enmf_epochs), 0, 1, 10000},
    {"sid.levels", K_INT, F(sid_levels), 0, 1, 8},
    {"sid.codebook", K_INT, F(sid_codebook), 0, 2, 65536},
    {"sid.disambiguate", K_INT, F(sid_disambiguate), 0, 0, 1},
    {"sid.max_disambiguation", K_INT, F(sid_max_disambiguation), 0, 0, 1 << 30},
    {"sid.max_steps", K_INT, F(sid_max_steps), 0, 0, 1000000000},
    {"sid.strategies", K_STRATEGIES, F(strategies), 0, 0, 0},
    {"sid.ablation", K_TOKENIZERS, F(ablation), 0, 0, 0},
    {"sid.atomic", K_INT, F(sid_atomic), 0, 0, 1},
    {"model.layers", K_INT, F(model_layers), 0, 1, 64},
    {"model.dim", K_INT, F(model_dim), 0, 8, 8192},
    {"model.heads", K_INT, F(model_heads), 0, 1, 128},
    {"model.epochs", K_INT, F(model_epochs), 0, 1, 10000},
    {"model.max_steps", K_INT, F(model_max_steps), 0, 0, 1000000000},
    {"model.patience", K_INT, F(model_patience), 0, 0, 10000},
    {"model.min_epochs", K_INT, F(model_min_epochs), 0, 0, 10000},
    {"model.parallel", K_INT, F(model_parallel), 0, 0, 1024},
    {"model.word_vectors", K_STRING, F(model_word_vectors), sizeof(((exp_config *)0)->model_word_vectors), 0, 0},
    {"model.batch", K_INT, F(model_batch), 0, 1, 1000000},
    {"model.bf16", K_INT, F(model_bf16), 0, 0, 1},
    {"model.lr", K_DOUBLE, F(model_lr), 0, 1e-9, 10},
    {"model.history", K_INT, F(model_history), 0, 1, 4096},
    {"model.search_share", K_SHARE, F(model_search_share), 0, 0, 0.95},
    {"model.personal_share", K_DOUBLE, F(model_personal_share), 0, 0, 0.95},
    {"model.beam", K_INT, F(beam), 0, 1, 10000},
    {"model.valid_sample", K_INT, F(valid_sample), 0, 0, 1000000},
    {"eval.max_queries", K_INT, F(eval_max_queries), 0, 0, 2000000000},
    {"eval.max_users", K_INT, F(eval_max_users), 0, 0, 2000000000},
    {"eval.sample_seed", K_SEED, F(eval_sample_seed), 0, 0, EXP_MAX_SEED},
    {"decode.diverse", K_INT, F(decode_diverse), 0, 0, 1},
    {"decode.diverse_beam", K_INT, F(diverse_beam), 0, 1, 10000},
    {"decode.diverse_groups", K_INT, F(diverse_groups), 0, 1, 10000},
    {"decode.diverse_penalty", K_DOUBLE, F(diverse_penalty), 0, 0, 100},
    {"hybrid.strategy", K_STRING, F(hybrid_strategy), sizeof(((exp_config *)0)->hybrid_strategy), 0, 0},
    {"hybrid.weight", K_DOUBLE, F(hybrid_weight), 0, 0, 1},
    {"hybrid.weight_rec", K_DOUBLE, F(hybrid_weight_rec), 0, -1, 1},
    {"hybrid.dense_k", K_INT, F(hybrid_dense_k), 0, 0, 100000},
    {"hybrid.rec_dense", K_STRING, F(hybrid_rec_dense), sizeof(((exp_config *)0)->hybrid_rec_dense), 0, 0},
    {"cold.fraction", K_DOUBLE, F(cold_fraction), 0, 0, 0.5},
    {"cold.seed", K_SEED, F(cold_seed), 0, 0, EXP_MAX_SEED},
    {"cold.expand_prefix", K_DOUBLE, F(cold_expand_prefix), 0, 0, 1},
};
#undef F
enum { N_KEYS = sizeof KEYS / sizeof KEYS[0] };

static void set_defaults_common(exp_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "synthetic");
    snprintf(c->dataset_format, sizeof c->dataset_format, "auto");
    c->synth_items = 1000;
    c->synth_users = 2000;
    c->queries_per_item = 20;
    c->queries_train = 10;
    c->threads = 0;
    c->k = 30;
    c->head_fraction = 0.01;
    c->sid_levels = 2;
    c->sid_disambiguate = 1;
    c->sid_max_disambiguation = SEMID_MAX_DISAMBIGUATION_DEFAULT;
    c->sid_atomic = 1; /* the reference every Semantic-ID paper compares with */
    /* Both decoders, the paper's diverse beam search as it ran it. */
    c->decode_diverse = 1;
    c->diverse_beam = 60;
    c->diverse_groups = 30;
    c->diverse_penalty = 0.25;
    c->model_search_share = SEMID_GEN_SHARE_AUTO;
    c->hybrid_weight = 0.5;
    c->hybrid_dense_k = 20;
    c->hybrid_weight_rec = -1;
    snprintf(c->hybrid_rec_dense, sizeof c->hybrid_rec_dense, "encoder");
    c->cold_seed = 1;
    c->eval_sample_seed = 1;
    c->cold_expand_prefix = 0.2;
    /* Every strategy of the table, in its order. */
    c->n_strategies = 0;
    for (int i = 0; semid_strategy_name_at(i) && c->n_strategies < EXP_MAX_LIST; i++)
        snprintf(c->strategies[c->n_strategies++], sizeof c->strategies[0], "%s", semid_strategy_name_at(i));
    /* The ablation: every tokenizer of the table that the paper compares. */
    c->n_ablation = 0;
    for (int i = 0; semid_tokenizer_methods[i] && c->n_ablation < EXP_MAX_LIST; i++)
        if (semid_tokenizer_methods[i]->in_ablation)
            snprintf(c->ablation[c->n_ablation++], sizeof c->ablation[0], "%s", semid_tokenizer_methods[i]->name);
}

semid_status exp_config_preset(exp_config *c, const char *preset) {
    set_defaults_common(c);
    if (strcmp(preset, "quick") == 0) {
        /* A first look in minutes on 2 cores: one seed, small models, a
         * fixed number of epochs (no early stopping: model.patience=0). */
        c->synth_items = 600;
        c->synth_users = 1200;
        c->n_seeds = 1;
        c->seeds[0] = 1;
        c->embed_dim = 64;
        c->embed_epochs = 2;
        c->embed_batch = 256;
        c->embed_lr = 1e-2;
        c->enmf_dim = 64;
        c->enmf_epochs = 20;
        c->sid_codebook = 64;
        /* 100 epochs of ML-1M's 3,883 items are 1,600 steps (batch 256),
         * so ML-1M trains every epoch; the paper's 62,138 items the same
         * steps (8 epochs), not 16 times as many. */
        c->sid_max_steps = 2000;
        c->model_layers = 2;
        c->model_dim = 64;
        c->model_heads = 4;
        c->model_epochs = 3;
        c->model_max_steps = 1200; /* ~1 epoch of ML-1M: a big catalog stays within minutes */
        c->model_batch = 64;
        c->model_lr = 3e-3;
        c->model_history = 20;
        c->beam = 30;
        c->valid_sample = 100;
        /* At most 50,000 test queries and users: ML-1M (34k queries, 6,040
         * users) is evaluated whole; the paper's 62,138 items (621,380 test
         * queries) on a seeded sample, which keeps the run within 30 minutes
         * on 2 cores (bench/README.md, Scaling). */
        c->eval_max_queries = 50000;
        c->eval_max_users = 50000;
    } else if (strcmp(preset, "paper") == 0) {
        /* The paper's protocol where it applies to from-scratch models on
         * 2 cores: 2 x 256 RQ-KMeans, bi-encoder batch 512 for 5 epochs,
         * Recall@30, constrained beam 30, the paper's 5 seeds, every
         * strategy and tokenizer (the common defaults), and each generative
         * model trained to its validation plateau: at least the paper's 3
         * epochs, then until 2 epochs in a row bring no better validation
         * Recall, at most 10 (the learning-rate schedule spans the 10);
         * the best epoch's weights are evaluated. No step budget. Hours on
         * ML-1M (docs/results-ml1m.md): every stage and model is cached,
         * so a stopped run resumes where it was. The paper's fine-tuned
         * T5-base has no counterpart on a CPU: a 2 x 128 model from scratch. */
        c->n_seeds = 5;
        for (int i = 0; i < 5; i++) c->seeds[i] = i + 1;
        c->embed_dim = 128;
        c->embed_epochs = 5;
        c->embed_batch = 512;
        c->embed_lr = 1e-2;
        c->enmf_dim = 256;
        c->enmf_epochs = 20;
        c->sid_codebook = 256;
        c->model_layers = 2;
        c->model_dim = 128;
        c->model_heads = 4;
        c->model_epochs = 10;
        c->model_max_steps = 0;
        c->model_patience = 2;
        c->model_min_epochs = 3;
        c->model_batch = 64;
        c->model_lr = 3e-3;
        c->model_history = 20;
        c->beam = 30;
        c->valid_sample = 1000; /* per task: the plateau is read off this sample */
        /* The report of record shows every search figure on both query
         * styles (a gain that fits only the generator's phrasing shows);
         * it costs a second search evaluation per model, no training. */
        c->queries_unseen_style = 5;
    } else {
        return semid_fail(SEMID_EINVAL, "unknown preset '%s' (expected quick or paper)", preset);
    }
    snprintf(c->preset, sizeof c->preset, "%s", preset);
    return SEMID_OK;
}

static const key_spec *find_key(const char *name) {
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].name, name) == 0) return &KEYS[i];
    return NULL;
}

static semid_status set_value(exp_config *c, const key_spec *k, const cJSON *v, const char *origin) {
    char *base = (char *)c + k->offset;
    switch (k->type) {
    case K_INT:
    case K_DOUBLE:
    case K_SEED: {
        if (!cJSON_IsNumber(v)) return semid_fail(SEMID_EINVAL, "%s: key '%s' must be a number", origin, k->name);
        double x = v->valuedouble;
        if (k->type != K_DOUBLE && x != floor(x))
            return semid_fail(SEMID_EINVAL, "%s: key '%s' must be an integer, got %g", origin, k->name, x);
        if (!(x >= k->min && x <= k->max))
            return semid_fail(SEMID_EINVAL, "%s: key '%s' = %g is out of range [%g, %g]", origin, k->name, x, k->min, k->max);
        if (k->type == K_INT) *(int32_t *)base = (int32_t)x;
        else if (k->type == K_SEED) *(int64_t *)base = (int64_t)x;
        else *(double *)base = x;
        return SEMID_OK;
    }
    case K_SHARE:
        if (cJSON_IsString(v) && strcmp(v->valuestring, "auto") == 0) {
            *(double *)base = SEMID_GEN_SHARE_AUTO;
            return SEMID_OK;
        }
        if (!cJSON_IsNumber(v))
            return semid_fail(SEMID_EINVAL, "%s: key '%s' must be \"auto\" or a number", origin, k->name);
        if (!(v->valuedouble >= k->min && v->valuedouble <= k->max))
            return semid_fail(SEMID_EINVAL, "%s: key '%s' = %g is out of range [%g, %g] (or \"auto\")", origin, k->name,
                              v->valuedouble, k->min, k->max);
        *(double *)base = v->valuedouble;
        return SEMID_OK;
    case K_STRING:
        if (!cJSON_IsString(v)) return semid_fail(SEMID_EINVAL, "%s: key '%s' must be a string", origin, k->name);
        if (strlen(v->valuestring) >= k->size)
            return semid_fail(SEMID_EINVAL, "%s: key '%s' is too long", origin, k->name);
        snprintf(base, k->size, "%s", v->valuestring);
        return SEMID_OK;
    case K_SEEDS: {
        if (!cJSON_IsArray(v)) return semid_fail(SEMID_EINVAL, "%s: key 'seeds' must be a list of integers", origin);
        int n = cJSON_GetArraySize(v);
        if (n < 1 || n > EXP_MAX_SEEDS)
            return semid_fail(SEMID_EINVAL, "%s: key 'seeds' needs 1 to %d seeds, got %d", origin, EXP_MAX_SEEDS, n);
        for (int i = 0; i < n; i++) {
            const cJSON *e = cJSON_GetArrayItem(v, i);
            if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || !(e->valuedouble >= 0) ||
                e->valuedouble > EXP_MAX_SEED)
                return semid_fail(SEMID_EINVAL, "%s: key 'seeds' entry %d must be an integer in 0..%.0f", origin, i,
                                  EXP_MAX_SEED);
            c->seeds[i] = (int64_t)e->valuedouble;
        }
        c->n_seeds = n;
        return SEMID_OK;
    }
    case K_STRATEGIES:
    case K_TOKENIZERS: {
        int strategies = k->type == K_STRATEGIES;
        if (!cJSON_IsArray(v)) return semid_fail(SEMID_EINVAL, "%s: key '%s' must be a list of names", origin, k->name);
        int n = cJSON_GetArraySize(v);
        if (n > EXP_MAX_LIST) return semid_fail(SEMID_EINVAL, "%s: key '%s' lists too many names", origin, k->name);
        for (int i = 0; i < n; i++) {
            const cJSON *e = cJSON_GetArrayItem(v, i);
            if (!cJSON_IsString(e)) return semid_fail(SEMID_EINVAL, "%s: key '%s' entry %d must be a string", origin, k->name, i);
            const semid_tokenizer_method *m;
            semid_status known = strategies ? semid_strategy_lookup(e->valuestring, NULL)
                                            : semid_tokenizer_lookup(e->valuestring, &m);
            if (known != SEMID_OK) return semid_fail_context(known, "%s: key '%s'", origin, k->name);
            char *dst = strategies ? c->strategies[i] : c->ablation[i];
            size_t cap = strategies ? sizeof c->strategies[i] : sizeof c->ablation[i];
            if (strlen(e->valuestring) >= cap)
                return semid_fail(SEMID_EINTERNAL, "%s: key '%s': the name '%s' is longer than %zu bytes", origin,
                                  k->name, e->valuestring, cap - 1);
            snprintf(dst, cap, "%s", e->valuestring);
        }
        if (strategies) c->n_strategies = n;
        else c->n_ablation = n;
        return SEMID_OK;
    }
    }
    return semid_fail(SEMID_EINTERNAL, "unhandled key type");
}

/* Walks a JSON object, joining nested keys with '.', and applies each leaf. */
static semid_status apply_object(exp_config *c, const cJSON *obj, const char *prefix, const char *origin) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        char name[128];
        snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "", it->string);
        const key_spec *k = find_key(name);
        if (!k && cJSON_IsObject(it)) {
            SEMID_TRY(apply_object(c, it, name, origin));
            continue;
        }
        if (!k) {
            if (strcmp(name, "preset") == 0) continue; /* handled by the caller */
            return semid_fail(SEMID_EINVAL, "%s: unknown key '%s'", origin, name);
        }
        SEMID_TRY(set_value(c, k, it, origin));
    }
    return SEMID_OK;
}

semid_status exp_config_apply_json(exp_config *c, const char *json, const char *origin) {
    int oom = 0;
    cJSON *root = semid_json_parse(json, strlen(json), &oom);
    if (oom) return semid_fail(SEMID_ENOMEM, "%s: out of memory", origin);
    if (!root) {
        const char *where = cJSON_GetErrorPtr();
        return semid_fail(SEMID_EPARSE, "%s: invalid JSON near '%.20s'", origin, where ? where : "?");
    }
    semid_status st = cJSON_IsObject(root) ? apply_object(c, root, "", origin)
                                           : semid_fail(SEMID_EPARSE, "%s: the configuration must be a JSON object", origin);
    cJSON_Delete(root);
    return st;
}

semid_status exp_config_apply_override(exp_config *c, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) return semid_fail(SEMID_EINVAL, "override '%s' is not key=value", assignment);
    char key[128];
    size_t klen = (size_t)(eq - assignment);
    if (klen >= sizeof key) return semid_fail(SEMID_EINVAL, "override key too long");
    memcpy(key, assignment, klen);
    key[klen] = '\0';
    const key_spec *k = find_key(key);
    if (!k) return semid_fail(SEMID_EINVAL, "override: unknown key '%s'", key);
    int oom = 0;
    cJSON *v = semid_json_parse(eq + 1, strlen(eq + 1), &oom);
    if (!oom && (!v || (k->type == K_STRING && !cJSON_IsString(v)))) {
        cJSON_Delete(v);
        v = cJSON_CreateString(eq + 1); /* bare words are strings */
        oom = !v;
    }
    if (!oom && (k->type == K_STRATEGIES || k->type == K_TOKENIZERS) && cJSON_IsString(v)) {
        /* "a,b,c" -> ["a","b","c"] */
        cJSON *arr = cJSON_CreateArray();
        char buf[512];
        snprintf(buf, sizeof buf, "%s", v->valuestring);
        oom = !arr;
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); !oom && tok; tok = strtok_r(NULL, ",", &save)) {
            cJSON *s = cJSON_CreateString(tok);
            oom = !s || !cJSON_AddItemToArray(arr, s);
            if (oom) cJSON_Delete(s);
        }
        cJSON_Delete(v);
        v = arr;
    }
    if (oom) {
        cJSON_Delete(v);
        return semid_fail(SEMID_ENOMEM, "override '%s': out of memory", assignment);
    }
    char origin[160];
    snprintf(origin, sizeof origin, "override '%s'", assignment);
    semid_status st = set_value(c, k, v, origin);
    cJSON_Delete(v);
    return st;
}

/* What the machine and the model can do: threads within the thread bound,
 * a history window whose context fits the model, and a generative model and
 * synthetic catalog whose memory fits half the physical memory (estimated
 * before any of them is built). */
static semid_status validate_machine(const exp_config *c) {
    int tmax = semid_threads_limit();
    if (c->threads > tmax)
        return semid_fail(SEMID_EINVAL, "key 'threads' (%d) is out of range for this machine: it must be in 0..%d (%d per core)",
                          c->threads, tmax, SEMID_THREADS_PER_CORE);
    if (c->model_parallel > tmax)
        return semid_fail(SEMID_EINVAL, "key 'model.parallel' (%d) is out of range for this machine: it must be in 0..%d",
                          c->model_parallel, tmax);
    int32_t levels = c->sid_levels + (c->sid_disambiguate ? 1 : 0);
    SEMID_TRY(semid_gen_example_check(c->model_history, 0, levels > 0 ? levels : 1));
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    double limit = pages > 0 && page > 0 ? (double)pages * (double)page / 2 : 4.0 * (1 << 30);
    /* Parameters (a 64k-token vocabulary at most), each with its gradient and
     * two AdamW moments, for every model trained at once. */
    double d = c->model_dim, per_model = 16.0 * (12.0 * c->model_layers * d * d + 65536.0 * d);
    double models = c->model_parallel > 0 ? c->model_parallel : 1;
    if (per_model * models > limit)
        return semid_fail(SEMID_EINVAL,
                          "keys 'model.layers' (%d) and 'model.dim' (%d) make models of about %.1f GB each (%g at "
                          "once), over the limit of %.1f GB (half the physical memory)",
                          c->model_layers, c->model_dim, per_model / 1e9, models, limit / 1e9);
    double synth = (double)c->synth_users * 200.0 * 24.0 + (double)c->synth_items * (512.0 + 64.0 * c->queries_per_item);
    if (strcmp(c->dataset, "synthetic") == 0 && synth > limit)
        return semid_fail(SEMID_EINVAL,
                          "keys 'synthetic.users' (%d) and 'synthetic.items' (%d) make a catalog of about %.1f GB, over "
                          "the limit of %.1f GB (half the physical memory)",
                          c->synth_users, c->synth_items, synth / 1e9, limit / 1e9);
    return SEMID_OK;
}

const char *exp_hybrid_embedding(const exp_config *c) {
    const semid_strategy_def *def = c->hybrid_strategy[0] ? semid_strategy_find(c->hybrid_strategy) : NULL;
    if (!def || semid_strategy_n_embeddings(def) != 1) return NULL;
    const semid_embed_method *m = semid_embed_method_find(def->embeddings[0]);
    return m && m->kind == SEMID_EMBED_BIENCODER ? m->name : NULL;
}

const char *exp_word_encoder(const exp_config *c) {
    static const char prefix[] = "encoder:";
    return strncmp(c->model_word_vectors, prefix, sizeof prefix - 1) == 0 ? c->model_word_vectors + sizeof prefix - 1
                                                                          : NULL;
}

double exp_hybrid_weight_rec(const exp_config *c) {
    return c->hybrid_weight_rec >= 0 ? c->hybrid_weight_rec : c->hybrid_weight;
}

int exp_hybrid_rec_enmf(const exp_config *c) { return strcmp(c->hybrid_rec_dense, "enmf") == 0; }

/* hybrid.strategy: one of the strategies run, read through a bi-encoder;
 * cold items are evaluated on its models. */
static semid_status validate_hybrid(const exp_config *c) {
    if (c->cold_fraction > 0 && !c->hybrid_strategy[0])
        return semid_fail(SEMID_EINVAL, "key 'cold.fraction' needs 'hybrid.strategy' (multi or search): the cold items are "
                                        "added to its models and encoded by its bi-encoder");
    if (strcmp(c->hybrid_rec_dense, "encoder") != 0 && !exp_hybrid_rec_enmf(c))
        return semid_fail(SEMID_EINVAL, "key 'hybrid.rec_dense': '%s' is neither 'encoder' nor 'enmf'", c->hybrid_rec_dense);
    if (c->hybrid_weight_rec < 0 && c->hybrid_weight_rec != -1)
        return semid_fail(SEMID_EINVAL, "key 'hybrid.weight_rec': %g is not in 0..1 (or -1: hybrid.weight)",
                          c->hybrid_weight_rec);
    if (!c->hybrid_strategy[0]) return SEMID_OK;
    semid_status known = semid_strategy_lookup(c->hybrid_strategy, NULL);
    if (known != SEMID_OK) return semid_fail_context(known, "key 'hybrid.strategy'");
    int run = 0;
    for (int i = 0; i < c->n_strategies; i++) run |= strcmp(c->strategies[i], c->hybrid_strategy) == 0;
    if (!run)
        return semid_fail(SEMID_EINVAL, "key 'hybrid.strategy' ('%s') must be one of 'sid.strategies' (its model is re-ranked)",
                          c->hybrid_strategy);
    if (!exp_hybrid_embedding(c))
        return semid_fail(SEMID_EINVAL,
                          "key 'hybrid.strategy' ('%s') must read one bi-encoder's embeddings (search or multi): its text "
                          "tower encodes the queries",
                          c->hybrid_strategy);
    return SEMID_OK;
}

semid_status exp_config_validate(const exp_config *c, int64_t n_items) {
    semid_status format = semid_import_check_format(c->dataset_format);
    if (format != SEMID_OK) return semid_fail_context(format, "key 'dataset_format'");
    if (c->queries_train >= c->queries_per_item)
        return semid_fail(SEMID_EINVAL, "key 'queries.train' (%d) must be smaller than 'queries.per_item' (%d)",
                          c->queries_train, c->queries_per_item);
    if (c->model_min_epochs > c->model_epochs)
        return semid_fail(SEMID_EINVAL, "key 'model.min_epochs' (%d) must be at most 'model.epochs' (%d), the most epochs",
                          c->model_min_epochs, c->model_epochs);
    if (c->model_dim % c->model_heads != 0)
        return semid_fail(SEMID_EINVAL, "key 'model.dim' (%d) must be a multiple of 'model.heads' (%d)", c->model_dim, c->model_heads);
    if (c->n_strategies == 0 && c->n_ablation == 0 && !c->sid_atomic)
        return semid_fail(SEMID_EINVAL, "keys 'sid.strategies' and 'sid.ablation' are both empty and 'sid.atomic' is 0: "
                                        "nothing to run");
    if (n_items > 0 && c->sid_codebook > n_items)
        return semid_fail(SEMID_EINVAL, "key 'sid.codebook' (%d) is larger than the catalog (%lld items)", c->sid_codebook,
                          (long long)n_items);
    if (n_items > 0 && c->k > n_items)
        return semid_fail(SEMID_EINVAL, "key 'k' (%d) is larger than the catalog (%lld items)", c->k, (long long)n_items);
    if (c->beam < c->k)
        return semid_fail(SEMID_EINVAL, "key 'model.beam' (%d) must be at least 'k' (%d) to rank k items", c->beam, c->k);
    if (c->decode_diverse && c->diverse_beam % c->diverse_groups != 0)
        return semid_fail(SEMID_EINVAL, "key 'decode.diverse_groups' (%d) must divide 'decode.diverse_beam' (%d)",
                          c->diverse_groups, c->diverse_beam);
    if (c->decode_diverse && c->diverse_beam < c->k)
        return semid_fail(SEMID_EINVAL, "key 'decode.diverse_beam' (%d) must be at least 'k' (%d) to rank k items",
                          c->diverse_beam, c->k);
    SEMID_TRY(validate_hybrid(c));
    const char *words = exp_word_encoder(c);
    const semid_embed_method *wm = words ? semid_embed_method_find(words) : NULL;
    if (words && (!wm || wm->kind != SEMID_EMBED_BIENCODER))
        return semid_fail(SEMID_EINVAL, "key 'model.word_vectors': 'encoder:%s' names no bi-encoder (expected encoder:search "
                                        "or encoder:multi)", words);
    return validate_machine(c);
}

int exp_config_key_count(void) { return N_KEYS; }

const char *exp_config_key_name(int i) { return i >= 0 && i < N_KEYS ? KEYS[i].name : NULL; }

/* Keys that say how to run, not what: they change no figure (beyond
 * floating-point summation order) and no stage's cache key. */
static const char *const EXECUTION_KEYS[] = {"threads", "model.parallel"};

int exp_config_key_is_execution(const char *name) {
    return in_list(name, EXECUTION_KEYS, sizeof EXECUTION_KEYS / sizeof *EXECUTION_KEYS);
}

/* Appends e to the array a (NULL a or e: out of memory, e freed); 0 then. */
static int append(cJSON *a, cJSON *e) {
    if (a && e && cJSON_AddItemToArray(a, e)) return 1;
    cJSON_Delete(e);
    return 0;
}

/* NULL when out of memory. */
static cJSON *key_value_json(const exp_config *c, const key_spec *k) {
    const char *base = (const char *)c + k->offset;
    cJSON *v = NULL;
    int ok = 1;
    switch (k->type) {
    case K_INT: v = cJSON_CreateNumber(*(const int32_t *)base); break;
    case K_DOUBLE: v = cJSON_CreateNumber(*(const double *)base); break;
    case K_SEED: v = cJSON_CreateNumber((double)*(const int64_t *)base); break;
    case K_STRING: v = cJSON_CreateString(base); break;
    case K_SHARE:
        v = *(const double *)base == SEMID_GEN_SHARE_AUTO ? cJSON_CreateString("auto") : cJSON_CreateNumber(*(const double *)base);
        break;
    case K_SEEDS:
        v = cJSON_CreateArray();
        for (int s = 0; ok && s < c->n_seeds; s++) ok = append(v, cJSON_CreateNumber((double)c->seeds[s]));
        break;
    case K_STRATEGIES:
        v = cJSON_CreateArray();
        for (int s = 0; ok && s < c->n_strategies; s++) ok = append(v, cJSON_CreateString(c->strategies[s]));
        break;
    case K_TOKENIZERS:
        v = cJSON_CreateArray();
        for (int s = 0; ok && s < c->n_ablation; s++) ok = append(v, cJSON_CreateString(c->ablation[s]));
        break;
    }
    if (!ok) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

/* "model" selects "model" and every "model.*" key. */
static int selected_by(const char *name, const char *const *list) {
    for (; *list; list++) {
        size_t n = strlen(*list);
        if (strncmp(name, *list, n) == 0 && (name[n] == '\0' || name[n] == '.')) return 1;
    }
    return 0;
}

/* Adds the keys to `root` in table order, dotted names nested:
 * "model.layers" -> {"model": {"layers": ...}}. NULL include = every key.
 * 0 when out of memory (a partial tree would make a wrong cache key). */
static int config_tree(cJSON *root, const exp_config *c, const char *const *include, const char *const *exclude,
                       int skip_execution) {
    for (int i = 0; i < N_KEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (include && !selected_by(k->name, include)) continue;
        if (exclude && selected_by(k->name, exclude)) continue;
        if (skip_execution && exp_config_key_is_execution(k->name)) continue;
        cJSON *v = key_value_json(c, k);
        const char *dot = strchr(k->name, '.');
        cJSON *into = root;
        if (dot) {
            char group[64];
            snprintf(group, sizeof group, "%.*s", (int)(dot - k->name), k->name);
            into = cJSON_GetObjectItemCaseSensitive(root, group);
            if (!into) into = cJSON_AddObjectToObject(root, group);
        }
        if (!v || !into || !cJSON_AddItemToObject(into, dot ? dot + 1 : k->name, v)) {
            cJSON_Delete(v);
            return 0;
        }
    }
    return 1;
}

char *exp_config_select_json(const exp_config *c, const char *const *include, const char *const *exclude) {
    cJSON *root = cJSON_CreateObject();
    char *out = root && config_tree(root, c, include, exclude, 1) ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return out;
}

char *exp_config_to_json(const exp_config *c) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    int ok = cJSON_AddStringToObject(root, "preset", c->preset) && config_tree(root, c, NULL, NULL, 0);
    char *out = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return out;
}
