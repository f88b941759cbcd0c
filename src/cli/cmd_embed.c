/* semid embed: item embeddings of one method written as DIR/<method>.npy
 * beside DIR/items.txt (the id of each row), plus what scoring needs later:
 * the trained text encoder (search, multi) or ENMF's user vectors (rec).
 * `semid embed --import V.npy --ids IDS.txt` checks users' own vectors
 * against the dataset and writes them in the same layout. Under mpirun
 * the bi-encoders (search, multi) train across the ranks and rank 0 writes
 * (docs/distributed.md); other methods are refused there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/names.h"
#include "base/status.h"
#include "base/threads.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "dist/dist.h"
#include "embed/embed_io.h"
#include "embed/embed_methods.h"
#include "io/npy.h"

typedef struct embed_args {
    const char *method, *dataset, *out, *import_path, *ids, *name, *search, *rec, *glove;
    int dim, epochs, batch, threads, seed;
    float lr, neg_weight, dropout, weight_decay;
} embed_args;

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

static semid_embed_settings settings_of(const embed_args *a) {
    semid_embed_settings s = semid_embed_settings_default();
    s.word_vectors = a->glove;
    if (a->dim > 0) s.enmf.dim = s.biencoder.encoder.dim_out = a->dim;
    if (a->epochs >= 0) s.enmf.epochs = a->epochs;
    if (a->epochs > 0) s.biencoder.epochs = a->epochs;
    if (a->batch > 0) s.enmf.batch_users = s.biencoder.batch = a->batch;
    if (a->batch > 0) s.enmf.max_steps = 0; /* the batch asked for, however many steps it makes */
    if (a->lr > 0) s.enmf.lr = s.biencoder.lr = a->lr;
    s.enmf.neg_weight = a->neg_weight;
    s.enmf.dropout = a->dropout;
    s.enmf.weight_decay = a->weight_decay;
    s.seed = (uint64_t)a->seed;
    return s;
}

/* What scoring needs later, beside the vectors: a bi-encoder as
 * DIR/<method>_encoder.safetensors (so that `semid baseline --method
 * search` can encode queries with it), ENMF's user vectors as
 * DIR/<method>_users.npy with DIR/users.txt. */
static semid_status save_extras(const semid_dataset *ds, const embed_args *a, const semid_embed_method *m,
                                const semid_text_encoder *enc, const semid_matrix *users) {
    if (!enc && m->kind != SEMID_EMBED_ENMF) return SEMID_OK;
    char file[96];
    snprintf(file, sizeof file, enc ? "%s_encoder.safetensors" : "%s_users.npy", m->name);
    char *path = semid_path_join(a->out, file);
    char *uid = enc ? NULL : semid_path_join(a->out, "users.txt");
    semid_status st = path && (enc || uid) ? semid_mkdirs(a->out) : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK && enc) st = semid_text_encoder_save(enc, path);
    if (st == SEMID_OK && enc) SEMID_INFO("saved the trained encoder to %s", path);
    if (st == SEMID_OK && !enc) st = semid_npy_write(path, users);
    if (st == SEMID_OK && !enc) st = semid_idlist_write(uid, ds->user_ids, ds->n_users);
    free(path);
    free(uid);
    return st;
}

/* A bi-encoder's training record, DIR/<method>_train.json: the mean loss
 * of each epoch (full precision), the ranks and the time the exchanges
 * across them took (docs/distributed.md). */
static semid_status write_train_record(const embed_args *a, const semid_embed_method *m,
                                       const semid_biencoder_stats *s) {
    cJSON *o = cJSON_CreateObject(), *epochs = cJSON_AddArrayToObject(o, "history");
    semid_status st = o && epochs ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK &&
        (!cJSON_AddStringToObject(o, "method", m->name) || !cJSON_AddNumberToObject(o, "ranks", s->ranks) ||
         !cJSON_AddNumberToObject(o, "steps", (double)s->steps) ||
         !cJSON_AddNumberToObject(o, "search_pairs", (double)s->n_search_pairs) ||
         !cJSON_AddNumberToObject(o, "rec_pairs", (double)s->n_rec_pairs) ||
         !cJSON_AddNumberToObject(o, "pairs_per_second", s->pairs_per_second) ||
         !cJSON_AddNumberToObject(o, "train_seconds", s->train_seconds) ||
         !cJSON_AddNumberToObject(o, "exchange_seconds", s->exchange_seconds) ||
         !cJSON_AddNumberToObject(o, "exchange_bytes_per_step", s->exchange_bytes_per_step)))
        st = semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t e = 0; e < s->epochs && st == SEMID_OK; e++) {
        cJSON *r = cJSON_CreateObject();
        if (!r || !cJSON_AddItemToArray(epochs, r) || !cJSON_AddNumberToObject(r, "epoch", e + 1) ||
            !cJSON_AddNumberToObject(r, "loss", s->search_loss[e]) ||
            (s->n_rec_pairs > 0 && !cJSON_AddNumberToObject(r, "rec_loss", s->rec_loss[e])) ||
            !cJSON_AddNumberToObject(r, "seconds", s->epoch_seconds[e]))
            st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    char file[96];
    snprintf(file, sizeof file, "%s_train.json", m->name);
    char *text = st == SEMID_OK ? cJSON_Print(o) : NULL, *path = semid_path_join(a->out, file);
    if (st == SEMID_OK && (!text || !path)) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_write_file_atomic(path, text, strlen(text));
    free(text);
    free(path);
    cJSON_Delete(o);
    return st;
}

