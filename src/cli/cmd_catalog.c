/* semid catalog: add items to, or remove them from, a trained model bundle
 * without retraining (gen/catalog.h; docs/catalog.md).
 *
 *   semid catalog add --model DIR --items new.tsv --tokenizer TOK \
 *       (--content --dataset DS.sdd [--glove F] | --encoder ENC.safetensors | --embeddings NEW.npy)
 *   semid catalog remove --model DIR ID [ID ...]
 *   semid catalog show --model DIR
 *
 * The embedding of a new item comes from the frozen encoder that made the
 * bundle's IDs, which the bundle does not hold: the command is told it.
 *   --content --dataset DS.sdd: content IDs (semid embed --method content).
 *       The content encoder is a deterministic function of the catalog's
 *       item texts (SIF weights, common component) and the word vectors, so
 *       it is fitted again on the training dataset's items, exactly as
 *       `semid embed` did, and applied to the new items' texts.
 *   --encoder DIR/search_encoder.safetensors: search / multi IDs (the
 *       bi-encoder's text tower, saved by semid embed).
 *   --embeddings NEW.npy: vectors the user made (rows = the new items, in
 *       file order), in the space the tokenizer was fitted on.
 * Rec (collaborative) IDs: a new item has no interactions, hence no ENMF
 * vector; only --embeddings can give its rec-space vector (e.g. from a
 * model mapping text to that space). Otherwise the text side stands in:
 * with --content or --encoder on a rec table, each new item takes the codes
 * of its most similar trained item in text space (cosine over the text
 * encoder's vectors of the dataset's items), then a disambiguation number. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "base/threads.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "data/import.h"
#include "embed/content.h"
#include "embed/text_encoder.h"
#include "gen/catalog.h"
#include "gen/generate.h"
#include "io/npy.h"
#include "quant/tokenizer.h"
#include "text/wordvec.h"

/* Texts of n items (semid_item_text), owned. */
static semid_status texts_of(const semid_item *items, int32_t n, char ***out) {
    *out = calloc((size_t)(n > 0 ? n : 1), sizeof **out);
    if (!*out) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t i = 0; i < n; i++)
        if (!((*out)[i] = semid_item_text(&items[i]))) {
            semid_item_texts_free(*out, i);
            *out = NULL;
            return semid_fail(SEMID_ENOMEM, "out of memory");
        }
    return SEMID_OK;
}

/* Text-side vectors of the new items and, when `ds` is given, of the
 * dataset's items (old may be NULL). */
static semid_status embed_text(const semid_item *items, int32_t n, const char *encoder, const semid_dataset *ds,
                               const char *glove, semid_matrix *out, semid_matrix *old) {
    char **texts = NULL, **ds_texts = NULL;
    SEMID_TRY(texts_of(items, n, &texts));
    semid_status st = SEMID_OK;
    if (ds) st = semid_item_texts(ds, &ds_texts);
    if (st == SEMID_OK && encoder) {
        semid_text_encoder *enc = NULL;
        st = semid_text_encoder_load(encoder, &enc);
        if (st == SEMID_OK) st = semid_text_encoder_encode(enc, (const char *const *)texts, n, out);
        if (st == SEMID_OK && old) st = semid_text_encoder_encode(enc, (const char *const *)ds_texts, ds->n_items, old);
        semid_text_encoder_free(enc);
    } else if (st == SEMID_OK) {
        semid_wordvec wv;
        memset(&wv, 0, sizeof wv);
        st = glove ? semid_wordvec_load(glove, 0, &wv) : semid_wordvec_load_default(&wv);
        semid_content_config cc = semid_content_defaults();
        semid_content_model *cm = NULL;
        if (st == SEMID_OK) st = semid_content_fit((const char *const *)ds_texts, ds->n_items, &wv, &cc, &cm);
        int64_t empty = 0;
        if (st == SEMID_OK) st = semid_content_encode(cm, (const char *const *)texts, n, out, &empty);
        if (st == SEMID_OK && empty)
            fprintf(stderr, "semid: warning: %lld new item%s no word with a vector: %s ID is a guess\n", (long long)empty,
                    empty == 1 ? " has" : "s have", empty == 1 ? "its" : "their");
        if (st == SEMID_OK && old)
            st = semid_content_encode(cm, (const char *const *)ds_texts, ds->n_items, old, NULL);
        semid_content_model_free(cm);
        semid_wordvec_free(&wv);
    }
    semid_item_texts_free(texts, n);
    if (ds_texts) semid_item_texts_free(ds_texts, ds->n_items);
    return st;
}

