#!/usr/bin/env python3
"""The scaling benchmark's table and log-log plot (bench/run_scale.sh).

Reads the TSV that run_scale.sh appends to (a stage measured twice at a
size: the last row counts), fits each stage's CPU seconds against the
number of items as c * items^slope (least squares in log-log), and prints
a markdown table: CPU seconds, wall seconds and peak memory at every size,
the slope over all sizes and between the two largest, and CPU seconds extrapolated to the sizes asked for where a
stage was not measured there. Writes the plot as SVG (standard library
only: no matplotlib).

  /usr/bin/python3 bench/scale_report.py /tmp/semid-scale/scale.tsv \
      --svg bench/scale.svg --extrapolate 62138,250000
"""
import argparse
import csv
import math
import sys

# Stage order and what its cost should grow with (the README's column).
EXPECTED = {
    "synth": "interactions + items",
    "queries": "items (20 queries each)",
    "export": "interactions + items",
    "import": "interactions + items",
    "embed_content": "items",
    "embed_search": "training pairs (items)",
    "embed_rec": "epochs x (interactions D + steps (U+I) D^2)",
    "embed_multi": "training pairs (items)",
    "embed_fused_concat": "items",
    "embed_fused_svd": "items x D^2",
    "sid_rqkmeans": "items x K x iterations",
    "sid_rqvae": "items x epochs",
    "sid_rlfq": "items x epochs",
    "sid_dict": "items",
    "train_epoch": "sequences (items + users)",
    "load_trie": "items",
    "decode": "queries (not items)",
}


def load(path):
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows[(int(r["items"]), r["stage"])] = r  # the last measurement wins
    return rows


def fit(points):
    """Least-squares slope and intercept of log(cpu) on log(items)."""
    pts = [(math.log(x), math.log(y)) for x, y in points if y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    b = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    return b, my - b * mx


def per_unit(stage, row):
    """Decoding is timed on a sample that grows with the catalog: its cost
    per query is what must not grow, so it is fitted per 1,000 queries."""
    cpu = float(row["cpu_s"])
    if stage == "decode":
        n = int(row["note"].split()[0])
        return cpu * 1000.0 / n
    return cpu


def table(rows, extrapolate):
    sizes = sorted({n for n, _ in rows})
    stages = [s for s in EXPECTED if any((n, s) in rows for n in sizes)]
    stages += sorted({s for _, s in rows} - set(stages))
    head = ["stage"] + ["%s items: CPU s / wall s / MB" % f"{n:,}" for n in sizes]
    head += ["slope", "slope, last two sizes", "expected growth"] + ["CPU s at %s (fit)" % f"{n:,}" for n in extrapolate]
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    fits = {}
    for s in stages:
        cells = [f"`{s}`" + (" (per 1,000 queries)" if s == "decode" else "")]
        pts = []
        for n in sizes:
            r = rows.get((n, s))
            if not r:
                cells.append("")
                continue
            pts.append((n, per_unit(s, r)))
            cells.append("%.2f / %.1f / %d" % (per_unit(s, r), float(r["wall_s"]), int(r["peak_kb"]) // 1024))
        f = fit(pts)
        fits[s] = (pts, f)
        cells.append("%.2f" % f[0] if f else "")
        last = fit(pts[-2:]) if len(pts) > 2 else None
        cells.append("%.2f" % last[0] if last else "")
        cells.append(EXPECTED.get(s, ""))
        for n in extrapolate:
            if (n, s) in rows:
                cells.append("measured")
            elif f:
                cells.append("%.1f" % math.exp(f[1] + f[0] * math.log(n)))
            else:
                cells.append("")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out), fits


def svg(fits, path):
    W, H, ML, MR, MT, MB = 860, 560, 70, 220, 40, 60
    pts = [p for pl, _ in fits.values() for p in pl]
    if not pts:
        return
    x0, x1 = math.log10(min(p[0] for p in pts)) - 0.05, math.log10(max(p[0] for p in pts)) + 0.05
    y0 = math.floor(math.log10(max(min(p[1] for p in pts), 1e-3)))
    y1 = math.ceil(math.log10(max(p[1] for p in pts)))
    px = lambda v: ML + (math.log10(v) - x0) / (x1 - x0) * (W - ML - MR)
    py = lambda v: H - MB - (math.log10(max(v, 10 ** y0)) - y0) / (y1 - y0) * (H - MT - MB)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
              "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#31a354"]
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{ML}" y="24" font-size="14">CPU seconds per stage against catalog size (log-log; '
         f'dashed: slope 1)</text>']
    for e in range(int(y0), int(y1) + 1):
        y = py(10 ** e)
        o.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{W - MR}" y2="{y:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{ML - 6}" y="{y + 4:.1f}" text-anchor="end">1e{e}</text>')
    for n in sorted({p[0] for p in pts}):
        x = px(n)
        o.append(f'<line x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" y2="{H - MB}" stroke="#ddd"/>')
        o.append(f'<text x="{x:.1f}" y="{H - MB + 16}" text-anchor="middle">{n:,}</text>')
    o.append(f'<text x="{(ML + W - MR) / 2:.0f}" y="{H - 20}" text-anchor="middle">items (interactions and '
             f'queries 20 per item)</text>')
    o.append(f'<text x="16" y="{(MT + H - MB) / 2:.0f}" transform="rotate(-90 16 {(MT + H - MB) / 2:.0f})" '
             f'text-anchor="middle">CPU seconds (decode: per 1,000 queries)</text>')
    o.append(f'<rect x="{ML}" y="{MT}" width="{W - ML - MR}" height="{H - MT - MB}" fill="none" stroke="black"/>')
    for i, (s, (pl, f)) in enumerate(fits.items()):
        c = colors[i % len(colors)]
        if len(pl) >= 2:
            # A slope-1 reference through the stage's first point.
            a, b = pl[0], pl[-1]
            o.append(f'<line x1="{px(a[0]):.1f}" y1="{py(a[1]):.1f}" x2="{px(b[0]):.1f}" '
                     f'y2="{py(a[1] * b[0] / a[0]):.1f}" stroke="{c}" stroke-dasharray="3,3" opacity="0.5"/>')
            o.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>'
                     % (c, " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in pl)))
        for x, y in pl:
            o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
        ly = MT + 10 + i * 17
        slope = " (%.2f)" % f[0] if f else ""
        o.append(f'<line x1="{W - MR + 12}" y1="{ly - 4}" x2="{W - MR + 32}" y2="{ly - 4}" stroke="{c}" '
                 f'stroke-width="2"/><text x="{W - MR + 38}" y="{ly}">{s}{slope}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tsv", nargs="+", help="run_scale.sh TSVs (later files and rows win)")
    ap.add_argument("--svg", help="write the log-log plot here")
    ap.add_argument("--extrapolate", default="", help="item counts to extrapolate CPU seconds to")
    a = ap.parse_args()
    rows = {}
    for p in a.tsv:
        rows.update(load(p))
    ext = [int(x) for x in a.extrapolate.split(",") if x]
    t, fits = table(rows, ext)
    print(t)
    if a.svg:
        svg(fits, a.svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
