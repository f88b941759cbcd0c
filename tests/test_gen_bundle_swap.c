/* Retraining into a model directory that holds a good model: the old bundle
 * stays whole and loadable until the new one is complete (a run killed or
 * failing midway leaves it as it was), a killed retraining resumes exactly,
 * a swap cut short is finished by the next run, and a second trainer on the
 * same directory is refused (or waits) while the first holds its lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "data/synth.h"
#include "gen/generate.h"
#include "gen/train.h"
#include "io/safetensors.h"
#include "quant/strategy.h"
#include "support/testutil.h"

static char *tmpdir;
static semid_dataset ds;
static semid_idtable table_a, table_b;

static const char *const BUNDLE[] = {"model.safetensors", "idtable.sid", "items.jsonl", "train.json"};
enum { N_BUNDLE = sizeof BUNDLE / sizeof BUNDLE[0] };

/* An ID table from a seeded random embedding (any embedding will do). */
static void make_table(int32_t codebook, uint64_t seed, semid_idtable *out) {
    semid_matrix X;
    assert_int_equal(semid_matrix_alloc(&X, ds.n_items, 16), SEMID_OK);
    uint64_t s = seed;
    for (int64_t i = 0; i < X.rows * X.cols; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        X.data[i] = (float)((s >> 40) & 0xffff) / 65536.0f - 0.5f;
    }
    semid_strategy_options o = {.strategy = "content", .tokenizer = semid_tokenizer_defaults(), .disambiguate = 1};
    o.tokenizer.levels = 2;
    o.tokenizer.codebook_size = codebook;
    o.tokenizer.iters = 5;
    semid_strategy_inputs in = {.single = &X};
    semid_strategy_result r;
    assert_int_equal(semid_strategy_build(&in, &o, &r), SEMID_OK);
    *out = r.table;
    memset(&r.table, 0, sizeof r.table);
    semid_strategy_result_free(&r);
    semid_matrix_free(&X);
}

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    tmpdir = test_make_tmpdir();
    semid_synth_config c;
    semid_synth_config_default(&c);
    c.n_items = 60;
    c.n_users = 80;
    c.mean_history = 8;
    c.min_history = 5;
    c.max_history = 30;
    c.n_topics = 4;
    c.queries_per_item = 3;
    c.queries_train = 2;
    if (semid_synth_generate(&c, 5, &ds) != SEMID_OK) return -1;
    make_table(8, 1, &table_a);
    make_table(6, 2, &table_b);
    return tmpdir && table_a.fingerprint != table_b.fingerprint ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_idtable_free(&table_a);
    semid_idtable_free(&table_b);
    semid_dataset_free(&ds);
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

static semid_gen_train_config tiny_config(void) {
    semid_gen_train_config c = semid_gen_train_defaults();
    c.n_layer = 1;
    c.n_head = 2;
    c.d_model = 16;
    c.history_window = 6;
    c.epochs = 3;
    c.batch_size = 16;
    c.valid_sample = 10;
    c.threads = 1;
    c.verbose = 0;
    return c;
}

/* What a directory holds and answers: its bundle files' bytes and the
 * results of a few searches. */
typedef struct snapshot {
    char *files[N_BUNDLE];
    size_t lens[N_BUNDLE];
    int32_t items[4 * 5];
    float scores[4 * 5];
    uint64_t fingerprint;
} snapshot;

static void take_snapshot(const char *dir, snapshot *s) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < N_BUNDLE; i++) {
        char *p = semid_path_join(dir, BUNDLE[i]);
        assert_int_equal(semid_read_file(p, &s->files[i], &s->lens[i]), SEMID_OK);
        free(p);
    }
    semid_gen_bundle *b = NULL;
    semid_status st = semid_gen_bundle_load(dir, &b);
    if (st != SEMID_OK) print_message("loading %s: %s\n", dir, semid_last_error());
    assert_int_equal(st, SEMID_OK);
    s->fingerprint = b->table.fingerprint;
    const char *queries[4] = {"an exciting story", "love", "war and peace", "robots"};
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.beam_size = 5;
    o.beam.k = 5;
    semid_beam_hits h;
    assert_int_equal(semid_gen_search(b, queries, 4, &o, &h, NULL), SEMID_OK);
    for (int q = 0; q < 4; q++) {
        for (int j = 0; j < 5; j++) {
            s->items[q * 5 + j] = j < h.n_hits[q] ? h.items[q * h.k + j] : -1;
            s->scores[q * 5 + j] = j < h.n_hits[q] ? h.scores[q * h.k + j] : 0;
        }
    }
    semid_beam_hits_free(&h);
    semid_gen_bundle_free(b);
}

static void free_snapshot(snapshot *s) {
    for (int i = 0; i < N_BUNDLE; i++) free(s->files[i]);
}

