/* What a save does to what is already at its path: a regular file is
 * replaced atomically (temp file beside it, rename), a symlink is written
 * through to its target (the link stays), and a FIFO, a device or stdout is
 * written in place (never replaced by a regular file).
 *
 * The checks on the real /dev/null and /dev/stdout run only after the same
 * behaviour was seen on a temporary directory's own links, so that a
 * regression fails there first and cannot replace a device node of the
 * machine (these tests may run as root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/status.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

static char *read_all(const char *path) {
    char *data;
    size_t len;
    if (semid_read_file(path, &data, &len) != SEMID_OK) return NULL;
    return data;
}

/* Entries of `dir` whose name contains ".tmp." (left-over temp files). */
static int count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static int is_symlink(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static void test_regular_file_replaced_atomically(void **state) {
    (void)state;
    char *path = test_write_file(tmpdir, "plain.txt", "old contents");
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(semid_write_file_atomic(path, "new", 3), SEMID_OK);
    char *got = read_all(path);
    assert_string_equal(got, "new");
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0640); /* the replaced file's permissions are kept */
    assert_int_equal(count_temp_files(tmpdir), 0);
    /* A new file appears only on commit; an abort leaves nothing. */
    char *fresh = semid_path_join(tmpdir, "fresh.txt");
    semid_atomic_file f;
    assert_int_equal(semid_atomic_open(&f, fresh), SEMID_OK);
    assert_int_equal(semid_atomic_write(&f, "x", 1), SEMID_OK);
    assert_false(semid_path_exists(fresh));
    semid_atomic_abort(&f);
    assert_false(semid_path_exists(fresh));
    assert_int_equal(count_temp_files(tmpdir), 0);
    free(fresh);
    free(got);
    free(path);
}

static void test_symlink_written_through(void **state) {
    (void)state;
    char *sub = semid_path_join(tmpdir, "elsewhere");
    assert_int_equal(semid_mkdirs(sub), SEMID_OK);
    char *target = test_write_file(sub, "target.txt", "old");
    /* relative link in another directory, and a chain of two links */
    char *link = semid_path_join(tmpdir, "link.txt");
    char *link2 = semid_path_join(tmpdir, "link2.txt");
    assert_int_equal(symlink("elsewhere/target.txt", link), 0);
    assert_int_equal(symlink(link, link2), 0);

    assert_int_equal(semid_write_file_atomic(link, "through the link", 16), SEMID_OK);
    assert_true(is_symlink(link));
    char *got = read_all(target);
    assert_string_equal(got, "through the link");
    free(got);

    assert_int_equal(semid_write_file_atomic(link2, "via a chain", 11), SEMID_OK);
    assert_true(is_symlink(link2));
    assert_true(is_symlink(link));
    got = read_all(target);
    assert_string_equal(got, "via a chain");
    free(got);
    assert_int_equal(count_temp_files(tmpdir), 0);
    assert_int_equal(count_temp_files(sub), 0);

    /* A dangling link: its target is created, the link kept. */
    char *dangling = semid_path_join(tmpdir, "dangling.txt");
    assert_int_equal(symlink("elsewhere/new.txt", dangling), 0);
    assert_int_equal(semid_write_file_atomic(dangling, "created", 7), SEMID_OK);
    assert_true(is_symlink(dangling));
    char *created = semid_path_join(sub, "new.txt");
    got = read_all(created);
    assert_string_equal(got, "created");
    free(got);

    /* A link to a directory is an error that names the path, not a crash. */
    char *dirlink = semid_path_join(tmpdir, "dirlink");
    assert_int_equal(symlink("elsewhere", dirlink), 0);
    assert_int_not_equal(semid_write_file_atomic(dirlink, "x", 1), SEMID_OK);
    assert_true(is_symlink(dirlink));
    /* A loop of links is an error too. */
    char *loop = semid_path_join(tmpdir, "loop");
    assert_int_equal(symlink("loop", loop), 0);
    assert_int_equal(semid_write_file_atomic(loop, "x", 1), SEMID_EIO);
    assert_non_null(strstr(semid_last_error(), "Too many levels of symbolic links"));
    assert_true(is_symlink(loop));
    free(loop);
    free(dirlink);
    free(created);
    free(dangling);
    free(link2);
    free(link);
    free(target);
    free(sub);
}

/* Reads a FIFO (already open, non-blocking) until its writer closes it or
 * 10 s pass, so that a save that never opens the FIFO fails the test rather
 * than hanging it. */
typedef struct fifo_reader {
    int fd;
    char *buf;
    size_t len, cap;
    int got_eof;
} fifo_reader;

