/* The advisory lock on a run or model directory: a second holder is refused
 * with the first one's pid, or waits for it; a holder that dies frees it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/dirlock.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* A child that takes the lock on `dir`, says so, and holds it until told to
 * let go (then 300 ms more, so that a waiting caller has to block). */
typedef struct holder {
    pid_t pid;
    int release_fd;
} holder;

static holder hold_lock(const char *dir) {
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(release[1]);
        semid_dirlock l;
        if (semid_dirlock_acquire(&l, dir, 0) != SEMID_OK) _exit(2);
        if (write(ready[1], "L", 1) != 1) _exit(3);
        char c;
        if (read(release[0], &c, 1) < 0) _exit(4);
        usleep(300000);
        semid_dirlock_release(&l);
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return (holder){.pid = pid, .release_fd = release[1]};
}

static void let_go(holder *h) {
    assert_int_equal(write(h->release_fd, "R", 1), 1);
    close(h->release_fd);
}

static void reap(holder *h) {
    int status = 0;
    assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_lock_records_pid(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "records");
    assert_int_equal(semid_mkdirs(dir), SEMID_OK);
    semid_dirlock l;
    assert_int_equal(semid_dirlock_acquire(&l, dir, 0), SEMID_OK);
    char *path = semid_path_join(dir, ".semid.lock");
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(path, &text, &len), SEMID_OK);
    assert_int_equal(strtol(text, NULL, 10), (long)getpid());
    assert_int_equal(semid_dirlock_holder(dir), (long)getpid());
    free(text);
    semid_dirlock_release(&l);
    semid_dirlock_release(&l); /* twice is harmless */
    assert_int_equal(semid_dirlock_holder(dir), 0);
    assert_int_equal(semid_dirlock_acquire(&l, dir, 0), SEMID_OK);
    semid_dirlock_release(&l);
    free(path);
    free(dir);
}

static void test_second_locker_refused_then_waits(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "busy");
    assert_int_equal(semid_mkdirs(dir), SEMID_OK);
    holder h = hold_lock(dir);
    semid_dirlock l;
    assert_int_equal(semid_dirlock_acquire(&l, dir, 0), SEMID_EIO);
    char want[64];
    snprintf(want, sizeof want, "pid %ld", (long)h.pid);
    assert_non_null(strstr(semid_last_error(), want));
    assert_non_null(strstr(semid_last_error(), dir));
    assert_int_equal(semid_dirlock_holder(dir), (long)h.pid);
    /* With wait: blocks until the holder lets go, then holds it. */
    let_go(&h);
    double t0 = semid_now();
    assert_int_equal(semid_dirlock_acquire(&l, dir, 1), SEMID_OK);
    assert_true(semid_now() - t0 > 0.2);
    assert_int_equal(semid_dirlock_holder(dir), (long)getpid());
    reap(&h);
    semid_dirlock_release(&l);
    free(dir);
}

/* Two locks in one process conflict too (two runs in one experiment). */
static void test_same_process_refused(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "self");
    assert_int_equal(semid_mkdirs(dir), SEMID_OK);
    semid_dirlock a, b;
    assert_int_equal(semid_dirlock_acquire(&a, dir, 0), SEMID_OK);
    assert_int_equal(semid_dirlock_acquire(&b, dir, 0), SEMID_EIO);
    semid_dirlock_release(&a);
    assert_int_equal(semid_dirlock_acquire(&b, dir, 0), SEMID_OK);
    semid_dirlock_release(&b);
    free(dir);
}

static void test_killed_holder_frees_lock(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "killed");
    assert_int_equal(semid_mkdirs(dir), SEMID_OK);
    holder h = hold_lock(dir);
    assert_int_equal(kill(h.pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(h.pid, &status, 0), h.pid);
    close(h.release_fd);
    semid_dirlock l;
    assert_int_equal(semid_dirlock_acquire(&l, dir, 0), SEMID_OK);
    assert_int_equal(semid_dirlock_holder(dir), (long)getpid());
    semid_dirlock_release(&l);
    free(dir);
}

static void test_missing_dir(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "no/such/dir");
    semid_dirlock l;
    assert_int_equal(semid_dirlock_acquire(&l, dir, 0), SEMID_ENOTFOUND);
    assert_non_null(strstr(semid_last_error(), dir));
    semid_dirlock_release(&l); /* safe after a failure */
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock_records_pid),
        cmocka_unit_test(test_second_locker_refused_then_waits),
        cmocka_unit_test(test_same_process_refused),
        cmocka_unit_test(test_killed_holder_frees_lock),
        cmocka_unit_test(test_missing_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
