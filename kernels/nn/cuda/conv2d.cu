// conv2d on the GPU: im2col over a chunk of images into one column matrix,
// one cuBLAS SGEMM per chunk, col2im as a gather. Row-major matrices are
// handed to (column-major) cuBLAS as their transposes.
#include <climits>

#include "kernels/nn/cuda/common.cuh"
#include "kernels/nn/cuda/cublas_check.h"
#include "kernels/nn/cuda/layers_cuda.h"

namespace sxb::nn::gpu {

namespace {

// Workspace bound per chunk (floats, 256 MiB): the chunk size follows from the
// shape alone, so the order of the weight-gradient sum never changes.
constexpr std::size_t kConvWorkspaceFloats = std::size_t{1} << 26;

struct Geometry {
  int C, H, W, K, kh, kw, pad, stride, Ho, Wo;
  int M;  // Ho*Wo
  int P;  // C*kh*kw
  explicit Geometry(const Conv2dShape& s)
      : C(s.in_channels), H(s.height), W(s.width), K(s.out_channels), kh(s.kernel_h), kw(s.kernel_w),
        pad(s.padding), stride(s.stride), Ho(s.out_height()), Wo(s.out_width()), M(Ho * Wo), P(C * kh * kw) {}
};

// col [P, BM] with BM = images*M: row p = (c, i, j), column n*M + oh*Wo + ow
// holds x[n, c, oh*stride - pad + i, ow*stride - pad + j] (0 in the padding).
__global__ void im2col_kernel(Geometry g, int images, const float* __restrict__ x, float* __restrict__ col) {
  const std::size_t BM = static_cast<std::size_t>(images) * g.M;
  const std::size_t total = static_cast<std::size_t>(g.P) * BM;
  SXB_GRID_LOOP(idx, total) {
    const int p = static_cast<int>(idx / BM);
    const std::size_t r = idx % BM;
    const int n = static_cast<int>(r / g.M), m = static_cast<int>(r % g.M);
    const int oh = m / g.Wo, ow = m % g.Wo;
    const int c = p / (g.kh * g.kw), tap = p % (g.kh * g.kw);
    const int ih = oh * g.stride - g.pad + tap / g.kw, iw = ow * g.stride - g.pad + tap % g.kw;
    float v = 0.0f;
    if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
      v = x[((static_cast<std::size_t>(n) * g.C + c) * g.H + ih) * g.W + iw];
    col[idx] = v;
  }
}

// y [images, K, M] = out [K, images*M] rearranged, plus bias [K] (may be null).
__global__ void scatter_output_kernel(Geometry g, int images, const float* __restrict__ out,
                                      const float* __restrict__ bias, float* __restrict__ y) {
  const std::size_t BM = static_cast<std::size_t>(images) * g.M;
  const std::size_t total = static_cast<std::size_t>(images) * g.K * g.M;
  SXB_GRID_LOOP(idx, total) {
    const int m = static_cast<int>(idx % g.M);
    const int k = static_cast<int>((idx / g.M) % g.K);
    const std::size_t n = idx / (static_cast<std::size_t>(g.K) * g.M);
    y[idx] = out[k * BM + n * g.M + m] + (bias ? bias[k] : 0.0f);
  }
}

// dy_t [K, images*M] = dy [images, K, M] rearranged.
__global__ void channel_major_kernel(Geometry g, int images, const float* __restrict__ dy, float* __restrict__ dy_t) {
  const std::size_t BM = static_cast<std::size_t>(images) * g.M;
  const std::size_t total = static_cast<std::size_t>(g.K) * BM;
  SXB_GRID_LOOP(idx, total) {
    const std::size_t k = idx / BM, r = idx % BM;
    const std::size_t n = r / g.M, m = r % g.M;
    dy_t[idx] = dy[(n * g.K + k) * g.M + m];
  }
}

// dx [images, C, H, W]: each pixel sums the column-gradient entries of the
// taps that read it, taps in (i, j) order (the adjoint of im2col, no atomics).
__global__ void col2im_kernel(Geometry g, int images, const float* __restrict__ dcol, float* __restrict__ dx) {
  const std::size_t BM = static_cast<std::size_t>(images) * g.M;
  const std::size_t total = static_cast<std::size_t>(images) * g.C * g.H * g.W;
  SXB_GRID_LOOP(idx, total) {
    const int w = static_cast<int>(idx % g.W);
    const int h = static_cast<int>((idx / g.W) % g.H);
    const int c = static_cast<int>((idx / (static_cast<std::size_t>(g.W) * g.H)) % g.C);
    const std::size_t n = idx / (static_cast<std::size_t>(g.W) * g.H * g.C);
    float acc = 0.0f;
    for (int i = 0; i < g.kh; ++i) {
      const int th = h + g.pad - i;
      if (th < 0 || th % g.stride != 0) continue;
      const int oh = th / g.stride;
      if (oh >= g.Ho) continue;
      for (int j = 0; j < g.kw; ++j) {
        const int tw = w + g.pad - j;
        if (tw < 0 || tw % g.stride != 0) continue;
        const int ow = tw / g.stride;
        if (ow >= g.Wo) continue;
        const std::size_t row = (static_cast<std::size_t>(c) * g.kh + i) * g.kw + j;
        acc += dcol[row * BM + n * g.M + static_cast<std::size_t>(oh) * g.Wo + ow];
      }
    }
    dx[idx] = acc;
  }
}

}  // namespace

ConvPlan plan_conv2d(const Conv2dShape& s) {
  const Geometry g(s);
  const std::size_t per_image = static_cast<std::size_t>(g.M) * (2 * static_cast<std::size_t>(g.P) + g.K);
  ConvPlan plan;
  plan.images = static_cast<int>(std::clamp<std::size_t>(kConvWorkspaceFloats / per_image, 1, s.batch));
  const std::size_t columns_per_chunk = static_cast<std::size_t>(plan.images) * g.M;
  SXB_REQUIRE(columns_per_chunk * std::max(g.P, g.K) <= static_cast<std::size_t>(INT_MAX),
              "conv2d (CUDA): one image's column matrix is too large for cuBLAS (" + std::to_string(g.P) + " x " +
                  std::to_string(g.M) + ")");
  plan.columns = static_cast<std::size_t>(g.P) * columns_per_chunk;
  plan.channel_major = static_cast<std::size_t>(g.K) * columns_per_chunk;
  return plan;
}

namespace {

// For each chunk of images: im2col into the workspace, `multiply(col, out,
// BM)` writes out [K, BM] = weight * col [P, BM], then out is scattered into
// y with the bias.
template <class Multiply>
void forward_chunks(const Queue& q, const Conv2dShape& s, const ConvPlan& plan, float* workspace, const float* x,
                    const float* bias, float* y, Multiply&& multiply) {
  const Geometry g(s);
  float* col = workspace;
  float* out = workspace + 2 * plan.columns;
  for (int first = 0; first < s.batch; first += plan.images) {
    const int images = std::min(plan.images, s.batch - first);
    const int BM = images * g.M;
    const float* xc = x + static_cast<std::size_t>(first) * g.C * g.H * g.W;
    float* yc = y + static_cast<std::size_t>(first) * g.K * g.M;
    const std::size_t col_size = static_cast<std::size_t>(g.P) * BM;
    cuda::launch(im2col_kernel, blocks_for(col_size), kThreads, 0, q.stream, g, images, xc, col);
    multiply(static_cast<const float*>(col), out, BM);
    const std::size_t y_size = static_cast<std::size_t>(images) * g.K * g.M;
    cuda::launch(scatter_output_kernel, blocks_for(y_size), kThreads, 0, q.stream, g, images,
                 static_cast<const float*>(out), bias, yc);
  }
}

}  // namespace

void conv2d_forward(const Queue& q, const Conv2dShape& s, const ConvPlan& plan, float* workspace, const float* x,
                    const float* weight, const float* bias, float* y) {
  const Geometry g(s);
  forward_chunks(q, s, plan, workspace, x, bias, y, [&](const float* col, float* out, int BM) {
    const float one = 1.0f, zero = 0.0f;
    // out [K, BM] = weight [K, P] * col [P, BM]; column-major: out^T = col^T * weight^T.
    SXB_CUBLAS_CHECK(
        cublasSgemm(q.blas, CUBLAS_OP_N, CUBLAS_OP_N, BM, g.K, g.P, &one, col, BM, weight, g.P, &zero, out, BM));
  });
}

void conv2d_forward_csr(const Queue& q, const Conv2dShape& s, const ConvPlan& plan, float* workspace, const float* x,
                        const CsrView& weight, const float* bias, float* y, const ScratchFn& scratch) {
  // out [K, BM] = weight [K, P] (CSR) * col [P, BM], row-major.
  forward_chunks(q, s, plan, workspace, x, bias, y,
                 [&](const float* col, float* out, int BM) { spmm_csr(q, weight, BM, col, BM, out, BM, true, scratch); });
}

void conv2d_backward(const Queue& q, const Conv2dShape& s, const ConvPlan& plan, float* workspace, const float* x,
                     const float* weight, const float* dy, float* dx, float* dweight, float* dbias) {
  const Geometry g(s);
  float* col = workspace;
  float* dcol = workspace + plan.columns;
  float* dy_t = workspace + 2 * plan.columns;
  const float one = 1.0f, zero = 0.0f;
  for (int first = 0; first < s.batch; first += plan.images) {
    const int images = std::min(plan.images, s.batch - first);
    const int BM = images * g.M;
    const float* xc = x + static_cast<std::size_t>(first) * g.C * g.H * g.W;
    const float* dyc = dy + static_cast<std::size_t>(first) * g.K * g.M;
    const std::size_t col_size = static_cast<std::size_t>(g.P) * BM;
    const std::size_t dy_size = static_cast<std::size_t>(g.K) * BM;
    cuda::launch(im2col_kernel, blocks_for(col_size), kThreads, 0, q.stream, g, images, xc, col);
    cuda::launch(channel_major_kernel, blocks_for(dy_size), kThreads, 0, q.stream, g, images, dyc, dy_t);
    // dweight [K, P] (+)= dy_t [K, BM] * col^T [BM, P]; column-major: dweight^T = col * dy_t^T.
    // Chunks add in batch order: the first overwrites, the others accumulate.
    const float beta = first == 0 ? 0.0f : 1.0f;
    SXB_CUBLAS_CHECK(cublasSgemm(q.blas, CUBLAS_OP_T, CUBLAS_OP_N, g.P, g.K, BM, &one, col, BM, dy_t, BM, &beta,
                                 dweight, g.P));
    if (dx) {
      // dcol [P, BM] = weight^T [P, K] * dy_t [K, BM]; column-major: dcol^T = dy_t^T * weight.
      SXB_CUBLAS_CHECK(cublasSgemm(q.blas, CUBLAS_OP_N, CUBLAS_OP_T, BM, g.P, g.K, &one, dy_t, BM, weight, g.P,
                                   &zero, dcol, BM));
      float* dxc = dx + static_cast<std::size_t>(first) * g.C * g.H * g.W;
      const std::size_t dx_size = static_cast<std::size_t>(images) * g.C * g.H * g.W;
      cuda::launch(col2im_kernel, blocks_for(dx_size), kThreads, 0, q.stream, g, images,
                   static_cast<const float*>(dcol), dxc);
    }
  }
  if (dbias) channel_sums(q, s.batch, g.K, g.M, dy, dbias);
}

}  // namespace sxb::nn::gpu
