/* Stage cache keys come from the configuration: every setting a stage reads
 * is in its key (iterating over the config's key table, so a key added
 * later is covered without editing this test), no setting of another stage
 * is, and a stage's key follows its upstream key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp/cache.h"
#include "exp/config.h"

/* The stage keys of one configuration, over fixed upstream keys (so that a
 * stage's key here moves only with its own settings). */
enum { S_DATA, S_UNSEEN, S_CONTENT, S_SEARCH, S_MULTI, S_REC, S_FUSED, S_SID, S_MODEL, S_DIVERSE, S_REF, S_HYBRID, S_COLD,
       N_STAGES };
static const char *const STAGE_NAMES[N_STAGES] = {"dataset", "dataset_unseen", "emb/content", "emb/search", "emb/multi",
                                                  "emb/rec", "emb/fused_svd", "sid", "model", "diverse", "ref",
                                                  "hybrid", "cold"};

typedef struct keys {
    exp_key k[N_STAGES];
} keys;

static keys stage_keys(const exp_config *cfg) {
    exp_key up = exp_key_make("upstream", NULL);
    keys out;
    assert_int_equal(exp_key_dataset(cfg, &out.k[S_DATA]), SEMID_OK);
    assert_int_equal(exp_key_unseen(cfg, &up, &out.k[S_UNSEEN]), SEMID_OK);
    assert_int_equal(exp_key_embedding(cfg, &up, "content", &out.k[S_CONTENT]), SEMID_OK);
    assert_int_equal(exp_key_embedding(cfg, &up, "search", &out.k[S_SEARCH]), SEMID_OK);
    assert_int_equal(exp_key_embedding(cfg, &up, "multi", &out.k[S_MULTI]), SEMID_OK);
    assert_int_equal(exp_key_embedding(cfg, &up, "rec", &out.k[S_REC]), SEMID_OK);
    assert_int_equal(exp_key_embedding(cfg, &up, "fused_svd", &out.k[S_FUSED]), SEMID_OK);
    assert_int_equal(exp_key_sid(cfg, &up, "multi", "rqkmeans", &out.k[S_SID]), SEMID_OK);
    assert_int_equal(exp_key_model(cfg, &up, 1, &out.k[S_MODEL]), SEMID_OK);
    assert_int_equal(exp_key_diverse(cfg, &up, &out.k[S_DIVERSE]), SEMID_OK);
    assert_int_equal(exp_key_reference(cfg, &up, "dense_search", &out.k[S_REF]), SEMID_OK);
    exp_key up2 = exp_key_make("upstream 2", NULL);
    assert_int_equal(exp_key_hybrid(cfg, &up, &up2, &out.k[S_HYBRID]), SEMID_OK);
    assert_int_equal(exp_key_cold(cfg, &up, &out.k[S_COLD]), SEMID_OK);
    return out;
}

static int key_eq(const exp_key *a, const exp_key *b) { return strcmp(a->hex, b->hex) == 0; }

static int has_prefix(const char *name, const char *group) {
    size_t n = strlen(group);
    return strncmp(name, group, n) == 0 && (name[n] == '\0' || name[n] == '.');
}

/* Whether an evaluation sample is asked for (eval.max_*): only then are
 * the eval.* keys in the evaluations' keys (runs on the whole test split
 * keep their keys). */
static int samples(const exp_config *c) { return c->eval_max_queries > 0 || c->eval_max_users > 0; }

/* What each stage reads, written independently of exp/cache.c: a key of
 * the model's group is in the model's key unless it says how to run.
 * `sampled`: the configuration before or after the change asks for an
 * evaluation sample. */
