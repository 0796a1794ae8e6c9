// Winograd F(2,3) backward of 3x3, stride-1, padding-1 convolutions.
//
// Input gradient: dx is the same convolution of dy with the kernels flipped
// (i, j -> 2 - i, 2 - j) and the channel axes swapped, so it runs through the
// Winograd forward (conv2d_winograd.cpp).
//
// Weight gradient: the adjoint of the forward's y = A^T [(G g G^T) . V] A,
// with V = B^T d B: dU = sum over tiles of (A dy A^T) . V, point by point,
// and dweight = G^T dU G. Point p of dU is one product
// dU_p [K, C] = Z_p [K, tiles] * V_p [C, tiles]^T (Z = A dy A^T of each 2x2
// tile of dy): 16 multiply-adds per tile and channel pair instead of the 36
// of im2col + SGEMM, and no column matrix.
//   - Small maps (at most kWholeTiles tiles in the batch): all threads share
//     the transforms (per image and channel) and the 16 products (one SGEMM
//     over the whole batch per point): no partial sums.
//   - Large maps: kGroups fixed groups of images, each group's dU
//     accumulated by the SGEMMs of its blocks of about kGroupColumns tiles,
//     the groups' dU added in index order (ordered_chunk_sum).
// Groups and blocks follow the layer shape and batch size only, so every
// value is bit-identical for any thread count.
#include <cblas.h>

#include <algorithm>
#include <cstddef>

#include "kernels/common/multiversion.h"
#include "kernels/nn/cpu/conv_epilogue.h"
#include "kernels/nn/cpu/ordered_sum.h"
#include "kernels/nn/cpu/scratch.h"
#include "kernels/nn/cpu/winograd.h"
#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {
namespace {

using winograd::kPoints;

constexpr int kWholeTiles = 1024, kGroups = 8, kGroupColumns = 1024;

// dweight [K, C, 3, 3] = G^T dU G of every (k, c), from dU [16][K][C],
// G^T = [[1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]]: kBlock
// filters at a time, one per vector lane.
SXB_MULTIVERSION void weights_from_transform(int K, int C, const float* dU, float* dweight) {
  constexpr int kBlock = 16;
  const std::size_t point = static_cast<std::size_t>(K) * C;
#pragma omp for schedule(static)
  for (int k = 0; k < K; ++k)
    for (int c0 = 0; c0 < C; c0 += kBlock) {
      const std::size_t first = static_cast<std::size_t>(k) * C + c0;
      const int n = std::min(kBlock, C - c0);
      float u[kPoints][kBlock] = {}, w[9][kBlock];
      for (int p = 0; p < kPoints; ++p) std::copy_n(dU + p * point + first, n, u[p]);
      for (int s = 0; s < 4; ++s)
        for (int j = 0; j < kBlock; ++j) {  // u[4r + s]: row r, column s of dU
          const float t0 = u[s][j] + 0.5f * (u[4 + s][j] + u[8 + s][j]);
          const float t1 = 0.5f * (u[4 + s][j] - u[8 + s][j]);
          const float t2 = 0.5f * (u[4 + s][j] + u[8 + s][j]) + u[12 + s][j];
          u[s][j] = t0, u[4 + s][j] = t1, u[8 + s][j] = t2;  // t[i][s] in u[4i + s]
        }
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < kBlock; ++j) {
          w[3 * i][j] = u[4 * i][j] + 0.5f * (u[4 * i + 1][j] + u[4 * i + 2][j]);
          w[3 * i + 1][j] = 0.5f * (u[4 * i + 1][j] - u[4 * i + 2][j]);
          w[3 * i + 2][j] = 0.5f * (u[4 * i + 1][j] + u[4 * i + 2][j]) + u[4 * i + 3][j];
        }
      float* to = dweight + first * 9;
      for (int j = 0; j < n; ++j)
        for (int e = 0; e < 9; ++e) to[9 * j + e] = w[e][j];
    }
}

struct GradGeometry {
  int N, C, H, W, K, tiles_per_image;
  std::size_t in_plane;
  explicit GradGeometry(const Conv2dShape& s)
      : N(s.batch), C(s.in_channels), H(s.height), W(s.width), K(s.out_channels),
        tiles_per_image((s.height / 2) * (s.width / 2)), in_plane(static_cast<std::size_t>(s.height) * s.width) {}
  const float* x_plane(const float* x, int n, int c) const { return x + (static_cast<std::size_t>(n) * C + c) * in_plane; }
  const float* dy_plane(const float* dy, int n, int k) const {
    return dy + (static_cast<std::size_t>(n) * K + k) * in_plane;
  }
  // dU_p [K, C] (+)= Z_p [K, columns] * V_p [C, columns]^T for every point.
  void products(const float* Z, const float* V, std::size_t ld, int columns, float beta, float* dU, int p) const {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, C, columns, 1.0f, Z + p * static_cast<std::size_t>(K) * ld,
                static_cast<int>(ld), V + p * static_cast<std::size_t>(C) * ld, static_cast<int>(ld), beta,
                dU + p * static_cast<std::size_t>(K) * C, C);
  }
};

