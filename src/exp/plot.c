/* Figure 1 as SVG: search Recall@K (x) against recommendation Recall@K (y)
 * for every generative row decoded with the trie, the Pareto front joined
 * by a line, and the references (dense retrieval, ENMF, popularity, atomic
 * IDs) as hollow diamonds.
 *
 * - Rows at the same point (a row shown in two tables, or the ablation's
 *   RQ-KMeans, which is the multi-task row's models) are one marker with
 *   one label, "multi-task / RQ-KMeans".
 * - Axes start at 0 and step by 1, 2 or 5 x 10^k (4 to 7 ticks), labelled
 *   with the decimals the step needs.
 * - A reference far outside the generative rows' range (the dense search
 *   bi-encoder's search recall is several times theirs) would squeeze them
 *   into a corner: it is drawn on the frame with an arrow and its value.
 *   A row without a search side (ENMF) sits on the y axis, marked so.
 * - Labels are placed greedily, most crowded points first, each at the
 *   cheapest of 72 places: right, left, above, below and the diagonals of
 *   its point, then the same rings further out with a leader line. Covering
 *   a marker or a label placed before, or leaving the frame, is ruled out
 *   while any place is free; a line through the label, the distance from
 *   the point, and (next to the point) another marker as near as its own
 *   add to the cost. Boxes are estimated as 0.6 font sizes per character. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "exp/results.h"
#include "exp/sbuf.h"

enum { W = 760, H = 560, ML = 70, MR = 34, MT = 40, MB = 96 };
#define LABEL_FS 11.0   /* point labels, px */
#define CHAR_W 0.6      /* estimated glyph width, in font sizes */
#define MARKER_R 5.0
#define OFF_SCALE 2.0   /* a reference beyond this multiple of the generative range is off scale */

static void sb_escaped(exp_sbuf *b, const char *in) {
    for (; *in; in++) {
        if (*in == '<') exp_sb_printf(b, "&lt;");
        else if (*in == '>') exp_sb_printf(b, "&gt;");
        else if (*in == '&') exp_sb_printf(b, "&amp;");
        else if (*in == '"') exp_sb_printf(b, "&quot;");
        else exp_sb_printf(b, "%c", *in);
    }
}

/* One marker: one or more rows at the same point. */
typedef struct point {
    double x, y;         /* the figures */
    double px, py;       /* where the marker is drawn */
    int reference;       /* a reference row (non-generative, or atomic IDs) */
    int rec_only;        /* no search side: drawn on the y axis */
    int off_x, off_y;    /* beyond the axis: drawn on the frame */
    int front;           /* generative and on the Pareto front */
    char label[512];     /* row labels joined by " / " */
    char text[640];      /* the label as drawn */
    double bx, by, bw, bh; /* its box (top left, size) */
    int leader;
} point;

/* Appends a row label unless the point already has it. */
static void add_label(point *p, const char *label) {
    size_t n = strlen(label);
    for (const char *s = p->label; *s;) {
        const char *end = strstr(s, " / ");
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == n && strncmp(s, label, n) == 0) return;
        s = end ? end + 3 : s + len;
    }
    size_t used = strlen(p->label);
    snprintf(p->label + used, sizeof p->label - used, "%s%s", used ? " / " : "", label);
}

static int same_value(double a, double b) { return fabs(a - b) <= 1e-12 * (fabs(a) + fabs(b) + 1e-300); }

/* Points on the front: no other generative point is at least as good on
 * both axes and better on one. */
static int dominated(const point *pts, int n, int i) {
    for (int j = 0; j < n; j++) {
        if (j == i || pts[j].reference || pts[j].rec_only) continue;
        if (pts[j].x >= pts[i].x && pts[j].y >= pts[i].y && (pts[j].x > pts[i].x || pts[j].y > pts[i].y)) return 1;
    }
    return 0;
}

/* Axis ticks: 0, step, ..., n*step >= hi with step 1, 2 or 5 x 10^k, the
 * smallest giving at most 6 intervals (so 4 to 7 ticks). */
typedef struct axis {
    double step, max;
    int n, decimals;
} axis;

