#!/usr/bin/env python3
"""The general sparse way to a tile's transfer matrix, as the speed anchor of
the column sweep: SciPy's SuperLU (scipy.sparse.linalg.splu, COLAMD column
ordering) factorises the tile's 2RC-node conductance system and solves the R
unit-input right-hand sides, one at a time (the fastest way through SciPy:
its multi-column solve took 5x longer on the development VM).

The system is assembled here from the circuit definition (kernels/tile/tile.h),
with the node layout of tests/support/nodal_eigen.h (the Eigen SparseLU
baseline of bench/bench_solver.cpp): word-line node r(i,j) = i*C + j, bit-line
node c(i,j) = R*C + i*C + j; each source v_i behind r_source is its Norton
equivalent at r(i,0); r_sink joins c(R-1,j) to ground. The tile is also solved
by `sparsexbar tile --transfer` (the fast CPU solver), and the two transfer
matrices must agree to 1e-9 relative: the check that both solve the same system.

Usage: superlu_anchor.py SPARSEXBAR --rows 64 --cols 64 [--repeat 5] [--sweep-s-per-tile S]
Prints one JSON object: superlu_s_per_tile (best factor + solve time, one
core), max_relative_difference, and with --sweep-s-per-tile the ratio.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as spla

# Defaults of docs/model.md (engine/crossbar/mapping.h, kernels/tile/tile.h).
R_ON, R_OFF = 20e3, 200e3
RESISTANCES = {"r_source": 500.0, "r_sink": 100.0, "r_wire_row": 2.5, "r_wire_col": 2.5}


def example_conductances(rows, cols, seed):
    """Like engine/crossbar/example_tile.cpp: g_min + (g_max - g_min) w^2, w uniform."""
    w = np.random.default_rng(seed).random((rows, cols))
    g_min, g_max = 1.0 / R_OFF, 1.0 / R_ON
    return g_min + (g_max - g_min) * w * w


def nodal_system(g, res):
    """Conductance matrix (CSC) and the R unit-input right-hand sides."""
    R, C = g.shape
    row = lambda i, j: i * C + j
    col = lambda i, j: R * C + i * C + j
    n = 2 * R * C
    rows, cols, vals = [], [], []

    def between(a, b, y):
        rows.extend((a, b, a, b))
        cols.extend((a, b, b, a))
        vals.extend((y, y, -y, -y))

    g_row, g_col = 1.0 / res["r_wire_row"], 1.0 / res["r_wire_col"]
    g_source, g_sink = 1.0 / res["r_source"], 1.0 / res["r_sink"]
    for i in range(R):
        for j in range(C):
            between(row(i, j), col(i, j), g[i, j])
            if j + 1 < C:
                between(row(i, j), row(i, j + 1), g_row)
            if i + 1 < R:
                between(col(i, j), col(i + 1, j), g_col)
    for i in range(R):
        rows.append(row(i, 0)); cols.append(row(i, 0)); vals.append(g_source)
    for j in range(C):
        rows.append(col(R - 1, j)); cols.append(col(R - 1, j)); vals.append(g_sink)
    G = sp.csc_matrix((vals, (rows, cols)), shape=(n, n))  # duplicates are summed
    B = []  # one contiguous vector per input: SuperLU's multi-column solve is several times slower
    for i in range(R):
        b = np.zeros(n)
        b[row(i, 0)] = g_source
        B.append(b)
    sinks = np.array([col(R - 1, j) for j in range(C)])
    return G, B, sinks, g_sink


def superlu_transfer(G, B, sinks, g_sink):
    lu = spla.splu(G, permc_spec="COLAMD")
    return np.stack([lu.solve(b)[sinks] for b in B], axis=1) * g_sink  # C x R


def sweep_transfer(sparsexbar, g, res):
    with tempfile.TemporaryDirectory() as d:
        tile = os.path.join(d, "tile.json")
        out = os.path.join(d, "out.json")
        with open(tile, "w") as f:
            json.dump({"rows": g.shape[0], "cols": g.shape[1], "conductance": g.tolist(), "backend": "cpu",
                       **res}, f)
        subprocess.run([sparsexbar, "tile", "--input", tile, "--transfer", "--output", out], check=True)
        with open(out) as f:
            return np.array(json.load(f)["transfer"])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sparsexbar")
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--cols", type=int, default=64)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--sweep-s-per-tile", type=float)
    a = p.parse_args()
    g = example_conductances(a.rows, a.cols, 1000)
    G, B, sinks, g_sink = nodal_system(g, RESISTANCES)
    best = float("inf")
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        T_lu = superlu_transfer(G, B, sinks, g_sink)
        best = min(best, time.perf_counter() - t0)
    T_sweep = sweep_transfer(a.sparsexbar, g, RESISTANCES)
    diff = float(np.max(np.abs(T_lu - T_sweep) / np.abs(T_sweep)))
    out = {"rows": a.rows, "cols": a.cols, "nodes": G.shape[0], "scipy": scipy.__version__,
           "superlu_s_per_tile": best, "max_relative_difference": diff}
    if a.sweep_s_per_tile:
        out["sweep_s_per_tile"] = a.sweep_s_per_tile
        out["superlu_over_sweep"] = best / a.sweep_s_per_tile
    print(json.dumps(out))
    if not diff <= 1e-9:
        print(f"superlu_anchor: SuperLU and the sweep differ by {diff:.3g} (relative): not the same system",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