/* The directory still holds exactly `old` and answers as it did. */
static void assert_unchanged(const char *dir, const snapshot *old) {
    snapshot now;
    take_snapshot(dir, &now);
    for (int i = 0; i < N_BUNDLE; i++) {
        if (now.lens[i] != old->lens[i] || memcmp(now.files[i], old->files[i], old->lens[i]) != 0)
            fail_msg("%s/%s changed", dir, BUNDLE[i]);
    }
    assert_int_equal(now.fingerprint, old->fingerprint);
    assert_memory_equal(now.items, old->items, sizeof now.items);
    assert_memory_equal(now.scores, old->scores, sizeof now.scores);
    free_snapshot(&now);
}

static void assert_same_files(const char *a, const char *b, const char *name) {
    char *pa = semid_path_join(a, name), *pb = semid_path_join(b, name);
    char *da, *db;
    size_t la, lb;
    assert_int_equal(semid_read_file(pa, &da, &la), SEMID_OK);
    assert_int_equal(semid_read_file(pb, &db, &lb), SEMID_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    free(da), free(db), free(pa), free(pb);
}

static void assert_same_params(const char *a, const char *b) {
    const char *dirs[2] = {a, b};
    float *p[2];
    int64_t n[2];
    for (int i = 0; i < 2; i++) {
        char *path = semid_path_join(dirs[i], "resume.safetensors");
        semid_safetensors f;
        assert_int_equal(semid_safetensors_read(path, &f), SEMID_OK);
        const semid_st_tensor *t = semid_safetensors_find(&f, "params");
        assert_non_null(t);
        n[i] = t->numel;
        p[i] = malloc((size_t)t->numel * sizeof *p[i]);
        semid_safetensors_copy(t, p[i]);
        semid_safetensors_free(&f);
        free(path);
    }
    assert_int_equal(n[0], n[1]);
    assert_memory_equal(p[0], p[1], (size_t)n[0] * sizeof *p[0]);
    free(p[0]);
    free(p[1]);
}

static void copy_file(const char *from_dir, const char *to_dir, const char *name) {
    char *from = semid_path_join(from_dir, name), *to = semid_path_join(to_dir, name);
    char *data;
    size_t len;
    assert_int_equal(semid_read_file(from, &data, &len), SEMID_OK);
    assert_int_equal(semid_write_file_atomic(to, data, len), SEMID_OK);
    free(data), free(from), free(to);
}

/* A second training into a directory with a good model is killed before its
 * first epoch ends, then after it: the directory keeps the old bundle (files
 * and answers). Resumed, it finishes exactly as an uninterrupted run and
 * only then replaces the bundle. */
static void test_interrupted_retrain_keeps_old_bundle(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "interrupted");
    char *straight = semid_path_join(tmpdir, "straight-b");
    semid_gen_train_config c = tiny_config();
    semid_gen_train_report ra, rb;
    assert_int_equal(semid_gen_train(&ds, &table_a, &c, dir, &ra), SEMID_OK);
    int64_t per_epoch = ra.total_steps / c.epochs;
    assert_true(per_epoch >= 2);
    snapshot old;
    take_snapshot(dir, &old);
    assert_int_equal(old.fingerprint, table_a.fingerprint);

    c.seed = 7;
    c.stop_after = 1; /* killed before the first epoch ends */
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, dir, &rb), SEMID_OK);
    assert_unchanged(dir, &old);
    c.stop_after = per_epoch + 1; /* killed after an epoch wrote its best model */
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, dir, &rb), SEMID_OK);
    assert_int_equal(rb.best_epoch, 1);
    assert_unchanged(dir, &old);

    /* Resumed: the same parameters and bundle as a run never interrupted. */
    c.stop_after = 0;
    c.resume = 1;
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, dir, &rb), SEMID_OK);
    assert_int_equal(rb.steps, rb.total_steps);
    c.resume = 0;
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, straight, &ra), SEMID_OK);
    assert_same_params(dir, straight);
    for (int i = 0; i < N_BUNDLE; i++)
        if (strcmp(BUNDLE[i], "train.json") != 0) assert_same_files(dir, straight, BUNDLE[i]);
    snapshot now;
    take_snapshot(dir, &now);
    assert_int_equal(now.fingerprint, table_b.fingerprint);
    free_snapshot(&now);
    char *staging = semid_path_join(dir, ".staging");
    assert_false(semid_path_exists(staging));
    free(staging);
    free_snapshot(&old);
    free(straight);
    free(dir);
}

/* A second training that fails midway, after its first epoch saved a best
 * model (its first checkpoint cannot be written: a directory sits where the
 * checkpoint's temp file goes), leaves the old bundle as it was, with the
 * same ID table or another; a later good run replaces it. */