/* Rec IDs from the text side: each new row takes the tokenizer-space
 * vector reconstructed from the codes of its nearest trained item (cosine
 * in text space), so the frozen tokenizer gives it that item's codes. */
static semid_status rec_from_text(const char *model, const semid_tokenizer *tok, const semid_dataset *ds,
                                  const semid_matrix *txt_new, const semid_matrix *txt_old, semid_matrix *out) {
    semid_gen_bundle *b = NULL;
    SEMID_TRY(semid_gen_bundle_load(model, &b));
    semid_status st = SEMID_OK;
    int32_t tl = semid_tokenizer_levels(tok), L = b->table.n_levels, D = semid_tokenizer_dim(tok);
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)tl);
    memset(out, 0, sizeof *out);
    if (!codes) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_matrix_alloc(out, txt_new->rows, D);
    for (int64_t r = 0; r < txt_new->rows && st == SEMID_OK; r++) {
        int32_t best = -1;
        double best_s = -INFINITY;
        for (int32_t i = 0; i < ds->n_items; i++) {
            int32_t bi = semid_gen_bundle_find_item(b, ds->items[i].id);
            if (bi < 0 || (b->removed && b->removed[bi])) continue;
            double s = 0;
            for (int64_t d = 0; d < txt_new->cols; d++)
                s += (double)txt_new->data[r * txt_new->cols + d] * txt_old->data[(int64_t)i * txt_old->cols + d];
            if (s > best_s) {
                best_s = s;
                best = bi;
            }
        }
        if (best < 0) {
            st = semid_fail(SEMID_EINVAL, "no trained item of the dataset is in the model's catalog");
            break;
        }
        memcpy(codes, b->table.codes + (int64_t)best * L, sizeof(int32_t) * (size_t)tl);
        st = semid_tokenizer_reconstruct(tok, codes, 1, tl, out->data + r * D);
    }
    free(codes);
    semid_gen_bundle_free(b);
    if (st != SEMID_OK) semid_matrix_free(out);
    return st;
}

/* The strategy the bundle's IDs were made with (idtable.sid). */
static semid_status bundle_strategy(const char *model, char **out) {
    char *p = semid_path_join(model, "idtable.sid");
    if (!p) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_idtable t;
    semid_status st = semid_idtable_load(p, &t);
    free(p);
    if (st != SEMID_OK) return st;
    *out = semid_strdup(t.strategy);
    semid_idtable_free(&t);
    return *out ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
}

