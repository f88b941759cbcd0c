/* The page of `semid serve` (src/serve/page.html) rendered by a real browser:
 * a tiny bundle made through the CLI, `semid serve --port 0` on loopback,
 * then headless Chromium pointed at /?q=...&history=... dumps the DOM after
 * the page's three calls: result rows in the Search, Personalised search and
 * Recommendation columns, each naming an item of the catalog; an unknown
 * history id shows the API's error in the two history columns; a screenshot
 * is written. GET / answers the embedded page byte for byte. The server
 * must exit 0 on SIGTERM.
 *
 * Chromium is required (Debian's `chromium`, installed by
 * scripts/install-deps.sh): without it the test fails, it does not skip.
 * SEMID_CHROMIUM names another binary. Runs as root too (--no-sandbox). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "data/dataset.h"
#include "serve/page.h"
#include "support/serve/serve_fixture.h"
#include "support/testutil.h"

static char *tmpdir, *first_id, *chromium;
static semid_dataset ds;
static pid_t server_pid = -1;
static int port;
static char query[512];   /* a test query of the dataset, URL-encoded */
static char history[256]; /* three item ids, comma-separated */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The browser: $SEMID_CHROMIUM, else chromium (Debian) or chromium-browser
 * on PATH; NULL when none is there. */
static char *find_chromium(void) {
    const char *env = getenv("SEMID_CHROMIUM");
    if (env && *env) return access(env, X_OK) == 0 ? strdup(env) : NULL;
    const char *path = getenv("PATH");
    const char *names[] = {"chromium", "chromium-browser"};
    for (size_t n = 0; n < 2; n++) {
        char *copy = strdup(path && *path ? path : "/usr/bin:/bin");
        for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", dir, names[n]);
            if (access(full, X_OK) == 0) {
                free(copy);
                return strdup(full);
            }
        }
        free(copy);
    }
    return NULL;
}

static void require_chromium(void) {
    if (!chromium)
        fail_msg("chromium is not installed: this test renders the page in headless Chromium. Install Debian's "
                 "'chromium' package (scripts/install-deps.sh does), or set SEMID_CHROMIUM to a Chromium binary.");
}

/* Percent-encodes s (everything but unreserved characters). */
static void url_encode(char *out, size_t cap, const char *s) {
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c && n + 4 < cap; c++)
        if (isalnum(*c) || strchr("-._~", *c)) out[n++] = (char)*c;
        else n += (size_t)snprintf(out + n, cap - n, "%%%02X", *c);
    out[n] = '\0';
}

/* Starts `semid serve` on a free loopback port; stderr goes to
 * tmpdir/serve.log, whose "listening on" line gives the port. Then waits for
 * /healthz to answer 200. Returns 0 when it does. */
static int start_server(void) {
    char model[4096], log_path[4096];
    snprintf(model, sizeof model, "%s/model", tmpdir);
    snprintf(log_path, sizeof log_path, "%s/serve.log", tmpdir);
    server_pid = fork();
    if (server_pid < 0) return -1;
    if (server_pid == 0) {
        /* a test killed midway (a timeout) must not leave the server running */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1) _exit(127);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
        }
        execl(SEMID_CLI_PATH, SEMID_CLI_PATH, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0",
              "--threads", "1", (char *)NULL);
        _exit(127);
    }
    double t0 = now_s();
    while (now_s() - t0 < 30) {
        int status;
        if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
            char *log = NULL;
            size_t len;
            semid_read_file(log_path, &log, &len);
            fprintf(stderr, "semid serve exited early (status %d):\n%s\n", status, log ? log : "");
            free(log);
            server_pid = -1;
            return -1;
        }
        if (!port) {
            char *log = NULL;
            size_t len;
            if (semid_read_file(log_path, &log, &len) == SEMID_OK) {
                const char *p = strstr(log, "listening on http://127.0.0.1:");
                if (p) port = atoi(p + strlen("listening on http://127.0.0.1:"));
            }
            free(log);
        }
        if (port) {
            http_reply r = http_request(port, "GET", "/healthz", NULL, 0);
            int ok = r.status == 200;
            http_reply_free(&r);
            if (ok) return 0;
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "semid serve did not answer /healthz within 30 s (port %d)\n", port);
    return -1;
}

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    chromium = find_chromium();
    tmpdir = test_make_tmpdir();
    if (!tmpdir || serve_fixture_train(tmpdir, &first_id) != 0) return -1;
    char *ds_path = semid_path_join(tmpdir, "ds.sdd");
    semid_status st = semid_dataset_load(ds_path, &ds);
    free(ds_path);
    if (st != SEMID_OK) return -1;
    for (int32_t q = 0; q < ds.n_queries && !query[0]; q++)
        if (ds.queries[q].split == SEMID_SPLIT_TEST) url_encode(query, sizeof query, ds.queries[q].text);
    if (!query[0] || ds.n_items < 12) return -1;
    snprintf(history, sizeof history, "%s,%s,%s", ds.items[1].id, ds.items[5].id, ds.items[11].id);
    return start_server();
}

