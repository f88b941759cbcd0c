/* report.md and the terminal table. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "exp/results.h"
#include "exp/sbuf.h"
#include "io/json.h"

/* Published figures (search Recall@30, rec Recall@30) on the paper's
 * MovieLens-25M subset, as far as DESIGN.md records them; NAN = not given. */
typedef struct paper_figure {
    exp_table table;
    const char *name;
    double search, rec;
} paper_figure;

static const paper_figure PAPER[] = {
    {EXP_TABLE_MOTIVATION, "search", 0.072, 0.026},
    {EXP_TABLE_MOTIVATION, "rec", 0.004, 0.062},
    {EXP_TABLE_MAIN, "search", 0.072, 0.026},
    {EXP_TABLE_MAIN, "rec", 0.004, 0.062},
    {EXP_TABLE_MAIN, "multi", 0.046, 0.049},
    {EXP_TABLE_ABLATION, "rqkmeans", 0.046, 0.049},
    {EXP_TABLE_ABLATION, "rqvae", 0.002, 0.024},
};

static const paper_figure *paper_lookup(exp_table t, const char *name) {
    for (size_t i = 0; i < sizeof PAPER / sizeof PAPER[0]; i++)
        if (PAPER[i].table == t && strcmp(PAPER[i].name, name) == 0) return &PAPER[i];
    return NULL;
}

static void cell(exp_sbuf *b, const exp_metric *m, int best, int differs) {
    if (m->n == 0) {
        exp_sb_printf(b, " – |");
        return;
    }
    const char *mark = !best && differs ? "†" : "";
    if (m->n > 1) exp_sb_printf(b, " %s%.4f ± %.4f%s%s |", best ? "**" : "", m->mean, m->sd, best ? "**" : "", mark);
    else exp_sb_printf(b, " %s%.4f%s%s |", best ? "**" : "", m->mean, best ? "**" : "", mark);
}

static void paper_cell(exp_sbuf *b, double v) {
    if (isnan(v)) exp_sb_printf(b, " – |");
    else exp_sb_printf(b, " %.3f |", v);
}

/* Whether the run evaluated search on unseen-style queries too (queries.unseen_style). */
static int has_unseen(const exp_results *r) {
    for (int i = 0; i < r->n_rows; i++)
        if (r->rows[i].n_unseen > 0) return 1;
    return 0;
}

static void write_table(exp_sbuf *b, const exp_results *r, exp_table table, const char *title, const char *first_col) {
    int any = 0;
    for (int i = 0; i < r->n_rows; i++) any |= r->rows[i].table == table;
    if (!any) return;
    const int unseen = has_unseen(r);
    exp_sb_printf(b, "\n## %s\n\n", title);
    exp_sb_printf(b, "| %s | Search R@%d | Rec R@%d | Rec Head R@%d | Rec Torso R@%d | Search NDCG@%d | Rec NDCG@%d |", first_col,
                  r->k, r->k, r->k, r->k, r->k, r->k);
    if (unseen) exp_sb_printf(b, " Search R@%d (unseen style) | Search NDCG@%d (unseen style) |", r->k, r->k);
    exp_sb_printf(b, " invalid IDs | paper search | paper rec |\n");
    exp_sb_printf(b, "|---|---|---|---|---|---|---|%s---|---|---|\n", unseen ? "---|---|" : "");
    exp_decoder decoder = table == EXP_TABLE_MAIN_DIVERSE ? EXP_DECODER_DIVERSE : EXP_DECODER_TRIE;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < r->n_rows; i++) {
            const exp_row *row = &r->rows[i];
            if (pass == 0 ? row->table != table : row->table != EXP_TABLE_REFERENCE) continue;
            if (row->generative && row->decoder != decoder) continue; /* atomic IDs: the table's decoder */
            if (row->n_personal > 0 && row->search_recall.n == 0 && row->rec_recall.n == 0) continue; /* below */
            exp_sb_printf(b, "| %s%s |", row->label, pass ? " (reference)" : "");
            if (row->failed[0]) {
                exp_sb_printf(b, " failed: %s | | | | | | | | |%s\n", row->failed, unseen ? " | |" : "");
                continue;
            }
            int own = row->table == table;
            cell(b, &row->search_recall, own && row->best_search, own && exp_row_differs(row, EXP_TASK_SEARCH, 0.05));
            cell(b, &row->rec_recall, own && row->best_rec, own && exp_row_differs(row, EXP_TASK_REC, 0.05));
            cell(b, &row->rec_head, 0, 0);
            cell(b, &row->rec_torso, 0, 0);
            cell(b, &row->search_ndcg, 0, 0);
            cell(b, &row->rec_ndcg, 0, 0);
            if (unseen) {
                cell(b, &row->unseen_recall, own && row->best_unseen, own && exp_row_differs(row, EXP_TASK_UNSEEN, 0.05));
                cell(b, &row->unseen_ndcg, 0, 0);
            }
            if (row->generative) cell(b, &row->invalid_share, 0, 0);
            else exp_sb_printf(b, " – |");
            const paper_figure *pf = pass == 0 ? paper_lookup(table, row->name) : NULL;
            paper_cell(b, pf ? pf->search : NAN);
            paper_cell(b, pf ? pf->rec : NAN);
            exp_sb_printf(b, "\n");
        }
    }
}

