/* `semid serve` as a process: it prints where it listens, SIGHUP reloads
 * the bundle (the model version moves on), SIGTERM drains and exits 0, and
 * a missing model or a bad option is a clear error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "support/serve/serve_fixture.h"
#include "support/testutil.h"

static char *tmpdir, *first_id;

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    return tmpdir && serve_fixture_train(tmpdir, &first_id) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir), free(first_id);
    return 0;
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Polls the server's stderr log for `needle` (up to ~10 s); returns the
 * text after it, in a static buffer, or NULL. */
static const char *wait_for_log(const char *log_path, const char *needle) {
    static char text[8192];
    for (int i = 0; i < 1000; i++) {
        FILE *f = fopen(log_path, "r");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f) fclose(f);
        text[n] = '\0';
        const char *p = strstr(text, needle);
        if (p) return p + strlen(needle);
        sleep_ms(10);
    }
    fprintf(stderr, "log so far:\n%s\n", text);
    return NULL;
}

static char *health_version(int port) {
    http_reply r = http_request(port, "GET", "/healthz", NULL, 0);
    assert_int_equal(r.status, 200);
    char *v = strstr(r.body, "\"model_version\": \"");
    assert_non_null(v);
    v += strlen("\"model_version\": \"");
    char *out = strndup(v, strcspn(v, "\""));
    http_reply_free(&r);
    return out;
}

static void test_signals(void **state) {
    (void)state;
    char *model = semid_path_join(tmpdir, "model"), *log = semid_path_join(tmpdir, "serve.log");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execl(SEMID_CLI_PATH, "semid", "serve", "--model", model, "--port", "0", "--threads", "1", (char *)NULL);
        _exit(127);
    }
    const char *at = wait_for_log(log, "listening on http://127.0.0.1:");
    assert_non_null(at);
    int port = atoi(at);
    assert_true(port > 0);
    char *v1 = health_version(port);
    assert_int_equal(kill(pid, SIGHUP), 0);
    assert_non_null(wait_for_log(log, "reloaded"));
    char *v2 = health_version(port);
    assert_string_not_equal(v1, v2);
    char body[128];
    snprintf(body, sizeof body, "{\"history\": [\"%s\"]}", first_id);
    http_reply r = http_request(port, "POST", "/v1/recommend", body, strlen(body));
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(wait_for_log(log, "stopped"));
    free(v1), free(v2), free(model), free(log);
}

static void test_bad_start(void **state) {
    (void)state;
    char *out = NULL, args[4096];
    snprintf(args, sizeof args, "serve --model %s/nowhere --port 0", tmpdir);
    assert_int_equal(test_run_cli(args, &out), 1);
    assert_non_null(strstr(out, "no model here"));
    free(out);
    snprintf(args, sizeof args, "serve --model %s/model --port 70000", tmpdir);
    assert_int_not_equal(test_run_cli(args, &out), 0);
    assert_non_null(strstr(out, "--port"));
    free(out);
    assert_int_equal(test_run_cli("serve --port 0", &out), 2);
    assert_non_null(strstr(out, "--model"));
    free(out);
    /* the dense index's options are checked as search's are */
    snprintf(args, sizeof args, "serve --model %s/model --port 0 --content", tmpdir);
    assert_int_equal(test_run_cli(args, &out), 2);
    assert_non_null(strstr(out, "--content needs --dataset"));
    free(out);
    snprintf(args, sizeof args, "serve --model %s/model --port 0 --encoder %s/nowhere.safetensors", tmpdir, tmpdir);
    assert_int_equal(test_run_cli(args, &out), 1);
    assert_non_null(strstr(out, "nowhere.safetensors"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_signals), cmocka_unit_test(test_bad_start)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
