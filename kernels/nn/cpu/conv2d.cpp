// conv2d as im2col + SGEMM over chunks of images.
//
// A chunk's column matrices sit side by side ([C*kh*kw, images*Ho*Wo]), so
// one SGEMM per chunk packs the weights once for all its images. The chunk
// size follows the layer shape and the batch size only (images_per_chunk), and
// every SGEMM runs inside an OpenMP parallel region, where OpenBLAS's OpenMP
// build is single-threaded: each product is computed the same way whatever the
// thread count. The weight gradient is summed over fixed groups of chunks in
// index order (conv2d_backward).
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstddef>

#include "kernels/nn/cpu/conv_epilogue.h"
#include "kernels/nn/cpu/lane_sums.h"
#include "kernels/nn/cpu/ordered_sum.h"
#include "kernels/nn/cpu/scratch.h"
#include "kernels/common/multiversion.h"
#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

namespace {

struct ConvGeometry {
  int C, H, W, K, kh, kw, pad, stride, Ho, Wo;
  std::size_t out_pixels;  // Ho*Wo
  std::size_t patch;       // C*kh*kw: rows of the column matrix
  std::size_t in_sample;   // C*H*W
  std::size_t out_sample;  // K*Ho*Wo

  explicit ConvGeometry(const Conv2dShape& s)
      : C(s.in_channels), H(s.height), W(s.width), K(s.out_channels), kh(s.kernel_h), kw(s.kernel_w),
        pad(s.padding), stride(s.stride), Ho(s.out_height()), Wo(s.out_width()),
        out_pixels(static_cast<std::size_t>(Ho) * Wo),
        patch(static_cast<std::size_t>(C) * kh * kw),
        in_sample(static_cast<std::size_t>(C) * H * W),
        out_sample(static_cast<std::size_t>(K) * Ho * Wo) {}

