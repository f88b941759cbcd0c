/* semid embed: item embeddings of one method written as DIR/<method>.npy
 * beside DIR/items.txt (the id of each row), plus what scoring needs later:
 * the trained text encoder (search, multi) or ENMF's user vectors (rec).
 * `semid embed --import V.npy --ids IDS.txt` checks users' own vectors
 * against the dataset and writes them in the same layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "base/threads.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "embed/biencoder_train.h"
#include "embed/content.h"
#include "embed/embed_io.h"
#include "embed/enmf.h"
#include "embed/fusion.h"
#include "embed/text_encoder.h"
#include "io/npy.h"
#include "text/wordvec.h"

typedef struct embed_args {
    const char *method, *dataset, *out, *import_path, *ids, *name, *search, *rec, *glove;
    int dim, epochs, batch, threads, seed;
    float lr, neg_weight, dropout, weight_decay;
} embed_args;

static const char *const METHODS = "content, search, rec, multi, fused_concat, fused_svd";

/* The id list beside an embedding file: <dir of path>/items.txt. */
static char *ids_beside(const char *npy_path) {
    const char *slash = strrchr(npy_path, '/');
    if (!slash) return semid_strdup("items.txt");
    size_t n = (size_t)(slash - npy_path);
    char *dir = malloc(n + 1);
    if (!dir) return NULL;
    memcpy(dir, npy_path, n);
    dir[n] = '\0';
    char *p = semid_path_join(dir, "items.txt");
    free(dir);
    return p;
}

/* Loads an embedding given as a path (ids beside it) or DIR/<name>.npy. */
static semid_status load_input(const semid_dataset *ds, const char *path, const char *dir, const char *name,
                               semid_matrix *out) {
    if (!path) return semid_embed_load(ds, dir, name, out);
    char *ids = ids_beside(path);
    if (!ids) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = semid_embed_import(ds, path, ids, out);
    free(ids);
    return st;
}

static semid_status embed_rec(const semid_dataset *ds, const embed_args *a, semid_matrix *items) {
    semid_enmf_config cfg = semid_enmf_defaults();
    if (a->dim > 0) cfg.dim = a->dim;
    if (a->epochs >= 0) cfg.epochs = a->epochs;
    if (a->batch > 0) cfg.batch_users = a->batch;
    if (a->lr > 0) cfg.lr = a->lr;
    cfg.neg_weight = a->neg_weight;
    cfg.dropout = a->dropout;
    cfg.weight_decay = a->weight_decay;
    cfg.seed = (uint64_t)a->seed;
    int64_t *off = NULL;
    int32_t *it = NULL;
    SEMID_TRY(semid_enmf_train_csr(ds, &off, &it));
    semid_enmf_data data = {ds->n_users, ds->n_items, off, it};
    SEMID_INFO("enmf: %d users, %d items, %lld training interactions, dim %d, %d epochs", ds->n_users, ds->n_items,
               (long long)off[ds->n_users], cfg.dim, cfg.epochs);
    semid_enmf m;
    semid_status st = semid_enmf_train(&m, &cfg, &data, NULL, NULL);
    free(off);
    free(it);
    if (st != SEMID_OK) return st;
    semid_matrix users = {0};
    st = semid_enmf_item_vectors(&m, items);
    if (st == SEMID_OK) st = semid_enmf_user_vectors(&m, &users);
    char *up = semid_path_join(a->out, "rec_users.npy");
    char *uid = semid_path_join(a->out, "users.txt");
    if (st == SEMID_OK && (!up || !uid)) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_mkdirs(a->out);
    if (st == SEMID_OK) st = semid_npy_write(up, &users);
    if (st == SEMID_OK) st = semid_idlist_write(uid, ds->user_ids, ds->n_users);
    free(up);
    free(uid);
    semid_matrix_free(&users);
    semid_enmf_free(&m);
    return st;
}

