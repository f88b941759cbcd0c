/* The trade-off plot (exp/plot.c), read back from its SVG text: round tick
 * labels, one marker and one merged label for rows at the same point, the
 * non-generative references as their own markers, and label boxes that do
 * not overlap on the crowded ML-1M figures. SEMID_PLOT_OUT=DIR keeps the
 * SVGs there to look at. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "exp/results.h"
#include "support/testutil.h"

/* ---- building results ---- */

static void add(exp_results *r, exp_table t, const char *name, const char *label, int generative, double search,
                double rec) {
    exp_row row;
    memset(&row, 0, sizeof row);
    row.table = t;
    row.generative = generative;
    snprintf(row.name, sizeof row.name, "%s", name);
    snprintf(row.label, sizeof row.label, "%s", label);
    if (search >= 0) exp_metric_add(&row.search_recall, search);
    exp_metric_add(&row.rec_recall, rec);
    assert_int_equal(exp_results_add(r, &row), SEMID_OK);
}

static void add_references(exp_results *r, double dense_search, double dense_search_rec, double enmf, double dense_multi,
                           double dense_multi_rec) {
    add(r, EXP_TABLE_REFERENCE, "popularity", "popularity", 0, 0.0088, 0.0957);
    add(r, EXP_TABLE_REFERENCE, "dense_search", "dense search bi-encoder", 0, dense_search, dense_search_rec);
    add(r, EXP_TABLE_REFERENCE, "enmf", "ENMF", 0, -1, enmf);
    add(r, EXP_TABLE_REFERENCE, "dense_multi", "dense multi-task bi-encoder", 0, dense_multi, dense_multi_rec);
}

/* The rows of docs/results-ml1m.md, quick preset: the task-specific rows
 * in tables 1 and 2, multi-task and RQ-KMeans the same models. */
static void quick_ml1m(exp_results *r) {
    exp_results_init(r, 30);
    add_references(r, 0.7602, 0.0995, 0.1821, 0.7214, 0.1974);
    add(r, EXP_TABLE_MOTIVATION, "content", "content IDs", 1, 0.0592, 0.1344);
    add(r, EXP_TABLE_MAIN, "search", "search IDs", 1, 0.1060, 0.1737);
    add(r, EXP_TABLE_MOTIVATION, "search", "search IDs", 1, 0.1060, 0.1737);
    add(r, EXP_TABLE_MAIN, "rec", "rec (ENMF) IDs", 1, 0.1081, 0.2697);
    add(r, EXP_TABLE_MOTIVATION, "rec", "rec (ENMF) IDs", 1, 0.1081, 0.2697);
    add(r, EXP_TABLE_MAIN, "separate", "separate", 1, 0.0823, 0.2601);
    add(r, EXP_TABLE_MAIN, "prefix_share", "prefix-share", 1, 0.1162, 0.2636);
    add(r, EXP_TABLE_MAIN, "fused_concat", "fused concat", 1, 0.1375, 0.2591);
    add(r, EXP_TABLE_MAIN, "fused_svd", "fused SVD", 1, 0.1181, 0.2412);
    add(r, EXP_TABLE_MAIN, "multi", "multi-task", 1, 0.1225, 0.2358);
    add(r, EXP_TABLE_ABLATION, "rqkmeans", "RQ-KMeans", 1, 0.1225, 0.2358);
    add(r, EXP_TABLE_ABLATION, "rqvae", "RQ-VAE", 1, 0.1203, 0.2334);
    add(r, EXP_TABLE_ABLATION, "rlfq", "Residual LFQ", 1, 0.1047, 0.1879);
    add(r, EXP_TABLE_ABLATION, "dict", "dictionary encoding", 1, 0.1242, 0.2422);
}

