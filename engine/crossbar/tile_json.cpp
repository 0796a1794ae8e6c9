#include "engine/crossbar/tile_json.h"

#include <cmath>

#include <fmt/format.h>

#include "engine/crossbar/tile_solver.h"
#include "kernels/common/error.h"
#include "engine/io/json_file.h"
#include "engine/io/json_keys.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"

namespace sxb {
namespace {

using nlohmann::json;

double number(const json& v, const std::string& where) { return json_real(v, where); }

int dimension(const json& j, const char* key, const std::string& src) {
  SXB_REQUIRE(j.contains(key), fmt::format("{}: missing field '{}'", src, key));
  return static_cast<int>(json_integer(j.at(key), 1, kMaxTileDim, src + ": " + key));
}

// A rows x cols matrix given as `n` lists of `len` numbers.
std::vector<double> matrix(const json& v, int n, int len, const std::string& where, const char* len_name) {
  SXB_REQUIRE(v.is_array(), where + ": expected a list of lists");
  if (n >= 0)
    SXB_REQUIRE(static_cast<int>(v.size()) == n, fmt::format("{}: has {} rows, expected {}", where, v.size(), n));
  std::vector<double> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string row = fmt::format("{}[{}]", where, i);
    SXB_REQUIRE(v[i].is_array(), row + ": expected a list of numbers");
    SXB_REQUIRE(static_cast<int>(v[i].size()) == len,
                fmt::format("{}: has {} values, expected {} ({})", row, v[i].size(), len, len_name));
    for (std::size_t k = 0; k < v[i].size(); ++k) out.push_back(number(v[i][k], fmt::format("{}[{}]", row, k)));
  }
  return out;
}

json rows_of(const std::vector<double>& flat, int n, int len) {
  json out = json::array();
  for (int i = 0; i < n; ++i)
    out.push_back(std::vector<double>(flat.begin() + static_cast<std::ptrdiff_t>(i) * len,
                                      flat.begin() + static_cast<std::ptrdiff_t>(i + 1) * len));
  return out;
}

}  // namespace

TileProblem parse_tile_problem(const json& j, const std::string& src) {
  SXB_REQUIRE(j.is_object(), src + ": expected a JSON object");
  static const char* known[] = {"rows", "cols", "conductance", "r_source", "r_sink", "r_wire_row",
                                "r_wire_col", "voltages", "backend"};
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    SXB_REQUIRE(ok, fmt::format("{}: unknown field '{}'", src, key));
  }
  const int rows = dimension(j, "rows", src), cols = dimension(j, "cols", src);
  SXB_REQUIRE(j.contains("conductance"), src + ": missing field 'conductance'");
  std::vector<double> conductance = matrix(j.at("conductance"), rows, cols, src + ": conductance", "cols");
  TileResistances res;
  double* r[] = {&res.r_source, &res.r_sink, &res.r_wire_row, &res.r_wire_col};
  const char* names[] = {"r_source", "r_sink", "r_wire_row", "r_wire_col"};
  for (int k = 0; k < 4; ++k)
    if (j.contains(names[k])) *r[k] = number(j.at(names[k]), src + ": " + names[k]);  // >= 0: ValidTile
  std::vector<double> voltages;
  if (j.contains("voltages")) voltages = matrix(j.at("voltages"), -1, rows, src + ": voltages", "rows");
  Backend backend = Backend::Auto;
  if (j.contains("backend")) {
    SXB_REQUIRE(j.at("backend").is_string(), src + ": backend must be a string");
    backend = parse_backend(j.at("backend").get<std::string>(), src + ": backend");
  }
  return TileProblem{ValidTile(rows, cols, std::move(conductance), res, src), std::move(voltages), backend};
}

TileProblem read_tile_problem(const std::string& path) {
  return parse_tile_problem(read_json_file(path, "the tile file"), path);
}

json solve_tile_problem(const TileProblem& p, const TileSolveOptions& opt, const SolverLog& log) {
  const TileView t = p.view();
  const int n_vec = static_cast<int>(p.voltages.size() / t.rows);
  const Stopwatch watch;
  const TileSolution solution = solve_tile(p.tile, p.voltages, opt.transfer || opt.nf, p.backend, log);
  json out;
  out["rows"] = t.rows;
  out["cols"] = t.cols;
  out["currents"] = rows_of(solution.currents, n_vec, t.cols);
  out["ideal_currents"] = rows_of(ideal_currents(t, p.voltages), n_vec, t.cols);
  if (opt.transfer) out["transfer"] = rows_of(solution.transfer, t.cols, t.rows);
  if (opt.nf) {
    const NonIdealityFactor nf = nonideality_factor(t, solution.transfer.data());
    out["nf"] = {{"per_column", nf.per_column}, {"mean", nf.mean}, {"max", nf.max}};
  }
  out["resistances"] = {{"r_source", t.res.r_source}, {"r_sink", t.res.r_sink},
                        {"r_wire_row", t.res.r_wire_row}, {"r_wire_col", t.res.r_wire_col}};
  out["backend"] = to_string(solution.backend);
  out["device"] = describe(solution.backend);
  out["seconds"] = watch.seconds();
  out["version"] = version_line();
  return out;
}

}  // namespace sxb
