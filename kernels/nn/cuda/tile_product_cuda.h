// The tile-level product of a mapped layer on the GPU (kernels/nn/tile_product.h;
// its CPU emulation is cpu::tile_product_emulated, its reference the engine's
// tile_layer_forward). Host-side header: only CUDA builds include it.
#pragma once

#include <memory>

#include "kernels/common/device_buffer.h"
#include "kernels/nn/cuda/layers_cuda.h"
#include "kernels/nn/tile_product.h"

namespace sxb::nn::gpu {

// A layer's plan on the host and its weights and index lists on the device,
// uploaded once and used by every call.
struct DeviceTileLayer {
  TileProductLayer layer;  // without its weights (on the device)
  TileProductPlan plan;
  cuda::DeviceBuffer<float> w;
  cuda::DeviceBuffer<int> gather_src, entry_begin, entry_y;
};
// Waits for the uploads before returning.
std::unique_ptr<DeviceTileLayer> upload_tile_layer(const TileProductLayer& layer, cudaStream_t stream);

// x [N, C, H, W] (conv set) or [N, K], bias [outputs] (may be null) ->
// y [N, outputs, Ho, Wo] or [N, outputs], device pointers. Per chunk of
// images: im2col, the DAC, per plane the gathered rows, one batched cuBLAS
// SGEMM per shape of tile pair and the entry sums with the ADC (one thread per
// output element, entries in the plan's order: no atomics on floats). Waits
// for the stream to return the ADC counts.
TileProductCounts tile_product(const Queue& q, const DeviceTileLayer& d, const TileConverters& c,
                               const Conv2dShape* conv, int batch, const float* x, const float* bias, float* y,
                               const ScratchFn& scratch);

}  // namespace sxb::nn::gpu
