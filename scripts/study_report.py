#!/usr/bin/env python3
"""Tables and figures of the paper-scale study, regenerated from the merged sweep results.

Usage: python3 scripts/study_report.py [--csv-dir docs/results] [--figures docs/figures]
                                       [--markdown OUT.md] [--results-md docs/results.md]

Reads every `<study>.csv` of --csv-dir written by `sparsexbar sweep merge --csv` for the
study files of data/studies/ (one row per point: grid keys, software, ideal and one accuracy
per read-out variant, CCR, seeds). For each study it writes
  <figures>/<study>-<circuit>.svg   accuracy loss (software - non-ideal, points) against CCR:
                                    one panel per tile size and read-out (uncalibrated, column
                                    calibration), one line per pruning method from the dense
                                    model at CCR 1, the seed-to-seed range as a band;
and Markdown tables (accuracy per read-out, the mitigations, device variation) with the mean
over training seeds and, where there are several, the seed-to-seed spread (max - min). The
Markdown goes to --markdown (default: standard output); with --results-md it replaces the
text between the markers `<!-- study-tables:begin -->` and `<!-- study-tables:end -->`.
"""
import argparse
import csv
import json
import math
import pathlib
import sys

METHODS = [("dense", "dense", "#444444"), ("cf", "C/F", "#1f5fbf"), ("xcs", "XCS", "#d95f02"),
           ("xrs", "XRS", "#1b9e77")]
READOUTS = [("nonideal_none", "uncalibrated"), ("nonideal_column", "column calibration")]
VARIANTS = [("nonideal_none", "none"), ("nonideal_column", "column"), ("nonideal_none_bn", "none+BN"),
            ("nonideal_column_bn", "column+BN")]


def number(text):
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def cell_json(text):
    if text in (None, ""):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # a plain string value ("spread")


class Point:
    """One CSV row with the study's own names for its grid values."""

    def __init__(self, row):
        self.row = row
        prune = cell_json(row.get("prune"))
        self.method = prune["method"] if isinstance(prune, dict) else "dense"
        self.sparsity = prune.get("sparsity", 0.0) if isinstance(prune, dict) else 0.0
        self.tile = int(number(row.get("tile")) or 64)
        self.circuit = row.get("crossbar.preset") or "default"
        self.seed = int(number(row.get("train_seed")) or 1)
        rearrange = cell_json(row.get("rearrange"))
        policy = rearrange.get("policy") if isinstance(rearrange, dict) else rearrange
        if isinstance(prune, dict) and prune.get("wct_kappa"):
            self.mitigation = f"WCT {prune['wct_kappa']:g}"
        elif policy and policy != "none":
            self.mitigation = str(policy)
        elif cell_json(row.get("nonideal_finetune")):
            self.mitigation = "NIA fine-tuning"
        else:
            self.mitigation = "none"
        self.variation = number(row.get("crossbar.variation_sigma")) or 0.0
        self.device_seed = int(number(row.get("variation_seed")) or 1)

    def get(self, column):
        return number(self.row.get(column))

    def loss(self, variant):
        s, v = self.get("software"), self.get(variant)
        return None if s is None or v is None else 100.0 * (s - v)

    def model(self):
        return (self.method, self.sparsity)


def read_study(path):
    with open(path, newline="") as f:
        return [Point(r) for r in csv.DictReader(f)]


def mean_and_spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    return sum(values) / len(values), max(values) - min(values), len(values)


def pct(values, scale=100.0):
    m, spread, n = mean_and_spread([None if v is None else scale * v for v in values])
    if m is None:
        return "–"
    return f"{m:.2f}" if n < 2 else f"{m:.2f} ± {spread / 2:.2f}"


def model_name(method, sparsity):
    return "dense" if method == "dense" else f"{dict((m, l) for m, l, _ in METHODS)[method]} {sparsity:g}"


def sort_key(p):
    order = [m for m, _, _ in METHODS]
    return (order.index(p.method), p.sparsity)


def group(points, key):
    groups = {}
    for p in points:
        groups.setdefault(key(p), []).append(p)
    return groups


