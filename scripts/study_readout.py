#!/usr/bin/env python3
"""Read-out tables and the accuracy-against-CCR figure of a study run by scripts/study.sh.

Usage: python3 scripts/study_readout.py EVAL_DIR [FIGURE.svg]

Reads EVAL_DIR/<model>-t<tile>-<policy>.json (reports of `sparsexbar evaluate
--calibration ... --bn-recalibrate N`, schema in docs/cli.md) and prints, as
Markdown: every model's non-ideal accuracy per read-out variant (uncalibrated,
column, layer, each with batch-norm re-estimation), NF by source, and the
`spread` rearrangement against `none` (crossbars, CCR, accuracy). With
FIGURE.svg it also draws non-ideal accuracy against CCR: one panel per tile
size, one line per pruning method (dense at CCR 1 starts every line),
uncalibrated dashed, column-calibrated solid.
"""
import json
import pathlib
import re
import sys

NAME = re.compile(r"^(?P<model>.+)-t(?P<tile>\d+)-(?P<policy>[a-z-]+)$")
METHODS = [("cf", "C/F", "#1f5fbf", "circle"), ("xcs", "XCS", "#d95f02", "square"), ("xrs", "XRS", "#1b9e77", "triangle")]


def pct(x):
    return "–" if x is None else f"{100.0 * x:.2f}"


def load(eval_dir):
    runs = {}
    for f in sorted(eval_dir.glob("*.json")):
        m = NAME.match(f.stem)
        if m:
            runs[(m["model"], int(m["tile"]), m["policy"])] = json.loads(f.read_text())
    return runs


def variant(report, calibration, bn):
    for v in report.get("variants", []):
        if v["calibration"] == calibration and (v["bn_images"] > 0) == bn:
            return v["accuracy"]
    return report["accuracy"]["nonideal"] if calibration == report["crossbar"].get("calibration", "none") and not bn else None


def label(model):
    return "dense" if model == "dense" else model.rsplit("-t", 1)[0]


def order(model):
    if model == "dense":
        return ("", 0.0)
    method, sparsity = model.split("-")[:2]
    return (method, float(sparsity))


