// The tile solvers a backend-independent test runs on, in the style of
// ggml's test-backend-ops: one table of cases, instantiated per solver.
// A test binary built with SXB_GPU_INSTANCES holds the GPU solvers (ctest
// label gpu, SKIPPED without a usable GPU), otherwise the CPU ones: the
// reference, the fast CPU sweep and the CUDA block sweep emulated on host
// threads.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/crossbar/backend.h"
#include "kernels/tile/solver.h"
#include "tests/support/emulated_cuda.h"
#include "tests/support/skip.h"

namespace sxb::test_support {

struct SolverUnderTest {
  std::string name;
  const TileSolver* solver = nullptr;
  bool on_gpu = false;   // skipped unless cuda_tile_capability() is usable
  int max_dim = 1024;    // larger tiles are left out of this solver's cases (emulation is slow)
  bool is_reference = false;
  bool slow = false;     // emulated: the large grids run on their corners only

  CudaCapability capability() const { return on_gpu ? cuda_tile_capability() : CudaCapability{true, ""}; }
};

inline std::ostream& operator<<(std::ostream& os, const SolverUnderTest& s) { return os << s.name; }

inline std::vector<SolverUnderTest> solvers_under_test(bool with_reference) {
  static const EmulatedCudaSolver emulated;
#ifdef SXB_GPU_INSTANCES
  (void)with_reference;
  return {{"cuda", &cuda_tile_solver(), true}};
#else
  std::vector<SolverUnderTest> out;
  if (with_reference) out.push_back({"reference", &reference_tile_solver(), false, 1024, true});
  out.push_back({"cpu", &cpu_tile_solver()});
  out.push_back({"cuda_emulated", &emulated, false, 40, false, true});
  return out;
#endif
}

inline std::string solver_name(const ::testing::TestParamInfo<SolverUnderTest>& info) { return info.param.name; }

// T of every tile of `batch` on `s`; a tile it reports as failed fails the test.
inline std::vector<double> transfer_on(const SolverUnderTest& s, const TileBatch& batch) {
  std::vector<double> T(batch.total_cells(), std::nan(""));
  const std::vector<std::size_t> failed = s.solver->transfer(batch, T.data());
  EXPECT_TRUE(failed.empty()) << s.name << ": " << failed.size() << " tiles failed";
  return T;
}

inline std::vector<double> transfer_on(const SolverUnderTest& s, const TileView& t) {
  TileBatch one;
  one.add(t.rows, t.cols, t.conductance, t.res);
  return transfer_on(s, one);
}

inline std::vector<double> currents_on(const SolverUnderTest& s, const TileView& t, const std::vector<double>& v) {
  std::vector<double> I(v.size() / t.rows * t.cols);
  s.solver->currents(t, v.data(), static_cast<int>(v.size() / t.rows), I.data());
  return I;
}

}  // namespace sxb::test_support
