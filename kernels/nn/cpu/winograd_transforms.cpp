// The transforms of Winograd F(2,3) into the transform domain (winograd.h):
// B^T d B of the input tiles and A dy A^T of the gradient tiles, one channel
// of a block of images at a time. Maps of at most 16 tiles, or of a multiple
// of 16, run 16 columns per vector (lanes over tiles and images); other sizes
// take the general per-plane loop. Every path computes each value by the
// same additions in the same order as the general loop (padding included), so
// the results are bit-identical whichever runs.
#include <algorithm>
#include <cstddef>

#include "kernels/common/multiversion.h"
#include "kernels/nn/cpu/winograd.h"

namespace sxb::nn::cpu::winograd {
namespace {

constexpr int kLanes = ChannelTransform::kLanes;

// The rows 2ty - 1 .. 2ty + 2 of the zero-padded plane in r0..r3 (Wp = W + 2
// floats each) give the 4 x Wp rows t = B^T d and then row ty of the tiles'
// 16 points (t B), written at v + p * point + tx.
[[gnu::always_inline]] inline void input_tile_row(int Wp, int TW, const float* r0, const float* r1, const float* r2,
                                                  const float* r3, float* t0, float* t1, float* t2, float* t3,
                                                  float* v, std::size_t point) {
  for (int p = 0; p < Wp; ++p) {
    t0[p] = r0[p] - r2[p];
    t1[p] = r1[p] + r2[p];
    t2[p] = r2[p] - r1[p];
    t3[p] = r1[p] - r3[p];
  }
  const float* t[4] = {t0, t1, t2, t3};
  for (int r = 0; r < 4; ++r) {
    const float* tr = t[r];
    float* v0 = v + (4 * r) * point;
    float* v1 = v0 + point;
    float* v2 = v1 + point;
    float* v3 = v2 + point;
    for (int tx = 0; tx < TW; ++tx) {
      const float a = tr[2 * tx], b = tr[2 * tx + 1], e = tr[2 * tx + 2], f = tr[2 * tx + 3];
      v0[tx] = a - e;
      v1[tx] = b + e;
      v2[tx] = e - b;
      v3[tx] = b - f;
    }
  }
}

// A dy A^T of the 2x2 tiles of rows 2ty, 2ty + 1 (top, bottom), written at
// z + p * point + tx, A = [[1, 0], [1, 1], [1, -1], [0, -1]].
[[gnu::always_inline]] inline void gradient_tile_row(int TW, const float* top, const float* bottom, float* z,
                                                     std::size_t point) {
  for (int r = 0; r < 4; ++r) {
    float* z0 = z + (4 * r) * point;
    float* z1 = z0 + point;
    float* z2 = z1 + point;
    float* z3 = z2 + point;
    for (int tx = 0; tx < TW; ++tx) {
      const float a = top[2 * tx], b = top[2 * tx + 1], c = bottom[2 * tx], d = bottom[2 * tx + 1];
      // Row r of A [a b; c d]: (a, b), (a + c, b + d), (a - c, b - d), (-c, -d).
      const float u = r == 0 ? a : r == 1 ? a + c : r == 2 ? a - c : -c;
      const float w = r == 0 ? b : r == 1 ? b + d : r == 2 ? b - d : -d;
      z0[tx] = u;
      z1[tx] = u + w;
      z2[tx] = u - w;
      z3[tx] = -w;
    }
  }
}


std::size_t point_stride(std::size_t rows, std::size_t ld) { return rows * ld; }
float* at(float* M, std::size_t ld, int row, std::size_t column) {
  return M + static_cast<std::size_t>(row) * ld + column;
}

// Both walk the block's images in groups of 16 columns: m.images images per
// group (maps of at most 16 tiles), or m.groups groups per image (maps of a
// multiple of 16 tiles), each group with its own tap offsets. Every lane is
// set from its taps (padding 0; lanes past the block's last image 0), then
// computed as the per-plane loops compute it.
SXB_MULTIVERSION void input_channel_lanes(const ChannelTransform::Lanes& m, std::size_t rows, std::size_t ld,
                                          const float* plane, std::size_t image, int count, int row, float* V) {
  const std::size_t point = rows * ld;
  float* v = V + static_cast<std::size_t>(row) * ld;
  for (int first = 0; first < count; first += m.images, plane += m.images * image)
    for (int group = 0; group < m.groups; ++group, v += kLanes) {
      const int valid = std::min(m.images, count - first) * m.tiles_per_group;
      const std::ptrdiff_t* taps = m.input.data() + static_cast<std::size_t>(group) * 16 * kLanes;
      float d[16][kLanes];
      for (int tap = 0; tap < 16; ++tap)
        for (int l = 0; l < kLanes; ++l) {
          const std::ptrdiff_t offset = taps[tap * kLanes + l];
          d[tap][l] = offset >= 0 && l < valid ? plane[offset] : 0.0f;
        }
      // B^T d B per lane, the additions of input_tile_row in its order.
      for (int r = 0; r < 4; ++r) {
        float t[4][kLanes];
        for (int j = 0; j < 4; ++j)
          for (int l = 0; l < kLanes; ++l) {
            const float d0 = d[j][l], d1 = d[4 + j][l], d2 = d[8 + j][l], d3 = d[12 + j][l];
            t[j][l] = r == 0 ? d0 - d2 : r == 1 ? d1 + d2 : r == 2 ? d2 - d1 : d1 - d3;
          }
        float* v0 = v + (4 * r) * point;
        for (int l = 0; l < kLanes; ++l) {
          v0[l] = t[0][l] - t[2][l];
          v0[point + l] = t[1][l] + t[2][l];
          v0[2 * point + l] = t[2][l] - t[1][l];
          v0[3 * point + l] = t[1][l] - t[3][l];
        }
      }
    }
}

SXB_MULTIVERSION void gradient_channel_lanes(const ChannelTransform::Lanes& m, std::size_t rows, std::size_t ld,
                                             const float* plane, std::size_t image, int count, int row, float* Z) {
  const std::size_t point = rows * ld;
  float* z = Z + static_cast<std::size_t>(row) * ld;
  for (int first = 0; first < count; first += m.images, plane += m.images * image)
    for (int group = 0; group < m.groups; ++group, z += kLanes) {
      const int valid = std::min(m.images, count - first) * m.tiles_per_group;
      const std::ptrdiff_t* taps = m.gradient.data() + static_cast<std::size_t>(group) * 4 * kLanes;
      float q[4][kLanes];
      for (int tap = 0; tap < 4; ++tap)
        for (int l = 0; l < kLanes; ++l) q[tap][l] = l < valid ? plane[taps[tap * kLanes + l]] : 0.0f;
      // A dy A^T per lane, the additions of gradient_tile_row in its order.
      for (int r = 0; r < 4; ++r) {
        float* z0 = z + (4 * r) * point;
        for (int l = 0; l < kLanes; ++l) {
          const float a = q[0][l], b = q[1][l], c = q[2][l], e = q[3][l];
          const float u = r == 0 ? a : r == 1 ? a + c : r == 2 ? a - c : -c;
          const float w = r == 0 ? b : r == 1 ? b + e : r == 2 ? b - e : -e;
          z0[l] = u;
          z0[point + l] = u + w;
          z0[2 * point + l] = u - w;
          z0[3 * point + l] = -w;
        }
      }
    }
}

}  // namespace

SXB_MULTIVERSION void transform_plane(int H, int W, std::size_t rows, std::size_t ld, const float* plane, int row,
                                      std::size_t column, float* V, float* work) {
  const int Wp = W + 2, TH = H / 2, TW = W / 2;
  float* d[4] = {work, work + Wp, work + 2 * Wp, work + 3 * Wp};
  float* t = work + 4 * Wp;
  for (int ty = 0; ty < TH; ++ty) {
    for (int i = 0; i < 4; ++i) {  // input rows 2ty - 1 .. 2ty + 2, zero-padded
      const int h = 2 * ty - 1 + i;
      d[i][0] = d[i][Wp - 1] = 0.0f;
      if (h < 0 || h >= H)
        std::fill(d[i] + 1, d[i] + 1 + W, 0.0f);
      else
        std::copy(plane + static_cast<std::size_t>(h) * W, plane + static_cast<std::size_t>(h + 1) * W, d[i] + 1);
    }
    input_tile_row(Wp, TW, d[0], d[1], d[2], d[3], t, t + Wp, t + 2 * Wp, t + 3 * Wp,
                   at(V, ld, row, column + static_cast<std::size_t>(ty) * TW), point_stride(rows, ld));
  }
}

SXB_MULTIVERSION void transform_gradient_plane(int H, int W, std::size_t rows, std::size_t ld, const float* plane,
                                               int row, std::size_t column, float* Z) {
  const int TH = H / 2, TW = W / 2;
  for (int ty = 0; ty < TH; ++ty)
    gradient_tile_row(TW, plane + static_cast<std::size_t>(2 * ty) * W, plane + static_cast<std::size_t>(2 * ty + 1) * W,
                      at(Z, ld, row, column + static_cast<std::size_t>(ty) * TW), point_stride(rows, ld));
}

ChannelTransform::ChannelTransform(Kind kind, int H, int W, std::size_t image, bool general)
    : kind_(kind), H_(H), W_(W), tiles_((H / 2) * (W / 2)), image_(image) {
  if (general) return;
  lanes_on_ = tiles_ > 0 && (kLanes % tiles_ == 0 || tiles_ % kLanes == 0);
  if (!lanes_on_) return;
  lanes_.images = std::max(1, kLanes / tiles_);
  lanes_.groups = std::max(1, tiles_ / kLanes);
  lanes_.tiles_per_group = std::min(tiles_, kLanes);
  lanes_.input.assign(static_cast<std::size_t>(lanes_.groups) * 16 * kLanes, -1);
  lanes_.gradient.assign(static_cast<std::size_t>(lanes_.groups) * 4 * kLanes, 0);
  const int TW = W / 2;
  for (int group = 0; group < lanes_.groups; ++group)
    for (int lane = 0; lane < kLanes; ++lane) {
      // Lane -> image of the group (from its first) and tile of that image.
      const int n = lane / lanes_.tiles_per_group, tile = group * kLanes + lane % lanes_.tiles_per_group;
      const int ty = tile / TW, tx = tile % TW;
      const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(n) * static_cast<std::ptrdiff_t>(image);
      std::ptrdiff_t* input = lanes_.input.data() + static_cast<std::size_t>(group) * 16 * kLanes;
      std::ptrdiff_t* gradient = lanes_.gradient.data() + static_cast<std::size_t>(group) * 4 * kLanes;
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          const int h = 2 * ty - 1 + i, w = 2 * tx - 1 + j;
          if (h >= 0 && h < H && w >= 0 && w < W) input[(i * 4 + j) * kLanes + lane] = plane + h * W + w;
        }
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j)
          gradient[(i * 2 + j) * kLanes + lane] = plane + (2 * ty + i) * W + 2 * tx + j;
    }
}

void ChannelTransform::operator()(std::size_t rows, std::size_t ld, const float* plane, int count, int row, float* M,
                                  float* work) const {
  if (lanes_on_) {
    if (kind_ == Kind::Input)
      input_channel_lanes(lanes_, rows, ld, plane, image_, count, row, M);
    else
      gradient_channel_lanes(lanes_, rows, ld, plane, image_, count, row, M);
    return;
  }
  for (int n = 0; n < count; ++n) {
    const float* p = plane + static_cast<std::size_t>(n) * image_;
    const std::size_t column = static_cast<std::size_t>(n) * tiles_;
    if (kind_ == Kind::Input)
      transform_plane(H_, W_, rows, ld, p, row, column, M, work);
    else
      transform_gradient_plane(H_, W_, rows, ld, p, row, column, M);
  }
}

}  // namespace sxb::nn::cpu::winograd
