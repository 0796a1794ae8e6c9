// Winograd F(2,3) pieces shared by the forward (conv2d_winograd.cpp) and the
// backward (conv2d_winograd_backward.cpp) of 3x3, stride-1, padding-1
// convolutions (internal to the CPU nn kernels).
#pragma once

#include <algorithm>
#include <cstddef>

#include "kernels/nn/layers.h"

namespace sxb::nn::cpu::winograd {

constexpr int kPoints = 16;  // 4x4 transform domain
// Tiles of a block shared by all threads, and of a chunk one thread works
// through alone; at least kMinChunks chunks make the layer use chunks.
constexpr int kBlockColumns = 1024, kChunkColumns = 512, kMinChunks = 4;

// Leading dimension of the [rows, columns] matrices of a point: columns
// rounded up to 16 floats, never a multiple of 256 (rows a large power of
// two apart would share cache sets).
inline std::size_t point_ld(std::size_t columns) {
  std::size_t ld = (columns + 15) / 16 * 16;
  if (ld % 256 == 0) ld += 16;
  return ld;
}

struct Geometry {
  int N, C, H, W, K, TH, TW, tiles_per_image, images_per_block, blocks;
  bool chunks;     // each thread transforms, multiplies and finishes its own blocks (no barriers)
  std::size_t ld;  // leading dimension of the [C or K, tiles] matrices of a point

  explicit Geometry(const Conv2dShape& s)
      : N(s.batch), C(s.in_channels), H(s.height), W(s.width), K(s.out_channels), TH(s.height / 2),
        TW(s.width / 2), tiles_per_image(TH * TW) {
    const int per_chunk = std::max(1, (kChunkColumns + tiles_per_image - 1) / tiles_per_image);
    chunks = (N + per_chunk - 1) / per_chunk >= kMinChunks;
    images_per_block = chunks ? per_chunk : std::clamp(kBlockColumns / tiles_per_image, 1, N);
    blocks = (N + images_per_block - 1) / images_per_block;
    ld = point_ld(static_cast<std::size_t>(images_per_block) * tiles_per_image);
  }
};

// V [16][rows][ld] (point p at V + p * rows * ld): B^T d B of every 4x4
// input tile (zero padding of 1) of one H x W plane, into row `row` at
// columns [column, column + TH*TW), tiles in row-major order,
// B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
// `work` holds 8 rows of W + 2 floats.
void transform_plane(int H, int W, std::size_t rows, std::size_t ld, const float* plane, int row,
                     std::size_t column, float* V, float* work);

}  // namespace sxb::nn::cpu::winograd
