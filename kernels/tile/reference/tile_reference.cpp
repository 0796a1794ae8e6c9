#include "kernels/tile/reference/tile_reference.h"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <vector>

#include "kernels/common/error.h"
#include "kernels/common/lapack.h"

namespace sxb::reference {
namespace {

// Node numbering: r(i,j) = 2(iC+j), c(i,j) = 2(iC+j)+1, then one terminal per
// source (fixed at v[i]) and one ground terminal (fixed at 0 V).
struct Resistor {
  int a, b;
  double ohm;
};

struct Network {
  int n_nodes = 0;       // circuit nodes (2RC)
  int n_terminals = 0;   // R sources + ground
  std::vector<Resistor> resistors;
};

Network build_network(const TileView& t) {
  const int R = t.rows, C = t.cols;
  Network net;
  net.n_nodes = 2 * R * C;
  net.n_terminals = R + 1;
  auto r_node = [C](int i, int j) { return 2 * (i * C + j); };
  auto c_node = [C](int i, int j) { return 2 * (i * C + j) + 1; };
  const int ground = net.n_nodes + R;
  for (int i = 0; i < R; ++i) {
    net.resistors.push_back({net.n_nodes + i, r_node(i, 0), t.res.r_source});
    for (int j = 0; j + 1 < C; ++j)
      net.resistors.push_back({r_node(i, j), r_node(i, j + 1), t.res.r_wire_row});
  }
  for (int j = 0; j < C; ++j) {
    for (int i = 0; i + 1 < R; ++i)
      net.resistors.push_back({c_node(i, j), c_node(i + 1, j), t.res.r_wire_col});
    net.resistors.push_back({c_node(R - 1, j), ground, t.res.r_sink});
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j)
      net.resistors.push_back({r_node(i, j), c_node(i, j), 1.0 / t.conductance[i * C + j]});
  return net;
}

int find(std::vector<int>& parent, int x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

// The nodes after merging those joined by shorts (terminals win as class
// representatives), and the unknowns: the classes whose representative is a
// circuit node, in node order.
struct Classes {
  std::vector<int> parent, unknown;
  int n = 0;  // unknowns
};

Classes merge_shorts(const Network& net) {
  const int n_all = net.n_nodes + net.n_terminals;
  Classes c;
  c.parent.resize(n_all);
  std::iota(c.parent.begin(), c.parent.end(), 0);
  for (const Resistor& e : net.resistors) {
    if (e.ohm != 0.0) continue;
    int a = find(c.parent, e.a), b = find(c.parent, e.b);
    if (a == b) continue;
    SXB_REQUIRE(!(a >= net.n_nodes && b >= net.n_nodes), "reference: two terminals shorted");
    if (a >= net.n_nodes) std::swap(a, b);
    c.parent[a] = b;  // b is a terminal, or the other node
  }
  c.unknown.assign(n_all, -1);
  for (int x = 0; x < net.n_nodes; ++x)
    if (find(c.parent, x) == x) c.unknown[x] = c.n++;
  return c;
}

struct Stamp {
  int p, q;
  double value;
};

// A x = B v for every input vector: A (n x n, lower triangle, column-major;
// banded when its bandwidth is small), the right-hand sides (n x n_vec) and
// A as triplets, for residuals.
struct NodalSystem {
  int n = 0, kd = 0, ld = 0;
  bool banded = false;
  std::vector<double> A, rhs;
  std::vector<Stamp> stamps;
};

template <class FixedVoltage>
NodalSystem assemble(const Network& net, Classes& c, int n_vec, const FixedVoltage& fixed_voltage) {
  NodalSystem s;
  const int n = s.n = c.n;
  for (const Resistor& e : net.resistors) {
    if (e.ohm == 0.0) continue;
    int a = find(c.parent, e.a), b = find(c.parent, e.b);
    if (a != b && c.unknown[a] >= 0 && c.unknown[b] >= 0) s.kd = std::max(s.kd, std::abs(c.unknown[a] - c.unknown[b]));
  }
  s.banded = static_cast<long>(s.kd) * 8 < n;
  s.ld = s.banded ? s.kd + 1 : n;
  s.A.assign(static_cast<std::size_t>(s.ld) * n, 0.0);
  auto add_a = [&](int p, int q, double val) {  // lower triangle only, column-major
    if (p < q) std::swap(p, q);
    if (s.banded) s.A[static_cast<std::size_t>(q) * s.ld + (p - q)] += val;
    else s.A[static_cast<std::size_t>(q) * s.ld + p] += val;
  };
  s.rhs.assign(static_cast<std::size_t>(n) * n_vec, 0.0);
  for (const Resistor& e : net.resistors) {
    if (e.ohm == 0.0) continue;
    const double G = 1.0 / e.ohm;
    const int a = find(c.parent, e.a), b = find(c.parent, e.b);
    if (a == b) continue;
    const int ua = c.unknown[a], ub = c.unknown[b];
    if (ua >= 0) add_a(ua, ua, G), s.stamps.push_back({ua, ua, G});
    if (ub >= 0) add_a(ub, ub, G), s.stamps.push_back({ub, ub, G});
    if (ua >= 0 && ub >= 0) add_a(ua, ub, -G), s.stamps.push_back({ua, ub, -G}), s.stamps.push_back({ub, ua, -G});
    for (int vec = 0; vec < n_vec; ++vec) {
      if (ua >= 0 && ub < 0) s.rhs[static_cast<std::size_t>(vec) * n + ua] += G * fixed_voltage(b, vec);
      if (ub >= 0 && ua < 0) s.rhs[static_cast<std::size_t>(vec) * n + ub] += G * fixed_voltage(a, vec);
    }
  }
  return s;
}

// Solves in place (s.rhs becomes x): Cholesky, then two steps of iterative
// refinement with residuals in long double: the nodal system is
// ill-conditioned when milliohm wires meet megaohm devices, and the oracle
// must stay well inside the tests' 1e-9.
void solve_refined(NodalSystem& s, int n_vec) {
  if (s.n == 0 || n_vec == 0) return;
  // Single-threaded LAPACK: the oracle stays simple and does not spin
  // threads against a loaded machine (or against our own OpenMP loops).
  static std::once_flag single_thread;
  std::call_once(single_thread, [] { openblas_set_num_threads(1); });
  int n = s.n, kd = s.kd, ld = s.ld, info = 0;
  if (s.banded) dpbtrf_("L", &n, &kd, s.A.data(), &ld, &info);
  else dpotrf_("L", &n, s.A.data(), &ld, &info);
  SXB_REQUIRE(info == 0, "reference: nodal system is not positive definite (info " + std::to_string(info) + ")");
  auto solve = [&](double* x) {
    if (s.banded) dpbtrs_("L", &n, &kd, &n_vec, s.A.data(), &ld, x, &n, &info);
    else dpotrs_("L", &n, &n_vec, s.A.data(), &ld, x, &n, &info);
  };
  std::vector<double>& rhs = s.rhs;
  const std::vector<double> b = rhs;
  solve(rhs.data());
  std::vector<double> correction(rhs.size());
  for (int step = 0; step < 2; ++step) {
    std::vector<long double> r(b.begin(), b.end());
    for (int vec = 0; vec < n_vec; ++vec) {
      const std::size_t o = static_cast<std::size_t>(vec) * n;
      for (const Stamp& st : s.stamps) r[o + st.p] -= static_cast<long double>(st.value) * rhs[o + st.q];
    }
    for (std::size_t k = 0; k < r.size(); ++k) correction[k] = static_cast<double>(r[k]);
    solve(correction.data());
    for (std::size_t k = 0; k < r.size(); ++k) rhs[k] += correction[k];
  }
}

}  // namespace

void tile_currents(const TileView& t, const double* voltages, int n_vec, double* currents) {
  const int R = t.rows, C = t.cols;
  const Network net = build_network(t);
  const int ground = net.n_nodes + R;
  Classes classes = merge_shorts(net);
  // Voltage of every class for each input vector: fixed ones now, free ones after the solve.
  auto fixed_voltage = [&](int rep, int vec) {
    return rep == ground ? 0.0 : voltages[vec * R + (rep - net.n_nodes)];
  };
  NodalSystem system = assemble(net, classes, n_vec, fixed_voltage);
  solve_refined(system, n_vec);

  // Output current of column j: V(bottom node) / r_sink; with r_sink = 0, the
  // total device current into column j (all of it leaves through the sink).
  const int n = system.n;
  auto node_voltage = [&](int node, int vec) {
    const int rep = find(classes.parent, node);
    return classes.unknown[rep] >= 0 ? system.rhs[static_cast<std::size_t>(vec) * n + classes.unknown[rep]]
                                     : fixed_voltage(rep, vec);
  };
  for (int vec = 0; vec < n_vec; ++vec)
    for (int j = 0; j < C; ++j) {
      double sum = 0.0;
      if (t.res.r_sink > 0.0) {
        sum = node_voltage(2 * ((R - 1) * C + j) + 1, vec) / t.res.r_sink;
      } else {
        for (int i = 0; i < R; ++i) {
          const int rn = 2 * (i * C + j);
          sum += t.conductance[i * C + j] * (node_voltage(rn, vec) - node_voltage(rn + 1, vec));
        }
      }
      currents[static_cast<std::size_t>(vec) * C + j] = sum;
    }
}

void tile_transfer(const TileView& t, double* transfer) {
  const int R = t.rows, C = t.cols;
  std::vector<double> unit(static_cast<std::size_t>(R) * R, 0.0);
  for (int i = 0; i < R; ++i) unit[static_cast<std::size_t>(i) * R + i] = 1.0;
  std::vector<double> currents(static_cast<std::size_t>(R) * C);
  tile_currents(t, unit.data(), R, currents.data());
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) transfer[static_cast<std::size_t>(j) * R + i] = currents[static_cast<std::size_t>(i) * C + j];
}

}  // namespace sxb::reference