static int depends(int stage, const char *name, int sampled) {
    if (exp_config_key_is_execution(name)) return 0;
    int eval = sampled && has_prefix(name, "eval");
    int bienc = !strcmp(name, "embeddings.glove") || !strcmp(name, "embeddings.dim") || !strcmp(name, "embeddings.epochs") ||
                !strcmp(name, "embeddings.batch") || !strcmp(name, "embeddings.lr");
    int enmf = !strcmp(name, "embeddings.enmf_dim") || !strcmp(name, "embeddings.enmf_epochs");
    switch (stage) {
    case S_DATA:
        return !strcmp(name, "dataset") || !strcmp(name, "dataset_format") || has_prefix(name, "synthetic") ||
               (has_prefix(name, "queries") && strcmp(name, "queries.unseen_style")) || !strcmp(name, "cold.fraction") ||
               !strcmp(name, "cold.seed");
    case S_UNSEEN: return !strcmp(name, "queries.unseen_style"); /* the rest through the dataset's key */
    case S_CONTENT: return !strcmp(name, "embeddings.glove");
    case S_SEARCH:
    case S_MULTI: return !strcmp(name, "seeds") || (has_prefix(name, "embeddings") && !enmf);
    case S_REC: return !strcmp(name, "seeds") || (has_prefix(name, "embeddings") && !bienc);
    case S_FUSED: return 0; /* everything through its upstream keys */
    case S_SID:
        return has_prefix(name, "sid") && strcmp(name, "sid.strategies") && strcmp(name, "sid.ablation") &&
               strcmp(name, "sid.atomic");
    case S_DIVERSE: return has_prefix(name, "decode") && strcmp(name, "decode.diverse");
    case S_MODEL: return has_prefix(name, "model") || !strcmp(name, "k") || eval;
    case S_REF: return !strcmp(name, "k") || !strcmp(name, "head_fraction") || eval;
    case S_HYBRID: return has_prefix(name, "hybrid") && strcmp(name, "hybrid.strategy"); /* which row: the model's key */
    case S_COLD: return !strcmp(name, "cold.expand_prefix"); /* the held-out items: the dataset's key */
    }
    return 0;
}

/* The JSON value of a dotted key in the full configuration (owned by root). */
static cJSON *value_of(cJSON *root, const char *name) {
    const char *dot = strchr(name, '.');
    if (!dot) return cJSON_GetObjectItemCaseSensitive(root, name);
    char group[64];
    snprintf(group, sizeof group, "%.*s", (int)(dot - name), name);
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, group), dot + 1);
}

/* Candidate new values for a key, as JSON text: a number moved up or down
 * (by 1, or by a quarter for shares in [0, 1)), a string with a suffix (or
 * a share, for "auto"), a list with its first entry changed or one fewer. */
static int candidates(const cJSON *v, char out[5][256]) {
    int n = 0;
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble, c[5] = {x + 1, x - 1, x * 2, x / 2, x + 0.25};
        for (int i = 0; i < 5; i++) snprintf(out[n++], 256, "%.17g", c[i]);
    } else if (cJSON_IsString(v)) {
        snprintf(out[n++], 256, "\"%sx\"", v->valuestring);
        snprintf(out[n++], 256, "\"default\"");
        snprintf(out[n++], 256, "0.5"); /* a key that takes "auto" or a share */
    } else if (cJSON_IsArray(v)) {
        cJSON *copy = cJSON_Duplicate(v, 1);
        cJSON *first = cJSON_GetArrayItem(copy, 0);
        if (cJSON_IsNumber(first)) cJSON_SetNumberValue(first, first->valuedouble + 1);
        if (cJSON_GetArraySize(copy) > 1 && !cJSON_IsNumber(first)) cJSON_DeleteItemFromArray(copy, 0);
        char *text = cJSON_PrintUnformatted(copy);
        snprintf(out[n++], 256, "%s", text);
        free(text);
        cJSON_Delete(copy);
    }
    return n;
}

/* `base` with key `name` set to another valid value; 0 when none of the
 * candidates is accepted. */
static int changed_config(const exp_config *base, const char *name, exp_config *out) {
    char *json = exp_config_to_json(base);
    cJSON *root = cJSON_Parse(json);
    free(json);
    assert_non_null(root);
    const cJSON *v = value_of(root, name);
    assert_non_null(v);
    char cand[5][256];
    int n = candidates(v, cand);
    int ok = 0;
    for (int i = 0; i < n && !ok; i++) {
        *out = *base;
        char assignment[1600];
        snprintf(assignment, sizeof assignment, "%s=%s", name, cand[i]);
        ok = exp_config_apply_override(out, assignment) == SEMID_OK;
        if (ok) {
            /* the value really moved */
            char *a = exp_config_to_json(base), *b = exp_config_to_json(out);
            ok = strcmp(a, b) != 0;
            free(a), free(b);
        }
    }
    cJSON_Delete(root);
    return ok;
}

