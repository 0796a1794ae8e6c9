// conv2d as im2col + SGEMM, one sample at a time.
//
// Every SGEMM runs inside an OpenMP parallel region over samples (or batch
// chunks), where OpenBLAS's OpenMP build is single-threaded: each product is
// computed the same way whatever the thread count. The weight gradient is
// summed over fixed batch chunks added in index order (ordered_chunk_sum).
#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernels/nn/cpu/ordered_sum.h"
#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

namespace {

struct ConvGeometry {
  int C, H, W, K, kh, kw, pad, stride, Ho, Wo;
  std::size_t out_pixels;     // Ho*Wo
  std::size_t patch;          // C*kh*kw: rows of the column matrix
  std::size_t in_sample;      // C*H*W
  std::size_t out_sample;     // K*Ho*Wo
  bool pointwise;             // 1x1, stride 1, no padding: the input is its own column matrix

  explicit ConvGeometry(const Conv2dShape& s)
      : C(s.in_channels), H(s.height), W(s.width), K(s.out_channels), kh(s.kernel_h), kw(s.kernel_w),
        pad(s.padding), stride(s.stride), Ho(s.out_height()), Wo(s.out_width()),
        out_pixels(static_cast<std::size_t>(Ho) * Wo),
        patch(static_cast<std::size_t>(C) * kh * kw),
        in_sample(static_cast<std::size_t>(C) * H * W),
        out_sample(static_cast<std::size_t>(K) * Ho * Wo),
        pointwise(kh == 1 && kw == 1 && stride == 1 && pad == 0) {}
};

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

// col [C*kh*kw, Ho*Wo]: row (c, i, j) holds the input pixel that kernel tap
// (i, j) of channel c sees at each output position (0 in the padding).
void im2col(const ConvGeometry& g, const float* x, float* col) {
  for (int c = 0; c < g.C; ++c) {
    const float* plane = x + static_cast<std::size_t>(c) * g.H * g.W;
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        float* row = col + ((static_cast<std::size_t>(c) * g.kh + i) * g.kw + j) * g.out_pixels;
        int lo = 0, hi = 0;
        valid_columns(g, j, lo, hi);
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

// dx [C,H,W] = sum of the column-matrix gradient over the taps that read each
// pixel (the adjoint of im2col), in a fixed serial order.
void col2im(const ConvGeometry& g, const float* dcol, float* dx) {
  std::fill(dx, dx + g.in_sample, 0.0f);
  for (int c = 0; c < g.C; ++c) {
    float* plane = dx + static_cast<std::size_t>(c) * g.H * g.W;
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        const float* row = dcol + ((static_cast<std::size_t>(c) * g.kh + i) * g.kw + j) * g.out_pixels;
        int lo = 0, hi = 0;
        valid_columns(g, j, lo, hi);
        for (int oh = 0; oh < g.Ho; ++oh) {
          const int ih = oh * g.stride - g.pad + i;
          if (ih < 0 || ih >= g.H) continue;
          const float* in = row + static_cast<std::size_t>(oh) * g.Wo;
          const std::ptrdiff_t base = static_cast<std::ptrdiff_t>(ih) * g.W - g.pad + j;
          if (g.stride == 1) {
            float* out = plane + (base + lo);  // base + lo >= 0
            for (int k = 0; k < hi - lo; ++k) out[k] += in[lo + k];
          } else {
            for (int ow = lo; ow < hi; ++ow) plane[base + static_cast<std::ptrdiff_t>(ow) * g.stride] += in[ow];
          }
        }
      }
    }
  }
}

}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* y) {
  const ConvGeometry g(s);
  const int N = s.batch;
#pragma omp parallel
  {
    std::vector<float> col(g.pointwise ? 0 : g.patch * g.out_pixels);
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      const float* xn = x + n * g.in_sample;
      float* yn = y + n * g.out_sample;
      const float* cols = xn;
      if (!g.pointwise) {
        im2col(g, xn, col.data());
        cols = col.data();
      }
      if (bias)
        for (int k = 0; k < g.K; ++k) std::fill(yn + k * g.out_pixels, yn + (k + 1) * g.out_pixels, bias[k]);
      // y_n [K, Ho*Wo] = weight [K, C*kh*kw] * col [C*kh*kw, Ho*Wo] (+ bias)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.K, static_cast<int>(g.out_pixels),
                  static_cast<int>(g.patch), 1.0f, weight, static_cast<int>(g.patch), cols,
                  static_cast<int>(g.out_pixels), bias ? 1.0f : 0.0f, yn, static_cast<int>(g.out_pixels));
    }
  }
}

