// Host-side interface of the CUDA backend. Free of CUDA headers so that the
// engine compiles without a CUDA toolkit (then the stub in cuda_stub.cpp is
// linked and reports the backend as unavailable).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/tile/tile.h"

namespace sxb::cuda {

struct DeviceInfo {
  bool available = false;
  std::string name;     // e.g. "NVIDIA H100 80GB HBM3"
  std::string reason;   // why it is unavailable
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
};

// Probes the GPU once per process (later calls return the cached answer).
const DeviceInfo& device_info();

// Transfer matrices of every tile of the batch, solved on the GPU. The batch
// is copied to the device in as few chunks as free memory allows; each chunk
// is one kernel launch with one thread block per tile. Output layout as
// cpu::batch_transfer. `max_tiles_per_chunk` (0 = from free memory) bounds a chunk.
void batch_transfer(const TileBatch& batch, double* transfer, std::size_t max_tiles_per_chunk = 0);

// Device bytes one tile of R x C needs while it is being solved.
std::size_t tile_workspace_bytes(int rows, int cols);

}  // namespace sxb::cuda