/* The same, paper preset (means over three seeds). */
static void paper_ml1m(exp_results *r) {
    exp_results_init(r, 30);
    add_references(r, 0.8500, 0.1058, 0.2002, 0.8196, 0.2579);
    add(r, EXP_TABLE_MOTIVATION, "content", "content IDs", 1, 0.0702, 0.1737);
    add(r, EXP_TABLE_MOTIVATION, "search", "search IDs", 1, 0.0801, 0.1648);
    add(r, EXP_TABLE_MOTIVATION, "rec", "rec (ENMF) IDs", 1, 0.1834, 0.3081);
    add(r, EXP_TABLE_MAIN, "search", "search IDs", 1, 0.0801, 0.1648);
    add(r, EXP_TABLE_MAIN, "rec", "rec (ENMF) IDs", 1, 0.1834, 0.3081);
    add(r, EXP_TABLE_MAIN, "separate", "separate", 1, 0.1154, 0.3134);
    add(r, EXP_TABLE_MAIN, "prefix_share", "prefix-share", 1, 0.1457, 0.2648);
    add(r, EXP_TABLE_MAIN, "fused_concat", "fused concat", 1, 0.1817, 0.2694);
    add(r, EXP_TABLE_MAIN, "fused_svd", "fused SVD", 1, 0.1546, 0.2574);
    add(r, EXP_TABLE_MAIN, "multi", "multi-task", 1, 0.1613, 0.2760);
    add(r, EXP_TABLE_ABLATION, "rqkmeans", "RQ-KMeans", 1, 0.1613, 0.2760);
    add(r, EXP_TABLE_ABLATION, "rqvae", "RQ-VAE", 1, 0.1354, 0.2519);
    add(r, EXP_TABLE_ABLATION, "rlfq", "Residual LFQ", 1, 0.1161, 0.2093);
    add(r, EXP_TABLE_ABLATION, "dict", "dictionary encoding", 1, 0.1286, 0.2575);
}

/* Writes the plot and returns its text (caller frees). */
static char *render(const exp_results *r, const char *name) {
    char *dir = test_make_tmpdir();
    char *path = semid_path_join(dir, name);
    assert_int_equal(exp_plot_write_svg(r, path), SEMID_OK);
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(path, &text, &len), SEMID_OK);
    const char *keep = getenv("SEMID_PLOT_OUT");
    if (keep && keep[0]) {
        char *out = semid_path_join(keep, name);
        assert_int_equal(semid_write_file_atomic(out, text, len), SEMID_OK);
        free(out);
    }
    test_rm_rf(dir);
    free(dir);
    free(path);
    return text;
}

/* ---- reading the SVG back ---- */

static int count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static double attr(const char *tag, const char *name) {
    char key[32];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *p = strstr(tag, key);
    assert_non_null(p);
    return strtod(p + strlen(key), NULL);
}

/* The text of element `p` (at its '<') with entities resolved, and the
 * number of characters it shows. */
static size_t element_text(const char *p, char *out, size_t n) {
    const char *s = strchr(p, '>') + 1, *e = strstr(s, "</text>");
    size_t j = 0, glyphs = 0;
    for (const char *c = s; c < e && j + 1 < n; c++) {
        if (*c == '&') {
            const char *semi = strchr(c, ';');
            out[j++] = strncmp(c, "&lt;", 4) == 0 ? '<' : strncmp(c, "&gt;", 4) == 0 ? '>' : strncmp(c, "&quot;", 6) == 0 ? '"' : '&';
            c = semi;
            glyphs++;
            continue;
        }
        out[j++] = *c;
        glyphs += ((unsigned char)*c & 0xC0) != 0x80;
    }
    out[j] = '\0';
    return glyphs;
}

typedef struct label_box {
    double x0, y0, x1, y1;
    char text[512];
} label_box;

/* Every <text class="label">: its box from its start, baseline, font size
 * and a glyph width of 0.6 font sizes. */
static int label_boxes(const char *svg, label_box *boxes, int cap) {
    int n = 0;
    for (const char *p = strstr(svg, "<text class=\"label\""); p && n < cap; p = strstr(p + 1, "<text class=\"label\"")) {
        label_box *b = &boxes[n++];
        size_t glyphs = element_text(p, b->text, sizeof b->text);
        double x = attr(p, "x"), y = attr(p, "y"), fs = attr(p, "font-size");
        b->x0 = x, b->x1 = x + glyphs * fs * 0.6;
        b->y0 = y - 0.8 * fs, b->y1 = y + 0.2 * fs;
    }
    return n;
}

static const label_box *find_label(const label_box *b, int n, const char *prefix) {
    for (int i = 0; i < n; i++)
        if (strncmp(b[i].text, prefix, strlen(prefix)) == 0) return &b[i];
    return NULL;
}

