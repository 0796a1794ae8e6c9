// Adapters of the reference, fast CPU and CUDA tile solvers to TileSolver.
#include "kernels/tile/solver.h"

#include <omp.h>

#include <fstream>

#include "kernels/common/error.h"
#include "kernels/tile/cpu/tile_sweep.h"
#include "kernels/tile/cuda/cuda_backend.h"
#include "kernels/tile/reference/tile_reference.h"

namespace sxb {

namespace {

class ReferenceSolver final : public TileSolver {
 public:
  const char* name() const override { return "reference"; }
  std::string device() const override { return cpu_description(); }
  std::string supports(const TileView&) const override { return {}; }
  std::string supports(const TileBatch&) const override { return {}; }
  std::vector<std::size_t> transfer(const TileBatch& batch, double* out) const override {
    for (std::size_t k = 0; k < batch.size(); ++k) reference::tile_transfer(batch.tile(k), out + batch.offset[k]);
    return {};
  }
  void currents(const TileView& t, const double* v, int n_vec, double* out) const override {
    reference::tile_currents(t, v, n_vec, out);
  }
};

class CpuSolver final : public TileSolver {
 public:
  const char* name() const override { return "cpu"; }
  std::string device() const override { return cpu_description(); }
  std::string supports(const TileView&) const override { return {}; }
  std::string supports(const TileBatch&) const override { return {}; }
  std::vector<std::size_t> transfer(const TileBatch& batch, double* out) const override {
    return cpu::batch_transfer(batch, out);
  }
  void currents(const TileView& t, const double* v, int n_vec, double* out) const override {
    cpu::tile_currents(t, v, n_vec, out);
  }
};

// Whether one R x C tile fits in 90% of the GPU memory free at the probe.
bool fits(int rows, int cols, const cuda::DeviceInfo& gpu) {
  return cuda::tile_workspace_bytes(rows, cols) <= gpu.free_bytes / 10 * 9;
}
std::string too_big(int rows, int cols, const cuda::DeviceInfo& gpu) {
  return std::to_string(rows) + " x " + std::to_string(cols) + " needs " +
         std::to_string(cuda::tile_workspace_bytes(rows, cols)) + " bytes of GPU memory, " +
         std::to_string(gpu.free_bytes / 10 * 9) + " are available";
}

// Solves currents through T, one tile per call.
class CudaSolver final : public TileSolver {
 public:
  const char* name() const override { return "cuda"; }
  std::string device() const override { return cuda::device_info().name; }
  std::string supports(const TileView& t) const override {
    const cuda::DeviceInfo& gpu = cuda::device_info();
    if (!gpu.available) return gpu.reason;
    return fits(t.rows, t.cols, gpu) ? std::string() : too_big(t.rows, t.cols, gpu);
  }
  std::string supports(const TileBatch& batch) const override {
    const cuda::DeviceInfo& gpu = cuda::device_info();
    if (!gpu.available) return gpu.reason;
    for (std::size_t k = 0; k < batch.size(); ++k)
      if (!fits(batch.rows[k], batch.cols[k], gpu)) return "tile " + std::to_string(k) + ": " + too_big(batch.rows[k], batch.cols[k], gpu);
    return {};
  }
  std::vector<std::size_t> transfer(const TileBatch& batch, double* out) const override {
    return cuda::batch_transfer(batch, out);
  }
  void currents(const TileView& t, const double* v, int n_vec, double* out) const override {
    TileBatch one;
    one.add(t.rows, t.cols, t.conductance, t.res);
    std::vector<double> T(one.total_cells());
    SXB_REQUIRE(cuda::batch_transfer(one, T.data()).empty(),
                "CUDA tile solver: shifted admittance not positive definite (invalid or extreme input)");
    currents_from_transfer(t, T.data(), v, n_vec, out);
  }
  bool currents_through_transfer() const override { return true; }
};

}  // namespace

const TileSolver& reference_tile_solver() {
  static const ReferenceSolver solver;
  return solver;
}

const TileSolver& cpu_tile_solver() {
  static const CpuSolver solver;
  return solver;
}

const TileSolver& cuda_tile_solver() {
  static const CudaSolver solver;
  return solver;
}

void currents_from_transfer(const TileView& t, const double* T, const double* v, int n_vec, double* I) {
  for (int n = 0; n < n_vec; ++n)
    for (int j = 0; j < t.cols; ++j) {
      double sum = 0.0;
      for (int i = 0; i < t.rows; ++i)
        sum += T[static_cast<std::size_t>(j) * t.rows + i] * v[static_cast<std::size_t>(n) * t.rows + i];
      I[static_cast<std::size_t>(n) * t.cols + j] = sum;
    }
}

std::string cpu_description() {
  std::string model = "CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + ", " + std::to_string(omp_get_max_threads()) + " threads";
}

}  // namespace sxb