  // Stride 1 and "same" padding: the output has the input's size, so tap
  // (i, j) reads the input plane shifted by (i - pad) * W + (j - pad), and
  // the output positions it reads form one run [first, last) of that plane.
  bool same() const { return stride == 1 && Ho == H && Wo == W; }
  // Row of the column matrix that holds kernel tap (i, j) of channel c.
  std::size_t tap_row(int c, int i, int j) const { return (static_cast<std::size_t>(c) * kh + i) * kw + j; }
  struct Run {
    std::ptrdiff_t shift, first, last;
  };
  Run run(int i, int j) const {
    const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(i - pad) * W + (j - pad);
    const std::ptrdiff_t n = static_cast<std::ptrdiff_t>(H) * W;
    return {shift, std::clamp<std::ptrdiff_t>(-shift, 0, n), std::clamp<std::ptrdiff_t>(n - shift, 0, n)};
  }
};

// Images per chunk: enough SGEMM columns (images x output pixels) to amortise
// packing the weights, but at least kMinChunks chunks per batch so that the
// threads share the work. Shape and batch only, never the thread count.
constexpr std::size_t kGemmColumns = 512;
constexpr int kMinChunks = 8;

int images_per_chunk(const ConvGeometry& g, int batch) {
  const int for_columns = static_cast<int>((kGemmColumns + g.out_pixels - 1) / g.out_pixels);
  const int for_threads = (batch + kMinChunks - 1) / kMinChunks;
  return std::max(1, std::min(for_columns, for_threads));
}

// The output columns [lo, hi) at which kernel column j reads inside the
// input row (iw = ow * stride - pad + j in [0, W)); the others read padding.
void valid_columns(const ConvGeometry& g, int j, int& lo, int& hi) {
  const int first = g.pad - j;          // ow * stride >= pad - j
  const int last = g.W - 1 + g.pad - j;  // ow * stride <= W - 1 + pad - j
  lo = first <= 0 ? 0 : (first + g.stride - 1) / g.stride;
  hi = last < 0 ? 0 : last / g.stride + 1;
  lo = std::min(lo, g.Wo);
  hi = std::clamp(hi, lo, g.Wo);
}

// Sets the output columns outside [lo, hi) of every output row of a
// column-matrix row to 0: column by column, a strided store rather than a
// tiny fill per row.
inline void zero_padding_columns(const ConvGeometry& g, int lo, int hi, float* row) {
  const auto zero_column = [&](int ow) {
    for (int oh = 0; oh < g.Ho; ++oh) row[static_cast<std::size_t>(oh) * g.Wo + ow] = 0.0f;
  };
  for (int ow = 0; ow < lo; ++ow) zero_column(ow);
  for (int ow = hi; ow < g.Wo; ++ow) zero_column(ow);
}

// Column matrix of one image: row (c, i, j) (at col + row * ld) holds the
// input pixel that kernel tap (i, j) of channel c sees at each of the Ho*Wo
// output positions (0 in the padding).
SXB_MULTIVERSION void im2col(const ConvGeometry& g, const float* x, float* col, std::size_t ld) {
  for (int c = 0; c < g.C; ++c) {
    const float* plane = x + static_cast<std::size_t>(c) * g.H * g.W;
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        float* row = col + g.tap_row(c, i, j) * ld;
        int lo = 0, hi = 0;
        valid_columns(g, j, lo, hi);
        if (g.same()) {
          // One copy of the shifted plane, then the taps that fell into the
          // padding (wrapped to a neighbouring row, or outside) set to 0.
          const ConvGeometry::Run r = g.run(i, j);
          std::fill(row, row + r.first, 0.0f);
          std::copy(plane + r.first + r.shift, plane + r.last + r.shift, row + r.first);
          std::fill(row + r.last, row + g.out_pixels, 0.0f);
          zero_padding_columns(g, lo, hi, row);
          continue;
        }
        for (int oh = 0; oh < g.Ho; ++oh) {
          float* out = row + static_cast<std::size_t>(oh) * g.Wo;
          const int ih = oh * g.stride - g.pad + i;
          if (ih < 0 || ih >= g.H) {
            std::fill(out, out + g.Wo, 0.0f);
            continue;
          }
          // Input column of output column ow: base + ow * stride (>= 0 from lo on).
          const std::ptrdiff_t base = static_cast<std::ptrdiff_t>(ih) * g.W - g.pad + j;
          std::fill(out, out + lo, 0.0f);
          if (g.stride == 1) {
            std::copy(plane + base + lo, plane + base + hi, out + lo);
          } else {
            for (int ow = lo; ow < hi; ++ow) out[ow] = plane[base + static_cast<std::ptrdiff_t>(ow) * g.stride];
          }
          std::fill(out + hi, out + g.Wo, 0.0f);
        }
      }
    }
  }
}

// col2im for the "same" geometry: the centre tap reads every pixel once, so
// its row sets the plane; every other tap (its padding taps zeroed first,
// since adding 0 leaves a sum as it was) is added as one shifted run, taps in
// (i, j) order.
SXB_MULTIVERSION void col2im_same(const ConvGeometry& g, float* dcol, std::size_t ld, float* dx) {
  const std::size_t plane_size = static_cast<std::size_t>(g.H) * g.W;
  for (int c = 0; c < g.C; ++c) {
    float* plane = dx + c * plane_size;
    const float* centre = dcol + g.tap_row(c, g.pad, g.pad) * ld;
    std::copy(centre, centre + plane_size, plane);
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        if (i == g.pad && j == g.pad) continue;
        float* row = dcol + g.tap_row(c, i, j) * ld;
        int lo = 0, hi = 0;
        valid_columns(g, j, lo, hi);
        zero_padding_columns(g, lo, hi, row);
        const ConvGeometry::Run r = g.run(i, j);
        float* __restrict out = plane + (r.first + r.shift);
        const float* __restrict in = row + r.first;
        for (std::ptrdiff_t t = 0; t < r.last - r.first; ++t) out[t] += in[t];
      }
    }
  }
}