// The input and gradient transforms of a layer's channels (winograd.h).
struct Transforms {
  winograd::ChannelTransform input, gradient;
  explicit Transforms(const GradGeometry& g)
      : input(winograd::ChannelTransform::Kind::Input, g.H, g.W, static_cast<std::size_t>(g.C) * g.in_plane),
        gradient(winograd::ChannelTransform::Kind::Gradient, g.H, g.W, static_cast<std::size_t>(g.K) * g.in_plane) {}
};

// Small maps: the whole batch side by side, every step shared by the threads.
void weight_grad_whole_batch(const GradGeometry& g, const float* x, const float* dy, float* dU, float* dweight) {
  const std::size_t ld = winograd::point_ld(static_cast<std::size_t>(g.N) * g.tiles_per_image);
  float* V = scratch(Scratch::WinogradInputs, kPoints * static_cast<std::size_t>(g.C) * ld);
  float* Z = scratch(Scratch::WinogradProducts, kPoints * static_cast<std::size_t>(g.K) * ld);
  const int columns = g.N * g.tiles_per_image;
  const Transforms transform(g);
#pragma omp parallel
  {
    float* work = scratch(Scratch::Columns, 8 * static_cast<std::size_t>(g.W + 2));
#pragma omp for schedule(static)
    for (int c = 0; c < g.C; ++c) transform.input(g.C, ld, g.x_plane(x, 0, c), g.N, c, V, work);
#pragma omp for schedule(static)
    for (int k = 0; k < g.K; ++k) transform.gradient(g.K, ld, g.dy_plane(dy, 0, k), g.N, k, Z, work);
#pragma omp for schedule(static)
    for (int p = 0; p < kPoints; ++p) g.products(Z, V, ld, columns, 0.0f, dU, p);
    weights_from_transform(g.K, g.C, dU, dweight);
  }
}

// Large maps: fixed groups of images, each group's dU a partial of
// ordered_chunk_sum, worked through by one thread in blocks of images.
void weight_grad_in_groups(const GradGeometry& g, const float* x, const float* dy, float* dU, float* dweight) {
  const int group = (g.N + kGroups - 1) / kGroups;
  const int per_block = std::clamp(kGroupColumns / g.tiles_per_image, 1, group);
  const std::size_t ld = winograd::point_ld(static_cast<std::size_t>(per_block) * g.tiles_per_image);
  const Transforms transform(g);
  ordered_chunk_sum(g.N, group, kPoints * static_cast<std::size_t>(g.K) * g.C, dU,
                    [&](int group_first, int group_last, float* partial) {
                      float* V = scratch(Scratch::WinogradInputs, kPoints * static_cast<std::size_t>(g.C) * ld);
                      float* Z = scratch(Scratch::WinogradProducts, kPoints * static_cast<std::size_t>(g.K) * ld);
                      float* work = scratch(Scratch::Columns, 8 * static_cast<std::size_t>(g.W + 2));
                      for (int first = group_first; first < group_last; first += per_block) {
                        const int count = std::min(per_block, group_last - first);
                        for (int c = 0; c < g.C; ++c)
                          transform.input(g.C, ld, g.x_plane(x, first, c), count, c, V, work);
                        for (int k = 0; k < g.K; ++k)
                          transform.gradient(g.K, ld, g.dy_plane(dy, first, k), count, k, Z, work);
                        const float beta = first == group_first ? 0.0f : 1.0f;
                        for (int p = 0; p < kPoints; ++p)
                          g.products(Z, V, ld, count * g.tiles_per_image, beta, partial, p);
                      }
                    });
#pragma omp parallel
  weights_from_transform(g.K, g.C, dU, dweight);
}

}  // namespace

bool winograd_backward_applies(const Conv2dShape& s) {
  return winograd_applies(s) && s.out_channels >= kWinogradMinChannels;
}

void conv2d_weight_grad_winograd(const Conv2dShape& s, const float* x, const float* dy, float* dweight) {
  const GradGeometry g(s);
  float* dU = scratch(Scratch::WinogradGradient, kPoints * static_cast<std::size_t>(g.K) * g.C);
  if (g.N * g.tiles_per_image <= kWholeTiles)
    weight_grad_whole_batch(g, x, dy, dU, dweight);
  else
    weight_grad_in_groups(g, x, dy, dU, dweight);
}

void conv2d_input_grad_winograd(const Conv2dShape& s, const float* weight, const float* dy, float* dx) {
  const int C = s.in_channels, K = s.out_channels;
  float* flipped = scratch(Scratch::FlippedWeights, static_cast<std::size_t>(C) * K * 9);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < K; ++k) {
      const float* from = weight + (static_cast<std::size_t>(k) * C + c) * 9;
      float* to = flipped + (static_cast<std::size_t>(c) * K + k) * 9;
      for (int t = 0; t < 9; ++t) to[t] = from[8 - t];
    }
  Conv2dShape t = s;
  t.in_channels = K;
  t.out_channels = C;
  conv2d_forward_winograd(t, dy, flipped, ConvEpilogue{}, dx);
}

}  // namespace sxb::nn::cpu
