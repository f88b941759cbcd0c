/* The command line's own output and run directories: a write to stdout that
 * fails (a full disk) fails the command, and `semid experiment` refuses a
 * run directory another run holds, or waits for it with --wait. */
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
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/testutil.h"

/* Runs "<semid> <args>" through the shell with its stderr captured and its
 * stdout sent to `stdout_to`; returns the exit status (-1 if killed). */
static int run_to(const char *stdout_to, const char *args, char **err) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1 >%s", SEMID_CLI_PATH, args, stdout_to);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (size_t got; (got = fread(buf + len, 1, cap - 1 - len, p)) > 0;) len += got;
    buf[len] = '\0';
    int status = pclose(p);
    *err = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_full_disk_fails(void **state) {
    (void)state;
    char *err;
    assert_int_equal(run_to("/dev/full", "version", &err), 1);
    assert_non_null(strstr(err, "semid: error: writing the output failed: No space left on device"));
    free(err);
    assert_int_equal(run_to("/dev/full", "help", &err), 1);
    assert_non_null(strstr(err, "writing the output failed"));
    free(err);
    assert_int_equal(run_to("/dev/full", "train --help", &err), 1);
    assert_non_null(strstr(err, "writing the output failed"));
    free(err);
    /* A usage error keeps its own status, and says why too. */
    assert_int_equal(run_to("/dev/full", "frobnicate", &err), 2);
    free(err);
    /* Output that can be written: success, and nothing on stderr. */
    assert_int_equal(run_to("/dev/null", "version", &err), 0);
    assert_string_equal(err, "");
    free(err);
}

/* A child holding DIR/.semid.lock (flock, its pid in the file) until told
 * to let go, then 300 ms more. */
typedef struct holder {
    pid_t pid;
    int release_fd;
} holder;

static holder hold_lock(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/.semid.lock", dir);
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
    close(ready[1]);
    close(release[0]);
    char ch = 0;
    assert_int_equal(read(ready[0], &ch, 1), 1);
    close(ready[0]);
    return (holder){.pid = pid, .release_fd = release[1]};
}

/* The dataset does not exist: a run that gets past the lock fails on it at
 * once, so the lock is all these runs test. */
static void test_experiment_lock(void **state) {
    (void)state;
    char *dir = test_make_tmpdir();
    holder h = hold_lock(dir);
    char args[2048], *err;
    snprintf(args, sizeof args, "experiment --out %s dataset=/nonexistent/semid-data", dir);
    assert_int_equal(run_to("/dev/null", args, &err), 1);
    char want[64];
    snprintf(want, sizeof want, "pid %ld", (long)h.pid);
    if (!strstr(err, want)) fail_msg("expected '%s' in: %s", want, err);
    assert_non_null(strstr(err, "--wait"));
    assert_null(strstr(err, "/nonexistent/semid-data"));
    free(err);
    /* --wait: starts once the holder lets go (and then fails on the dataset). */
    assert_int_equal(write(h.release_fd, "R", 1), 1);
    close(h.release_fd);
    snprintf(args, sizeof args, "experiment --wait --out %s dataset=/nonexistent/semid-data", dir);
    double t0 = now_s();
    assert_int_equal(run_to("/dev/null", args, &err), 1);
    assert_true(now_s() - t0 > 0.2);
    if (!strstr(err, "/nonexistent/semid-data")) fail_msg("expected the dataset's error in: %s", err);
    free(err);
    int status = 0;
    assert_int_equal(waitpid(h.pid, &status, 0), h.pid);
    test_rm_rf(dir);
    free(dir);
}

static void test_wait_flags_documented(void **state) {
    (void)state;
    char *out;
    assert_int_equal(test_run_cli("train --help", &out), 0);
    assert_non_null(strstr(out, "--wait"));
    free(out);
    assert_int_equal(test_run_cli("experiment --help", &out), 0);
    assert_non_null(strstr(out, "--wait"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_disk_fails),
        cmocka_unit_test(test_experiment_lock),
        cmocka_unit_test(test_wait_flags_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
