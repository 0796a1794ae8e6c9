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
#include "kernels/nn/cpu/conv_epilogue.h"
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

// A^T m A of the block's tiles of output channel k from M [16][K][ld],
// A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], with the epilogue (a branch-free
// loop along the row of M for each combination of stages): into y00 (pooled),
// or the four outputs of each tile into y00, y01, y10, y11.
template <bool Affine, bool Relu, bool Pool>
void transform_outputs(const float* m, std::size_t point, int columns, const ChannelEpilogue& f, float* __restrict y00,
                       float* __restrict y01, float* __restrict y10, float* __restrict y11) {
  const auto stage = [&](float v) {
    v = v + f.bias;
    if constexpr (Affine) v = v * f.scale + f.shift;
    if constexpr (Relu) v = v > 0.0f ? v : 0.0f;
    return v;
  };
  const auto wins = [](float v, float best) { return v > best || v != v; };  // greater, or NaN
  for (int t = 0; t < columns; ++t) {
    float s0[4], s1[4];
    for (int s = 0; s < 4; ++s) {
      const float m0 = m[s * point + t], m1 = m[(4 + s) * point + t], m2 = m[(8 + s) * point + t],
                  m3 = m[(12 + s) * point + t];
      s0[s] = m0 + m1 + m2;
      s1[s] = m1 - m2 - m3;
    }
    const float a = stage(s0[0] + s0[1] + s0[2]), b = stage(s0[1] - s0[2] - s0[3]);
    const float c = stage(s1[0] + s1[1] + s1[2]), d = stage(s1[1] - s1[2] - s1[3]);
    if constexpr (Pool) {
      float best = a;
      best = wins(b, best) ? b : best;
      best = wins(c, best) ? c : best;
      best = wins(d, best) ? d : best;
      y00[t] = best;
    } else {
      y00[t] = a, y01[t] = b, y10[t] = c, y11[t] = d;
    }
  }
}

template <bool Affine, bool Relu>
void transform_outputs(bool pool, const float* m, std::size_t point, int columns, const ChannelEpilogue& f,
                       float* out, std::size_t ld) {
  if (pool)
    transform_outputs<Affine, Relu, true>(m, point, columns, f, out, nullptr, nullptr, nullptr);
  else
    transform_outputs<Affine, Relu, false>(m, point, columns, f, out, out + ld, out + 2 * ld, out + 3 * ld);
}

// Output channel k of the block's `count` images from M [16][K][ld]: the
// outputs of all the block's tiles at once (vectorised along the row of M)
// into `out` (4 x ld floats, work space), then into each image's y plane.
SXB_MULTIVERSION void finish_channel(const WinogradGeometry& g, const ConvEpilogue& e, int k, int count,
                                     const float* Mo, float* out, float* y, std::size_t y_plane) {
  const ChannelEpilogue f(e, k);
  const std::size_t point = static_cast<std::size_t>(g.K) * g.ld;
  const float* m = Mo + static_cast<std::size_t>(k) * g.ld;
  const int columns = count * g.tiles_per_image;
  if (f.affine && f.relu) transform_outputs<true, true>(e.pool, m, point, columns, f, out, g.ld);
  else if (f.affine) transform_outputs<true, false>(e.pool, m, point, columns, f, out, g.ld);
  else if (f.relu) transform_outputs<false, true>(e.pool, m, point, columns, f, out, g.ld);
  else transform_outputs<false, false>(e.pool, m, point, columns, f, out, g.ld);
  const float *y00 = out, *y01 = out + g.ld, *y10 = out + 2 * g.ld, *y11 = out + 3 * g.ld;
  const std::size_t image = static_cast<std::size_t>(g.K) * y_plane;
  for (int n = 0; n < count; ++n) {
    float* to = y + n * image + static_cast<std::size_t>(k) * y_plane;
    const std::size_t first = static_cast<std::size_t>(n) * g.tiles_per_image;
    if (e.pool) {
      std::copy(y00 + first, y00 + first + g.tiles_per_image, to);
      continue;
    }
    for (int ty = 0; ty < g.TH; ++ty) {
      float* top = to + static_cast<std::size_t>(2 * ty) * g.W;
      float* bottom = top + g.W;
      const std::size_t t0 = first + static_cast<std::size_t>(ty) * g.TW;
      for (int tx = 0; tx < g.TW; ++tx) {
        top[2 * tx] = y00[t0 + tx];
        top[2 * tx + 1] = y01[t0 + tx];
        bottom[2 * tx] = y10[t0 + tx];
        bottom[2 * tx + 1] = y11[t0 + tx];
      }
    }
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
      finish_channel(g, e, k, count, Mo, rows, y + static_cast<std::size_t>(first) * g.K * y_plane, y_plane);
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
