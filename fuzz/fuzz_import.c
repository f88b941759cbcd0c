/* libFuzzer harness for the importers and the dataset loader.
 *
 * Input layout: byte 0 picks the target and options; the rest is split on
 * the line "====\n" into the files of that format, in the order listed in
 * `targets` below. Every import must end in SEMID_OK or a clean error,
 * never a crash, a leak or undefined behaviour. For the .sdd loader the
 * checksum is recomputed first, so mutations reach the parser.
 *
 *   make fuzz && build/fuzz/fuzz_import -max_total_time=180 CORPUS_DIR */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "data/dataset.h"
#include "data/import.h"

typedef struct target {
    const char *format;
    const char *files[4];
} target;

static const target targets[] = {
    {"generic", {"items.tsv", "interactions.tsv", "descriptions.tsv", "queries.tsv"}},
    {"ml-1m", {"movies.dat", "ratings.dat", NULL, NULL}},
    {"ml-100k", {"u.item", "u.data", NULL, NULL}},
    {"recbole", {"x.item", "x.inter", NULL, NULL}},
    {"ml-csv", {"movies.csv", "ratings.csv", "tags.csv", NULL}},
    {"sdd", {"d.sdd", NULL, NULL, NULL}},
};
enum { N_TARGETS = sizeof targets / sizeof targets[0] };

static char workdir[256];

static void write_file(const char *name, const uint8_t *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", workdir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) abort();
    if (len && fwrite(data, 1, len, fp) != len) abort();
    fclose(fp);
}

static void remove_all(void) {
    for (int t = 0; t < N_TARGETS; t++)
        for (int f = 0; f < 4 && targets[t].files[f]; f++) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", workdir, targets[t].files[f]);
            unlink(path);
        }
}

/* The loader's checksum (FNV-1a over everything before the last 8 bytes). */
static void fix_checksum(uint8_t *data, size_t len) {
    if (len < 8) return;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len - 8; i++) h = (h ^ data[i]) * 1099511628211ULL;
    memcpy(data + len - 8, &h, 8);
}

static void cleanup(void) {
    remove_all();
    rmdir(workdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    semid_set_log_level(SEMID_LOG_QUIET);
    snprintf(workdir, sizeof workdir, "/tmp/semid-fuzz-XXXXXX");
    if (!mkdtemp(workdir)) abort();
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    const target *t = &targets[(mode & 7) % N_TARGETS]; /* bits 3-7: options */
    data++;
    size--;
    remove_all();

    if (strcmp(t->format, "sdd") == 0) {
        uint8_t *copy = malloc(size ? size : 1);
        if (!copy) return 0;
        memcpy(copy, data, size);
        if (mode & 0x80) fix_checksum(copy, size);
        write_file(t->files[0], copy, size);
        free(copy);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", workdir, t->files[0]);
        semid_dataset ds;
        if (semid_dataset_load(path, &ds) == SEMID_OK) semid_dataset_free(&ds);
        return 0;
    }

    static const char sep[] = "====\n";
    const size_t seplen = sizeof sep - 1;
    size_t pos = 0;
    for (int f = 0; f < 4 && t->files[f]; f++) {
        size_t end = pos;
        while (end < size && !(end + seplen <= size && memcmp(data + end, sep, seplen) == 0)) end++;
        if (pos <= size) write_file(t->files[f], data + pos, end - pos);
        pos = end + seplen;
        if (pos > size) break;
    }
    semid_import_options o;
    semid_import_options_init(&o);
    o.lenient = (mode >> 3) & 1;
    if ((mode >> 4) & 1) o.min_rating = 3;
    if ((mode >> 5) & 1) o.user_core = o.item_core = 2;
    if ((mode >> 6) & 1) o.max_field_bytes = 16;
    o.drop_uninteracted_items = !((mode >> 7) & 1);
    semid_dataset ds;
    if (semid_import(t->format, workdir, &o, &ds) == SEMID_OK) {
        /* Exercise what consumers do next. */
        uint8_t *head = malloc((size_t)ds.n_items + 1);
        if (head) semid_dataset_head_items(&ds, 0.01, head);
        free(head);
        for (int32_t u = 0; u < ds.n_users; u++) (void)semid_dataset_user_split(&ds, u);
        for (int32_t i = 0; i < ds.n_items; i++) free(semid_item_text(&ds.items[i]));
        if (semid_dataset_validate(&ds) != SEMID_OK) abort();
        semid_dataset_free(&ds);
    }
    return 0;
}
