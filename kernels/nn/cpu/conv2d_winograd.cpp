// Winograd F(2,3) forward of 3x3, stride-1, padding-1 convolutions (the eval
// path with its epilogue; the training forward and, on flipped kernels, the
// input gradient with the bias only or nothing):
// each 2x2 output tile of a channel is A^T [sum over c of (G g G^T) . (B^T d B)] A
// over the 4x4 input tile d around it, so the 36 multiply-adds per tile and
// input channel of a direct product become 16 (16 products [K, C] x [C, tiles],
// one per point of the 4x4 transform domain).
//
// The batch is cut into blocks of images, from the layer shape and batch
// size only. Large maps: chunks of about kChunkColumns tiles, each worked
// through by one thread (transform the inputs, 16 single-threaded SGEMMs,
// transform the products back, applying the epilogue: bias, batch-norm,
// ReLU, 2x2 pool), with no barrier between chunks. Small maps (fewer than
// kMinChunks chunks): blocks of about kBlockColumns tiles in which all threads
// share each step (inputs per image and channel, the 16 products, outputs per
// channel). Each value is computed by the same operations whatever the thread
// count.
#include <cblas.h>

#include <algorithm>
#include <cstddef>

#include "kernels/common/multiversion.h"
#include "kernels/nn/cpu/scratch.h"
#include "kernels/nn/cpu/winograd.h"
#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {
namespace {

using winograd::kPoints;
using WinogradGeometry = winograd::Geometry;

// U [16][K][C]: U[4r + s][k][c] = (G g G^T)[r][s] of the 3x3 kernel g of (k, c),
// G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]. `row` holds
// 16 x C floats (work space).
SXB_MULTIVERSION void transform_weights(const WinogradGeometry& g, const float* weight, float* U, float* row) {
  const std::size_t point = static_cast<std::size_t>(g.K) * g.C;
#pragma omp for schedule(static)
  for (int k = 0; k < g.K; ++k) {
    for (int c = 0; c < g.C; ++c) {
      const float* w = weight + (static_cast<std::size_t>(k) * g.C + c) * 9;
      float gg[4][3];
      for (int j = 0; j < 3; ++j) {
        gg[0][j] = w[j];
        gg[1][j] = 0.5f * (w[j] + w[3 + j] + w[6 + j]);
        gg[2][j] = 0.5f * (w[j] - w[3 + j] + w[6 + j]);
        gg[3][j] = w[6 + j];
      }
      for (int r = 0; r < 4; ++r) {
        row[(4 * r + 0) * g.C + c] = gg[r][0];
        row[(4 * r + 1) * g.C + c] = 0.5f * (gg[r][0] + gg[r][1] + gg[r][2]);
        row[(4 * r + 2) * g.C + c] = 0.5f * (gg[r][0] - gg[r][1] + gg[r][2]);
        row[(4 * r + 3) * g.C + c] = gg[r][2];
      }
    }
    for (int p = 0; p < kPoints; ++p)
      std::copy(row + p * g.C, row + (p + 1) * g.C, U + p * point + static_cast<std::size_t>(k) * g.C);
  }
}

}  // namespace

bool winograd_applies(const Conv2dShape& s) {
  return s.kernel_h == 3 && s.kernel_w == 3 && s.stride == 1 && s.padding == 1 && s.height % 2 == 0 &&
         s.width % 2 == 0 && s.in_channels >= kWinogradMinChannels;
}

void conv2d_forward_winograd(const Conv2dShape& s, const float* x, const float* weight, const ConvEpilogue& e,
                             float* y) {
  const WinogradGeometry g(s);
  float* U = scratch(Scratch::WinogradWeights, static_cast<std::size_t>(kPoints) * g.K * g.C);
  const std::size_t in_plane = static_cast<std::size_t>(g.H) * g.W;
  const std::size_t y_plane = e.pool ? static_cast<std::size_t>(g.TH) * g.TW : in_plane;
  const std::size_t v_size = kPoints * static_cast<std::size_t>(g.C) * g.ld;
  const std::size_t m_size = kPoints * static_cast<std::size_t>(g.K) * g.ld;
  // Shared by the threads (blocks), or each thread's own (chunks).
  float* shared_V = g.chunks ? nullptr : scratch(Scratch::WinogradInputs, v_size);
  float* shared_M = g.chunks ? nullptr : scratch(Scratch::WinogradProducts, m_size);
  const winograd::ChannelTransform transform(winograd::ChannelTransform::Kind::Input, g.H, g.W,
                                             static_cast<std::size_t>(g.C) * in_plane);
#pragma omp parallel
  {
    float* rows = scratch(Scratch::Columns, std::max<std::size_t>(8 * static_cast<std::size_t>(g.W + 2), 4 * g.ld));
    float* row = scratch(Scratch::Outputs, kPoints * static_cast<std::size_t>(g.C));
    float* V = g.chunks ? scratch(Scratch::WinogradInputs, v_size) : shared_V;
    float* Mo = g.chunks ? scratch(Scratch::WinogradProducts, m_size) : shared_M;
    transform_weights(g, weight, U, row);
    const auto inputs = [&](int first, int count, int c) {  // row c of V: channel c of the block's images
      transform(g.C, g.ld, x + (static_cast<std::size_t>(first) * g.C + c) * in_plane, count, c, V, rows);
    };
    const auto product = [&](int p, int columns) {
      // M_p [K, columns] = U_p [K, C] * V_p [C, columns]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.K, columns, g.C, 1.0f,
                  U + static_cast<std::size_t>(p) * g.K * g.C, g.C, V + p * static_cast<std::size_t>(g.C) * g.ld,
                  static_cast<int>(g.ld), 0.0f, Mo + p * static_cast<std::size_t>(g.K) * g.ld, static_cast<int>(g.ld));
    };
    const auto outputs = [&](int first, int count, int k) {
      winograd::finish_channel(g, e, k, count, Mo, rows, y + static_cast<std::size_t>(first) * g.K * y_plane, y_plane);
    };
    if (g.chunks) {
#pragma omp for schedule(static)
      for (int b = 0; b < g.blocks; ++b) {
        const int first = b * g.images_per_block, count = std::min(g.images_per_block, g.N - first);
        for (int c = 0; c < g.C; ++c) inputs(first, count, c);
        for (int p = 0; p < kPoints; ++p) product(p, count * g.tiles_per_image);
        for (int k = 0; k < g.K; ++k) outputs(first, count, k);
      }
    } else {
      for (int b = 0; b < g.blocks; ++b) {
        const int first = b * g.images_per_block, count = std::min(g.images_per_block, g.N - first);
#pragma omp for schedule(static)
        for (int c = 0; c < g.C; ++c) inputs(first, count, c);
#pragma omp for schedule(static)
        for (int p = 0; p < kPoints; ++p) product(p, count * g.tiles_per_image);
#pragma omp for schedule(static)
        for (int k = 0; k < g.K; ++k) outputs(first, count, k);
      }
    }
  }
}

}  // namespace sxb::nn::cpu