static void *read_fifo(void *arg) {
    fifo_reader *r = arg;
    int seen_data = 0;
    for (;;) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        int n = poll(&p, 1, 10000);
        if (n <= 0) break; /* timed out */
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (got > 0) {
            r->len += (size_t)got;
            seen_data = 1;
            if (r->len == r->cap) break;
        } else if (got == 0 && (seen_data || (p.revents & POLLHUP))) {
            r->got_eof = 1;
            break;
        } else if (got < 0 && errno != EAGAIN && errno != EINTR) {
            break;
        }
    }
    return NULL;
}

static void test_fifo_written_in_place(void **state) {
    (void)state;
    char *fifo = semid_path_join(tmpdir, "pipe");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    size_t n = 300000; /* more than a pipe's buffer: the reader must drain it while we write */
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (char)('a' + i % 26);
    fifo_reader r = {.fd = open(fifo, O_RDONLY | O_NONBLOCK), .cap = n + 16};
    assert_true(r.fd >= 0);
    r.buf = malloc(r.cap);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_fifo, &r), 0);
    semid_status st = semid_write_file_atomic(fifo, data, n);
    pthread_join(th, NULL);
    close(r.fd);
    struct stat sb;
    assert_int_equal(lstat(fifo, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
    assert_int_equal(st, SEMID_OK);
    assert_int_equal(r.len, n);
    assert_memory_equal(r.buf, data, n);
    assert_int_equal(count_temp_files(tmpdir), 0);
    free(r.buf);
    free(data);
    free(fifo);
}

/* Runs semid_write_file_atomic("/dev/stdout", text) in a child whose stdout
 * is `fd`, after printf(before) and before printf(after). */
static void child_writes_stdout(int fd, const char *before, const char *text, const char *after) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(fd, STDOUT_FILENO) < 0) _exit(3);
        fputs(before, stdout);
        semid_status st = semid_write_file_atomic("/dev/stdout", text, strlen(text));
        fputs(after, stdout);
        fflush(stdout);
        _exit(st == SEMID_OK ? 0 : 4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_devices_written_in_place(void **state) {
    (void)state;
    /* First a link of our own to /dev/null: the link must survive. */
    char *nul = semid_path_join(tmpdir, "null-link");
    assert_int_equal(symlink("/dev/null", nul), 0);
    assert_int_equal(semid_write_file_atomic(nul, "discarded", 9), SEMID_OK);
    assert_true(is_symlink(nul));
    struct stat sb;
    assert_int_equal(stat("/dev/null", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));

    /* Now the real one: still a character device afterwards. */
    assert_int_equal(semid_write_file_atomic("/dev/null", "discarded", 9), SEMID_OK);
    assert_int_equal(lstat("/dev/null", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
    semid_atomic_file f;
    assert_int_equal(semid_atomic_open(&f, "/dev/null"), SEMID_OK);
    assert_int_equal(semid_atomic_write(&f, "abc", 3), SEMID_OK);
    assert_int_equal(semid_atomic_commit(&f), SEMID_OK);
    assert_int_equal(lstat("/dev/null", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));

    /* A full device reports the failure, and stays a device. */
    assert_int_equal(semid_write_file_atomic("/dev/full", "x", 1), SEMID_EIO);
    assert_int_equal(lstat("/dev/full", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));

    /* /dev/stdout into a pipe: the bytes come through, in order with printf. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    child_writes_stdout(p[1], "<", "to the pipe", ">");
    close(p[1]);
    char buf[64] = {0};
    size_t len = 0;
    for (ssize_t got; (got = read(p[0], buf + len, sizeof buf - 1 - len)) > 0;) len += (size_t)got;
    close(p[0]);
    assert_string_equal(buf, "<to the pipe>");
    assert_true(is_symlink("/dev/stdout"));

    /* /dev/stdout redirected to a file: the same file is written (not
     * replaced behind the shell's back), in order with printf. */
    char *out = semid_path_join(tmpdir, "stdout.txt");
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    struct stat before;
    assert_int_equal(fstat(fd, &before), 0);
    child_writes_stdout(fd, "a", "b", "c");
    close(fd);
    char *got = read_all(out);
    assert_string_equal(got, "abc");
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(sb.st_ino, before.st_ino);
    assert_int_equal(count_temp_files(tmpdir), 0);
    free(got);
    free(out);
    free(nul);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_file_replaced_atomically),
        cmocka_unit_test(test_symlink_written_through),
        cmocka_unit_test(test_fifo_written_in_place),
        cmocka_unit_test(test_devices_written_in_place),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