def readout_table(runs, tiles):
    cols = [("none", False), ("column", False), ("layer", False), ("none", True), ("column", True), ("layer", True)]
    print("| tile | model | CCR | software % | ideal % | none % | column % | layer % | none+BN % | column+BN % | "
          "layer+BN % | NF mean % | NF r_source / r_sink / wires % | column gain |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in tiles:
        for model in sorted({m for (m, tt, p) in runs if tt == t and p == "none"} | {"dense"}, key=order):
            r = runs.get((model, t, "none")) or runs.get((model, t, "spread"))
            if not r:
                continue
            if (model, t, "none") not in runs and r.get("rearrangement"):  # dense: the 'before' side of spread
                cells = [pct(r["rearrangement"]["accuracy"]["before"])] + ["–"] * 5
            else:
                cells = [pct(variant(r, c, bn)) for c, bn in cols]
            layers = r["layers"]
            devices = [l["crossbars"] for l in layers]
            src = "–"
            if layers and layers[0].get("nf_by_source"):
                w = sum(devices)
                mean = lambda key: sum(l["nf_by_source"][key]["mean"] * d for l, d in zip(layers, devices)) / w
                src = f"{100 * mean('r_source'):.1f} / {100 * mean('r_sink'):.1f} / {100 * mean('wires'):.1f}"
            gain = sum(l["column_gain"]["mean"] * d for l, d in zip(layers, devices)) / max(1, sum(devices))
            ccr = r.get("ccr")
            print(f"| {t} | {label(model)} | {'1' if model == 'dense' else ('–' if ccr is None else f'{ccr:.2f}')} | "
                  f"{pct(r['accuracy']['software'])} | {pct(r['accuracy']['ideal'])} | " + " | ".join(cells) +
                  f" | {100 * r['nf']['mean']:.2f} | {src} | {gain:.3f} |")


def spread_table(runs, tiles):
    print("| tile | model | crossbars none → spread | CCR none → spread | uncalibrated % none → spread | "
          "column % none → spread | column+BN % none → spread |")
    print("|---|---|---|---|---|---|---|")
    for t in tiles:
        for model in sorted({m for (m, tt, p) in runs if tt == t and p == "spread"}, key=order):
            s = runs[(model, t, "spread")]
            n = runs.get((model, t, "none"))
            x = s["rearrangement"]["crossbars"]
            ref = s.get("reference_crossbars") or 0
            ccr = lambda c: f"{ref / c:.2f}" if ref else "–"
            before = lambda c, bn: pct(variant(n, c, bn)) if n else "–"
            print(f"| {t} | {label(model)} | {x['before']} → {x['after']} | {ccr(x['before'])} → {ccr(x['after'])} | "
                  f"{pct(s['rearrangement']['accuracy']['before'])} → {pct(variant(s, 'none', False))} | "
                  f"{before('column', False)} → {pct(variant(s, 'column', False))} | "
                  f"{before('column', True)} → {pct(variant(s, 'column', True))} |")


def marker(shape, x, y, colour):
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
    if shape == "square":
        return f'<rect x="{x - 3.2:.1f}" y="{y - 3.2:.1f}" width="6.4" height="6.4" fill="{colour}"/>'
    return f'<path d="M{x:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 3:.1f} L{x - 4:.1f},{y + 3:.1f} Z" fill="{colour}"/>'


def figure(runs, tiles, path):
    """Non-ideal accuracy against CCR, one panel per tile size."""
    w, h, left, top, pw, ph, gap = 860, 400, 60, 40, 340, 280, 80
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    series = {}
    for t in tiles:
        dense = runs.get(("dense", t, "none")) or runs.get(("dense", t, "spread"))
        for method, *_ in METHODS:
            pts_none, pts_col = [], []
            if dense:
                acc_none = (dense["rearrangement"]["accuracy"]["before"] if ("dense", t, "none") not in runs
                            else variant(dense, "none", False))
                pts_none.append((1.0, acc_none))
                pts_col.append((1.0, variant(dense, "column", False)))
            for (m, tt, p), r in runs.items():
                if tt == t and p == "none" and m.startswith(method + "-") and r.get("ccr"):
                    pts_none.append((r["ccr"], variant(r, "none", False)))
                    pts_col.append((r["ccr"], variant(r, "column", False)))
            series[(t, method)] = (sorted(p for p in pts_none if p[1] is not None),
                                   sorted(p for p in pts_col if p[1] is not None))
    xmax = max([x for s in series.values() for pts in s for x, _ in pts] + [2.0])
    xmax = float(int(xmax) + 1)
    for k, t in enumerate(tiles):
        x0 = left + k * (pw + gap)
        sx = lambda x: x0 + (x - 1.0) / (xmax - 1.0) * pw
        sy = lambda y: top + ph - y * ph
        out.append(f'<rect x="{x0}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
        out.append(f'<text x="{x0 + pw / 2}" y="{top - 12}" text-anchor="middle" font-size="14">{t}×{t} tiles</text>')
        for i in range(0, 11, 2):
            y = sy(i / 10)
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{i * 10}</text>')
        for i in range(1, int(xmax) + 1):
            x = sx(i)
            out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 5}" stroke="#444"/>')
            out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{i}</text>')
        out.append(f'<text x="{x0 + pw / 2}" y="{top + ph + 36}" text-anchor="middle">'
                   'crossbar compression ratio CCR (unpruned / pruned crossbars)</text>')
        out.append(f'<text transform="translate({x0 - 40},{top + ph / 2}) rotate(-90)" text-anchor="middle">'
                   'non-ideal test accuracy (%)</text>')
        for method, name, colour, shape in METHODS:
            none, col = series[(t, method)]
            for pts, dash in ((col, ""), (none, ' stroke-dasharray="6,4"')):
                if len(pts) > 1:
                    d = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(pts))
                    out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
                out += [marker(shape, sx(x), sy(y), colour) for x, y in pts]
    ly = h - 22
    for i, (method, name, colour, shape) in enumerate(METHODS):
        lx = left + i * 110
        out.append(marker(shape, lx, ly - 4, colour))
        out.append(f'<text x="{lx + 10}" y="{ly}">{name}</text>')
    lx = left + 3 * 110 + 20
    out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 30}" y2="{ly - 4}" stroke="#444" stroke-width="2"/>')
    out.append(f'<text x="{lx + 36}" y="{ly}">column-calibrated read-out</text>')
    lx += 230
    out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 30}" y2="{ly - 4}" stroke="#444" stroke-width="2" '
               'stroke-dasharray="6,4"/>')
    out.append(f'<text x="{lx + 36}" y="{ly}">uncalibrated</text>')
    out.append("</svg>")
    pathlib.Path(path).write_text("\n".join(out) + "\n")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    runs = load(pathlib.Path(sys.argv[1]))
    if not runs:
        sys.exit(f"{sys.argv[1]}: no evaluate reports")
    tiles = sorted({t for (_, t, _) in runs})
    first = next(iter(runs.values()))
    print(f"Data: {first['data']['source']} ({first['data']['images']} test images); crossbar preset "
          f"'{first['crossbar'].get('preset', '?')}'; sparsexbar {first['sparsexbar']['git']}.\n")
    print("### Non-ideal accuracy per read-out\n")
    readout_table(runs, tiles)
    print("\n### Spreading columns over extra crossbars\n")
    spread_table(runs, tiles)
    if len(sys.argv) == 3:
        figure(runs, tiles, sys.argv[2])


if __name__ == "__main__":
    main()