/* Tick values of one axis, in order. */
static int ticks(const char *svg, const char *cls, double *v, char labels[][32], int cap) {
    char needle[48];
    snprintf(needle, sizeof needle, "<text class=\"%s\"", cls);
    int n = 0;
    for (const char *p = strstr(svg, needle); p && n < cap; p = strstr(p + 1, needle)) {
        element_text(p, labels[n], 32);
        v[n] = strtod(labels[n], NULL);
        n++;
    }
    return n;
}

/* 4 to 7 ticks from 0 by a step of 1, 2 or 5 x 10^k, every label with the
 * same decimals, as few as the step needs. */
static void assert_round_axis(const char *svg, const char *cls) {
    double v[32];
    char labels[32][32];
    int n = ticks(svg, cls, v, labels, 32);
    if (n < 4 || n > 7) fail_msg("%s: %d ticks", cls, n);
    assert_float_equal(v[0], 0.0, 0);
    double step = v[1] - v[0];
    double mag = pow(10.0, floor(log10(step) + 1e-9));
    double m = step / mag;
    if (!(fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6)) fail_msg("%s: step %g is not round", cls, step);
    int decimals = (int)ceil(-log10(step) - 1e-9);
    if (decimals < 0) decimals = 0;
    for (int i = 0; i < n; i++) {
        assert_float_equal(v[i], i * step, step * 1e-6);
        const char *dot = strchr(labels[i], '.');
        int d = dot ? (int)strlen(dot + 1) : 0;
        if (d != decimals) fail_msg("%s: label '%s' has %d decimals, the step %g needs %d", cls, labels[i], d, step, decimals);
    }
}

static void assert_no_overlaps(const char *svg) {
    label_box boxes[64];
    int n = label_boxes(svg, boxes, 64);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        /* inside the picture */
        if (boxes[i].x0 < 0 || boxes[i].x1 > attr(svg, "width") || boxes[i].y0 < 0 || boxes[i].y1 > attr(svg, "height"))
            fail_msg("label '%s' leaves the picture", boxes[i].text);
        for (int j = i + 1; j < n; j++) {
            const label_box *a = &boxes[i], *b = &boxes[j];
            if (a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1)
                fail_msg("labels '%s' and '%s' overlap", a->text, b->text);
        }
    }
    /* and no label covers a generative marker (its own included) */
    for (const char *p = strstr(svg, "<circle class=\"gen"); p; p = strstr(p + 1, "<circle class=\"gen")) {
        double cx = attr(p, "cx"), cy = attr(p, "cy"), r = attr(p, "r");
        for (int i = 0; i < n; i++)
            if (cx + r > boxes[i].x0 && cx - r < boxes[i].x1 && cy + r > boxes[i].y0 && cy - r < boxes[i].y1)
                fail_msg("label '%s' covers the marker at (%.1f, %.1f)", boxes[i].text, cx, cy);
    }
}

/* ---- tests ---- */

static void test_ticks_are_round(void **state) {
    (void)state;
    exp_results r;
    quick_ml1m(&r);
    char *svg = render(&r, "quick.svg");
    assert_round_axis(svg, "tick-x");
    assert_round_axis(svg, "tick-y");
    /* the quick figures: search up to 0.14 (the dense rows are off scale),
     * rec up to 0.27 */
    double v[32];
    char labels[32][32];
    int n = ticks(svg, "tick-x", v, labels, 32);
    assert_string_equal(labels[1], "0.05");
    assert_true(v[n - 1] >= 0.1375);
    free(svg);
    exp_results_free(&r);

    /* other scales */
    const double scales[] = {1e-3, 0.02, 0.37, 3.0, 170.0};
    for (size_t s = 0; s < sizeof scales / sizeof *scales; s++) {
        exp_results_init(&r, 10);
        add(&r, EXP_TABLE_MAIN, "a", "a", 1, 0.3 * scales[s], 0.9 * scales[s]);
        add(&r, EXP_TABLE_MAIN, "b", "b", 1, 1.0 * scales[s], 0.2 * scales[s]);
        svg = render(&r, "scale.svg");
        assert_round_axis(svg, "tick-x");
        assert_round_axis(svg, "tick-y");
        free(svg);
        exp_results_free(&r);
    }
}

