// Host-side interface of the CUDA backend. Free of CUDA headers so that the
// engine compiles without a CUDA toolkit (then the stub in cuda_stub.cpp is
// linked and reports the backend as unavailable).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/common/gpu_info.h"
#include "kernels/tile/tile.h"

namespace sxb::cuda {

// The tile solver's capability probe: gpu_info() plus a check that the tile
// kernel has an image for this GPU. Once per process; never throws.
const DeviceInfo& device_info();

// Transfer matrices of every tile of the batch, solved on the GPU. The batch
// is copied to the device in as few chunks as free memory allows; each chunk
// is one kernel launch with one thread block per tile. Output layout as
// cpu::batch_transfer. `max_tiles_per_chunk` (0 = from free memory) bounds a chunk.
// Returns the indices of tiles whose factorisation failed (not expected for
// valid, finite input); throws Error when the GPU or a CUDA call fails.
std::vector<std::size_t> batch_transfer(const TileBatch& batch, double* transfer,
                                        std::size_t max_tiles_per_chunk = 0);

// Device bytes one tile of R x C needs while it is being solved.
std::size_t tile_workspace_bytes(int rows, int cols);

}  // namespace sxb::cuda