static int teardown(void **state) {
    (void)state;
    int rc = 0;
    if (server_pid > 0) { /* normally stopped by test_sigterm; a failed run still must not leave it */
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
    }
    semid_dataset_free(&ds);
    if (tmpdir) test_rm_rf(tmpdir);
    free(tmpdir);
    free(first_id);
    free(chromium);
    return rc;
}

/* Runs headless Chromium on /<query_string> with `what` (--dump-dom or
 * --screenshot=...); returns its stdout (caller frees). Its stderr is shown
 * when it fails. */
static char *browse(const char *query_string, const char *what) {
    char cmd[16384], err_path[4096], profile[4096];
    snprintf(err_path, sizeof err_path, "%s/chromium.err", tmpdir);
    snprintf(profile, sizeof profile, "%s/chromium-profile", tmpdir);
    snprintf(cmd, sizeof cmd,
             "timeout 45 '%s' --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
             "--no-default-browser-check --user-data-dir='%s' --virtual-time-budget=10000 %s "
             "'http://127.0.0.1:%d/%s' 2>'%s'",
             chromium, profile, what, port, query_string, err_path);
    double t0 = now_s();
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 65536, len = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int status = pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *err = NULL;
        size_t el;
        semid_read_file(err_path, &err, &el);
        fail_msg("chromium failed (status %d) on %s: %s", status, query_string, err ? err : "");
    }
    fprintf(stderr, "chromium %s: %.1f s\n", strncmp(what, "--dump", 6) == 0 ? "dump-dom" : "screenshot", now_s() - t0);
    return buf;
}

/* The part of the DOM from id="<from>" up to the next id="<to>" (or the
 * end), copied (caller frees). */
static char *segment(const char *dom, const char *from, const char *to) {
    char a[128], b[128];
    snprintf(a, sizeof a, "id=\"%s\"", from);
    snprintf(b, sizeof b, "id=\"%s\"", to);
    const char *s = strstr(dom, a);
    if (!s) fail_msg("no %s in the page's DOM:\n%.4000s", a, dom);
    const char *e = strstr(s + 1, b);
    return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

/* Checks that the column's results are n_min or more rows whose data-id is
 * an item of the catalog; returns how many. */
static int check_rows(const char *dom, const char *from, const char *to, int n_min) {
    char *seg = segment(dom, from, to);
    int n = 0;
    for (const char *p = seg; (p = strstr(p, "<li class=\"result")) != NULL; p++) {
        const char *end = strchr(p, '>'), *d = strstr(p, "data-id=\"");
        if (!end || !d || d > end) fail_msg("#%s: a result row without data-id: %.200s", from, p);
        d += strlen("data-id=\"");
        const char *q = strchr(d, '"');
        char id[256];
        snprintf(id, sizeof id, "%.*s", (int)(q - d), d);
        int found = 0;
        for (int32_t i = 0; i < ds.n_items && !found; i++) found = strcmp(ds.items[i].id, id) == 0;
        if (!found) fail_msg("#%s: row %d names item '%s', not in the catalog", from, n + 1, id);
        n++;
    }
    if (n < n_min) fail_msg("#%s: %d result rows, expected at least %d:\n%s", from, n, n_min, seg);
    if (strstr(seg, "class=\"error\"")) fail_msg("#%s shows an error:\n%s", from, seg);
    free(seg);
    return n;
}

/* GET / answers the embedded page, as HTML. */
static void test_get_page(void **state) {
    (void)state;
    http_reply r = http_request(port, "GET", "/", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "text/html"));
    assert_int_equal(r.body_len, semid_serve_page_html_len);
    assert_memory_equal(r.body, semid_serve_page_html, semid_serve_page_html_len);
    assert_int_equal(strlen(semid_serve_page_html), semid_serve_page_html_len); /* NUL-terminated, no NUL inside */
    /* self-contained: nothing loaded from elsewhere */
    assert_null(strstr(semid_serve_page_html, "src=\"http"));
    assert_null(strstr(semid_serve_page_html, "href=\"http"));
    assert_null(strstr(semid_serve_page_html, "@import"));
    http_reply_free(&r);
}