static void test_failed_retrain_keeps_old_bundle(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "failed");
    semid_gen_train_config c = tiny_config();
    semid_gen_train_report r;
    assert_int_equal(semid_gen_train(&ds, &table_a, &c, dir, &r), SEMID_OK);
    snapshot old;
    take_snapshot(dir, &old);
    char name[64];
    snprintf(name, sizeof name, "resume.safetensors.tmp.%ld", (long)getpid());
    char *blocker = semid_path_join(dir, name);
    assert_int_equal(mkdir(blocker, 0755), 0);
    semid_gen_train_config other = c;
    other.seed = 3;
    assert_int_equal(semid_gen_train(&ds, &table_a, &other, dir, &r), SEMID_EIO);
    assert_unchanged(dir, &old);
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, dir, &r), SEMID_EIO);
    assert_unchanged(dir, &old);
    assert_int_equal(rmdir(blocker), 0);
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, dir, &r), SEMID_OK);
    snapshot now;
    take_snapshot(dir, &now);
    assert_int_equal(now.fingerprint, table_b.fingerprint);
    free_snapshot(&now);
    free_snapshot(&old);
    free(blocker);
    free(dir);
}

/* A swap cut short (some files moved, a crash) is finished by the next run
 * into the directory, before anything else. */
static void test_interrupted_swap_is_finished(void **state) {
    (void)state;
    char *a = semid_path_join(tmpdir, "swap-a"), *b = semid_path_join(tmpdir, "swap-b");
    semid_gen_train_config c = tiny_config();
    semid_gen_train_report r;
    assert_int_equal(semid_gen_train(&ds, &table_a, &c, a, &r), SEMID_OK);
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, b, &r), SEMID_OK);
    /* a: the ID table already b's; b's items (staged without their
     * checksum sidecar, as an older semid staged them, while a holds the
     * sidecar of other items), model and train.json still staged and
     * marked complete; b's final checkpoint in place. */
    char *staging = semid_path_join(a, ".staging");
    assert_int_equal(semid_mkdirs(staging), SEMID_OK);
    copy_file(b, a, "idtable.sid");
    copy_file(b, staging, "items.jsonl");
    char *stale = test_write_file(a, "items.jsonl.sum", "0123456789abcdef  items.jsonl\n");
    copy_file(b, staging, "model.safetensors");
    copy_file(b, staging, "train.json");
    copy_file(b, a, "resume.safetensors");
    char *marker = test_write_file(staging, "COMPLETE", "");
    semid_gen_bundle *bundle = NULL;
    assert_int_not_equal(semid_gen_bundle_load(a, &bundle), SEMID_OK); /* mixed: refused, never wrong */
    c.resume = 1;
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, a, &r), SEMID_OK);
    for (int i = 0; i < N_BUNDLE; i++) assert_same_files(a, b, BUNDLE[i]);
    assert_false(semid_path_exists(staging));
    assert_false(semid_path_exists(stale)); /* the other items' sidecar went with them */
    assert_int_equal(semid_gen_bundle_load(a, &bundle), SEMID_OK);
    semid_gen_bundle_free(bundle);
    free(marker), free(stale), free(staging), free(a), free(b);
}

/* A child that holds DIR/.semid.lock (flock, its pid in the file) until told
 * to let go, then 300 ms more. */
typedef struct holder {
    pid_t pid;
    int release_fd;
} holder;

static holder hold_lock(const char *dir) {
    char *path = semid_path_join(dir, ".semid.lock");
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(release[1]);
        int fd = open(path, O_RDWR | O_CREAT, 0666);
        if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(2);
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) _exit(3);
        if (write(ready[1], "L", 1) != 1) _exit(4);
        char ch;
        if (read(release[0], &ch, 1) < 0) _exit(5);
        usleep(300000);
        _exit(0);
    }
    free(path);
    close(ready[1]);
    close(release[0]);
    char ch = 0;
    assert_int_equal(read(ready[0], &ch, 1), 1);
    close(ready[0]);
    return (holder){.pid = pid, .release_fd = release[1]};
}

static void test_lock_refuses_second_trainer(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "locked");
    semid_gen_train_config c = tiny_config();
    semid_gen_train_report r;
    assert_int_equal(semid_gen_train(&ds, &table_a, &c, dir, &r), SEMID_OK);
    snapshot old;
    take_snapshot(dir, &old);
    holder h = hold_lock(dir);
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, dir, &r), SEMID_EIO);
    char want[64];
    snprintf(want, sizeof want, "pid %ld", (long)h.pid);
    assert_non_null(strstr(semid_last_error(), want));
    assert_unchanged(dir, &old);
    /* With wait, it starts once the holder lets go. */
    c.wait = 1;
    assert_int_equal(write(h.release_fd, "R", 1), 1);
    close(h.release_fd);
    double t0 = semid_now();
    assert_int_equal(semid_gen_train(&ds, &table_b, &c, dir, &r), SEMID_OK);
    assert_true(semid_now() - t0 > 0.2);
    int status = 0;
    assert_int_equal(waitpid(h.pid, &status, 0), h.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snapshot now;
    take_snapshot(dir, &now);
    assert_int_equal(now.fingerprint, table_b.fingerprint);
    free_snapshot(&now);
    free_snapshot(&old);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interrupted_retrain_keeps_old_bundle),
        cmocka_unit_test(test_failed_retrain_keeps_old_bundle),
        cmocka_unit_test(test_interrupted_swap_is_finished),
        cmocka_unit_test(test_lock_refuses_second_trainer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