# ---------------------------------------------------------------- tables


def readout_table(points):
    base = [p for p in points if p.mitigation == "none" and p.variation == 0.0]
    lines = ["| circuit | tile | model | seeds | CCR | software % | ideal % | " +
             " | ".join(f"{label} %" for _, label in VARIANTS) + " | loss none (pts) | loss column (pts) |",
             "|---|---|---|---|---|---|---|" + "---|" * len(VARIANTS) + "---|---|"]
    rows = group(base, lambda p: (p.circuit, p.tile, p.method, p.sparsity))
    for (circuit, tile, method, sparsity), ps in sorted(rows.items(), key=lambda kv: (
            kv[0][0] != "default", kv[0][0], kv[0][1], sort_key(kv[1][0]))):
        ccr = mean_and_spread([p.get("ccr") for p in ps])[0]
        cells = [circuit, str(tile), model_name(method, sparsity), str(len({p.seed for p in ps})),
                 "–" if ccr is None else f"{ccr:.2f}", pct([p.get("software") for p in ps]),
                 pct([p.get("ideal") for p in ps])]
        cells += [pct([p.get(v) for p in ps]) for v, _ in VARIANTS]
        cells += [pct([p.loss(v) for p in ps], 1.0) for v in ("nonideal_none", "nonideal_column")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mitigation_table(points):
    base = [p for p in points if p.variation == 0.0]
    mitigations = sorted({p.mitigation for p in base} - {"none"})
    if not mitigations:
        return ""
    high = {p.model() for p in base if p.mitigation != "none"}
    lines = ["| circuit | tile | model | read-out | none % | " + " | ".join(f"{m} %" for m in mitigations) + " |",
             "|---|---|---|---|---|" + "---|" * len(mitigations)]
    rows = group([p for p in base if p.model() in high], lambda p: (p.circuit, p.tile, p.method, p.sparsity))
    for (circuit, tile, method, sparsity), ps in sorted(rows.items(), key=lambda kv: (
            kv[0][0] != "default", kv[0][0], kv[0][1], sort_key(kv[1][0]))):
        by = group(ps, lambda p: p.mitigation)
        for variant, label in READOUTS:
            cells = [circuit, str(tile), model_name(method, sparsity), label,
                     pct([p.get(variant) for p in by.get("none", [])])]
            cells += [pct([p.get(variant) for p in by.get(m, [])]) for m in mitigations]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def variation_table(points):
    var = [p for p in points if p.variation > 0.0]
    if not var:
        return ""
    lines = ["| circuit | tile | model | σ | runs | software % | none % | column % | column+BN % |",
             "|---|---|---|---|---|---|---|---|---|"]
    rows = group(var, lambda p: (p.circuit, p.tile, p.method, p.sparsity, p.variation))
    for (circuit, tile, method, sparsity, sigma), ps in sorted(rows.items(), key=lambda kv: (
            kv[0][0] != "default", kv[0][0], kv[0][1], sort_key(kv[1][0]))):
        cells = [circuit, str(tile), model_name(method, sparsity), f"{sigma:g}", str(len(ps)),
                 pct([p.get("software") for p in ps])]
        cells += [pct([p.get(v) for p in ps]) for v in ("nonideal_none", "nonideal_column", "nonideal_column_bn")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def circuit_search_table(path):
    """The circuit search: one row per scaling of r_source, r_sink and r_wire of the default preset."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    lines = ["| r_source Ω | r_sink Ω | r_wire Ω | factor | software % | uncalibrated % | loss (pts) | column % |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -(cell_json(r.get("crossbar")) or {}).get("r_source", 0.0)):
        xbar = cell_json(r.get("crossbar")) or {}
        sw, none, col = (number(r.get(c)) for c in ("software", "nonideal_none", "nonideal_column"))
        cells = [f"{xbar.get('r_source', 0):g}", f"{xbar.get('r_sink', 0):g}", f"{xbar.get('r_wire', 0):g}",
                 f"{xbar.get('r_source', 0) / 500.0:g}", pct([sw]), pct([none]),
                 "–" if sw is None or none is None else f"{100 * (sw - none):.2f}", pct([col])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- figure


def svg_text(x, y, text, size=11, anchor="middle", extra=""):
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {extra}>{text}</text>'


def nice_ticks(lo, hi, count=5):
    if hi <= lo:
        hi = lo + 1.0
    step = 10 ** math.floor(math.log10((hi - lo) / count))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= count:
            step *= m
            break
    first = math.floor(lo / step) * step
    ticks, t = [], first
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks


def panel(points, variant, x0, y0, w, h, title, y_range):
    out = [f'<g><rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>',
           svg_text(x0 + w / 2, y0 - 8, title, 12, extra='font-weight="bold"')]
    base = [p for p in points if p.mitigation == "none" and p.variation == 0.0]
    xs = [p.get("ccr") for p in base if p.get("ccr")]
    xmax = max(xs + [2.0])
    lx = lambda c: x0 + w * math.log(c) / math.log(xmax * 1.1)
    lo, hi = y_range
    ly = lambda v: y0 + h - h * (v - lo) / (hi - lo)
    for t in nice_ticks(lo, hi):
        if lo <= t <= hi:
            out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{ly(t):.1f}" y2="{ly(t):.1f}" stroke="#eee"/>')
            out.append(svg_text(x0 - 5, ly(t) + 4, f"{t:g}", 10, "end"))
    for c in [1, 2, 4, 8, 16, 32]:
        if c <= xmax * 1.1:
            out.append(f'<line x1="{lx(c):.1f}" x2="{lx(c):.1f}" y1="{y0}" y2="{y0 + h}" stroke="#eee"/>')
            out.append(svg_text(lx(c), y0 + h + 14, f"{c}", 10))
    if lo < 0 < hi:
        out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{ly(0):.1f}" y2="{ly(0):.1f}" stroke="#888"/>')
    dense = group([p for p in base if p.method == "dense"], lambda p: 0).get(0, [])
    for method, label, colour in METHODS[1:]:
        models = group([p for p in base if p.method == method], lambda p: p.sparsity)
        series = [(1.0, [p.loss(variant) for p in dense])] if dense else []
        for s in sorted(models):
            ccr = mean_and_spread([p.get("ccr") for p in models[s]])[0]
            if ccr:
                series.append((ccr, [p.loss(variant) for p in models[s]]))
        pts = [(c, mean_and_spread(v)) for c, v in series if mean_and_spread(v)[0] is not None]
        if not pts:
            continue
        band_hi = [(lx(c), ly(max(v for v in vals if v is not None))) for c, vals in series
                   if any(v is not None for v in vals)]
        band_lo = [(lx(c), ly(min(v for v in vals if v is not None))) for c, vals in series
                   if any(v is not None for v in vals)]
        if any(n > 1 for _, (_, _, n) in pts):
            poly = " ".join(f"{x:.1f},{y:.1f}" for x, y in band_hi + band_lo[::-1])
            out.append(f'<polygon points="{poly}" fill="{colour}" fill-opacity="0.18" stroke="none"/>')
        line = " ".join(f"{lx(c):.1f},{ly(m):.1f}" for c, (m, _, _) in pts)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for c, (m, _, _) in pts:
            out.append(f'<circle cx="{lx(c):.1f}" cy="{ly(m):.1f}" r="3" fill="{colour}"/>')
    out.append("</g>")
    return out


def figure(study, points, circuit):
    ps = [p for p in points if p.circuit == circuit]
    tiles = sorted({p.tile for p in ps})
    losses = [p.loss(v) for p in ps if p.mitigation == "none" and p.variation == 0.0 for v, _ in READOUTS]
    losses = [v for v in losses if v is not None]
    if not losses:
        return None
    lo, hi = min(losses + [0.0]), max(losses + [1.0])
    pad = 0.05 * (hi - lo)
    y_range = (lo - pad, hi + pad)
    pw, ph, mx, my = 300, 220, 70, 60
    width, height = mx + len(READOUTS) * (pw + mx), my + len(tiles) * (ph + my) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" viewBox="0 0 {width} {height}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           svg_text(width / 2, 20, f"{study}, circuit '{circuit}': accuracy loss on the crossbar against CCR", 13,
                    extra='font-weight="bold"')]
    for i, tile in enumerate(tiles):
        for j, (variant, label) in enumerate(READOUTS):
            x0, y0 = mx + j * (pw + mx), my + i * (ph + my)
            out += panel([p for p in ps if p.tile == tile], variant, x0, y0, pw, ph, f"{tile}×{tile}, {label}",
                         y_range)
            out.append(svg_text(x0 - 45, y0 + ph / 2, "loss (points)", 10,
                                extra=f'transform="rotate(-90 {x0 - 45} {y0 + ph / 2})"'))
            out.append(svg_text(x0 + pw / 2, y0 + ph + 30, "CCR (crossbars of the dense model / crossbars)", 10))
    x = mx
    for _, label, colour in METHODS[1:]:
        out.append(f'<line x1="{x}" x2="{x + 20}" y1="{height - 15}" y2="{height - 15}" stroke="{colour}" '
                   'stroke-width="2"/>')
        out.append(svg_text(x + 25, height - 11, label, 11, "start"))
        x += 90
    out.append(svg_text(x, height - 11, "(each line starts at the dense model, CCR 1; band: seed-to-seed range)", 10,
                        "start"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv-dir", default="docs/results")
    ap.add_argument("--figures", default="docs/figures")
    ap.add_argument("--markdown")
    ap.add_argument("--results-md")
    ap.add_argument("--prefix", default="paper-", help="study CSV names start with this")
    args = ap.parse_args()
    csvs = sorted(pathlib.Path(args.csv_dir).glob(f"{args.prefix}*.csv"))
    figures = pathlib.Path(args.figures)
    figures.mkdir(parents=True, exist_ok=True)
    md = []
    for path in csvs:
        study = path.stem
        points = read_study(path)
        images = sorted({int(p.get("test_images")) for p in points if p.get("test_images")})
        md.append(f"### {study}\n\n{len(points)} points from `{path.as_posix()}`, "
                  f"test images per point: {', '.join(map(str, images)) or '–'}; "
                  "accuracies are means over training seeds, ± half the seed-to-seed range.\n")
        for circuit in sorted({p.circuit for p in points}, key=lambda c: (c != "default", c)):
            svg = figure(study, points, circuit)
            if svg:
                out = figures / f"{study}-{circuit}.svg"
                out.write_text(svg)
                md.append(f"![{study}, {circuit} circuit]({pathlib.Path('figures') / out.name})\n")
        md.append("#### Accuracy per read-out\n\n" + readout_table(points) + "\n")
        if mitigation_table(points):
            md.append("#### Mitigations (non-ideal accuracy)\n\n" + mitigation_table(points) + "\n")
        if variation_table(points):
            md.append("#### Device variation\n\n" + variation_table(points) + "\n")
    for path in sorted(pathlib.Path(args.csv_dir).glob("circuit-search-*.csv")):
        md.append(f"### {path.stem}\n\nFrom `{path.as_posix()}` (64 × 64 tiles, the dense model of seed 1; factor: "
                  "the common scale of r_source, r_sink and r_wire against the default preset).\n\n" +
                  circuit_search_table(path) + "\n")
    text = "\n".join(md) if md else "(no point finished yet)\n"
    if args.markdown:
        pathlib.Path(args.markdown).write_text(text)
    if args.results_md:
        p = pathlib.Path(args.results_md)
        doc = p.read_text()
        begin, end = "<!-- study-tables:begin -->", "<!-- study-tables:end -->"
        if begin not in doc or end not in doc:
            sys.exit(f"study_report: {p} lacks the markers {begin} ... {end}")
        doc = doc[:doc.index(begin) + len(begin)] + "\n" + text + "\n" + doc[doc.index(end):]
        p.write_text(doc)
    if not args.markdown and not args.results_md:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