// dx [C,H,W] = sum of the column-matrix gradient (rows at dcol + row * ld)
// over the taps that read each pixel (the adjoint of im2col), taps in a fixed
// serial order. May overwrite the padding taps of `dcol` with 0.
SXB_MULTIVERSION void col2im(const ConvGeometry& g, float* dcol, std::size_t ld, float* dx) {
  if (g.same()) return col2im_same(g, dcol, ld, dx);
  std::fill(dx, dx + g.in_sample, 0.0f);
  for (int c = 0; c < g.C; ++c) {
    float* plane = dx + static_cast<std::size_t>(c) * g.H * g.W;
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        const float* row = dcol + g.tap_row(c, i, j) * ld;
        int lo = 0, hi = 0;
        valid_columns(g, j, lo, hi);
        for (int oh = 0; oh < g.Ho; ++oh) {
          const int ih = oh * g.stride - g.pad + i;
          if (ih < 0 || ih >= g.H) continue;
          const float* in = row + static_cast<std::size_t>(oh) * g.Wo;
          const std::ptrdiff_t base = static_cast<std::ptrdiff_t>(ih) * g.W - g.pad + j;
          for (int ow = lo; ow < hi; ++ow) plane[base + static_cast<std::ptrdiff_t>(ow) * g.stride] += in[ow];
        }
      }
    }
  }
}

// A chunk of images [first, first + count) in the layout of one SGEMM:
// `col` [C*kh*kw, count*Ho*Wo] holds their column matrices side by side.
void chunk_im2col(const ConvGeometry& g, const float* x, int first, int count, float* col) {
  const std::size_t ld = static_cast<std::size_t>(count) * g.out_pixels;
  for (int n = 0; n < count; ++n) im2col(g, x + (first + n) * g.in_sample, col + n * g.out_pixels, ld);
}

// The output gradients of images [first, first + count) side by side:
// dY [K, count*Ho*Wo] with leading dimension ld.
void gather_outputs(const ConvGeometry& g, const float* dy, int first, int count, std::size_t ld, float* dY) {
  for (int n = 0; n < count; ++n)
    for (int k = 0; k < g.K; ++k) {
      const float* from = dy + (first + n) * g.out_sample + k * g.out_pixels;
      std::copy(from, from + g.out_pixels, dY + k * ld + n * g.out_pixels);
    }
}

// Small feature maps, where a chunk would have fewer than kGemmColumns
// columns, and whose column matrix for the whole batch fits in
// kWholeBatchFloats: forward and backward run as products over the whole batch.
constexpr std::size_t kWholeBatchFloats = std::size_t{4} << 20;
// Rows per block of a whole-batch product (of the column matrix, or of the
// output channels): at most about kRowBlock, in an even number of equal
// blocks (multiples of 16 rows).
constexpr int kRowBlock = 512;

int block_rows(int rows) {
  const int blocks = 2 * ((rows + 2 * kRowBlock - 1) / (2 * kRowBlock));
  return ((rows + blocks - 1) / blocks + 15) / 16 * 16;
}

bool small_maps(const ConvGeometry& g, int batch) {
  return static_cast<std::size_t>(images_per_chunk(g, batch)) * g.out_pixels < kGemmColumns &&
         g.patch * g.out_pixels * batch <= kWholeBatchFloats;
}

// Leading dimension of a [rows, L] work matrix: L rounded up to 16 floats,
// plus 16, so that it is never a large power of two (rows would then all map
// to the same cache sets when the SGEMM packs them).
std::size_t padded(std::size_t L) { return (L + 15) / 16 * 16 + 16; }

// The whole batch side by side, for the whole-batch products: col
// [C*kh*kw, L] and one [K, L] matrix (L = N*Ho*Wo, leading dimension ld), and
// `blocked` rows (of col, or of the K matrix) cut into `blocks` fixed blocks.
struct WholeBatch {
  int P, K, L, ld, rows_per_block, blocks;
  float *col, *k_rows;
  WholeBatch(const ConvGeometry& g, int batch, int blocked)
      : P(static_cast<int>(g.patch)), K(g.K), L(static_cast<int>(g.out_pixels * batch)),
        ld(static_cast<int>(padded(static_cast<std::size_t>(L)))), rows_per_block(block_rows(blocked)),
        blocks((blocked + rows_per_block - 1) / rows_per_block),
        col(scratch(Scratch::Columns, g.patch * ld)),
        k_rows(scratch(Scratch::Outputs, static_cast<std::size_t>(K) * ld)) {}
  // First row and row count of block b.
  int first(int b) const { return b * rows_per_block; }
  int rows(int b, int blocked) const { return std::min(rows_per_block, blocked - first(b)); }
};

