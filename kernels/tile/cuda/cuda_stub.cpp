// Linked when the project is built without nvcc: the CUDA backend is absent.
#include "kernels/tile/cuda/cuda_backend.h"
#include "kernels/common/error.h"

namespace sxb::cuda {

const DeviceInfo& device_info() { return gpu_info(); }

std::vector<std::size_t> batch_transfer(const TileBatch&, double*, std::size_t) {
  throw Error("CUDA backend requested, but " + device_info().reason);
}

std::size_t tile_workspace_bytes(int rows, int cols) {
  return sizeof(double) * (4 * static_cast<std::size_t>(rows) * rows + 2 * static_cast<std::size_t>(rows) * cols);
}

}  // namespace sxb::cuda
