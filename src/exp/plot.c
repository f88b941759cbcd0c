/* Figure 1 as SVG: search Recall@K (x) against recommendation Recall@K (y)
 * for every generative row, Pareto front joined by a line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "exp/results.h"

enum { W = 640, H = 480, ML = 70, MR = 30, MT = 40, MB = 60 };

static void xml_escape(char *out, size_t n, const char *in) {
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 7 < n; i++) {
        const char *rep = in[i] == '<' ? "&lt;" : in[i] == '>' ? "&gt;" : in[i] == '&' ? "&amp;" : NULL;
        if (rep) {
            memcpy(out + j, rep, strlen(rep));
            j += strlen(rep);
        } else {
            out[j++] = in[i];
        }
    }
    out[j] = '\0';
}

/* Points on the front: no other point is at least as good on both axes and
 * better on one. */
static int dominated(const double *x, const double *y, int n, int i) {
    for (int j = 0; j < n; j++)
        if (j != i && x[j] >= x[i] && y[j] >= y[i] && (x[j] > x[i] || y[j] > y[i])) return 1;
    return 0;
}

/* Insertion sort of point indices by x (a handful of points). */
static void sort_by_x(int *ids, int n, const double *x) {
    for (int i = 1; i < n; i++) {
        int v = ids[i], j = i - 1;
        while (j >= 0 && x[ids[j]] > x[v]) {
            ids[j + 1] = ids[j];
            j--;
        }
        ids[j + 1] = v;
    }
}

semid_status exp_plot_write_svg(const exp_results *r, const char *path) {
    int n = 0;
    double *x = malloc(sizeof(double) * (size_t)(r->n_rows + 1));
    double *y = malloc(sizeof(double) * (size_t)(r->n_rows + 1));
    int *idx = malloc(sizeof(int) * (size_t)(r->n_rows + 1));
    size_t cap = 16384 + (size_t)r->n_rows * 512;
    char *svg = malloc(cap);
    if (!x || !y || !idx || !svg) {
        free(x), free(y), free(idx), free(svg);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    for (int i = 0; i < r->n_rows; i++) {
        const exp_row *row = &r->rows[i];
        if (!row->generative || row->search_recall.n == 0 || row->rec_recall.n == 0) continue;
        idx[n] = i;
        x[n] = row->search_recall.mean;
        y[n] = row->rec_recall.mean;
        n++;
    }
    double xmax = 0.01, ymax = 0.01;
    for (int i = 0; i < n; i++) {
        if (x[i] > xmax) xmax = x[i];
        if (y[i] > ymax) ymax = y[i];
    }
    xmax *= 1.15;
    ymax *= 1.15;
    size_t len = 0;
#define EMIT(...) len += (size_t)snprintf(svg + len, cap - len, __VA_ARGS__)
    EMIT("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    EMIT("<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    EMIT("<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Search vs recommendation Recall@%d per Semantic-ID strategy</text>\n", W / 2, r->k);
    int pw = W - ML - MR, ph = H - MT - MB;
    EMIT("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", ML, MT, pw, ph);
    for (int t = 0; t <= 5; t++) {
        double fx = xmax * t / 5, fy = ymax * t / 5;
        int px = ML + (int)(pw * t / 5.0), py = MT + ph - (int)(ph * t / 5.0);
        EMIT("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", px, MT, px, MT + ph);
        EMIT("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", ML, py, ML + pw, py);
        EMIT("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.3f</text>\n", px, MT + ph + 18, fx);
        EMIT("<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3f</text>\n", ML - 6, py + 4, fy);
    }
    EMIT("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">search Recall@%d</text>\n", ML + pw / 2, H - 15, r->k);
    EMIT("<text x=\"18\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">recommendation Recall@%d</text>\n", MT + ph / 2, MT + ph / 2, r->k);

    /* The Pareto front, sorted by x. */
    int *front = malloc(sizeof(int) * (size_t)(n + 1));
    int nf = 0;
    for (int i = 0; front && i < n; i++)
        if (!dominated(x, y, n, i)) front[nf++] = i;
    if (front && nf > 1) {
        sort_by_x(front, nf, x);
        EMIT("<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\" points=\"");
        for (int f = 0; f < nf; f++)
            EMIT("%.1f,%.1f ", ML + pw * x[front[f]] / xmax, MT + ph - ph * y[front[f]] / ymax);
        EMIT("\"/>\n");
    }
    for (int i = 0; i < n; i++) {
        const exp_row *row = &r->rows[idx[i]];
        double px = ML + pw * x[i] / xmax, py = MT + ph - ph * y[i] / ymax;
        int on_front = !dominated(x, y, n, i);
        char label[200];
        xml_escape(label, sizeof label, row->label);
        EMIT("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>%s: %.4f, %.4f</title></circle>\n", px, py,
             on_front ? "#d62728" : "#1f77b4", label, x[i], y[i]);
        EMIT("<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", px + 7, py - 6, label);
    }
    EMIT("<text x=\"%d\" y=\"%d\" fill=\"#d62728\">red: Pareto front</text>\n", ML + 8, MT + 16);
    EMIT("</svg>\n");
#undef EMIT
    semid_status st = len < cap ? semid_write_file_atomic(path, svg, len) : semid_fail(SEMID_EINTERNAL, "plot buffer too small");
    free(front);
    free(x), free(y), free(idx), free(svg);
    return st;
}