/* A p-value as text: "< 0.001", the value, or "–" without a test. */
static const char *p_text(double p, char *buf, size_t n) {
    if (isnan(p)) snprintf(buf, n, "–");
    else if (p < 0.001) snprintf(buf, n, "< 0.001");
    else snprintf(buf, n, "%.3f", p);
    return buf;
}

/* Personalised search (model.personal_share > 0): per generative row, each
 * test user's item from a vague query with the history, beside the same
 * model with the history withheld and with the query withheld. */
static void write_personal(exp_sbuf *b, const exp_results *r) {
    int any = 0;
    for (int i = 0; i < r->n_rows; i++) any |= r->rows[i].n_personal > 0;
    if (!any) return;
    exp_sb_printf(b, "\n## Personalised search (the third task)\n\n");
    exp_sb_printf(b, "Each test user's item, searched with a vague query the query generator writes for it (genre and "
                     "decade at most: data/querygen.h) and the user's history in the prompt; beside it the same model "
                     "and queries with the history withheld (plain search) and the recommendation prompt alone (the "
                     "history without the query: the Rec columns above, on the same users). p: paired two-sided "
                     "t-tests of personalised search against each, over users (hits averaged over seeds) and, with "
                     "two seeds or more, over seeds (no correction: two tests a row).\n\n");
    exp_sb_printf(b, "| strategy | personalised R@%d | NDCG@%d | history withheld R@%d | NDCG@%d | rec alone R@%d | NDCG@%d "
                     "| p vs withheld (users / seeds) | p vs rec (users / seeds) |\n",
                  r->k, r->k, r->k, r->k, r->k, r->k);
    exp_sb_printf(b, "|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < r->n_rows; i++) {
        const exp_row *row = &r->rows[i];
        if (row->n_personal == 0 || row->failed[0]) continue;
        int seen = 0; /* a row shown in two tables is listed once */
        for (int j = 0; j < i && !seen; j++) seen = r->rows[j].n_personal > 0 && strcmp(r->rows[j].name, row->name) == 0;
        if (seen) continue;
        exp_sb_printf(b, "| %s |", row->label);
        cell(b, &row->personal_recall, 0, 0);
        cell(b, &row->personal_ndcg, 0, 0);
        cell(b, &row->plain_recall, 0, 0);
        cell(b, &row->plain_ndcg, 0, 0);
        cell(b, &row->rec_recall, 0, 0);
        cell(b, &row->rec_ndcg, 0, 0);
        char u[16], sd[16], u2[16], sd2[16];
        exp_sb_printf(b, " %s / %s | %s / %s |\n", p_text(row->p_personal_plain, u, sizeof u),
                      p_text(row->p_personal_plain_seeds, sd, sizeof sd), p_text(row->p_personal_rec, u2, sizeof u2),
                      p_text(row->p_personal_rec_seeds, sd2, sizeof sd2));
    }
}