// y of images [first, first + count) from out [K, count*Ho*Wo] (leading
// dimension ld), with the epilogue applied (the training forward: the bias).
void scatter_outputs(const ConvGeometry& g, const float* out, std::size_t ld, int first, int count,
                     const ConvEpilogue& e, float* y) {
  const std::size_t M = g.out_pixels;
  const std::size_t y_plane = e.pool ? static_cast<std::size_t>(g.Ho / 2) * (g.Wo / 2) : M;
  for (int n = 0; n < count; ++n)
    for (int k = 0; k < g.K; ++k)
      finish_plane(e, k, g.Ho, g.Wo, out + k * ld + n * M, y + ((first + n) * static_cast<std::size_t>(g.K) + k) * y_plane);
}

// out [K, L] = weight * col [C*kh*kw, L] over the whole batch side by side
// (L = N*Ho*Wo), in fixed blocks of output channels: the weights are packed
// once in all, instead of once per chunk.
void forward_whole_batch(const ConvGeometry& g, int batch, const float* x, const float* weight, const ConvEpilogue& e,
                         float* y) {
  const WholeBatch w(g, batch, g.K);
  float* out = w.k_rows;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int n = 0; n < batch; ++n) im2col(g, x + n * g.in_sample, w.col + n * g.out_pixels, w.ld);
#pragma omp for schedule(static)
    for (int b = 0; b < w.blocks; ++b) {
      const std::size_t k0 = w.first(b);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, w.rows(b, w.K), w.L, w.P, 1.0f, weight + k0 * w.P, w.P,
                  w.col, w.ld, 0.0f, out + k0 * w.ld, w.ld);
    }
#pragma omp for schedule(static)
    for (int n = 0; n < batch; ++n) scatter_outputs(g, out + n * g.out_pixels, w.ld, n, 1, e, y);
  }
}

// With col [C*kh*kw, L] and dY [K, L] the whole batch side by side
// (L = N*Ho*Wo): dweight = dY * col^T and dcol = weight^T * dY, each split
// into fixed blocks of rows of col (a column block of dweight, a
// row block of dcol): one SGEMM per block over the whole batch, no partial
// sums, the same calls whatever the thread count.
void backward_whole_batch(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* dy,
                          float* dx, float* dweight) {
  const WholeBatch w(g, batch, static_cast<int>(g.patch));
  float* dY = w.k_rows;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int n = 0; n < batch; ++n) {
      im2col(g, x + n * g.in_sample, w.col + n * g.out_pixels, w.ld);
      gather_outputs(g, dy, n, 1, w.ld, dY + n * g.out_pixels);
    }
#pragma omp for schedule(static)
    for (int b = 0; b < w.blocks; ++b) {
      const std::size_t p0 = w.first(b);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, w.K, w.rows(b, w.P), w.L, 1.0f, dY, w.ld,
                  w.col + p0 * w.ld, w.ld, 0.0f, dweight + p0, w.P);
    }
    if (dx) {
      // The column matrix is spent: its rows now take dcol.
#pragma omp for schedule(static)
      for (int b = 0; b < w.blocks; ++b) {
        const std::size_t p0 = w.first(b);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, w.rows(b, w.P), w.L, w.K, 1.0f, weight + p0, w.P, dY,
                    w.ld, 0.0f, w.col + p0 * w.ld, w.ld);
      }
#pragma omp for schedule(static)
      for (int n = 0; n < batch; ++n) col2im(g, w.col + n * g.out_pixels, w.ld, dx + n * g.in_sample);
    }
  }
}

