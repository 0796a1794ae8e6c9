// Independent validation of the tile solvers against ngspice: each random
// tile is written out as a SPICE netlist (ideal sources, resistors, 0 V
// ammeters in series with the sense resistors), solved with `ngspice -b`
// (operating point), and the ammeter currents are compared with
// cpu::tile_currents and reference::tile_currents. Skipped, with a message,
// when ngspice is not on PATH.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/tile/cpu/tile_sweep.h"
#include "kernels/tile/reference/tile_reference.h"
#include "tests/support/random_tile.h"

namespace sxb {
namespace {

namespace fs = std::filesystem;
using test_support::max_relative_error;
using test_support::OwnedTile;
using test_support::TileRng;

// ngspice prints 16 significant digits and solves in double precision; 1e-5
// leaves room only for its convergence tests, not for a wrong circuit.
constexpr double kTolerance = 1e-5;

// First executable `ngspice` on PATH, or empty.
fs::path find_ngspice() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return {};
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / "ngspice";
    if (::access(candidate.c_str(), X_OK) == 0 && fs::is_regular_file(candidate)) return candidate;
  }
  return {};
}

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "sxb_spice_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

// Nodes: in<i> source terminal, w<i>_<j> word line, b<i>_<j> bit line,
// s<j> between the ammeter vs<j> and the sense resistor. The analysis runs
// from the .control block (an `.op` card would run only after it, in batch
// mode); `write` with filetype=ascii stores every vector with 16 significant
// digits (ngspice 39), and `quit 0` ends with status 0 (without it ngspice -b
// exits 1 for a netlist with no analysis card).
void write_netlist(const fs::path& file, const OwnedTile& t, const std::vector<double>& v) {
  std::ofstream out(file);
  const int R = t.rows, C = t.cols;
  out << "sparsexbar tile " << R << "x" << C << "\n";
  for (int i = 0; i < R; ++i) {
    out << "vin" << i << " in" << i << " 0 dc " << number(v[i]) << "\n";
    out << "rs" << i << " in" << i << " w" << i << "_0 " << number(t.res.r_source) << "\n";
    for (int j = 0; j < C; ++j) {
      out << "rd" << i << "_" << j << " w" << i << "_" << j << " b" << i << "_" << j << " "
          << number(1.0 / t.conductance[static_cast<std::size_t>(i) * C + j]) << "\n";
      if (j + 1 < C)
        out << "rw" << i << "_" << j << " w" << i << "_" << j << " w" << i << "_" << j + 1 << " "
            << number(t.res.r_wire_row) << "\n";
      if (i + 1 < R)
        out << "rb" << i << "_" << j << " b" << i << "_" << j << " b" << i + 1 << "_" << j << " "
            << number(t.res.r_wire_col) << "\n";
    }
  }
  for (int j = 0; j < C; ++j) {
    out << "vs" << j << " b" << R - 1 << "_" << j << " s" << j << " dc 0\n";
    out << "rk" << j << " s" << j << " 0 " << number(t.res.r_sink) << "\n";
  }
  out << ".control\n"
         "op\n"
         "set filetype=ascii\n"
         "write result.raw\n"
         "quit 0\n"
         ".endc\n"
         ".end\n";
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

// All vectors of an ASCII raw file with one point (an operating point).
std::map<std::string, double> read_ascii_raw(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("ngspice wrote no " + file.string());
  std::string line;
  int n_vars = -1;
  std::vector<std::string> names;
  while (std::getline(in, line)) {
    if (line.rfind("No. Variables:", 0) == 0) n_vars = std::stoi(line.substr(14));
    if (line.rfind("No. Points:", 0) == 0 && std::stoi(line.substr(11)) != 1)
      throw std::runtime_error("expected one operating point in " + file.string());
    if (line.rfind("Variables:", 0) == 0) {
      for (int k = 0; k < n_vars && std::getline(in, line); ++k) {
        std::istringstream fields(line);
        int index;
        std::string name;
        fields >> index >> name;
        names.push_back(name);
      }
    }
    if (line.rfind("Values:", 0) == 0) break;
  }
  if (n_vars <= 0 || static_cast<int>(names.size()) != n_vars)
    throw std::runtime_error("malformed raw header in " + file.string());
  int point;
  in >> point;
  std::map<std::string, double> values;
  for (const std::string& name : names) {
    std::string text;
    if (!(in >> text)) throw std::runtime_error("raw file ends early: " + file.string());
    values[name] = std::stod(text);
  }
  return values;
}

// Output currents for one input vector, as ngspice computes them.
std::vector<double> spice_currents(const fs::path& ngspice, const fs::path& dir, const OwnedTile& t,
                                   const std::vector<double>& v) {
  const fs::path netlist = dir / "tile.cir", raw = dir / "result.raw", log = dir / "ngspice.log";
  fs::remove(raw);
  write_netlist(netlist, t, v);
  const std::string command = "cd '" + dir.string() + "' && '" + ngspice.string() + "' -b tile.cir > ngspice.log 2>&1";
  const int rc = std::system(command.c_str());
  if (rc != 0 || !fs::exists(raw)) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    throw std::runtime_error("ngspice failed (status " + std::to_string(rc) + "):\n" + text.str());
  }
  const std::map<std::string, double> values = read_ascii_raw(raw);
  std::vector<double> currents(t.cols);
  for (int j = 0; j < t.cols; ++j) {
    // Branch current of a voltage source: positive from its + node (b) into it.
    const auto it = values.find("i(vs" + std::to_string(j) + ")");
    if (it == values.end()) throw std::runtime_error("no i(vs" + std::to_string(j) + ") in " + raw.string());
    currents[j] = it->second;
  }
  return currents;
}

