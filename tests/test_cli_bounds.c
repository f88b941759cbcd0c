/* Upper bounds of the command line's numeric options (hardening issue, item
 * 5): each bad value exits non-zero with a message that names the option
 * and its bound, and nothing crashes (no signal, no sanitizer report). The
 * library checks behind them (the decode memory estimate, the thread bound)
 * are tested on a trained bundle too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/threads.h"
#include "gen/generate.h"
#include "support/testutil.h"

static char *tmpdir, *ds_path, *emb_path, *sid_path, *model_dir;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    tmpdir = test_make_tmpdir();
    ds_path = semid_path_join(tmpdir, "ds.sdd");
    emb_path = semid_path_join(tmpdir, "emb");
    sid_path = semid_path_join(tmpdir, "sid.json");
    model_dir = semid_path_join(tmpdir, "model");
    return test_cli_tiny_model(tmpdir, 120, 150) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    free(ds_path);
    free(emb_path);
    free(sid_path);
    free(model_dir);
    return 0;
}

/* The command fails cleanly: exit 1 or 2 (not a signal, not a sanitizer's
 * exit), no sanitizer report, and the message holds every needle. */
static void expect_refused(const char *args, const char *const *needles) {
    char *out = NULL;
    int rc = test_run_cli(args, &out);
    if (rc != 1 && rc != 2) fprintf(stderr, "semid %s\n-> exit %d: %s\n", args, rc, out);
    assert_true(rc == 1 || rc == 2);
    assert_null(strstr(out, "runtime error"));
    assert_null(strstr(out, "Sanitizer"));
    for (const char *const *n = needles; *n; n++) {
        if (!strstr(out, *n)) fprintf(stderr, "semid %s\n-> no '%s' in: %s\n", args, *n, out);
        assert_non_null(strstr(out, *n));
    }
    free(out);
}

#define REFUSED(needles, ...)                                                                                          \
    do {                                                                                                               \
        char args_[8192];                                                                                              \
        snprintf(args_, sizeof args_, __VA_ARGS__);                                                                    \
        const char *const n_[] = {needles, NULL};                                                                      \
        expect_refused(args_, n_);                                                                                     \
    } while (0)

static void test_beam_and_k(void **state) {
    (void)state;
    /* Took all the memory until the kernel killed it. */
    REFUSED("--beam", "search --model %s --beam 10000000 space robots", model_dir);
    REFUSED("1..10000", "search --model %s --beam 10000000 space robots", model_dir);
    /* An internal error ("out of memory for 0 beams"). */
    REFUSED("1..10000", "search --model %s --beam 2147483647 space robots", model_dir);
    REFUSED("--beam", "recommend --model %s --history 1,2 --beam 2147483647", model_dir);
    /* Not an int at all: named as such. */
    REFUSED("does not fit", "search --model %s --beam 99999999999 space", model_dir);
    REFUSED("--k", "recommend --model %s --history 1,2 --k 100000", model_dir);
    REFUSED("1..1000", "eval --model %s --dataset %s --k 0", model_dir, ds_path);
}

static void test_threads(void **state) {
    (void)state;
    char bound[32];
    snprintf(bound, sizeof bound, "0..%d", semid_threads_limit());
    /* A stack overflow in libgomp. */
    REFUSED(bound, "search --model %s --threads 100000 space robots", model_dir);
    REFUSED("--threads", "recommend --model %s --history 1 --threads 100000", model_dir);
    REFUSED(bound, "sid build --embeddings %s/content.npy --codebook 8 --out %s/x.sid --threads 100000", emb_path, tmpdir);
    REFUSED(bound, "embed --method content --dataset %s --out %s/e2 --threads 100000", ds_path, tmpdir);
    REFUSED(bound, "baseline --dataset %s --method popularity --threads 100000", ds_path);
    REFUSED("--threads", "sid encode --tokenizer x --embeddings y --threads -1");
    /* The library clamps what it is given. */
    int prev = semid_threads_push(100000);
    assert_int_equal(semid_get_threads(), semid_threads_limit());
    semid_threads_pop(prev);
    assert_true(semid_threads_limit() >= 1 && semid_threads_limit() <= SEMID_THREADS_MAX);
    assert_int_equal(semid_threads_check(100000, "--threads"), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "--threads"));
    assert_int_equal(semid_threads_check(1, "--threads"), SEMID_OK);
    assert_int_equal(semid_threads_push_checked(-3, "threads", &prev), SEMID_EINVAL);
}