static void check_every_key(const char *preset) {
    exp_config base;
    assert_int_equal(exp_config_preset(&base, preset), SEMID_OK);
    keys k0 = stage_keys(&base);
    int n_keys = exp_config_key_count();
    assert_true(n_keys > 20);
    int model_keys = 0;
    for (int i = 0; i < n_keys; i++) {
        const char *name = exp_config_key_name(i);
        exp_config c;
        if (!changed_config(&base, name, &c)) fail_msg("no other valid value for key '%s'", name);
        keys k1 = stage_keys(&c);
        int moved_any = 0;
        for (int s = 0; s < N_STAGES; s++) {
            int moved = !key_eq(&k0.k[s], &k1.k[s]);
            moved_any |= moved;
            if (moved != depends(s, name, samples(&base) || samples(&c)))
                fail_msg("preset %s: changing '%s' %s the %s stage's key", preset, name,
                         moved ? "changes" : "does not change", STAGE_NAMES[s]);
        }
        model_keys += has_prefix(name, "model");
        /* Every key that is not about how to run or which rows to run
         * moves some stage: a new setting cannot be cached stale (the
         * sample's seed, with no sample asked for, picks nothing). */
        if (!moved_any && !exp_config_key_is_execution(name) && strcmp(name, "sid.strategies") &&
            strcmp(name, "sid.ablation") && strcmp(name, "sid.atomic") && strcmp(name, "decode.diverse") &&
            strcmp(name, "hybrid.strategy") && !(!strcmp(name, "eval.sample_seed") && !samples(&base)))
            fail_msg("changing '%s' changes no stage's key", name);
    }
    assert_true(model_keys >= 10);
    /* the execution keys exist and move nothing */
    assert_true(exp_config_key_is_execution("threads"));
    assert_true(exp_config_key_is_execution("model.parallel"));
    assert_false(exp_config_key_is_execution("model.lr"));
}

static void test_every_key_moves_exactly_its_stages(void **state) {
    (void)state;
    check_every_key("quick");
    check_every_key("paper");
}