// The batch is cut into kMinChunks groups of images; a group's weight
// gradient is accumulated by the SGEMMs of its chunks in order, and the
// groups' gradients are added in index order (ordered_chunk_sum). Per chunk,
// with col [C*kh*kw, L] its column matrices and dY [K, L] its output
// gradients side by side (L = images * Ho*Wo):
//   group dweight += dY * col^T;   dcol = weight^T * dY, scattered back by col2im.
void backward_in_groups(const ConvGeometry& g, int batch, const float* x, const float* weight, const float* dy,
                        float* dx, float* dweight) {
  const std::size_t M = g.out_pixels;
  const int P = static_cast<int>(g.patch);
  const int chunk = images_per_chunk(g, batch);
  const int group = chunk * ((batch + chunk * kMinChunks - 1) / (chunk * kMinChunks));
  ordered_chunk_sum(batch, group, static_cast<std::size_t>(g.K) * g.patch, dweight,
                    [&](int group_first, int group_last, float* partial) {
                      float* col = scratch(Scratch::Columns, g.patch * chunk * M);
                      float* dY = scratch(Scratch::Outputs, g.out_sample * chunk);
                      for (int first = group_first; first < group_last; first += chunk) {
                        const int count = std::min(chunk, group_last - first);
                        const int ld = static_cast<int>(count * M);
                        gather_outputs(g, dy, first, count, ld, dY);
                        chunk_im2col(g, x, first, count, col);
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.K, P, ld, 1.0f, dY, ld, col, ld,
                                    first == group_first ? 0.0f : 1.0f, partial, P);
                        if (!dx) continue;
                        float* dcol = col;  // the column matrix is not needed any more
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, ld, g.K, 1.0f, weight, P, dY, ld,
                                    0.0f, dcol, ld);
                        for (int n = 0; n < count; ++n) col2im(g, dcol + n * M, ld, dx + (first + n) * g.in_sample);
                      }
                    });
}


// im2col + SGEMM over chunks of images (or the whole batch for small maps),
// each product's output finished by the epilogue.
void forward_im2col(const ConvGeometry& g, int batch, const float* x, const float* weight, const ConvEpilogue& e,
                    float* y) {
  if (small_maps(g, batch)) return forward_whole_batch(g, batch, x, weight, e, y);
  const int chunk = images_per_chunk(g, batch);
  const int chunks = (batch + chunk - 1) / chunk;
  const std::size_t M = g.out_pixels;
#pragma omp parallel
  {
    float* col = scratch(Scratch::Columns, g.patch * chunk * M);
    float* out = scratch(Scratch::Outputs, g.out_sample * chunk);
#pragma omp for schedule(static)
    for (int c = 0; c < chunks; ++c) {
      const int first = c * chunk, count = std::min(chunk, batch - first);
      const std::size_t ld = count * M;
      chunk_im2col(g, x, first, count, col);
      // out [K, count*Ho*Wo] = weight [K, C*kh*kw] * col [C*kh*kw, count*Ho*Wo]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.K, static_cast<int>(ld), static_cast<int>(g.patch),
                  1.0f, weight, static_cast<int>(g.patch), col, static_cast<int>(ld), 0.0f, out,
                  static_cast<int>(ld));
      scatter_outputs(g, out, ld, first, count, e, y);
    }
  }
}

}  // namespace

namespace {

// finish_plane for one combination of stages: branch-free loops the compiler
// vectorises (the stride-2 reads of the pool included), the same operations
// in the same order as ChannelEpilogue and window_max.
template <bool Affine, bool Relu>
[[gnu::always_inline]] inline void finish_plane_as(const ChannelEpilogue& f, bool pool, int Ho, int Wo,
                                                   const float* __restrict from, float* __restrict to) {
  const auto stage = [&](float v) {
    v = v + f.bias;
    if constexpr (Affine) v = v * f.scale + f.shift;
    if constexpr (Relu) v = v > 0.0f ? v : 0.0f;
    return v;
  };
  if (!pool) {
    const std::size_t M = static_cast<std::size_t>(Ho) * Wo;
    for (std::size_t p = 0; p < M; ++p) to[p] = stage(from[p]);
    return;
  }
  const auto wins = [](float v, float best) { return v > best || v != v; };  // greater, or NaN
  const int Hp = Ho / 2, Wp = Wo / 2;
  for (int oh = 0; oh < Hp; ++oh) {
    const float* top = from + static_cast<std::size_t>(2 * oh) * Wo;
    const float* bottom = top + Wo;
    float* out = to + static_cast<std::size_t>(oh) * Wp;
    for (int ow = 0; ow < Wp; ++ow) {
      const float a = stage(top[2 * ow]), b = stage(top[2 * ow + 1]), c = stage(bottom[2 * ow]),
                  d = stage(bottom[2 * ow + 1]);
      float best = a;
      best = wins(b, best) ? b : best;
      best = wins(c, best) ? c : best;
      best = wins(d, best) ? d : best;
      out[ow] = best;
    }
  }
}

}  // namespace