/* ?q=...&history=... fills the form and renders all three columns. */
static void test_render_results(void **state) {
    (void)state;
    require_chromium();
    char qs[2048];
    snprintf(qs, sizeof qs, "?q=%s&history=%s&k=5", query, history);
    char *dom = browse(qs, "--dump-dom");
    if (!strstr(dom, "data-state=\"done\"")) fail_msg("the page did not finish its calls:\n%.6000s", dom);
    int ns = check_rows(dom, "search-results", "col-personal", 1);
    int np = check_rows(dom, "personal-results", "col-rec", 1);
    int nr = check_rows(dom, "rec-results", "nothing-after", 1);
    assert_true(ns <= 5 && np <= 5 && nr <= 5); /* k=5 from the URL */
    /* the history's items are listed under their titles */
    char *hist = segment(dom, "history", "col-search");
    char needle[300];
    snprintf(needle, sizeof needle, "data-id=\"%s\"", ds.items[5].id);
    if (!strstr(hist, needle)) fail_msg("history list lacks item %s:\n%s", ds.items[5].id, hist);
    free(hist);
    /* the latency of each call is shown */
    assert_non_null(strstr(dom, "round trip"));
    assert_non_null(strstr(dom, "server "));
    free(dom);
}

/* An unknown history id: the API's 400 (naming the id) appears in the
 * columns that send the history; search still answers. */
static void test_render_error(void **state) {
    (void)state;
    require_chromium();
    char qs[2048];
    snprintf(qs, sizeof qs, "?q=%s&history=no-such-item", query);
    char *dom = browse(qs, "--dump-dom");
    if (!strstr(dom, "data-state=\"done\"")) fail_msg("the page did not finish its calls:\n%.6000s", dom);
    check_rows(dom, "search-results", "col-personal", 1);
    const char *cols[][2] = {{"personal-results", "col-rec"}, {"rec-results", "nothing-after"}};
    for (int c = 0; c < 2; c++) {
        char *seg = segment(dom, cols[c][0], cols[c][1]);
        if (!strstr(seg, "class=\"error\"") || !strstr(seg, "400") || !strstr(seg, "no-such-item"))
            fail_msg("#%s does not show the 400 naming the unknown id:\n%s", cols[c][0], seg);
        if (strstr(seg, "class=\"result")) fail_msg("#%s shows results beside its error:\n%s", cols[c][0], seg);
        free(seg);
    }
    free(dom);
}

/* A screenshot of the rendered page: a non-empty PNG. */
static void test_screenshot(void **state) {
    (void)state;
    require_chromium();
    char png[4096], what[4200], qs[2048];
    snprintf(png, sizeof png, "%s/page.png", tmpdir);
    snprintf(what, sizeof what, "--screenshot='%s' --window-size=1280,900 --hide-scrollbars", png);
    snprintf(qs, sizeof qs, "?q=%s&history=%s", query, history);
    free(browse(qs, what));
    char *data = NULL;
    size_t len = 0;
    if (semid_read_file(png, &data, &len) != SEMID_OK) fail_msg("no screenshot at %s", png);
    assert_true(len > 1000);
    assert_memory_equal(data, "\x89PNG\r\n\x1a\n", 8);
    free(data);
}

/* SIGTERM: the server stops and exits 0. */
static void test_sigterm(void **state) {
    (void)state;
    assert_true(server_pid > 0);
    assert_int_equal(kill(server_pid, SIGTERM), 0);
    int status = 0;
    double t0 = now_s();
    pid_t got = 0;
    while ((got = waitpid(server_pid, &status, WNOHANG)) == 0 && now_s() - t0 < 20) usleep(20 * 1000);
    if (got != server_pid) fail_msg("semid serve did not exit within 20 s of SIGTERM");
    server_pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *log = NULL, path[4096];
        size_t len;
        snprintf(path, sizeof path, "%s/serve.log", tmpdir);
        semid_read_file(path, &log, &len);
        fail_msg("semid serve: status %d after SIGTERM, not exit 0:\n%s", status, log ? log : "");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_page),
        cmocka_unit_test(test_render_results),
        cmocka_unit_test(test_render_error),
        cmocka_unit_test(test_screenshot),
        cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