static axis nice_axis(double hi) {
    axis a;
    if (!(hi > 0)) hi = 1e-2;
    double mag = pow(10.0, floor(log10(hi / 6.0)));
    static const double mult[] = {1, 2, 5, 10, 20};
    a.step = 10 * mag;
    for (int i = 0; i < 5; i++) {
        double s = mult[i] * mag;
        if (ceil(hi / s - 1e-9) <= 6) {
            a.step = s;
            break;
        }
    }
    a.n = (int)ceil(hi / a.step - 1e-9);
    if (a.n < 1) a.n = 1;
    a.max = a.n * a.step;
    int d = (int)ceil(-log10(a.step) - 1e-9);
    a.decimals = d > 0 ? d : 0;
    return a;
}

/* ---- label placement ---- */

/* Characters, not bytes (the arrows are one glyph each). */
static size_t glyphs(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

typedef struct box {
    double x, y, w, h;
} box;

static double overlap(box a, box b) {
    double w = fmin(a.x + a.w, b.x + b.w) - fmax(a.x, b.x);
    double h = fmin(a.y + a.h, b.y + b.h) - fmax(a.y, b.y);
    return w > 0 && h > 0 ? w * h : 0;
}

/* Things a label keeps clear of: boxes (markers, labels) and thin lines
 * (the Pareto front, leader lines) as runs of small boxes. */
typedef struct obstacles {
    box *b;
    int n, cap, oom;
} obstacles;

static void obs_add(obstacles *o, box b) {
    if (o->oom) return;
    if (o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 64;
        box *g = realloc(o->b, sizeof(box) * (size_t)cap);
        if (!g) {
            o->oom = 1;
            return;
        }
        o->b = g, o->cap = cap;
    }
    o->b[o->n++] = b;
}

static void obs_add_segment(obstacles *o, double x1, double y1, double x2, double y2) {
    int steps = (int)(hypot(x2 - x1, y2 - y1) / 3) + 1;
    for (int i = 0; i <= steps; i++) {
        double t = (double)i / steps;
        obs_add(o, (box){x1 + t * (x2 - x1) - 1, y1 + t * (y2 - y1) - 1, 2, 2});
    }
}

/* Overlap with every obstacle but `skip`. */
static double obs_cost(const obstacles *o, box b, int skip) {
    double c = 0;
    for (int i = 0; i < o->n; i++)
        if (i != skip) c += overlap(b, o->b[i]);
    return c;
}

/* Candidate (ring, dir) for a w x h label beside (px, py): right, left,
 * above, below, then the diagonals, each ring 12 px further out. */
static box candidate(double px, double py, double w, double h, int ring, int dir) {
    double d = MARKER_R + 3 + ring * 12.0;
    double diag = d * 0.75;
    box b = {0, 0, w, h};
    switch (dir) {
    case 0: b.x = px + d, b.y = py - h / 2; break;
    case 1: b.x = px - d - w, b.y = py - h / 2; break;
    case 2: b.x = px - w / 2, b.y = py - d - h; break;
    case 3: b.x = px - w / 2, b.y = py + d; break;
    case 4: b.x = px + diag, b.y = py - diag - h; break;
    case 5: b.x = px + diag, b.y = py + diag; break;
    case 6: b.x = px - diag - w, b.y = py - diag - h; break;
    default: b.x = px - diag - w, b.y = py + diag; break;
    }
    return b;
}

enum { N_RINGS = 9, N_DIRS = 8 };

/* The nearest point of a box to (x, y). */
static void nearest_on_box(box b, double x, double y, double *nx, double *ny) {
    *nx = fmin(fmax(x, b.x), b.x + b.w);
    *ny = fmin(fmax(y, b.y), b.y + b.h);
}

/* What label `own` at b costs: overlap with markers, labels and lines,
 * leaving the frame, the distance from its point, and next to its point
 * another marker as near as its own, or moved out its leader line crossing
 * markers and labels. The cheapest candidate wins. */
static double label_cost(const point *all, int n_points, int own, box b, int ring, const obstacles *solid,
                         const obstacles *lines, box frame) {
    const point *p = &all[own];
    double out = fmax(0, frame.x - b.x) + fmax(0, b.x + b.w - frame.x - frame.w) + fmax(0, frame.y - b.y) +
                 fmax(0, b.y + b.h - frame.y - frame.h);
    /* covering text or a marker is ruled out while any place is free; a
     * line through a label costs about as much as moving it 3 rings out */
    double c = 1000 * obs_cost(solid, b, own) + obs_cost(lines, b, -1) + 1000 * out + 6 * ring;
    if (ring == 0) {
        /* Without a leader line a label must be nearer its own marker than
         * any other, or it reads as another point's. */
        double nx, ny;
        nearest_on_box(b, p->px, p->py, &nx, &ny);
        double d_own = hypot(nx - p->px, ny - p->py);
        for (int j = 0; j < n_points; j++) {
            if (j == own) continue;
            double cx = all[j].px, cy = all[j].py;
            nearest_on_box(b, cx, cy, &nx, &ny);
            double d = hypot(nx - cx, ny - cy);
            if (d < d_own + 6) c += 10 * (d_own + 6 - d);
        }
    } else {
        double lx, ly;
        nearest_on_box(b, p->px, p->py, &lx, &ly);
        double len = hypot(lx - p->px, ly - p->py);
        int steps = (int)(len / 3);
        for (int i = 1; i < steps; i++) {
            double t = (double)i / steps;
            double x = p->px + t * (lx - p->px), y = p->py + t * (ly - p->py);
            if (hypot(x - p->px, y - p->py) <= MARKER_R + 1) continue;
            c += 50 * obs_cost(solid, (box){x - 1, y - 1, 2, 2}, own);
        }
    }
    return c;
}

/* Places every label (pts[i].bx, by, bw, bh, leader); `front` lists the
 * Pareto front's points by x. 0 when out of memory. */
static int place_labels(point *pts, int n, const int *front, int n_front, box frame) {
    obstacles solid = {0}, lines = {0};
    int *order = malloc(sizeof(int) * (size_t)(n + 1));
    int *crowd = calloc((size_t)(n + 1), sizeof(int));
    double m = MARKER_R + 1;
    for (int i = 0; i < n; i++) obs_add(&solid, (box){pts[i].px - m, pts[i].py - m, 2 * m, 2 * m});
    for (int f = 1; f < n_front; f++)
        obs_add_segment(&lines, pts[front[f - 1]].px, pts[front[f - 1]].py, pts[front[f]].px, pts[front[f]].py);
    for (int i = 0; i < n; i++) {
        pts[i].bw = glyphs(pts[i].text) * LABEL_FS * CHAR_W, pts[i].bh = LABEL_FS;
        pts[i].bx = pts[i].px + MARKER_R + 3, pts[i].by = pts[i].py - LABEL_FS / 2;
    }
    if (!order || !crowd || solid.oom || lines.oom) goto done;
    /* most crowded first: they have the fewest free places */
    for (int i = 0; i < n; i++) {
        order[i] = i;
        for (int j = 0; j < n; j++)
            if (j != i && fabs(pts[i].px - pts[j].px) < 90 && fabs(pts[i].py - pts[j].py) < 30) crowd[i]++;
    }
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i - 1;
        while (j >= 0 && crowd[order[j]] < crowd[v]) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = v;
    }
    for (int oi = 0; oi < n; oi++) {
        int own = order[oi];
        point *p = &pts[own];
        box best = {p->bx, p->by, p->bw, p->bh};
        double best_cost = INFINITY;
        int best_ring = 0;
        for (int r = 0; r < N_RINGS; r++)
            for (int d = 0; d < N_DIRS; d++) {
                box b = candidate(p->px, p->py, p->bw, p->bh, r, d);
                double c = label_cost(pts, n, own, b, r, &solid, &lines, frame);
                if (c < best_cost) best_cost = c, best = b, best_ring = r;
            }
        p->bx = best.x, p->by = best.y;
        p->leader = best_ring > 0;
        /* labels keep a small gap between them */
        obs_add(&solid, (box){best.x - 2, best.y - 1, best.w + 4, best.h + 2});
        if (p->leader) {
            double lx, ly;
            nearest_on_box(best, p->px, p->py, &lx, &ly);
            obs_add_segment(&lines, p->px, p->py, lx, ly);
        }
    }
done:;
    int ok = order && crowd && !solid.oom && !lines.oom;
    free(solid.b), free(lines.b), free(order), free(crowd);
    return ok;
}