SXB_MULTIVERSION void finish_plane(const ConvEpilogue& e, int k, int Ho, int Wo, const float* from, float* to) {
  const ChannelEpilogue f(e, k);
  if (f.affine && f.relu) finish_plane_as<true, true>(f, e.pool, Ho, Wo, from, to);
  else if (f.affine) finish_plane_as<true, false>(f, e.pool, Ho, Wo, from, to);
  else if (f.relu) finish_plane_as<false, true>(f, e.pool, Ho, Wo, from, to);
  else finish_plane_as<false, false>(f, e.pool, Ho, Wo, from, to);
}

namespace {
std::atomic<bool> winograd_in_training{true};  // set_winograd_training
}  // namespace

void set_winograd_training(bool on) { winograd_in_training.store(on, std::memory_order_relaxed); }
bool winograd_training() { return winograd_in_training.load(std::memory_order_relaxed); }

void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* y) {
  ConvEpilogue e;
  e.bias = bias;
  if (winograd_training() && winograd_applies(s)) return conv2d_forward_winograd(s, x, weight, e, y);
  forward_im2col(ConvGeometry(s), s.batch, x, weight, e, y);
}

void conv2d_forward_eval(const Conv2dShape& s, const float* x, const float* weight, const ConvEpilogue& e, float* y) {
  if (winograd_applies(s)) return conv2d_forward_winograd(s, x, weight, e, y);
  forward_im2col(ConvGeometry(s), s.batch, x, weight, e, y);
}

// y_n [K, Ho*Wo] = CSR weight * col_n: each output row is its entries'
// column-matrix rows scaled and added in CSR order (vectorised over pixels).
void conv2d_forward_csr(const Conv2dShape& s, const float* x, const CsrView& weight, const float* bias, float* y) {
  const ConvGeometry g(s);
  const int N = s.batch;
  const std::size_t M = g.out_pixels;
#pragma omp parallel
  {
    float* col = scratch(Scratch::Columns, g.patch * M);
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      im2col(g, x + n * g.in_sample, col, M);
      for (int k = 0; k < g.K; ++k) {
        float* out = y + n * g.out_sample + k * M;
        std::fill(out, out + M, bias ? bias[k] : 0.0f);
        for (std::int32_t e = weight.row_ptr[k]; e < weight.row_ptr[k + 1]; ++e) {
          const float v = weight.values[e];
          const float* in = col + static_cast<std::size_t>(weight.col_idx[e]) * M;
          for (std::size_t p = 0; p < M; ++p) out[p] += v * in[p];
        }
      }
    }
  }
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* weight, const float* dy, float* dx,
                     float* dweight, float* dbias) {
  const ConvGeometry g(s);
  if (winograd_training() && winograd_backward_applies(s)) {
    conv2d_weight_grad_winograd(s, x, dy, dweight);
    if (dx) conv2d_input_grad_winograd(s, weight, dy, dx);
  } else if (small_maps(g, s.batch))
    backward_whole_batch(g, s.batch, x, weight, dy, dx, dweight);
  else
    backward_in_groups(g, s.batch, x, weight, dy, dx, dweight);
  if (dbias) {
    // One serial sum (LaneSums) per output channel: order independent of threads.
#pragma omp parallel for schedule(static)
    for (int k = 0; k < g.K; ++k) {
      LaneSums sum;
      for (int n = 0; n < s.batch; ++n)
        add_values(dy + n * g.out_sample + k * g.out_pixels, static_cast<int>(g.out_pixels), sum);
      dbias[k] = static_cast<float>(sum.total());
    }
  }
}

}  // namespace sxb::nn::cpu