/* content: GloVe mean (embed/content.h); search, multi: the bi-encoder
 * (embed/biencoder_train.h), saved as DIR/<method>_encoder.safetensors so
 * that `semid baseline --method search` can encode queries with it. */
static semid_status embed_text(const semid_dataset *ds, const embed_args *a, semid_matrix *items) {
    semid_wordvec wv;
    memset(&wv, 0, sizeof wv);
    SEMID_TRY(a->glove ? semid_wordvec_load(a->glove, 0, &wv) : semid_wordvec_load_default(&wv));
    semid_status st;
    if (strcmp(a->method, "content") == 0) {
        semid_content_config cc = semid_content_defaults();
        st = semid_content_embed(ds, &wv, &cc, items);
    } else {
        semid_biencoder_config bc = semid_biencoder_defaults();
        bc.task = strcmp(a->method, "multi") == 0 ? SEMID_BIENCODER_MULTITASK : SEMID_BIENCODER_SEARCH;
        bc.encoder.dim_word = wv.dim;
        if (a->dim > 0) bc.encoder.dim_out = a->dim;
        if (a->epochs > 0) bc.epochs = a->epochs;
        if (a->lr > 0) bc.lr = a->lr;
        if (a->batch > 0) bc.batch = a->batch;
        bc.seed = (uint64_t)a->seed;
        bc.encoder.seed = (uint64_t)a->seed;
        semid_text_encoder *enc = NULL;
        st = semid_biencoder_train(ds, &wv, &bc, &enc, items, NULL);
        if (st == SEMID_OK) {
            char file[64];
            snprintf(file, sizeof file, "%s_encoder.safetensors", a->method);
            char *path = semid_path_join(a->out, file);
            st = path ? semid_mkdirs(a->out) : semid_fail(SEMID_ENOMEM, "out of memory");
            if (st == SEMID_OK) st = semid_text_encoder_save(enc, path);
            if (st == SEMID_OK) SEMID_INFO("saved the trained encoder to %s", path);
            free(path);
        }
        semid_text_encoder_free(enc);
    }
    semid_wordvec_free(&wv);
    return st;
}

