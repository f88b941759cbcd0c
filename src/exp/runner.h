/* `semid experiment`: the paper's whole comparison on one dataset.
 *
 *   dataset -> embeddings (content, search, rec, multi, fused_concat,
 *   fused_svd) -> Semantic IDs per strategy (and per tokenizer on the
 *   multi-task embeddings) -> one joint generative model per strategy and
 *   seed -> Recall@K / NDCG@K on the test split, beside non-generative
 *   reference rows (popularity, dense bi-encoders, ENMF).
 *
 * Every stage is cached in the run directory (exp/cache.h), so a killed
 * experiment resumes and a changed setting recomputes only what depends on
 * it. The seeds vary the generative models (initialisation and data order);
 * the embeddings and IDs are computed once, from the first seed. A row that
 * fails (say a tokenizer that cannot fit this catalog) is reported as failed
 * with its reason; the others go on. */
#ifndef SEMID_EXP_RUNNER_H
#define SEMID_EXP_RUNNER_H

#include "exp/config.h"
#include "exp/results.h"

/* Runs (or resumes) the experiment into run_dir and writes there
 * results.json, report.md and tradeoff.svg. *out holds the results. */
semid_status exp_run(const exp_config *cfg, const char *run_dir, exp_results *out);

#endif
