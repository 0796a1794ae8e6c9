// solve_tiles: a batch of tiles through the tile-solver front door
// (engine/crossbar/tile_solver.h): its checks, its one solver choice and its
// fallback to the reference, as `sparsexbar tile`. Transfer matrices are solved
// in chunks so that Ctrl-C is seen between them; currents tile by tile, as
// `sparsexbar tile` solves its one tile.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "apps/python/py_common.h"
#include "engine/crossbar/tile_solver.h"

namespace sxb::python {
namespace {

using Doubles = py::array_t<double, py::array::c_style>;

// A C-contiguous float64 array of `ndim` dimensions; TypeError for another
// dtype (never converted silently), ValueError for another rank.
Doubles float64_array(const py::array& a, const char* name, int ndim, const char* shape) {
  if (!a.dtype().is(py::dtype::of<double>()))
    throw py::type_error(fmt::format("{}: dtype {}, expected float64", name, py::str(a.dtype()).cast<std::string>()));
  if (a.ndim() != ndim)
    throw py::value_error(fmt::format("{}: {} dimensions, expected {} {}", name, a.ndim(), ndim, shape));
  return Doubles::ensure(a);
}

// The fallback lines of the front door, given to Python's warnings once the GIL is back.
struct Warnings {
  std::mutex mutex;
  std::vector<std::string> lines;
  SolverLog log() {
    return [this](const std::string& line) {
      const std::lock_guard<std::mutex> lock(mutex);
      lines.push_back(line);
    };
  }
  void emit() const {
    for (const std::string& line : lines)
      if (PyErr_WarnEx(PyExc_RuntimeWarning, line.c_str(), 2) < 0) throw py::error_already_set();
  }
};

// Tiles per chunk of the transfer solve, so that Ctrl-C is seen every fraction
// of a second: 2^18 conductances on the CPU (64 tiles of 64 x 64, 2 MiB),
// 2^22 for a GPU batch, 2^12 for the slow reference.
std::size_t tiles_per_chunk(std::size_t cells, Backend b) {
  const int shift = b == Backend::Cuda ? 22 : b == Backend::Reference ? 12 : 18;
  return std::max<std::size_t>(1, (std::size_t{1} << shift) / cells);
}

py::object solve(const py::array& g_in, py::dict config, std::optional<py::array> v_in, const std::string& backend_name,
                 bool transfer) {
  const Doubles g = float64_array(g_in, "g", 3, "[B, R, C]");
  const CrossbarConfig xbar = crossbar_config(config);
  const Backend backend = backend_named(backend_name);
  for (int d : {1, 2})
    if (g.shape(d) < 1 || g.shape(d) > kMaxTileDim)
      throw py::value_error(fmt::format("g: shape [{}, {}, {}]: {} = {} must be between 1 and {}", g.shape(0), g.shape(1),
                                        g.shape(2), d == 1 ? "R" : "C", g.shape(d), kMaxTileDim));
  const std::size_t B = static_cast<std::size_t>(g.shape(0));
  const int R = static_cast<int>(g.shape(1)), C = static_cast<int>(g.shape(2));
  const std::size_t cells = static_cast<std::size_t>(g.shape(1)) * static_cast<std::size_t>(g.shape(2));
  const double* gp = g.data();
  const auto view = [&](std::size_t k) { return TileView{R, C, gp + k * cells, xbar.res}; };
  if (B > 0) validate_tile(view(0), "g[0]");  // resistances before any allocation

  std::optional<Doubles> v;
  std::size_t n_vec = 0;
  bool shared = true;
  if (v_in) {
    const int nd = static_cast<int>(v_in->ndim());
    if (nd != 2 && nd != 3)
      throw py::value_error(fmt::format("voltages: {} dimensions, expected 2 [n, R] or 3 [B, n, R]", nd));
    v = float64_array(*v_in, "voltages", nd, "");
    shared = nd == 2;
    const py::ssize_t rows = v->shape(nd - 1);
    if (rows != R)
      throw py::value_error(fmt::format("voltages: {} values per vector, expected R = {} (the tiles' rows)", rows, R));
    if (!shared && static_cast<std::size_t>(v->shape(0)) != B)
      throw py::value_error(fmt::format("voltages: {} batches of vectors for {} tiles", v->shape(0), B));
    n_vec = static_cast<std::size_t>(v->shape(nd - 2));
  } else if (!transfer) {
    throw py::value_error("solve_tiles: nothing to compute: give voltages, or transfer=True");
  }

  Doubles T(transfer ? std::vector<py::ssize_t>{static_cast<py::ssize_t>(B), C, R} : std::vector<py::ssize_t>{0});
  Doubles I(v ? std::vector<py::ssize_t>{static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(n_vec), C}
              : std::vector<py::ssize_t>{0});
  double* tp = transfer ? T.mutable_data() : nullptr;
  double* ip = v ? I.mutable_data() : nullptr;
  const double* vp = v ? v->data() : nullptr;
  Warnings warnings;
  run_released([&] {
    for (std::size_t k = 0; k < B; ++k) validate_tile(view(k), fmt::format("g[{}]", k));
    if (!v) {
      const TileSolver& solver = tile_solver(backend);
      const std::size_t chunk = tiles_per_chunk(cells, resolve(backend));
      for (std::size_t begin = 0; begin < B; begin += chunk) {
        check_signals();
        const std::size_t end = std::min(B, begin + chunk);
        TileBatch batch;
        batch.resistances = {xbar.res};  // once for the batch
        batch.conductance.reserve((end - begin) * cells);
        for (std::size_t k = begin; k < end; ++k) batch.add(R, C, gp + k * cells);
        const std::vector<double> t = transfer_matrices(batch, solver, warnings.log());
        std::copy(t.begin(), t.end(), tp + begin * cells);
      }
      return;
    }
    const std::size_t per_tile = n_vec * static_cast<std::size_t>(R);
    for (std::size_t k = 0; k < B; ++k) {
      check_signals();
      const ValidTile tile(R, C, std::vector<double>(gp + k * cells, gp + (k + 1) * cells), xbar.res,
                           fmt::format("g[{}]", k));
      const double* vk = vp + (shared ? 0 : k * per_tile);
      const TileSolution s = solve_tile(tile, std::vector<double>(vk, vk + per_tile), transfer, backend, warnings.log());
      std::copy(s.currents.begin(), s.currents.end(), ip + k * n_vec * C);
      if (transfer) std::copy(s.transfer.begin(), s.transfer.end(), tp + k * cells);
    }
  });
  warnings.emit();
  if (!v) return T;
  if (!transfer) return I;
  return py::make_tuple(I, T);
}

}  // namespace

void bind_tiles(py::module_& m) {
  m.def("solve_tiles", &solve, py::arg("g"), py::arg("config"), py::arg("voltages") = py::none(),
        py::arg("backend") = "auto", py::arg("transfer") = true,
        "Transfer matrices [B, C, R] of the tiles g [B, R, C] (float64, S) with the configuration's resistances; "
        "with voltages [n, R] or [B, n, R], the currents [B, n, C] (and T when transfer)");
  m.def("resolve_backend", [](const std::string& name) { return to_string(resolve(backend_named(name))); },
        py::arg("name"), "The solver a backend name picks on this machine (auto: cuda when usable, else cpu)");
}

}  // namespace sxb::python
