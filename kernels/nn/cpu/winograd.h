// Winograd F(2,3) pieces shared by the forward (conv2d_winograd.cpp) and the
// backward (conv2d_winograd_backward.cpp) of 3x3, stride-1, padding-1
// convolutions (internal to the CPU nn kernels).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

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
// Z [16][rows][ld]: A dy A^T of every 2x2 tile of one H x W gradient plane,
// into row `row` at columns [column, column + TH*TW),
// A = [[1, 0], [1, 1], [1, -1], [0, -1]].
void transform_gradient_plane(int H, int W, std::size_t rows, std::size_t ld, const float* plane, int row,
                              std::size_t column, float* Z);

// The input (B^T d B) or gradient (A dy A^T) transform of one channel of
// `count` consecutive images: row `row` of the [16][rows][ld] matrices at
// columns [0, count * TH * TW), image by image; `plane` is the channel's
// plane of the first image, the next image's `image` floats further.
// Maps of at most 16 tiles (2x2, 4x4, 8x8) or a multiple of 16 take 16
// columns (the tiles of one or more images) per vector and may write zeros
// up to the next multiple of 16 columns (ld allows it, point_ld); other
// maps take the per-plane loop. Every path computes each value
// by the additions of transform_plane (transform_gradient_plane) in their
// order, so they are bit-identical to it; `general` forces that loop (tests).
class ChannelTransform {
 public:
  enum class Kind { Input, Gradient };
  ChannelTransform(Kind kind, int H, int W, std::size_t image, bool general = false);
  // `work`: 8 rows of W + 2 floats.
  void operator()(std::size_t rows, std::size_t ld, const float* plane, int count, int row, float* M,
                  float* work) const;

  static constexpr int kLanes = 16;
  // Groups of 16 columns: `images` images of at most 16 tiles each, or
  // `groups` groups per image of a multiple of 16 tiles; per group, tap
  // (16 input, 4 gradient) and lane, the offset from the group's first
  // plane (-1: padding).
  struct Lanes {
    int images = 1, groups = 1, tiles_per_group = 0;
    std::vector<std::ptrdiff_t> input, gradient;  // [groups][taps][kLanes]
  };

 private:
  Kind kind_;
  int H_, W_, tiles_;
  std::size_t image_;
  bool lanes_on_ = false;
  Lanes lanes_;
};

// Output channel k of the block's `count` images from M [16][K][ld] (the
// products of conv2d_forward_winograd): A^T m A of every tile with the
// epilogue e, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], into `out` (4 x ld floats,
// work space), then into each image's plane of y (y_plane floats each;
// pooled when e.pool).
void finish_channel(const Geometry& g, const ConvEpilogue& e, int k, int count, const float* M, float* out, float* y,
                    std::size_t y_plane);

}  // namespace sxb::nn::cpu::winograd