struct SizeCase {
  int rows, cols, tiles;
};

std::string size_name(const ::testing::TestParamInfo<SizeCase>& info) {
  return std::to_string(info.param.rows) + "x" + std::to_string(info.param.cols);
}

class TileSpice : public ::testing::TestWithParam<SizeCase> {};

TEST_P(TileSpice, CurrentsMatchNgspice) {
  const fs::path ngspice = find_ngspice();
  if (ngspice.empty()) GTEST_SKIP() << "ngspice not found on PATH; install it (Debian: apt-get install ngspice)";

  const SizeCase sc = GetParam();
  TileRng rng(0x5b1ce000u + 1000u * sc.rows + sc.cols);
  TempDir dir;
  double worst_cpu = 0.0, worst_ref = 0.0;
  for (int k = 0; k < sc.tiles; ++k) {
    // Realistic values: devices 20k..200k ohm, wires 0.5..5 ohm, source/sink 50..1000 ohm.
    const TileResistances res{rng.uniform(50.0, 1000.0), rng.uniform(50.0, 1000.0), rng.uniform(0.5, 5.0),
                              rng.uniform(0.5, 5.0)};
    const OwnedTile t = rng.tile(sc.rows, sc.cols, 20e3, 200e3, res, "random " + std::to_string(k));
    const std::vector<double> v = rng.voltages(sc.rows, 0.0, 0.3);
    SCOPED_TRACE(::testing::Message() << sc.rows << "x" << sc.cols << " tile " << k << " (r_source " << res.r_source
                                      << ", r_sink " << res.r_sink << ", r_wire_row " << res.r_wire_row
                                      << ", r_wire_col " << res.r_wire_col << ")");

    const std::vector<double> i_spice = spice_currents(ngspice, dir.path(), t, v);
    std::vector<double> i_cpu(sc.cols), i_ref(sc.cols);
    cpu::tile_currents(t.view(), v.data(), 1, i_cpu.data());
    reference::tile_currents(t.view(), v.data(), 1, i_ref.data());

    const double e_cpu = max_relative_error(i_cpu, i_spice), e_ref = max_relative_error(i_ref, i_spice);
    EXPECT_LE(e_cpu, kTolerance) << "cpu::tile_currents vs ngspice";
    EXPECT_LE(e_ref, kTolerance) << "reference::tile_currents vs ngspice";
    worst_cpu = std::max(worst_cpu, e_cpu);
    worst_ref = std::max(worst_ref, e_ref);
  }
  std::printf("[ max rel. error vs ngspice %dx%d, %d tiles ] cpu %.2e | reference %.2e\n", sc.rows, sc.cols, sc.tiles,
              worst_cpu, worst_ref);
}

INSTANTIATE_TEST_SUITE_P(Sizes, TileSpice,
                         ::testing::Values(SizeCase{8, 8, 6}, SizeCase{16, 16, 6}, SizeCase{32, 32, 6},
                                           SizeCase{24, 40, 6}, SizeCase{64, 64, 2}),
                         size_name);

}  // namespace
}  // namespace sxb