/* A number from the recorded configuration ("model.epochs"); NAN when absent. */
static double config_number(const cJSON *cfg, const char *group, const char *key) {
    const cJSON *g = group ? cJSON_GetObjectItemCaseSensitive(cfg, group) : cfg;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* What the unseen-style columns measure. */
static void write_unseen_note(exp_sbuf *b, const exp_results *r) {
    if (!has_unseen(r)) return;
    int oom = 0;
    cJSON *cfg = r->config_json ? semid_json_parse(r->config_json, strlen(r->config_json), &oom) : NULL;
    if (oom) {
        b->oom = 1;
        return;
    }
    double per_item = config_number(cfg, "queries", "unseen_style");
    cJSON_Delete(cfg);
    int64_t n = 0;
    for (int i = 0; i < r->n_rows && n == 0; i++) n = r->rows[i].n_unseen;
    exp_sb_printf(b, "\n\"Unseen style\" columns: the same systems, not retrained, searching with %lld other test queries "
                     "(%.0f per tested item, queries.unseen_style) written in a style the training queries never use "
                     "(other frames, genre words and era wording, keywords in another inflection: "
                     "src/data/querygen_unseen.c), from the same metadata. A gain that fits only the query generator's "
                     "phrasing shows as a gap between the two search columns. Marked as the search column is, within "
                     "each table.\n",
                  (long long)n, per_item);
}

/* "a / b / c" of a metric's per-seed values; "–" when it has none. */
static void per_seed(exp_sbuf *b, const exp_metric *m, int integer) {
    if (m->n == 0) exp_sb_printf(b, " –");
    for (int s = 0; s < m->n; s++) exp_sb_printf(b, integer ? "%s%.0f" : "%s%.4f", s ? " / " : " ", m->per_seed[s]);
    exp_sb_printf(b, " |");
}

/* How the generative models trained, and every seed's figures (the spread
 * between seeds). */
static void write_training(exp_sbuf *b, const exp_results *r) {
    int any = 0;
    for (int i = 0; i < r->n_rows; i++) any |= r->rows[i].generative && !r->rows[i].failed[0];
    if (!any) return;
    int oom = 0;
    cJSON *cfg = r->config_json ? semid_json_parse(r->config_json, strlen(r->config_json), &oom) : NULL;
    if (oom) {
        b->oom = 1; /* the writer reports it; a report without the settings would look complete */
        return;
    }
    double epochs = config_number(cfg, "model", "epochs"), patience = config_number(cfg, "model", "patience");
    double min_epochs = config_number(cfg, "model", "min_epochs"), max_steps = config_number(cfg, "model", "max_steps");
    double valid = config_number(cfg, "model", "valid_sample");
    const cJSON *seeds = cJSON_GetObjectItemCaseSensitive(cfg, "seeds");
    exp_sb_printf(b, "\n## Training and seeds\n\n");
    if (!isnan(epochs) && patience > 0) {
        if (patience == 1)
            exp_sb_printf(b, "Each generative model trains for at most %.0f epochs and stops at the first epoch that brings "
                             "no better validation Recall@10",
                          epochs);
        else
            exp_sb_printf(b, "Each generative model trains for at most %.0f epochs and stops once %.0f epochs in a row bring "
                             "no better validation Recall@10",
                          epochs, patience);
        exp_sb_printf(b, " (the mean over search and recommendation of up to %.0f validation prompts each)", valid);
        if (min_epochs > 1) exp_sb_printf(b, ", but not before %.0f epochs", min_epochs);
        exp_sb_printf(b, "; the weights of its best epoch are evaluated. The learning-rate schedule spans the %.0f epochs.",
                      epochs);
    } else if (!isnan(epochs)) {
        exp_sb_printf(b, "Each generative model trains for %.0f epochs (no early stopping); the weights of its best epoch by "
                         "validation Recall@10 are evaluated.",
                      epochs);
    }
    if (max_steps > 0) exp_sb_printf(b, " No model trains more than %.0f steps (model.max_steps).", max_steps);
    if (cJSON_IsArray(seeds)) {
        exp_sb_printf(b, " Seeds");
        int s = 0;
        for (const cJSON *x = seeds->child; x; x = x->next, s++) exp_sb_printf(b, "%s%.0f", s ? ", " : " ", x->valuedouble);
        exp_sb_printf(b, " (in this order below); a seed sets a model's initialisation and data order.");
    }
    cJSON_Delete(cfg);
    exp_sb_printf(b, "\n\n| row | epochs run | stopped early | best epoch | Search R@%d per seed | Rec R@%d per seed |\n",
                  r->k, r->k);
    exp_sb_printf(b, "|---|---|---|---|---|---|\n");
    for (int i = 0; i < r->n_rows; i++) {
        const exp_row *row = &r->rows[i];
        if (!row->generative || row->failed[0] || row->decoder != EXP_DECODER_TRIE || row->table == EXP_TABLE_WARM ||
            row->table == EXP_TABLE_COLD)
            continue;
        int seen = 0; /* a row shown in two tables is listed once */
        for (int j = 0; j < i && !seen; j++)
            seen = r->rows[j].generative && strcmp(r->rows[j].name, row->name) == 0;
        if (seen) continue;
        exp_sb_printf(b, "| %s |", row->label);
        per_seed(b, &row->epochs_run, 1);
        if (row->epochs_run.n) exp_sb_printf(b, " %d of %d |", row->n_stopped_early, row->epochs_run.n);
        else exp_sb_printf(b, " – |");
        per_seed(b, &row->best_epoch, 1);
        per_seed(b, &row->search_recall, 0);
        per_seed(b, &row->rec_recall, 0);
        exp_sb_printf(b, "\n");
    }
}

/* "a" or "a / b" (search / rec) of a per-task figure. */
static void per_task(exp_sbuf *b, const exp_collisions *c, const double *v, int percent) {
    for (int t = 0; t < c->n_tasks && t < 2; t++)
        exp_sb_printf(b, percent ? "%s%.1f%%" : "%s%.0f", t ? " / " : " ", percent ? 100.0 * v[t] : v[t]);
    exp_sb_printf(b, " |");
}

/* What the quantizer left shared: an ID table whose disambiguation level is
 * large lets that last token name items one by one, as atomic IDs do. */
static void write_collisions(exp_sbuf *b, const exp_results *r) {
    int any = 0;
    for (int i = 0; i < r->n_rows; i++) any |= r->rows[i].generative && r->rows[i].ids.n_tasks > 0;
    if (!any) return;
    exp_sb_printf(b, "\n## Semantic-ID collisions\n\n"
                     "Before disambiguation, per ID table: the share of items whose ID another item had too, the "
                     "distinct IDs, the most items under one ID, and the tokens of the levels that disambiguation "
                     "appends (one level as large as that largest group, or, past sid.max_disambiguation, several "
                     "smaller ones that count it; – when none is appended). Two figures are search / rec "
                     "for strategies with an ID per task. Where most items collide and the appended level is large, "
                     "the last token tells items apart one by one, as an atomic ID does, and the comparison between "
                     "strategies is partly one between how much of each ID is per-item; the atomic-ID row is that "
                     "case taken to its end.\n\n");
    exp_sb_printf(b, "| IDs | levels | tokens | items sharing an ID | distinct IDs | largest group | disambiguation tokens |\n");
    exp_sb_printf(b, "|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < r->n_rows; i++) {
        const exp_row *row = &r->rows[i];
        const exp_collisions *c = &row->ids;
        if (!row->generative || c->n_tasks == 0 || row->decoder != EXP_DECODER_TRIE) continue;
        int seen = 0; /* a row shown in two tables is listed once */
        for (int j = 0; j < i && !seen; j++) seen = r->rows[j].ids.n_tasks > 0 && strcmp(r->rows[j].name, row->name) == 0;
        if (seen) continue;
        double distinct[2] = {c->distinct_ids[0], c->distinct_ids[1]};
        double largest[2] = {c->largest_bucket[0], c->largest_bucket[1]};
        double level[2] = {c->disambiguation_size[0], c->disambiguation_size[1]};
        exp_sb_printf(b, "| %s | %d | %d |", row->label, c->n_levels, c->n_tokens);
        per_task(b, c, c->colliding_share, 1);
        per_task(b, c, distinct, 0);
        per_task(b, c, largest, 0);
        if (c->disambiguated) per_task(b, c, level, 0);
        else exp_sb_printf(b, " – |");
        exp_sb_printf(b, "\n");
    }
}

/* The diverse table's settings, from the recorded configuration. */
static void write_diverse_note(exp_sbuf *b, const exp_results *r) {
    int oom = 0;
    cJSON *cfg = r->config_json ? semid_json_parse(r->config_json, strlen(r->config_json), &oom) : NULL;
    if (oom) {
        b->oom = 1;
        return;
    }
    double beams = config_number(cfg, "decode", "diverse_beam"), groups = config_number(cfg, "decode", "diverse_groups");
    double penalty = config_number(cfg, "decode", "diverse_penalty"), beam = config_number(cfg, "model", "beam");
    cJSON_Delete(cfg);
    exp_sb_printf(b, "\nThe same models as Table 2 (and the atomic-ID reference), decoded as the paper decodes: diverse "
                     "beam search with %.0f beams in %.0f groups and a diversity penalty of %g, not held to the IDs that "
                     "exist, so a beam may name no item (\"invalid IDs\": the share of the beams decoded, queries x "
                     "beams, both tasks). Table 2 decodes with the trie-constrained beam (%.0f beams), where no ID is "
                     "invalid.\n",
                  beams, groups, penalty, beam);
}

semid_status exp_report_write_markdown(const exp_results *r, const char *path, const char *plot_name) {
    exp_sbuf b = {0};
    exp_sb_printf(&b, "# semid experiment report\n\n");
    exp_sb_printf(&b, "Dataset: %s. Recall@%d and NDCG@%d; search: every test query's source item; recommendation: "
                  "every user's last item (chronological leave-last-out), split into Head (top items by training "
                  "popularity) and Torso. Total time %.0f s.\n\n",
              r->dataset_summary, r->k, r->k, r->seconds);
    exp_sb_printf(&b, "Figures are means over seeds (± sample standard deviation when there are several). In each table the "
                  "best row of a column is in bold; † marks a row that differs from the best row by two paired "
                  "two-sided t-tests, each with p < 0.05 after Bonferroni correction over the rows compared: one over "
                  "queries (users), pairing each one's hits averaged over the seeds, and, with two seeds or more, one "
                  "over seeds, pairing the row's figure for each seed with the best row's for the same seed (n - 1 "
                  "degrees of freedom). The first alone ignores how much a row moves from seed to seed; the second "
                  "keeps a gap within that spread from being marked. Reference rows are shown in every table "
                  "and compared with none: dense retrieval, ENMF and popularity, and the same generative model, "
                  "data and budget on atomic IDs (one token per item, a softmax over every item, as SASRec-style "
                  "sequential recommenders have), the baseline Semantic IDs are meant to beat. \"paper\" columns are the published "
                  "figures on the paper's MovieLens-25M subset (62,138 movies, a fine-tuned flan-t5-base), where "
                  "known: a different dataset and model, for orientation only.\n");
    write_unseen_note(&b, r);
    write_table(&b, r, EXP_TABLE_MOTIVATION, "Table 1: task-specific Semantic IDs (motivation)", "IDs from");
    write_table(&b, r, EXP_TABLE_MAIN, "Table 2: strategies for joint search and recommendation", "strategy");
    write_table(&b, r, EXP_TABLE_MAIN_DIVERSE, "Table 2b: the strategies decoded with diverse beam search (no trie)",
                "strategy");
    for (int i = 0; i < r->n_rows; i++)
        if (r->rows[i].table == EXP_TABLE_MAIN_DIVERSE) {
            write_diverse_note(&b, r);
            break;
        }
    write_table(&b, r, EXP_TABLE_ABLATION, "Table 3: tokenizer ablation (multi-task embeddings)", "tokenizer");
    write_collisions(&b, r);
    write_personal(&b, r);
    write_table(&b, r, EXP_TABLE_HYBRID,
                "Hybrid re-ranking: the model's beam and the dense index's nearest items, W z(log-prob) + (1 - W) "
                "z(dense score) (hybrid.*; the dense score is the bi-encoder's cosine, or for recommendation with "
                "hybrid.rec_dense=enmf ENMF's user . item)",
                "ranking");
    write_table(&b, r, EXP_TABLE_WARM,
                "Held-out items (cold.*): warm items' tests, the cold items added to the model (reference rows: the "
                "warm dataset's tests)",
                "ranking");
    write_table(&b, r, EXP_TABLE_COLD,
                "Held-out items (cold.*): the cold items' tests (never seen in training; reference rows: the warm "
                "dataset's tests)",
                "ranking");
    write_training(&b, r);
    if (plot_name)
        exp_sb_printf(&b, "\n## Figure 1: the trade-off\n\n![search against recommendation Recall@%d](%s)\n\n"
                      "Each point is one generative row; the line joins the Pareto front (no other row is better on "
                      "both tasks).\n",
                  r->k, plot_name);
    if (r->config_json) exp_sb_printf(&b, "\n## Configuration\n\n```json\n%s\n```\n", r->config_json);
    if (b.oom) {
        free(b.s);
        return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    }
    semid_status st = semid_write_file_atomic(path, b.s, b.len);
    free(b.s);
    return st;
}

static void text_cell(exp_sbuf *b, const exp_metric *m) {
    if (m->n == 0) exp_sb_printf(b, " %12s", "-");
    else exp_sb_printf(b, " %12.4f", m->mean);
}

static void text_row(exp_sbuf *b, const exp_row *row, int unseen) {
    exp_sb_printf(b, "%-34s", row->label);
    if (row->failed[0]) {
        exp_sb_printf(b, " failed: %s\n", row->failed);
        return;
    }
    text_cell(b, &row->search_recall);
    text_cell(b, &row->rec_recall);
    text_cell(b, &row->rec_head);
    text_cell(b, &row->rec_torso);
    if (unseen) text_cell(b, &row->unseen_recall);
    exp_sb_printf(b, "\n");
}

char *exp_report_main_table_text(const exp_results *r) {
    exp_sbuf b = {0};
    const int unseen = has_unseen(r);
    exp_sb_printf(&b, "%-34s %12s %12s %12s %12s%s\n", "row", "search R@K", "rec R@K", "rec head", "rec torso",
                  unseen ? "  unseen R@K" : "");
    for (int t = EXP_TABLE_MOTIVATION; t <= EXP_TABLE_ABLATION; t += 1) {
        for (int i = 0; i < r->n_rows; i++) {
            const exp_row *row = &r->rows[i];
            if ((int)row->table != t || t == EXP_TABLE_MOTIVATION) continue;
            text_row(&b, row, unseen);
        }
    }
    for (int i = 0; i < r->n_rows; i++) {
        const exp_row *row = &r->rows[i];
        if (row->table != EXP_TABLE_REFERENCE || row->decoder != EXP_DECODER_TRIE) continue;
        text_row(&b, row, unseen);
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