static int catalog_add(int argc, char **argv) {
    const char *model = NULL, *items_path = NULL, *tok_path = NULL, *emb_path = NULL, *encoder = NULL,
               *dataset = NULL, *glove = NULL;
    int content = 0, wait = 0, threads = 0, lenient = 0;
    cli_option opts[] = {
        {"model", CLI_STRING, &model, "model bundle directory (semid train)"},
        {"items", CLI_STRING, &items_path, "new items: TSV with a header (item_id, title, year, genres, description, tags)"},
        {"tokenizer", CLI_STRING, &tok_path, "the tokenizer that made the bundle's IDs (semid sid build --tokenizer-out)"},
        {"content", CLI_FLAG, &content, "content IDs: embed with the content encoder fitted on --dataset"},
        {"dataset", CLI_STRING, &dataset, "the training dataset (.sdd): for --content, and for rec IDs from the text side"},
        {"glove", CLI_STRING, &glove, "word vectors of --content (default: the shipped GloVe subset)"},
        {"encoder", CLI_STRING, &encoder, "search/multi IDs: the bi-encoder (DIR/search_encoder.safetensors)"},
        {"embeddings", CLI_STRING, &emb_path, "the new items' vectors (.npy, one row per item in file order)"},
        {"lenient", CLI_FLAG, &lenient, "skip malformed lines of --items (default: the first is an error)"},
        {"wait", CLI_FLAG, &wait, "if another process holds the model directory, wait for it"},
        {"threads", CLI_INT, &threads, "threads (0 = all cores)"},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, 2, opts, sizeof opts / sizeof opts[0],
                       "usage: semid catalog add --model DIR --items new.tsv --tokenizer TOK "
                       "(--content --dataset DS.sdd | --encoder ENC | --embeddings NEW.npy)",
                       pos, 0, &npos);
    if (rc) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"threads", 0, semid_threads_limit()}};
    if (cli_check_ranges(opts, sizeof opts / sizeof opts[0], ranges, 1) != 0) return CLI_EXIT_USAGE;
    if (!model || !items_path || !tok_path) {
        fprintf(stderr, "semid: error: catalog add needs --model, --items and --tokenizer (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if ((content != 0) + (encoder != NULL) + (emb_path != NULL) != 1) {
        fprintf(stderr, "semid: error: catalog add needs one of --content, --encoder or --embeddings\n");
        return CLI_EXIT_USAGE;
    }
    if (content && !dataset) {
        fprintf(stderr, "semid: error: --content needs --dataset (the content encoder is fitted on its items)\n");
        return CLI_EXIT_USAGE;
    }
    semid_set_threads(threads);
    semid_import_options io;
    semid_import_options_init(&io);
    io.lenient = lenient;
    semid_dataset items, ds;
    memset(&items, 0, sizeof items);
    memset(&ds, 0, sizeof ds);
    semid_tokenizer *tok = NULL;
    semid_matrix emb = {0}, old = {0}, txt = {0};
    char *strategy = NULL;
    int32_t *codes = NULL;
    semid_status st = semid_import_items(items_path, &io, &items);
    if (st == SEMID_OK) st = semid_tokenizer_load(tok_path, &tok);
    if (st == SEMID_OK) st = bundle_strategy(model, &strategy);
    int rec_text = strategy && strcmp(strategy, "rec") == 0 && !emb_path;
    if (st == SEMID_OK && rec_text && !dataset)
        st = semid_fail(SEMID_EINVAL,
                        "the bundle's IDs are collaborative (rec): a new item has no interactions, so no rec "
                        "vector. Give its rec-space vector with --embeddings, or --dataset DS.sdd with --content "
                        "or --encoder to borrow the codes of its nearest trained item in text space");
    if (st == SEMID_OK && dataset) st = semid_dataset_load(dataset, &ds);
    if (st == SEMID_OK && emb_path) {
        st = semid_npy_read(emb_path, &emb);
        if (st == SEMID_OK && emb.rows != items.n_items)
            st = semid_fail(SEMID_EINVAL, "%s has %lld rows but %s has %d items", emb_path, (long long)emb.rows,
                            items_path, items.n_items);
    } else if (st == SEMID_OK && rec_text) {
        st = embed_text(items.items, items.n_items, encoder, &ds, glove, &txt, &old);
        if (st == SEMID_OK) {
            fprintf(stderr, "semid: note: rec IDs from the text side: each new item takes the codes of its most "
                            "similar trained item\n");
            st = rec_from_text(model, tok, &ds, &txt, &old, &emb);
        }
    } else if (st == SEMID_OK) {
        st = embed_text(items.items, items.n_items, encoder, content ? &ds : NULL, glove, &emb, NULL);
    }
    semid_catalog_report rep = {0};
    if (st == SEMID_OK) st = semid_catalog_add(model, items.items, items.n_items, &emb, tok, wait, &rep, &codes);
    if (st == SEMID_OK) {
        for (int32_t i = 0; i < items.n_items; i++) {
            printf("added %s: codes", items.items[i].id);
            for (int32_t l = 0; l < rep.n_levels; l++) printf(" %d", codes[(int64_t)i * rep.n_levels + l]);
            printf("\n");
        }
        printf("catalog version %lld: %d items, %d live\n", (long long)rep.version, rep.n_items, rep.n_live);
    }
    free(codes);
    free(strategy);
    semid_matrix_free(&emb);
    semid_matrix_free(&old);
    semid_matrix_free(&txt);
    semid_tokenizer_free(tok);
    semid_dataset_free(&items);
    semid_dataset_free(&ds);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

static int catalog_remove(int argc, char **argv) {
    const char *model = NULL;
    int wait = 0;
    cli_option opts[] = {
        {"model", CLI_STRING, &model, "model bundle directory"},
        {"wait", CLI_FLAG, &wait, "if another process holds the model directory, wait for it"},
    };
    const char **pos = malloc(sizeof *pos * (size_t)(argc > 0 ? argc : 1));
    if (!pos) return cli_report(semid_fail(SEMID_ENOMEM, "out of memory"));
    int npos = 0;
    int rc = cli_parse(argc, argv, 2, opts, sizeof opts / sizeof opts[0], "usage: semid catalog remove --model DIR ID [ID ...]",
                       pos, argc, &npos);
    if (rc || !model || npos < 1) {
        free(pos);
        if (rc > 0) return CLI_EXIT_OK;
        if (!rc) fprintf(stderr, "semid: error: catalog remove needs --model and the item ids to remove\n");
        return CLI_EXIT_USAGE;
    }
    semid_catalog_report rep = {0};
    semid_status st = semid_catalog_remove(model, pos, npos, wait, &rep);
    free(pos);
    if (st != SEMID_OK) return cli_report(st);
    printf("removed %d item%s; catalog version %lld: %d items, %d live\n", rep.n_changed, rep.n_changed == 1 ? "" : "s",
           (long long)rep.version, rep.n_items, rep.n_live);
    return CLI_EXIT_OK;
}

static int catalog_show(int argc, char **argv) {
    const char *model = NULL;
    cli_option opts[] = {{"model", CLI_STRING, &model, "model bundle directory"}};
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, 2, opts, 1, "usage: semid catalog show --model DIR", pos, 0, &npos);
    if (rc) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (!model) {
        fprintf(stderr, "semid: error: catalog show needs --model\n");
        return CLI_EXIT_USAGE;
    }
    semid_gen_bundle *b = NULL;
    semid_status st = semid_gen_bundle_load(model, &b);
    if (st != SEMID_OK) return cli_report(st);
    int32_t removed = 0;
    for (int32_t i = 0; i < b->n_items; i++) removed += b->removed && b->removed[i];
    printf("catalog version %lld\ntrained items   %d\nadded items     %d\nremoved items   %d\nlive items      %d\n",
           (long long)b->catalog_version, b->n_base_items, b->n_items - b->n_base_items, removed, b->n_items - removed);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)b->table.n_levels);
    for (int32_t i = b->n_base_items; tok && i < b->n_items; i++) {
        semid_idtable_tokens(&b->table, SEMID_TASK_SEARCH, i, tok);
        printf("added\t%s\t", b->item_ids[i]);
        for (int32_t l = 0; l < b->table.n_levels; l++) printf("%s%d", l ? " " : "", tok[l]);
        printf("%s\n", b->removed && b->removed[i] ? "\tremoved" : "");
    }
    free(tok);
    semid_gen_bundle_free(b);
    return CLI_EXIT_OK;
}

int cmd_catalog(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: semid catalog <add|remove|show> [options]   (semid catalog <sub> --help)\n\n"
               "  add      give new items Semantic IDs from the frozen tokenizer, without retraining\n"
               "  remove   take items out of the tries: search and recommend never return them\n"
               "  show     the catalog version, added and removed items\n");
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "add") == 0) return catalog_add(argc, argv);
    if (strcmp(argv[1], "remove") == 0) return catalog_remove(argc, argv);
    if (strcmp(argv[1], "show") == 0) return catalog_show(argc, argv);
    fprintf(stderr, "semid: error: unknown catalog command '%s' (add, remove, show)\n", argv[1]);
    return CLI_EXIT_USAGE;
}