// y_n [K, Ho*Wo] = CSR weight * col_n: each output row is its entries'
// column-matrix rows scaled and added in CSR order (vectorised over pixels).
void conv2d_forward_csr(const Conv2dShape& s, const float* x, const CsrView& weight, const float* bias, float* y) {
  const ConvGeometry g(s);
  const int N = s.batch;
  const std::size_t M = g.out_pixels;
#pragma omp parallel
  {
    std::vector<float> col(g.pointwise ? 0 : g.patch * M);
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      const float* xn = x + n * g.in_sample;
      const float* cols = xn;
      if (!g.pointwise) {
        im2col(g, xn, col.data());
        cols = col.data();
      }
      for (int k = 0; k < g.K; ++k) {
        float* out = y + n * g.out_sample + k * M;
        std::fill(out, out + M, bias ? bias[k] : 0.0f);
        for (std::int32_t e = weight.row_ptr[k]; e < weight.row_ptr[k + 1]; ++e) {
          const float v = weight.values[e];
          const float* in = cols + static_cast<std::size_t>(weight.col_idx[e]) * M;
          for (std::size_t p = 0; p < M; ++p) out[p] += v * in[p];
        }
      }
    }
  }
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* weight, const float* dy, float* dx,
                     float* dweight, float* dbias) {
  const ConvGeometry g(s);
  const int M = static_cast<int>(g.out_pixels), P = static_cast<int>(g.patch);
  // dweight = sum_n dy_n [K, Ho*Wo] * col_n^T; dx_n = col2im(weight^T * dy_n).
  ordered_chunk_sum(s.batch, kConvBatchChunk, static_cast<std::size_t>(g.K) * g.patch, dweight,
                    [&](int first, int last, float* partial) {
                      std::vector<float> col(g.pointwise ? 0 : g.patch * g.out_pixels);
                      std::vector<float> dcol(dx && !g.pointwise ? g.patch * g.out_pixels : 0);
                      for (int n = first; n < last; ++n) {
                        const float* xn = x + n * g.in_sample;
                        const float* dyn = dy + n * g.out_sample;
                        const float* cols = xn;
                        if (!g.pointwise) {
                          im2col(g, xn, col.data());
                          cols = col.data();
                        }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.K, P, M, 1.0f, dyn, M, cols, M,
                                    n == first ? 0.0f : 1.0f, partial, P);
                        if (dx) {
                          float* dxn = dx + n * g.in_sample;
                          float* target = g.pointwise ? dxn : dcol.data();
                          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, M, g.K, 1.0f, weight, P, dyn,
                                      M, 0.0f, target, M);
                          if (!g.pointwise) col2im(g, dcol.data(), dxn);
                        }
                      }
                    });
  if (dbias) {
    // One serial sum (double) per output channel: order independent of threads.
#pragma omp parallel for schedule(static)
    for (int k = 0; k < g.K; ++k) {
      double sum = 0.0;
      for (int n = 0; n < s.batch; ++n) {
        const float* d = dy + n * g.out_sample + k * g.out_pixels;
        for (std::size_t p = 0; p < g.out_pixels; ++p) sum += d[p];
      }
      dbias[k] = static_cast<float>(sum);
    }
  }
}

}  // namespace sxb::nn::cpu
