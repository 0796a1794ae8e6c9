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

}  // namespace

void tile_currents(const TileView& t, const double* voltages, int n_vec, double* currents) {
  const int R = t.rows, C = t.cols;
  const Network net = build_network(t);
  const int n_all = net.n_nodes + net.n_terminals;
  const int ground = net.n_nodes + R;

  // Merge nodes joined by shorts; terminals win as class representatives.
  std::vector<int> parent(n_all);
  std::iota(parent.begin(), parent.end(), 0);
  for (const Resistor& e : net.resistors) {
    if (e.ohm != 0.0) continue;
    int a = find(parent, e.a), b = find(parent, e.b);
    if (a == b) continue;
    SXB_REQUIRE(!(a >= net.n_nodes && b >= net.n_nodes), "reference: two terminals shorted");
    if (a >= net.n_nodes) std::swap(a, b);
    parent[a] = b;  // b is a terminal, or the other node
  }

  // Unknowns: classes whose representative is a circuit node, in node order.
  std::vector<int> unknown(n_all, -1);
  int n = 0;
  for (int x = 0; x < net.n_nodes; ++x)
    if (find(parent, x) == x) unknown[x] = n++;

  // Voltage of every class for each input vector: fixed ones now, free ones after the solve.
  auto fixed_voltage = [&](int rep, int vec) {
    return rep == ground ? 0.0 : voltages[vec * R + (rep - net.n_nodes)];
  };

  // Assemble A (n x n) and the source coupling B (n x R): A x = B v.
  int kd = 0;
  for (const Resistor& e : net.resistors) {
    if (e.ohm == 0.0) continue;
    int a = find(parent, e.a), b = find(parent, e.b);
    if (a != b && unknown[a] >= 0 && unknown[b] >= 0) kd = std::max(kd, std::abs(unknown[a] - unknown[b]));
  }
  const bool banded = static_cast<long>(kd) * 8 < n;
  const int ld = banded ? kd + 1 : n;
  std::vector<double> A(static_cast<std::size_t>(ld) * n, 0.0);
  auto add_a = [&](int p, int q, double val) {  // lower triangle only, column-major
    if (p < q) std::swap(p, q);
    if (banded) A[static_cast<std::size_t>(q) * ld + (p - q)] += val;
    else A[static_cast<std::size_t>(q) * ld + p] += val;
  };
  std::vector<double> rhs(static_cast<std::size_t>(n) * n_vec, 0.0);  // column-major n x n_vec
  struct Stamp {
    int p, q;
    double value;
  };
  std::vector<Stamp> stamps;  // A as triplets, for residuals
  for (const Resistor& e : net.resistors) {
    if (e.ohm == 0.0) continue;
    const double G = 1.0 / e.ohm;
    const int a = find(parent, e.a), b = find(parent, e.b);
    if (a == b) continue;
    const int ua = unknown[a], ub = unknown[b];
    if (ua >= 0) add_a(ua, ua, G), stamps.push_back({ua, ua, G});
    if (ub >= 0) add_a(ub, ub, G), stamps.push_back({ub, ub, G});
    if (ua >= 0 && ub >= 0) add_a(ua, ub, -G), stamps.push_back({ua, ub, -G}), stamps.push_back({ub, ua, -G});
    for (int vec = 0; vec < n_vec; ++vec) {
      if (ua >= 0 && ub < 0) rhs[static_cast<std::size_t>(vec) * n + ua] += G * fixed_voltage(b, vec);
      if (ub >= 0 && ua < 0) rhs[static_cast<std::size_t>(vec) * n + ub] += G * fixed_voltage(a, vec);
    }
  }

  if (n > 0 && n_vec > 0) {
    // Single-threaded LAPACK: the oracle stays simple and does not spin
    // threads against a loaded machine (or against our own OpenMP loops).
    static std::once_flag single_thread;
    std::call_once(single_thread, [] { openblas_set_num_threads(1); });
    int info = 0;
    if (banded) dpbtrf_("L", &n, &kd, A.data(), &ld, &info);
    else dpotrf_("L", &n, A.data(), &ld, &info);
    SXB_REQUIRE(info == 0, "reference: nodal system is not positive definite (info " +
                               std::to_string(info) + ")");
    auto solve = [&](double* x) {
      if (banded) dpbtrs_("L", &n, &kd, &n_vec, A.data(), &ld, x, &n, &info);
      else dpotrs_("L", &n, &n_vec, A.data(), &ld, x, &n, &info);
    };
    // Solve, then two steps of iterative refinement with residuals in long
    // double: the nodal system is ill-conditioned when milliohm wires meet
    // megaohm devices, and the oracle must stay well inside the tests' 1e-9.
    const std::vector<double> b = rhs;
    solve(rhs.data());
    std::vector<double> correction(rhs.size());
    for (int step = 0; step < 2; ++step) {
      std::vector<long double> r(b.begin(), b.end());
      for (int vec = 0; vec < n_vec; ++vec) {
        const std::size_t o = static_cast<std::size_t>(vec) * n;
        for (const Stamp& st : stamps) r[o + st.p] -= static_cast<long double>(st.value) * rhs[o + st.q];
      }
      for (std::size_t k = 0; k < r.size(); ++k) correction[k] = static_cast<double>(r[k]);
      solve(correction.data());
      for (std::size_t k = 0; k < r.size(); ++k) rhs[k] += correction[k];
    }
  }

  // Output current of column j: V(bottom node) / r_sink; with r_sink = 0, the
  // total device current into column j (all of it leaves through the sink).
  auto node_voltage = [&](int node, int vec) {
    const int rep = find(parent, node);
    return unknown[rep] >= 0 ? rhs[static_cast<std::size_t>(vec) * n + unknown[rep]]
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
