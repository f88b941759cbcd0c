/* semid train: trains the joint generative model on a dataset and an ID
 * table, writing a model bundle directory (gen/train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "gen/task_mix.h"
#include "gen/train.h"
#include "quant/idtable.h"

int cmd_train(int argc, char **argv) {
    semid_gen_train_config c = semid_gen_train_defaults();
    const char *dataset = NULL, *sids = NULL, *out = NULL, *decay = "cosine", *search_share = "auto";
    int seed = (int)c.seed, resume = 0, quiet = 0, wait = 0, no_pack = 0, bf16 = 0;
    int64_t warmup = c.warmup_steps;
    cli_option opts[] = {
        {"dataset", CLI_STRING, &dataset, "dataset file (.sdd, from semid data)"},
        {"sids", CLI_STRING, &sids, "Semantic-ID table (from semid sid)"},
        {"out", CLI_STRING, &out, "model directory to write"},
        {"layers", CLI_INT, &c.n_layer, "transformer layers"},
        {"dim", CLI_INT, &c.d_model, "model width"},
        {"heads", CLI_INT, &c.n_head, "attention heads"},
        {"context", CLI_INT, &c.max_seq_len, "context length in tokens (0 = fit the history window)"},
        {"window", CLI_INT, &c.history_window, "history items in a recommendation prompt"},
        {"epochs", CLI_INT, &c.epochs, "training epochs (with --patience, the most epochs; the schedule spans them)"},
        {"max-steps", CLI_INT64, &c.max_steps, "stop after this many steps (0 = epochs decide); the schedule spans them"},
        {"patience", CLI_INT, &c.patience,
         "early stopping: stop after this many epochs in a row without a better validation score (0 = off)"},
        {"min-epochs", CLI_INT, &c.min_epochs, "early stopping: run at least this many epochs"},
        {"batch", CLI_INT, &c.batch_size, "sequences per batch"},
        {"no-pack", CLI_FLAG, &no_pack,
         "a padded row per sequence, as before packing (slower; the same batches and loss)"},
        {"bf16", CLI_FLAG, &bf16, "matrix products in bfloat16 with fp32 sums (faster on CPUs with AVX-512 BF16)"},
        {"lr", CLI_FLOAT, &c.lr, "peak learning rate"},
        {"weight-decay", CLI_FLOAT, &c.weight_decay, "AdamW weight decay"},
        {"clip", CLI_FLOAT, &c.clip_norm, "gradient-norm clip (0 = off)"},
        {"warmup", CLI_INT64, &warmup, "warm-up steps (-1 = 5% of all steps, at most 500)"},
        {"decay", CLI_STRING, &decay, "learning-rate decay: cosine, linear or constant"},
        {"search-share", CLI_STRING, &search_share,
         "the tasks' mix: search's share of each epoch's two-task slots; 0 = as in the data; auto = as in the data "
         "unless one task has over 4x the other's sequences, then 0.8 to the larger"},
        {"personal-share", CLI_DOUBLE, &c.personal_share,
         "the third task, personalised search (a history and a query): its share of each epoch, added to the "
         "two tasks' sequences (0 = two tasks)"},
        {"min-count", CLI_INT, &c.vocab.min_count, "keep query words seen at least this often"},
        {"word-vectors", CLI_STRING, &c.word_vectors,
         "start query-word embeddings from word vectors: a GloVe/word2vec file, 'default' (the shipped subset), or a "
         "trained bi-encoder (DIR/search_encoder.safetensors from semid embed: each word as it encodes it)"},
        {"valid-sample", CLI_INT, &c.valid_sample, "validation prompts per task each epoch (0 = none)"},
        {"valid-k", CLI_INT, &c.valid_k, "validation Recall@K"},
        {"seed", CLI_INT, &seed, "random seed"},
        {"threads", CLI_INT, &c.threads, "threads (0 = all cores)"},
        {"checkpoint-every", CLI_INT64, &c.checkpoint_every, "steps between resume checkpoints (0 = each epoch)"},
        {"resume", CLI_FLAG, &resume, "continue from OUT/resume.safetensors"},
        {"stop-after", CLI_INT64, &c.stop_after, "stop after this many steps in all, as if killed after a checkpoint (0 = run to the end; to test --resume)"},
        {"wait", CLI_FLAG, &wait, "if another run holds OUT, wait for it to finish (default: fail, naming its pid)"},
        {"quiet", CLI_FLAG, &quiet, "no progress output"},
    };
    const char *pos[1];
    int n_pos = 0;
    int r = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                      "usage: semid train --dataset DS.sdd --sids SIDS --out MODEL_DIR [options]", pos, 0, &n_pos);
    if (r != 0) return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"epochs", 1, 100000}, {"patience", 0, 100000}, {"min-epochs", 0, c.epochs}, {"stop-after", 0, 1e15}};
    if (cli_check_ranges(opts, (int)(sizeof opts / sizeof opts[0]), ranges, (int)(sizeof ranges / sizeof ranges[0])) != 0)
        return CLI_EXIT_USAGE;
    if (!dataset || !sids || !out) {
        fprintf(stderr, "semid: error: train needs --dataset, --sids and --out (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (strcmp(decay, "cosine") == 0) c.decay = SEMID_LR_COSINE;
    else if (strcmp(decay, "linear") == 0) c.decay = SEMID_LR_LINEAR;
    else if (strcmp(decay, "constant") == 0) c.decay = SEMID_LR_CONSTANT;
    else {
        fprintf(stderr, "semid: error: --decay: '%s' is not cosine, linear or constant\n", decay);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(search_share, "auto") == 0) {
        c.search_share = SEMID_GEN_SHARE_AUTO;
    } else {
        char *end = NULL;
        c.search_share = strtod(search_share, &end);
        if (end == search_share || *end || !(c.search_share >= 0 && c.search_share < 1)) {
            fprintf(stderr, "semid: error: --search-share: '%s' is not auto or a share in [0, 1)\n", search_share);
            return CLI_EXIT_USAGE;
        }
    }
    if (seed < 0) {
        fprintf(stderr, "semid: error: --seed must be >= 0\n");
        return CLI_EXIT_USAGE;
    }
    c.seed = (uint64_t)seed;
    c.warmup_steps = warmup;
    c.resume = resume;
    c.pack = !no_pack;
    c.bf16 = bf16;
    c.wait = wait;
    c.verbose = !quiet;

    semid_dataset ds = {0};
    semid_idtable table = {0};
    semid_status st = semid_dataset_load(dataset, &ds);
    if (st == SEMID_OK) st = semid_idtable_load(sids, &table);
    semid_gen_train_report rep;
    if (st == SEMID_OK) st = semid_gen_train(&ds, &table, &c, out, &rep);
    semid_idtable_free(&table);
    semid_dataset_free(&ds);
    if (st != SEMID_OK) return cli_report(st);
    printf("trained %lld steps (%d epochs) in %.1f s, %.0f tokens/s, %lld parameters\n", (long long)rep.steps,
           rep.epochs_done, rep.seconds, rep.tokens_per_s, (long long)rep.n_params);
    if (rep.stopped_early)
        printf("stopped early after epoch %d of at most %d: no better validation score for %d epoch%s\n", rep.epochs_run,
               c.epochs, rep.epochs_run - rep.best_epoch, rep.epochs_run - rep.best_epoch == 1 ? "" : "s");
    if (rep.step_cpu_seconds > 0)
        printf("steps: %.0f tokens per CPU second (%.1f CPU s in %.1f s), %.1f%% of token slots padding\n",
               rep.tokens / rep.step_cpu_seconds, rep.step_cpu_seconds, rep.step_seconds, 100.0 * rep.padding);
    if (rep.ranks > 1 && rep.step_seconds > 0)
        printf("ranks: %d; the gradients' sum over them took %.2f s of the steps' %.1f s (%.1f%%)\n", rep.ranks,
               rep.sum_seconds, rep.step_seconds, 100.0 * rep.sum_seconds / rep.step_seconds);
    printf("last epoch loss %.4f\n", rep.last_epoch_loss);
    if (rep.best_valid >= 0)
        printf("best epoch %d: validation Recall@%d search %.4f, rec %.4f\n", rep.best_epoch, c.valid_k, rep.valid_search,
               rep.valid_rec);
    printf("model written to %s\n", out);
    return CLI_EXIT_OK;
}