static int run(const embed_args *a) {
    semid_dataset ds;
    memset(&ds, 0, sizeof ds);
    semid_status st = semid_dataset_load(a->dataset, &ds);
    if (st != SEMID_OK) return cli_report(st);
    semid_matrix items = {0};
    const char *name = a->method;
    double t0 = semid_now();
    if (a->import_path) {
        name = a->name;
        st = semid_embed_import(&ds, a->import_path, a->ids, &items);
    } else if (strcmp(a->method, "rec") == 0) {
        st = embed_rec(&ds, a, &items);
    } else if (strcmp(a->method, "content") == 0 || strcmp(a->method, "search") == 0 ||
               strcmp(a->method, "multi") == 0) {
        st = embed_text(&ds, a, &items);
    } else if (strcmp(a->method, "fused_concat") == 0 || strcmp(a->method, "fused_svd") == 0) {
        semid_matrix s = {0}, r = {0};
        st = load_input(&ds, a->search, a->out, "search", &s);
        if (st == SEMID_OK) st = load_input(&ds, a->rec, a->out, "rec", &r);
        if (st == SEMID_OK)
            st = strcmp(a->method, "fused_concat") == 0 ? semid_fuse_concat(&s, &r, &items) : semid_fuse_svd(&s, &r, &items);
        semid_matrix_free(&s);
        semid_matrix_free(&r);
    } else {
        st = semid_fail(SEMID_EINVAL, "unknown --method '%s' (one of: %s)", a->method, METHODS);
    }
    if (st == SEMID_OK) st = semid_embed_export(&ds, &items, a->out, name);
    if (st == SEMID_OK) {
        SEMID_INFO("embed %s: %lld x %lld in %.1fs, peak memory %.0f MiB", name, (long long)items.rows,
                   (long long)items.cols, semid_now() - t0, (double)semid_peak_rss_bytes() / (1 << 20));
        printf("wrote %s/%s.npy (%lld x %lld) and %s/items.txt\n", a->out, name, (long long)items.rows,
               (long long)items.cols, a->out);
    }
    semid_matrix_free(&items);
    semid_dataset_free(&ds);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

int cmd_embed(int argc, char **argv) {
    embed_args a = {0};
    a.out = NULL;
    a.name = "imported";
    a.dim = 0;
    a.epochs = -1;
    a.batch = 0;
    a.lr = 0;
    a.seed = 42;
    a.threads = 0;
    semid_enmf_config ed = semid_enmf_defaults();
    a.neg_weight = ed.neg_weight;
    a.dropout = ed.dropout;
    a.weight_decay = ed.weight_decay;
    cli_option opts[] = {
        {"method", CLI_STRING, &a.method, "content, search, rec, multi, fused_concat or fused_svd"},
        {"dataset", CLI_STRING, &a.dataset, "dataset file (.sdd) from semid data"},
        {"out", CLI_STRING, &a.out, "output directory: DIR/<method>.npy and DIR/items.txt"},
        {"dim", CLI_INT, &a.dim, "embedding width (0 = the method's default: rec 256, text encoders 128)"},
        {"epochs", CLI_INT, &a.epochs, "training epochs (-1 = the method's default)"},
        {"lr", CLI_FLOAT, &a.lr, "learning rate (0 = the method's default)"},
        {"batch", CLI_INT, &a.batch, "batch size: users per step for rec, pairs for search/multi (0 = default)"},
        {"seed", CLI_INT, &a.seed, "random seed"},
        {"threads", CLI_INT, &a.threads, "threads (0 = all cores)"},
        {"neg-weight", CLI_FLOAT, &a.neg_weight, "rec: ENMF weight of missing entries"},
        {"dropout", CLI_FLOAT, &a.dropout, "rec: dropout on user vectors"},
        {"weight-decay", CLI_FLOAT, &a.weight_decay, "rec: decoupled weight decay"},
        {"glove", CLI_STRING, &a.glove, "word vectors for content/search/multi (default: the shipped GloVe subset)"},
        {"search", CLI_STRING, &a.search, "fused: search embeddings .npy (default DIR/search.npy; ids from items.txt beside it)"},
        {"rec", CLI_STRING, &a.rec, "fused: rec embeddings .npy (default DIR/rec.npy)"},
        {"import", CLI_STRING, &a.import_path, "import your own vectors (.npy float32/float64) instead of training"},
        {"ids", CLI_STRING, &a.ids, "import: item id list, line i naming row i"},
        {"name", CLI_STRING, &a.name, "import: name of the written DIR/<name>.npy"},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                       "usage: semid embed --method M --dataset DS.sdd --out DIR [options]\n"
                       "       semid embed --import V.npy --ids IDS.txt --dataset DS.sdd --out DIR [--name N]",
                       pos, 0, &npos);
    if (rc != 0) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"dim", 0, 8192},       {"epochs", -1, 10000},     {"lr", 0, 10},
                                {"batch", 0, 1000000},  {"threads", 0, semid_threads_limit()},
                                {"neg-weight", 0, 1000}, {"dropout", 0, 0.99},     {"weight-decay", 0, 10}};
    if (cli_check_ranges(opts, (int)(sizeof opts / sizeof opts[0]), ranges, (int)(sizeof ranges / sizeof ranges[0])) != 0)
        return CLI_EXIT_USAGE;
    if (!a.dataset || !a.out || (!a.method && !a.import_path)) {
        fprintf(stderr, "semid: error: embed needs --dataset, --out and --method (or --import) (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (a.import_path && !a.ids) {
        fprintf(stderr, "semid: error: --import needs --ids (the item id of each row)\n");
        return CLI_EXIT_USAGE;
    }
    if (a.method && a.import_path) {
        fprintf(stderr, "semid: error: give either --method or --import, not both\n");
        return CLI_EXIT_USAGE;
    }
    semid_set_threads(a.threads);
    return run(&a);
}
