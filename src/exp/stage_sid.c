#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "exp/stages.h"
#include "quant/strategy.h"
#include "quant/tokenizer.h"

/* Tokenizers are seeded once for all model seeds: the seeds vary the
 * generative models, not the IDs they are trained on. */
enum { EXP_SID_SEED = 1234 };

/* The embeddings a strategy reads, in its table order. */
typedef struct sid_inputs {
    semid_matrix emb[2];
} sid_inputs;

static void sid_inputs_free(sid_inputs *in) {
    semid_matrix_free(&in->emb[0]);
    semid_matrix_free(&in->emb[1]);
}

/* Loads (or computes) the embeddings the strategy reads, and derives the
 * stage key from theirs. */
static semid_status load_inputs(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                const exp_key *data_key, const char *strategy, const char *tokenizer, sid_inputs *in,
                                exp_key *key) {
    memset(in, 0, sizeof *in);
    const semid_strategy_def *def;
    SEMID_TRY(semid_strategy_lookup(strategy, &def));
    int n = semid_strategy_n_embeddings(def);
    exp_key k[2];
    semid_status st = SEMID_OK;
    for (int i = 0; i < n && st == SEMID_OK; i++)
        st = exp_stage_embedding(cfg, run_dir, ds, data_key, def->embeddings[i], &in->emb[i], &k[i]);
    if (st == SEMID_OK) {
        exp_key both = exp_key_combine(&k[0], &k[n - 1]);
        st = exp_key_sid(cfg, &both, strategy, tokenizer, key);
    }
    if (st != SEMID_OK) sid_inputs_free(in);
    return st;
}

static semid_status build_table(const exp_config *cfg, const semid_dataset *ds, const sid_inputs *in,
                                const char *strategy, const char *tokenizer, const char *tok_path, semid_idtable *out,
                                double *collision_rate) {
    semid_strategy_options opt = {0};
    opt.strategy = strategy;
    opt.tokenizer = semid_tokenizer_defaults();
    opt.tokenizer.method = tokenizer;
    opt.tokenizer.levels = cfg->sid_levels;
    opt.tokenizer.codebook_size = cfg->sid_codebook;
    opt.tokenizer.seed = EXP_SID_SEED;
    opt.tokenizer.max_steps = cfg->sid_max_steps;
    opt.disambiguate = cfg->sid_disambiguate;
    opt.max_disambiguation = cfg->sid_max_disambiguation;
    semid_strategy_result res;
    const semid_matrix *const emb[2] = {&in->emb[0], &in->emb[1]};
    double t0 = semid_now();
    SEMID_TRY(semid_strategy_build_catalog(emb, &opt, ds, NULL, &res));
    *collision_rate = semid_strategy_collision_rate(&res);
    double sharing = 0.0; /* items whose ID another item had too, mean over tasks */
    for (int t = 0; t < res.table.n_tasks; t++)
        sharing += (double)res.before[t].colliding_items / res.table.n_items / res.table.n_tasks;
    SEMID_INFO("ids %s/%s: %d levels, %d tokens; before disambiguation %.1f%% of items shared an ID, %.1f%% fewer "
               "distinct IDs than items (%.1f s)",
               strategy, tokenizer, res.table.n_levels, res.table.n_tokens, 100.0 * sharing, 100.0 * *collision_rate,
               semid_now() - t0);
    /* The cold items' strategy keeps its tokenizer (catalog add). */
    semid_status st = tok_path && res.n_tokenizers == 1 ? semid_tokenizer_save(res.tokenizers[0], tok_path) : SEMID_OK;
    *out = res.table;
    memset(&res.table, 0, sizeof res.table);
    semid_strategy_result_free(&res);
    if (st != SEMID_OK) semid_idtable_free(out);
    return st;
}

semid_status exp_stage_sid(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                           const exp_key *data_key, const char *strategy, const char *tokenizer,
                           semid_idtable *out, double *collision_rate, exp_key *key) {
    memset(out, 0, sizeof *out);
    *collision_rate = 0.0;
    char stage[112], file[128], side[128], tok[128];
    snprintf(stage, sizeof stage, "sid/%s-%s", strategy, tokenizer);
    snprintf(file, sizeof file, "%s.sid", stage);
    snprintf(side, sizeof side, "%s.collisions", stage);
    snprintf(tok, sizeof tok, "%s.tok", stage);
    char *dir = semid_path_join(run_dir, "sid");
    char *path = semid_path_join(run_dir, file);
    char *side_path = semid_path_join(run_dir, side);
    char *tok_path = semid_path_join(run_dir, tok);
    semid_status st = dir && path && side_path && tok_path ? semid_mkdirs(dir) : semid_fail(SEMID_ENOMEM, "out of memory");
    sid_inputs in;
    if (st == SEMID_OK) st = load_inputs(cfg, run_dir, ds, data_key, strategy, tokenizer, &in, key);
    if (st != SEMID_OK) goto done;

    char *text = NULL;
    size_t len;
    int keep_tok = cfg->cold_fraction > 0 && strcmp(strategy, cfg->hybrid_strategy) == 0 &&
                   strcmp(tokenizer, semid_tokenizer_defaults().method) == 0;
    if (exp_stage_fresh(run_dir, stage, key) && semid_idtable_load(path, out) == SEMID_OK &&
        semid_read_file_verified(side_path, &text, &len) == SEMID_OK && out->n_items == ds->n_items &&
        (!keep_tok || semid_path_exists(tok_path))) {
        *collision_rate = strtod(text, NULL);
        SEMID_INFO("ids %s/%s: reusing %s", strategy, tokenizer, path);
    } else {
        semid_idtable_free(out);
        memset(out, 0, sizeof *out);
        st = build_table(cfg, ds, &in, strategy, tokenizer, keep_tok ? tok_path : NULL, out, collision_rate);
        if (st == SEMID_OK) st = semid_idtable_save(out, path);
        if (st == SEMID_OK) {
            char line[64];
            int n = snprintf(line, sizeof line, "%.17g\n", *collision_rate);
            st = semid_write_file_summed(side_path, line, (size_t)n);
        }
        if (st == SEMID_OK) st = exp_stage_mark(run_dir, stage, key);
        if (st != SEMID_OK) {
            semid_fail_context(st, "semantic IDs %s/%s", strategy, tokenizer);
            semid_idtable_free(out);
            memset(out, 0, sizeof *out);
        }
    }
    free(text);
    sid_inputs_free(&in);
done:
    free(dir);
    free(path);
    free(side_path);
    free(tok_path);
    return st;
}

semid_status exp_collisions_of(const semid_idtable *t, exp_collisions *out) {
    memset(out, 0, sizeof *out);
    out->n_tasks = t->n_tasks;
    out->n_levels = t->n_levels;
    out->n_tokens = t->n_tokens;
    out->disambiguated = t->disambiguated;
    for (int ti = 0; ti < t->n_tasks && ti < 2; ti++) {
        semid_collision_stats c;
        SEMID_TRY(semid_idtable_collisions_before(t, ti, &c));
        out->colliding_share[ti] = c.n_items > 0 ? (double)c.colliding_items / c.n_items : 0.0;
        out->distinct_ids[ti] = c.distinct_ids;
        out->largest_bucket[ti] = c.max_items_per_id;
        for (int32_t l = t->n_levels - t->disambiguated; l < t->n_levels; l++)
            out->disambiguation_size[ti] += t->level_size[ti * t->n_levels + l];
    }
    return SEMID_OK;
}
