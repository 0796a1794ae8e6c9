// The output transform of Winograd F(2,3) (winograd.h): A^T m A of each
// tile's 4x4 products with the eval path's epilogue, into the output planes.
// Compiled without contraction (CMakeLists.txt), so the vectorised clones give
// the bits of the scalar loop on every CPU.
#include <algorithm>
#include <cstddef>

#include "kernels/common/multiversion.h"
#include "kernels/nn/cpu/conv_epilogue.h"
#include "kernels/nn/cpu/winograd.h"

namespace sxb::nn::cpu::winograd {
namespace {

// A^T m A of the block's tiles of output channel k from M [16][K][ld],
// A^T = [[1, 1, 1, 0], [0, 1, -1, -1]], with the epilogue (a branch-free
// loop along the row of M for each combination of stages): into y00 (pooled),
// or the four outputs of each tile into y00, y01, y10, y11.
template <bool Affine, bool Relu, bool Pool>
[[gnu::always_inline]] inline void transform_outputs(const float* m, std::size_t point, int columns,
                                                     const ChannelEpilogue& f, float* __restrict y00,
                                                     float* __restrict y01, float* __restrict y10,
                                                     float* __restrict y11) {
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
[[gnu::always_inline]] inline void transform_outputs(bool pool, const float* m, std::size_t point, int columns,
                                                     const ChannelEpilogue& f, float* out, std::size_t ld) {
  if (pool)
    transform_outputs<Affine, Relu, true>(m, point, columns, f, out, nullptr, nullptr, nullptr);
  else
    transform_outputs<Affine, Relu, false>(m, point, columns, f, out, out + ld, out + 2 * ld, out + 3 * ld);
}

}  // namespace

// All the block's tiles at once (vectorised along the row of M) into `out`,
// then each image's tiles into its plane.
SXB_MULTIVERSION void finish_channel(const Geometry& g, const ConvEpilogue& e, int k, int count,
                                     const float* M, float* out, float* y, std::size_t y_plane) {
  const ChannelEpilogue f(e, k);
  const std::size_t point = static_cast<std::size_t>(g.K) * g.ld;
  const float* m = M + static_cast<std::size_t>(k) * g.ld;
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

}  // namespace sxb::nn::cpu::winograd