/* A fused method's inputs: --search / --rec when given (ids from items.txt
 * beside them), else DIR/<input>.npy. Rank 0 alone writes (a bi-encoder
 * trains across the ranks of a launcher; the others hold the same). */
static semid_status compute(const semid_dataset *ds, const embed_args *a, const semid_embed_method *m,
                            semid_matrix *items) {
    semid_matrix in[2] = {{0}, {0}};
    semid_status st = SEMID_OK;
    if (m->kind == SEMID_EMBED_FUSED) {
        const char *given[2] = {a->search, a->rec};
        for (int i = 0; i < 2 && st == SEMID_OK; i++) st = load_input(ds, given[i], a->out, m->inputs[i], &in[i]);
    }
    semid_embed_settings s = settings_of(a);
    semid_text_encoder *enc = NULL;
    semid_matrix users = {0};
    semid_biencoder_stats *stats = m->kind == SEMID_EMBED_BIENCODER ? calloc(1, sizeof *stats) : NULL;
    if (m->kind == SEMID_EMBED_BIENCODER && !stats) st = semid_fail(SEMID_ENOMEM, "out of memory");
    semid_embed_extras x = {.encoder = &enc, .users = &users, .stats = stats};
    const semid_matrix *const inputs[2] = {&in[0], &in[1]};
    if (st == SEMID_OK) st = semid_embed_compute(ds, m, &s, inputs, items, &x);
    const int root = semid_dist_rank() == 0;
    if (st == SEMID_OK && root) st = save_extras(ds, a, m, enc, &users);
    if (st == SEMID_OK && root && stats) st = write_train_record(a, m, stats);
    if (st == SEMID_OK && stats && stats->ranks > 1 && stats->train_seconds > 0)
        printf("ranks: %d; the exchanges between them took %.2f s of the steps' %.1f s (%.1f%%), %.0f kB a step "
               "from each rank\n",
               stats->ranks, stats->exchange_seconds, stats->train_seconds,
               100.0 * stats->exchange_seconds / stats->train_seconds, stats->exchange_bytes_per_step / 1e3);
    free(stats);
    semid_text_encoder_free(enc);
    semid_matrix_free(&users);
    semid_matrix_free(&in[0]);
    semid_matrix_free(&in[1]);
    return st;
}

static int run(const embed_args *a) {
    const semid_embed_method *m = NULL;
    semid_status st = a->import_path ? SEMID_OK : semid_embed_method_lookup(a->method, "--method", &m);
    if (st != SEMID_OK) return cli_report(st);
    if (semid_dist_size() > 1 && (!m || m->kind != SEMID_EMBED_BIENCODER)) {
        fprintf(stderr, "semid: error: under mpirun or srun semid embed runs across ranks for --method search and "
                        "multi alone; run %s%s as one process (docs/distributed.md)\n",
                m ? "--method " : "--import", m ? m->name : "");
        semid_dist_failure_shared(); /* every rank refuses alike */
        return CLI_EXIT_USAGE;
    }
    semid_dataset ds;
    memset(&ds, 0, sizeof ds);
    st = semid_dataset_load(a->dataset, &ds);
    if (st != SEMID_OK) return cli_report(st);
    semid_matrix items = {0};
    const char *name = a->import_path ? a->name : a->method;
    double t0 = semid_now();
    if (a->import_path) st = semid_embed_import(&ds, a->import_path, a->ids, &items);
    else st = compute(&ds, a, m, &items);
    if (st == SEMID_OK && semid_dist_rank() == 0) st = semid_embed_export(&ds, &items, a->out, name);
    /* Rank 0's writes, or a rank that failed alone (before the training's
     * first collective, which this one then meets), end every rank alike. */
    if (!semid_dist_failure_known()) st = semid_dist_agree(st);
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
    char methods[256];
    semid_names_join(semid_embed_method_name_at, methods, sizeof methods);
    cli_option opts[] = {
        {"method", CLI_STRING, &a.method, methods},
        {"dataset", CLI_STRING, &a.dataset, "dataset file (.sdd) from semid data"},
        {"out", CLI_STRING, &a.out, "output directory: DIR/<method>.npy and DIR/items.txt"},
        {"dim", CLI_INT, &a.dim, "embedding width (0 = the method's default: rec 256, text encoders 128)"},
        {"epochs", CLI_INT, &a.epochs, "training epochs (-1 = the method's default)"},
        {"lr", CLI_FLOAT, &a.lr, "learning rate (0 = the method's default)"},
        {"batch", CLI_INT, &a.batch,
         "batch size: users per step for rec, pairs for search/multi (0 = default; rec: 256 users, more where an "
         "epoch would take over 32 steps)"},
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