static void test_sid_embed_data(void **state) {
    (void)state;
    const char *sid = "sid build --embeddings";
    REFUSED("1..64", "%s %s/content.npy --out %s/x.sid --levels 1000000", sid, emb_path, tmpdir);
    REFUSED("--beam", "%s %s/content.npy --out %s/x.sid --codebook 8 --beam 2147483647", sid, emb_path, tmpdir);
    REFUSED("--iters", "%s %s/content.npy --out %s/x.sid --codebook 8 --iters 2147483647", sid, emb_path, tmpdir);
    REFUSED("--codebook", "%s %s/content.npy --out %s/x.sid --codebook 0", sid, emb_path, tmpdir);
    REFUSED("0..8192", "embed --method content --dataset %s --out %s/e2 --dim 100000", ds_path, tmpdir);
    REFUSED("--epochs", "embed --method rec --dataset %s --out %s/e2 --epochs 100000000", ds_path, tmpdir);
    /* 1e40 is a double but no float. */
    REFUSED("--lr", "embed --method search --dataset %s --out %s/e2 --lr 1e40", ds_path, tmpdir);
    REFUSED("single-precision", "embed --method search --dataset %s --out %s/e2 --lr 1e40", ds_path, tmpdir);
    REFUSED("--dropout", "embed --method rec --dataset %s --out %s/e2 --dropout 1", ds_path, tmpdir);
    REFUSED("1..100000", "baseline --dataset %s --method popularity --k 1000000", ds_path);
    REFUSED("does not fit", "data synth --out %s/x.sdd --items 3000000000", tmpdir);
    REFUSED("1..10000000", "data synth --out %s/x.sdd --items 2000000000", tmpdir);
    /* Big work is estimated before it starts. */
    REFUSED("GB", "data synth --out %s/x.sdd --users 100000000 --history 5000", tmpdir);
    REFUSED("limit", "data synth --out %s/x.sdd --users 100000000 --history 5000", tmpdir);
    REFUSED("--user-core", "data import --user-core -1 %s", tmpdir);
    REFUSED("--keywords", "data queries %s --out %s/q.sdd --keywords 0", ds_path, tmpdir);
}

static void test_train_window(void **state) {
    (void)state;
    /* Overflowed an int computing the context (UBSan), then trained with a
     * window cut to what the wrapped context allowed. */
    REFUSED("window", "train --dataset %s --sids %s --out %s/m2 --window 1000000000 --epochs 1 --quiet", ds_path, sid_path,
            tmpdir);
    /* Early stopping's options. */
    REFUSED("0..100000", "train --dataset %s --sids %s --out %s/m2 --patience -1 --quiet", ds_path, sid_path, tmpdir);
    REFUSED("--min-epochs", "train --dataset %s --sids %s --out %s/m2 --epochs 2 --min-epochs 3 --quiet", ds_path, sid_path,
            tmpdir);
    REFUSED("0..2", "train --dataset %s --sids %s --out %s/m2 --epochs 2 --min-epochs 3 --quiet", ds_path, sid_path, tmpdir);
    REFUSED("--epochs", "train --dataset %s --sids %s --out %s/m2 --epochs 0 --quiet", ds_path, sid_path, tmpdir);
    /* The library's check, for API users. */
    assert_int_equal(semid_gen_example_check(1000000000, 0, 3), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "4096"));
    assert_int_equal(semid_gen_example_check(4000, 0, 64), SEMID_EINVAL); /* 4001 x 64 tokens do not fit */
    assert_non_null(strstr(semid_last_error(), "65536"));
    assert_int_equal(semid_gen_example_check(20, 100000, 3), SEMID_EINVAL);
    assert_int_equal(semid_gen_example_check(20, 0, 3), SEMID_OK);
    assert_int_equal(semid_gen_example_check(20, 64, 3), SEMID_OK);
}

