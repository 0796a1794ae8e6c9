// Fully connected layer on SGEMM. The batch is cut into fixed row chunks, one
// single-threaded SGEMM each (inside the OpenMP region), and the weight
// gradient adds the chunks' partial products in chunk order.
#include <cblas.h>

#include <algorithm>
#include <cstddef>

#include "kernels/nn/cpu/ordered_sum.h"
#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

void linear_forward(const LinearShape& s, const float* x, const float* weight, const float* bias, float* y) {
  const int in = s.in_features, out = s.out_features;
  const int chunks = (s.batch + kLinearBatchChunk - 1) / kLinearBatchChunk;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < chunks; ++c) {
    const int first = c * kLinearBatchChunk, rows = std::min(kLinearBatchChunk, s.batch - first);
    float* yc = y + static_cast<std::size_t>(first) * out;
    if (bias)
      for (int r = 0; r < rows; ++r) std::copy(bias, bias + out, yc + static_cast<std::size_t>(r) * out);
    // y [rows, out] = x [rows, in] * weight^T (+ bias)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f,
                x + static_cast<std::size_t>(first) * in, in, weight, in, bias ? 1.0f : 0.0f, yc, out);
  }
}

void linear_forward_csr(const LinearShape& s, const float* x, const CsrView& weight, const float* bias, float* y) {
  const int in = s.in_features, out = s.out_features;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < s.batch; ++n) {
    const float* xn = x + static_cast<std::size_t>(n) * in;
    float* yn = y + static_cast<std::size_t>(n) * out;
    for (int o = 0; o < out; ++o) {
      float acc = 0.0f;
      for (std::int32_t e = weight.row_ptr[o]; e < weight.row_ptr[o + 1]; ++e) acc += weight.values[e] * xn[weight.col_idx[e]];
      yn[o] = acc + (bias ? bias[o] : 0.0f);
    }
  }
}

void linear_backward(const LinearShape& s, const float* x, const float* weight, const float* dy, float* dx,
                     float* dweight, float* dbias) {
  const int in = s.in_features, out = s.out_features;
  if (dx) {
    const int chunks = (s.batch + kLinearBatchChunk - 1) / kLinearBatchChunk;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < chunks; ++c) {
      const int first = c * kLinearBatchChunk, rows = std::min(kLinearBatchChunk, s.batch - first);
      // dx [rows, in] = dy [rows, out] * weight [out, in]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f,
                  dy + static_cast<std::size_t>(first) * out, out, weight, in, 0.0f,
                  dx + static_cast<std::size_t>(first) * in, in);
    }
  }
  // dweight [out, in] = sum over chunks of dy_c^T [out, rows] * x_c [rows, in]
  ordered_chunk_sum(s.batch, kLinearBatchChunk, static_cast<std::size_t>(out) * in, dweight,
                    [&](int first, int last, float* partial) {
                      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, last - first, 1.0f,
                                  dy + static_cast<std::size_t>(first) * out, out,
                                  x + static_cast<std::size_t>(first) * in, in, 0.0f, partial, in);
                    });
  if (dbias) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out; ++o) {
      double sum = 0.0;
      for (int n = 0; n < s.batch; ++n) sum += dy[static_cast<std::size_t>(n) * out + o];
      dbias[o] = static_cast<float>(sum);
    }
  }
}

}  // namespace sxb::nn::cpu