static void test_rows_at_one_point_are_one_marker(void **state) {
    (void)state;
    exp_results r;
    quick_ml1m(&r);
    char *svg = render(&r, "quick.svg");
    /* 14 generative rows: search and rec IDs twice, multi-task = RQ-KMeans */
    assert_int_equal(count(svg, "<circle class=\"gen"), 11);
    label_box boxes[64];
    int n = label_boxes(svg, boxes, 64);
    assert_int_equal(n, 11 + 4);
    const label_box *merged = find_label(boxes, n, "multi-task");
    assert_non_null(merged);
    assert_string_equal(merged->text, "multi-task / RQ-KMeans");
    assert_null(find_label(boxes, n, "RQ-KMeans"));
    assert_int_equal(count(svg, ">search IDs<"), 1); /* not "search IDs / search IDs" */
    assert_int_equal(count(svg, ">rec (ENMF) IDs<"), 1);
    free(svg);
    exp_results_free(&r);

    /* a failed row and a generative row without figures draw nothing */
    exp_results_init(&r, 10);
    add(&r, EXP_TABLE_MAIN, "a", "a & b", 1, 0.1, 0.2);
    add(&r, EXP_TABLE_ABLATION, "b", "c <d>", 1, 0.1, 0.2);
    add(&r, EXP_TABLE_MAIN, "c", "broken", 1, 0.3, 0.1);
    snprintf(r.rows[2].failed, sizeof r.rows[2].failed, "out of memory");
    svg = render(&r, "small.svg");
    assert_int_equal(count(svg, "<circle class=\"gen"), 1);
    assert_non_null(strstr(svg, ">a &amp; b / c &lt;d&gt;</text>"));
    assert_null(strstr(svg, "broken"));
    free(svg);
    exp_results_free(&r);
}

static void test_references_have_their_own_markers(void **state) {
    (void)state;
    exp_results r;
    quick_ml1m(&r);
    char *svg = render(&r, "quick.svg");
    assert_int_equal(count(svg, "<path class=\"ref\""), 4);
    assert_non_null(strstr(svg, ">reference</text>")); /* the legend */
    assert_non_null(strstr(svg, "class=\"legend-ref\""));
    label_box boxes[64];
    int n = label_boxes(svg, boxes, 64);
    /* ENMF has no search side: on the y axis, said so */
    assert_non_null(find_label(boxes, n, "ENMF (rec only)"));
    assert_non_null(find_label(boxes, n, "popularity"));
    /* the dense bi-encoders' search recall (0.76, 0.72) is 5x the
     * generative rows': on the frame with an arrow and the value */
    const label_box *dense = find_label(boxes, n, "dense search bi-encoder");
    assert_non_null(dense);
    assert_non_null(strstr(dense->text, "0.760"));
    assert_int_equal(count(svg, "class=\"off-scale\""), 2);
    free(svg);
    exp_results_free(&r);

    /* references alone set the axes, and nothing is off scale */
    exp_results_init(&r, 10);
    add_references(&r, 0.76, 0.1, 0.18, 0.72, 0.2);
    svg = render(&r, "refs.svg");
    assert_int_equal(count(svg, "<path class=\"ref\""), 4);
    assert_int_equal(count(svg, "class=\"off-scale\""), 0);
    assert_int_equal(count(svg, "<circle class=\"gen"), 0);
    assert_round_axis(svg, "tick-x");
    free(svg);
    exp_results_free(&r);
}

static void test_labels_do_not_overlap(void **state) {
    (void)state;
    exp_results r;
    quick_ml1m(&r);
    char *svg = render(&r, "quick.svg");
    assert_no_overlaps(svg);
    free(svg);
    exp_results_free(&r);
    paper_ml1m(&r);
    svg = render(&r, "paper.svg");
    assert_no_overlaps(svg);
    assert_round_axis(svg, "tick-x");
    assert_round_axis(svg, "tick-y");
    free(svg);
    exp_results_free(&r);

    /* a tight cluster: twelve rows within 0.01 of each other */
    exp_results_init(&r, 30);
    for (int i = 0; i < 12; i++) {
        char name[16], label[32];
        snprintf(name, sizeof name, "r%d", i);
        snprintf(label, sizeof label, "strategy number %d", i);
        add(&r, EXP_TABLE_MAIN, name, label, 1, 0.10 + 0.001 * (i % 4), 0.20 + 0.002 * (i / 4));
    }
    svg = render(&r, "cluster.svg");
    assert_no_overlaps(svg);
    free(svg);
    exp_results_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks_are_round),
        cmocka_unit_test(test_rows_at_one_point_are_one_marker),
        cmocka_unit_test(test_references_have_their_own_markers),
        cmocka_unit_test(test_labels_do_not_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
