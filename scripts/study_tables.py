#!/usr/bin/env python3
"""Markdown tables of a study run by scripts/study.sh (for docs/results.md).

Usage: python3 scripts/study_tables.py EVAL_DIR

Reads EVAL_DIR/<model>-t<tile>-<policy>.json (reports of `sparsexbar
evaluate`, schema in docs/cli.md) and prints: the pruning table (software
accuracy, crossbars and CCR of every pruned model, ideal and non-ideal
accuracy without mitigation) and the mitigation table (non-ideal accuracy of
the dense and the most pruned models under each rearrangement policy and WCT
kappa, with NF and the low-conductance share).
"""
import json
import pathlib
import re
import sys

NAME = re.compile(r"^(?P<model>.+)-t(?P<tile>\d+)-(?P<policy>none|sort|sort-reverse|balance|search)$")
POLICIES = ["sort", "sort-reverse", "balance", "search"]


def pct(x):
    return "–" if x is None else f"{100.0 * x:.2f}"


def load(eval_dir):
    runs = {}
    for f in sorted(eval_dir.glob("*.json")):
        m = NAME.match(f.stem)
        if not m:
            continue
        runs[(m["model"], int(m["tile"]), m["policy"])] = json.loads(f.read_text())
    return runs


def base_accuracy(runs, model, tile):
    """The report of the model as given: policy none, or the 'before' side of any policy."""
    r = runs.get((model, tile, "none"))
    if r:
        return r, r["accuracy"]["nonideal"]
    for p in POLICIES:
        r = runs.get((model, tile, p))
        if r and r.get("rearrangement"):
            return r, r["rearrangement"]["accuracy"]["before"]
    return None, None


def pruning_table(runs, tiles):
    print("| tile | model | software % | ideal % | non-ideal % | crossbars | CCR |")
    print("|---|---|---|---|---|---|---|")
    models = sorted({m for (m, _, _) in runs if not m.startswith("dense") and "wct" not in m},
                    key=lambda m: (m.split("-")[0], float(m.split("-")[1])))
    for t in tiles:
        r, _ = base_accuracy(runs, "dense", t)
        if r:
            print(f"| {t} | dense | {pct(r['accuracy']['software'])} | {pct(r['accuracy']['ideal'])} | "
                  f"{pct(base_accuracy(runs, 'dense', t)[1])} | {r['crossbars']} | 1 |")
        for m in models:
            r, nonideal = base_accuracy(runs, m, t)
            if not r:
                continue
            ccr = r.get("ccr")
            print(f"| {t} | {m.rsplit('-t', 1)[0]} | {pct(r['accuracy']['software'])} | {pct(r['accuracy']['ideal'])} | "
                  f"{pct(nonideal)} | {r['crossbars']} | {'–' if ccr is None else f'{ccr:.2f}'} |")


def mitigation_table(runs, tiles):
    print("| tile | model | WCT κ | ideal % | none % | " + " | ".join(f"{p} %" for p in POLICIES) +
          " | NF mean % | low-g % | tile low-g % min–max (none → balance) |")
    print("|---|---|---|---|---|" + "---|" * len(POLICIES) + "---|---|---|")
    bases = sorted({m.split("-wct")[0] for (m, _, p) in runs if p != "none"})
    for t in tiles:
        for b in bases:
            for model in [b] + sorted(m for m in {k[0] for k in runs} if m.startswith(b + "-wct")):
                r, none = base_accuracy(runs, model, t)
                if not r:
                    continue
                kappa = model.split("-wct")[1] if "-wct" in model else "–"
                cells = []
                for p in POLICIES:
                    rp = runs.get((model, t, p))
                    cells.append(pct(rp["rearrangement"]["accuracy"]["after"]) if rp and rp.get("rearrangement") else "–")
                spread = "–"
                rb = runs.get((model, t, "balance"))
                if rb and rb.get("rearrangement"):
                    layers = rb["rearrangement"]["layers"]
                    lo_b = min(l["tile_low_share_before"]["min"] for l in layers)
                    hi_b = max(l["tile_low_share_before"]["max"] for l in layers)
                    lo_a = min(l["tile_low_share_after"]["min"] for l in layers)
                    hi_a = max(l["tile_low_share_after"]["max"] for l in layers)
                    spread = f"{100 * lo_b:.0f}–{100 * hi_b:.0f} → {100 * lo_a:.0f}–{100 * hi_a:.0f}"
                name = b.rsplit("-t", 1)[0] if b != "dense" else "dense"
                print(f"| {t} | {name} | {kappa} | {pct(r['accuracy']['ideal'])} | {pct(none)} | " + " | ".join(cells) +
                      f" | {100 * r['nf']['mean']:.2f} | {100 * r['low_conductance_share']:.1f} | {spread} |")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    eval_dir = pathlib.Path(sys.argv[1])
    runs = load(eval_dir)
    if not runs:
        sys.exit(f"{eval_dir}: no evaluate reports")
    tiles = sorted({t for (_, t, _) in runs})
    first = next(iter(runs.values()))
    print(f"Data: {first['data']['source']} ({first['data']['images']} test images); crossbar preset "
          f"'{first['crossbar'].get('preset', '?')}'; sparsexbar {first['sparsexbar']['git']}.\n")
    print("### Pruning: accuracy and crossbar compression\n")
    pruning_table(runs, tiles)
    print("\n### Mitigations: non-ideal accuracy per rearrangement policy and WCT κ\n")
    mitigation_table(runs, tiles)


if __name__ == "__main__":
    main()