/* The library refuses on its own, whatever the caller checked. */
static void test_library_decode_bounds(void **state) {
    (void)state;
    semid_gen_bundle *b = NULL;
    assert_int_equal(semid_gen_bundle_load(model_dir, &b), SEMID_OK);
    semid_gen_decode_options o = semid_gen_decode_defaults();
    semid_beam_hits h;
    const char *q[1] = {"space robots"};
    o.beam.beam_size = INT32_MAX;
    assert_int_equal(semid_gen_search(b, q, 1, &o, &h, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "beam"));
    assert_non_null(strstr(semid_last_error(), "65536"));
    o.beam.beam_size = 30;
    o.beam.k = INT32_MAX;
    int32_t hist[2] = {0, 1};
    const int32_t *hs[1] = {hist};
    int64_t len[1] = {2};
    assert_int_equal(semid_gen_recommend(b, hs, len, 1, &o, &h), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "k = "));
    /* The estimate grows with the beam and the queries and stays finite. */
    const semid_gpt_config *cfg = semid_gpt_get_config(b->model);
    semid_beam_options bo = semid_beam_defaults();
    double small = semid_gen_decode_memory(cfg, b->vocab.n_sid, b->table.n_levels, 1, &bo, 0, 0, 1);
    bo.beam_size = 10000000;
    double big = semid_gen_decode_memory(cfg, b->vocab.n_sid, b->table.n_levels, 1, &bo, 0, 0, 1);
    assert_true(small > 0 && small < 64e6);
    assert_true(big > 1000 * small);
    bo.beam_size = INT32_MAX;
    bo.k = INT32_MAX;
    double huge = semid_gen_decode_memory(cfg, b->vocab.n_sid, b->table.n_levels, INT64_MAX / 2, &bo, 1, INT32_MAX, 1024);
    assert_true(huge > 1e18 && huge < 1e300);
    /* A request in bounds whose estimate is over the limit: refused naming both. */
    semid_gen_decode_options wide = semid_gen_decode_defaults();
    wide.beam.beam_size = SEMID_GEN_MAX_BEAM;
    wide.beam.k = SEMID_GEN_MAX_K;
    int64_t n = 1;
    while (semid_gen_decode_memory(cfg, b->vocab.n_sid, b->table.n_levels, n, &wide.beam, 0, 0, semid_get_threads()) <=
           (double)semid_gen_decode_memory_limit())
        n *= 2;
    assert_int_equal(semid_gen_check_decode(b->model, b->vocab.n_sid, b->table.n_levels, n, &wide, 0), SEMID_ENOMEM);
    assert_non_null(strstr(semid_last_error(), "limit"));
    assert_non_null(strstr(semid_last_error(), "GB"));
    assert_int_equal(semid_gen_check_decode(b->model, b->vocab.n_sid, b->table.n_levels, 4, &o, 0), SEMID_EINVAL);
    o.beam.k = 10;
    assert_int_equal(semid_gen_check_decode(b->model, b->vocab.n_sid, b->table.n_levels, 4, &o, 0), SEMID_OK);
    /* Still decodes. */
    assert_int_equal(semid_gen_search(b, q, 1, &o, &h, NULL), SEMID_OK);
    assert_true(h.n_hits[0] > 0);
    semid_beam_hits_free(&h);
    semid_gen_bundle_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beam_and_k),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_sid_embed_data),
        cmocka_unit_test(test_train_window),
        cmocka_unit_test(test_library_decode_bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