static void diamond(exp_sbuf *b, double x, double y, double r, const char *cls, const char *stroke) {
    exp_sb_printf(b, "<path class=\"%s\" d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z\" fill=\"white\" stroke=\"%s\" stroke-width=\"1.6\"",
              cls, x, y - r, x + r, y, x, y + r, x - r, y, stroke);
}

semid_status exp_plot_write_svg(const exp_results *r, const char *path) {
    point *pts = calloc((size_t)(r->n_rows + 1), sizeof *pts);
    if (!pts) return semid_fail(SEMID_ENOMEM, "out of memory");
    int n = 0;
    for (int i = 0; i < r->n_rows; i++) {
        const exp_row *row = &r->rows[i];
        if (row->failed[0] || row->rec_recall.n == 0) continue;
        if (row->table == EXP_TABLE_WARM || row->table == EXP_TABLE_COLD) continue; /* another test split */
        int rec_only = row->search_recall.n == 0;
        if ((row->generative && rec_only) || row->decoder != EXP_DECODER_TRIE) continue;
        double x = rec_only ? 0.0 : row->search_recall.mean, y = row->rec_recall.mean;
        int reference = !row->generative || row->table == EXP_TABLE_REFERENCE; /* atomic IDs too */
        int j;
        for (j = 0; j < n; j++)
            if (pts[j].reference == reference && pts[j].rec_only == rec_only && same_value(pts[j].x, x) &&
                same_value(pts[j].y, y))
                break;
        if (j == n) {
            pts[n] = (point){.x = x, .y = y, .reference = reference, .rec_only = rec_only};
            n++;
        }
        add_label(&pts[j], row->label);
    }

    /* Axis ranges from the generative rows; a reference widens them up to
     * OFF_SCALE times, beyond that it is drawn on the frame. */
    double gx = 0, gy = 0;
    int n_gen = 0;
    for (int i = 0; i < n; i++)
        if (!pts[i].reference) {
            n_gen++;
            gx = fmax(gx, pts[i].x), gy = fmax(gy, pts[i].y);
        }
    double hx = gx, hy = gy;
    for (int i = 0; i < n; i++) {
        if (!pts[i].reference) continue;
        if (n_gen == 0 || pts[i].x <= OFF_SCALE * gx) hx = fmax(hx, pts[i].x);
        else pts[i].off_x = 1;
        if (n_gen == 0 || pts[i].y <= OFF_SCALE * gy) hy = fmax(hy, pts[i].y);
        else pts[i].off_y = 1;
    }
    axis ax = nice_axis(fmax(hx, 1e-3) * 1.06), ay = nice_axis(fmax(hy, 1e-3) * 1.06);
    int pw = W - ML - MR, ph = H - MT - MB;
    for (int i = 0; i < n; i++) {
        point *p = &pts[i];
        p->px = ML + pw * fmin(p->x / ax.max, 1.0);
        p->py = MT + ph - ph * fmin(p->y / ay.max, 1.0);
        p->front = !p->reference && !dominated(pts, n, i);
        char where[96] = "";
        if (p->off_x && p->off_y) snprintf(where, sizeof where, " (%.3f, %.3f) \xe2\x86\x97", p->x, p->y);
        else if (p->off_x) snprintf(where, sizeof where, ", search %.3f \xe2\x86\x92", p->x);
        else if (p->off_y) snprintf(where, sizeof where, ", rec %.3f \xe2\x86\x91", p->y);
        snprintf(p->text, sizeof p->text, "%s%s%s", p->label, p->rec_only ? " (rec only)" : "", where);
    }
    /* the Pareto front, by x (points at the same x: lower first) */
    int *front = malloc(sizeof(int) * (size_t)(n + 1));
    int n_front = 0;
    for (int i = 0; front && i < n; i++) {
        if (!pts[i].front) continue;
        int j = n_front++;
        while (j > 0 && (pts[front[j - 1]].x > pts[i].x || (pts[front[j - 1]].x == pts[i].x && pts[front[j - 1]].y > pts[i].y))) {
            front[j] = front[j - 1];
            j--;
        }
        front[j] = i;
    }
    box frame = {ML + 2, MT + 2, pw - 4, ph - 4};
    if (!front || !place_labels(pts, n, front, n_front, frame)) {
        free(pts);
        free(front);
        return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    }

    exp_sbuf b = {0};
    exp_sb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    exp_sb_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    exp_sb_printf(&b, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">Search vs recommendation Recall@%d per "
                  "Semantic-ID strategy</text>\n", W / 2, r->k);
    /* grid and ticks */
    for (int t = 0; t <= ax.n; t++) {
        double px = ML + pw * (double)t / ax.n;
        exp_sb_printf(&b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>\n", px, MT, px, MT + ph);
        exp_sb_printf(&b, "<text class=\"tick-x\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n", px, MT + ph + 18,
                  ax.decimals, t * ax.step);
    }
    for (int t = 0; t <= ay.n; t++) {
        double py = MT + ph - ph * (double)t / ay.n;
        exp_sb_printf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", ML, py, ML + pw, py);
        exp_sb_printf(&b, "<text class=\"tick-y\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", ML - 6, py + 4,
                  ay.decimals, t * ay.step);
    }
    exp_sb_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", ML, MT, pw, ph);
    exp_sb_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">search Recall@%d</text>\n", ML + pw / 2, MT + ph + 40, r->k);
    exp_sb_printf(&b, "<text x=\"18\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">recommendation "
                  "Recall@%d</text>\n", MT + ph / 2, MT + ph / 2, r->k);

    if (n_front > 1) {
        exp_sb_printf(&b, "<polyline class=\"front\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" "
                      "stroke-dasharray=\"5,3\" points=\"");
        for (int f = 0; f < n_front; f++) exp_sb_printf(&b, "%.1f,%.1f ", pts[front[f]].px, pts[front[f]].py);
        exp_sb_printf(&b, "\"/>\n");
    }
    /* leader lines under the markers */
    for (int i = 0; i < n; i++) {
        if (!pts[i].leader) continue;
        double lx, ly;
        nearest_on_box((box){pts[i].bx, pts[i].by, pts[i].bw, pts[i].bh}, pts[i].px, pts[i].py, &lx, &ly);
        exp_sb_printf(&b, "<line class=\"leader\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#777\" "
                      "stroke-width=\"1\"/>\n", pts[i].px, pts[i].py, lx, ly);
    }
    for (int i = 0; i < n; i++) {
        const point *p = &pts[i];
        if (p->off_x || p->off_y) { /* an arrow outside the frame: the value is further out */
            double ux = p->off_x ? 1 : 0, uy = p->off_y ? -1 : 0;
            double tx = p->px + 17 * ux, ty = p->py + 17 * uy; /* the tip */
            double bx = p->px + 9 * ux, by = p->py + 9 * uy;   /* the base's middle */
            exp_sb_printf(&b, "<path class=\"off-scale\" d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z\" fill=\"#555\"/>\n",
                      bx + 5 * uy, by - 5 * ux, tx, ty, bx - 5 * uy, by + 5 * ux);
        }
        if (p->reference) {
            diamond(&b, p->px, p->py, MARKER_R + 1.5, "ref", "#555");
            exp_sb_printf(&b, "><title>");
        } else {
            exp_sb_printf(&b, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.0f\" fill=\"%s\"><title>",
                      p->front ? "gen front" : "gen", p->px, p->py, MARKER_R, p->front ? "#d62728" : "#1f77b4");
        }
        sb_escaped(&b, p->label);
        if (p->rec_only) exp_sb_printf(&b, ": rec %.4f</title>", p->y);
        else exp_sb_printf(&b, ": search %.4f, rec %.4f</title>", p->x, p->y);
        exp_sb_printf(&b, p->reference ? "</path>\n" : "</circle>\n");
    }
    for (int i = 0; i < n; i++) {
        const point *p = &pts[i];
        exp_sb_printf(&b, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\"%s>", p->bx, p->by + 0.8 * p->bh,
                  LABEL_FS, p->reference ? " fill=\"#444\"" : "");
        sb_escaped(&b, p->text);
        exp_sb_printf(&b, "</text>\n");
    }
    /* legend, under the axis title */
    double ly = H - 20;
    exp_sb_printf(&b, "<g class=\"legend\">\n");
    exp_sb_printf(&b, "<circle cx=\"%d\" cy=\"%.1f\" r=\"5\" fill=\"#1f77b4\"/><text x=\"%d\" y=\"%.1f\">generative row</text>\n",
              ML + 6, ly, ML + 16, ly + 4);
    exp_sb_printf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#d62728\" stroke-width=\"1.5\" "
                  "stroke-dasharray=\"5,3\"/><circle cx=\"%d\" cy=\"%.1f\" r=\"5\" fill=\"#d62728\"/>"
                  "<text x=\"%d\" y=\"%.1f\">Pareto front (no row better on both)</text>\n",
              ML + 140, ly, ML + 172, ly, ML + 156, ly, ML + 180, ly + 4);
    diamond(&b, ML + 420, ly, MARKER_R + 1.5, "legend-ref", "#555");
    exp_sb_printf(&b, "/><text x=\"%d\" y=\"%.1f\">reference</text>\n", ML + 432, ly + 4);
    exp_sb_printf(&b, "</g>\n</svg>\n");
    free(pts);
    free(front);
    if (b.oom) {
        free(b.s);
        return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    }
    semid_status st = semid_write_file_atomic(path, b.s, b.len);
    free(b.s);
    return st;
}
