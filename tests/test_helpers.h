// Small helpers shared by the tests: seeded random conductances and voltages
// (see also tests/support/random_tile.h).
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <omp.h>

#include "kernels/common/error.h"
#include "kernels/tile/tile.h"
#include "tests/support/random_tile.h"

namespace sxb::test {

// Device resistances log-uniform in [r_min, r_max] ohm, as conductances (S).
inline std::vector<double> random_conductances(int R, int C, double r_min, double r_max, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(std::log(r_min), std::log(r_max));
  std::vector<double> g(static_cast<std::size_t>(R) * C);
  for (double& x : g) x = 1.0 / std::exp(u(rng));
  return g;
}

inline std::vector<double> random_voltages(int R, int n_vec, double v_max, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, v_max);
  std::vector<double> v(static_cast<std::size_t>(R) * n_vec);
  for (double& x : v) x = u(rng);
  return v;
}

using test_support::max_relative_error;

// The message of the sxb::Error that f() throws, or "" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Sets the OpenMP thread count for its scope.
struct ThreadCount {
  int saved = omp_get_max_threads();
  explicit ThreadCount(int n) { omp_set_num_threads(n); }
  ~ThreadCount() { omp_set_num_threads(saved); }
};

// An empty directory under the test's temporary directory.
inline std::filesystem::path fresh_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(testing::TempDir()) / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

// A file's bytes ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace sxb::test
