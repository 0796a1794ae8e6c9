// The CUDA tile sweep's device code (kernels/tile/cuda/tile_sweep.cuh) run on
// the CPU: one std::thread per CUDA thread, std::barrier for __syncthreads and
// a per-warp barrier for __syncwarp. Checks the block algorithm (work split,
// synchronisation, indexing) without a GPU; EmulatedCudaSolver offers it as a
// TileSolver so the backend-independent tests run on it too.
#pragma once

#include <barrier>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include "kernels/common/error.h"
#include "kernels/tile/cuda/tile_sweep.cuh"
#include "kernels/tile/solver.h"

namespace sxb::test_support {

struct EmulatedBarriers {
  std::barrier<> block;
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  explicit EmulatedBarriers(int n) : block(n) {
    for (int w = 0; w < n / 32; ++w) warps.push_back(std::make_unique<std::barrier<>>(32));
  }
};

// The Block interface tile_sweep.cuh expects, backed by host threads.
struct EmulatedBlock {
  int tid, n;
  EmulatedBarriers* barriers;
  int thread() const { return tid; }
  int threads() const { return n; }
  int lane() const { return tid % 32; }
  int warp() const { return tid / 32; }
  int warps() const { return n / 32; }
  void sync() const { barriers->block.arrive_and_wait(); }
  void sync_warp() const { barriers->warps[tid / 32]->arrive_and_wait(); }
};

// T of one tile by the block sweep on `n_threads` host threads; *status as the kernel's.
inline std::vector<double> emulated_transfer(const TileView& t, int n_threads, int* status) {
  cuda::TileJob job;
  job.rows = t.rows;
  job.cols = t.cols;
  job.r_source = t.res.r_source;
  job.r_sink = t.res.r_sink;
  job.r_wire_row = t.res.r_wire_row;
  job.r_wire_col = t.res.r_wire_col;
  std::vector<double> Q(static_cast<std::size_t>(t.rows) * t.cols, std::nan(""));
  std::vector<double> scratch(cuda::scratch_doubles(t.rows), std::nan(""));  // poisoned: reads before writes show
  *status = 0;
  EmulatedBarriers barriers(n_threads);
  std::vector<std::thread> threads;
  for (int i = 0; i < n_threads; ++i)
    threads.emplace_back([&, i] {
      const EmulatedBlock blk{i, n_threads, &barriers};
      cuda::sweep_tile(blk, job, t.conductance, Q.data(), scratch.data(), status);
    });
  for (auto& th : threads) th.join();
  return Q;
}

// The block sweep as a TileSolver (64 host threads per tile; currents through T, as on CUDA).
class EmulatedCudaSolver final : public TileSolver {
 public:
  static constexpr int kThreads = 64;
  const char* name() const override { return "cuda-emulated"; }
  std::string device() const override { return "host threads"; }
  std::string supports(const TileView&) const override { return {}; }
  std::string supports(const TileBatch&) const override { return {}; }
  std::vector<std::size_t> transfer(const TileBatch& batch, double* out) const override {
    std::vector<std::size_t> failed;
    for (std::size_t k = 0; k < batch.size(); ++k) {
      int status = 0;
      const std::vector<double> T = emulated_transfer(batch.tile(k), kThreads, &status);
      if (status != 0) failed.push_back(k);
      std::copy(T.begin(), T.end(), out + batch.offset[k]);
    }
    return failed;
  }
  void currents(const TileView& t, const double* v, int n_vec, double* out) const override {
    int status = 0;
    const std::vector<double> T = emulated_transfer(t, kThreads, &status);
    SXB_REQUIRE(status == 0, "emulated CUDA tile solver: shifted admittance not positive definite");
    currents_from_transfer(t, T.data(), v, n_vec, out);
  }
  bool currents_through_transfer() const override { return true; }
};

}  // namespace sxb::test_support