static void test_model_key_follows_upstream_and_seed(void **state) {
    (void)state;
    exp_config c;
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    exp_key a = exp_key_make("ids a", NULL), b = exp_key_make("ids b", NULL);
    exp_key ka, kb, ka2, kseed;
    assert_int_equal(exp_key_model(&c, &a, 1, &ka), SEMID_OK);
    assert_int_equal(exp_key_model(&c, &b, 1, &kb), SEMID_OK);
    assert_int_equal(exp_key_model(&c, &a, 1, &ka2), SEMID_OK);
    assert_int_equal(exp_key_model(&c, &a, 2, &kseed), SEMID_OK);
    assert_false(key_eq(&ka, &kb)); /* another ID table retrains */
    assert_true(key_eq(&ka, &ka2)); /* deterministic */
    assert_false(key_eq(&ka, &kseed));
    assert_int_equal(strlen(ka.hex), 16);
    /* a hybrid row follows its model's key and its dense index's */
    exp_key h1, h2, h3;
    assert_int_equal(exp_key_hybrid(&c, &ka, &a, &h1), SEMID_OK);
    assert_int_equal(exp_key_hybrid(&c, &kb, &a, &h2), SEMID_OK);
    assert_int_equal(exp_key_hybrid(&c, &ka, &b, &h3), SEMID_OK);
    assert_false(key_eq(&h1, &h2));
    assert_false(key_eq(&h1, &h3));

    /* Down the chain: a data setting moves the ID table's key and so the
     * model's, through the keys the stages hand on. */
    exp_key data, emb, sid, model;
    assert_int_equal(exp_key_dataset(&c, &data), SEMID_OK);
    assert_int_equal(exp_key_embedding(&c, &data, "multi", &emb), SEMID_OK);
    assert_int_equal(exp_key_sid(&c, &emb, "multi", "rqkmeans", &sid), SEMID_OK);
    assert_int_equal(exp_key_model(&c, &sid, 1, &model), SEMID_OK);
    exp_config d = c;
    assert_int_equal(exp_config_apply_override(&d, "queries.per_item=12"), SEMID_OK);
    exp_key data2, emb2, sid2, model2;
    assert_int_equal(exp_key_dataset(&d, &data2), SEMID_OK);
    assert_int_equal(exp_key_embedding(&d, &data2, "multi", &emb2), SEMID_OK);
    assert_int_equal(exp_key_sid(&d, &emb2, "multi", "rqkmeans", &sid2), SEMID_OK);
    assert_int_equal(exp_key_model(&d, &sid2, 1, &model2), SEMID_OK);
    assert_false(key_eq(&model, &model2));
    /* The unseen-style queries follow the dataset (the data setting above)
     * and their own key; a row's evaluation on them follows both its
     * evaluation's key and theirs, while the model's key does not move
     * with them (no retraining). */
    exp_key u, u2, u_other;
    assert_int_equal(exp_key_unseen(&c, &data, &u), SEMID_OK);
    assert_int_equal(exp_key_unseen(&d, &data2, &u2), SEMID_OK);
    assert_false(key_eq(&u, &u2));
    exp_config e = c;
    assert_int_equal(exp_config_apply_override(&e, "queries.unseen_style=3"), SEMID_OK);
    exp_key data3, model3;
    assert_int_equal(exp_key_dataset(&e, &data3), SEMID_OK);
    assert_true(key_eq(&data, &data3));
    assert_int_equal(exp_key_model(&e, &sid, 1, &model3), SEMID_OK);
    assert_true(key_eq(&model, &model3));
    assert_int_equal(exp_key_unseen(&e, &data3, &u_other), SEMID_OK);
    assert_false(key_eq(&u, &u_other));
    exp_key eval_a = exp_key_unseen_eval(&model, &u), eval_b = exp_key_unseen_eval(&model, &u_other);
    exp_key eval_c = exp_key_unseen_eval(&model2, &u);
    assert_false(key_eq(&eval_a, &eval_b));
    assert_false(key_eq(&eval_a, &eval_c));
    assert_false(key_eq(&eval_a, &model));

    /* Fused embeddings follow the keys they combine; ID tables differ by
     * strategy and tokenizer. */
    exp_key f1, f2, s1, s2;
    exp_key both = exp_key_combine(&a, &b), swapped = exp_key_combine(&b, &a);
    assert_int_equal(exp_key_embedding(&c, &both, "fused_concat", &f1), SEMID_OK);
    assert_int_equal(exp_key_embedding(&c, &swapped, "fused_concat", &f2), SEMID_OK);
    assert_false(key_eq(&f1, &f2));
    assert_int_equal(exp_key_sid(&c, &a, "multi", "rqvae", &s1), SEMID_OK);
    assert_int_equal(exp_key_sid(&c, &a, "multi", "rqkmeans", &s2), SEMID_OK);
    assert_false(key_eq(&s1, &s2));
    assert_int_equal(exp_key_embedding(&c, &a, "no_such_method", &f1), SEMID_EINVAL);
}

static void test_selected_json_is_the_group(void **state) {
    (void)state;
    exp_config c;
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    static const char *const model[] = {"model", NULL};
    static const char *const not_lr[] = {"model.lr", NULL};
    char *json = exp_config_select_json(&c, model, not_lr);
    assert_non_null(json);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_int_equal(cJSON_GetArraySize(root), 1); /* {"model": {...}} only */
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(m, "layers"));
    assert_null(cJSON_GetObjectItemCaseSensitive(m, "lr"));       /* excluded */
    assert_null(cJSON_GetObjectItemCaseSensitive(m, "parallel")); /* execution key */
    cJSON_Delete(root);
    free(json);
    /* "dataset" selects the key, not "dataset_format" */
    static const char *const dataset[] = {"dataset", NULL};
    json = exp_config_select_json(&c, dataset, NULL);
    assert_string_equal(json, "{\"dataset\":\"synthetic\"}");
    free(json);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_moves_exactly_its_stages),
        cmocka_unit_test(test_model_key_follows_upstream_and_seed),
        cmocka_unit_test(test_selected_json_is_the_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
