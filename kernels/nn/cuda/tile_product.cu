// The tile-level product on the GPU: the steps of kernels/nn/tile_product.h,
// each a kernel (or cuBLAS call) over one chunk of images. Row-major matrices
// are handed to (column-major) cuBLAS as their transposes: Y_q^T [M, c] =
// A_q^T [M, r] W_q^T [r, c].
#include <algorithm>
#include <vector>

#include "kernels/nn/cuda/common.cuh"
#include "kernels/nn/cuda/cublas_check.h"
#include "kernels/nn/cuda/tile_product_cuda.h"

namespace sxb::nn::gpu {

namespace {

// Scratch bound per chunk (floats, 256 MiB): the chunking follows the shape alone.
constexpr std::size_t kTileBudgetFloats = std::size_t{1} << 26;

struct Columns {
  bool conv = false;
  int K = 0, C = 1, H = 1, W = 1, kh = 1, kw = 1, pad = 0, stride = 1, Wo = 1;
  std::size_t pixels = 1;
};

// col [K, M], M = images * pixels: row p, column n * pixels + m.
__global__ void columns_kernel(Columns g, int first, int images, const float* __restrict__ x,
                               float* __restrict__ col) {
  const std::size_t M = static_cast<std::size_t>(images) * g.pixels;
  SXB_GRID_LOOP(idx, static_cast<std::size_t>(g.K) * M) {
    const int p = static_cast<int>(idx / M);
    const std::size_t r = idx % M, n = first + r / g.pixels;
    if (!g.conv) {
      col[idx] = x[n * g.K + p];
      continue;
    }
    const int m = static_cast<int>(r % g.pixels), oh = m / g.Wo, ow = m % g.Wo;
    const int c = p / (g.kh * g.kw), tap = p % (g.kh * g.kw);
    const int ih = oh * g.stride - g.pad + tap / g.kw, iw = ow * g.stride - g.pad + tap % g.kw;
    float v = 0.0f;
    if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) v = x[((n * g.C + c) * g.H + ih) * g.W + iw];
    col[idx] = v;
  }
}

__global__ void dac_kernel(std::size_t n, DacLevels d, bool as_levels, float* __restrict__ v) {
  SXB_GRID_LOOP(i, n) v[i] = dac_value(v[i], d, as_levels);
}

__global__ void pulse_kernel(std::size_t n, const float* __restrict__ levels, int sign, int pulse, int bits,
                             float* __restrict__ plane) {
  SXB_GRID_LOOP(i, n) plane[i] = pulse_value(levels[i], sign, pulse, bits);
}

__global__ void gather_rows_kernel(int rows, std::size_t M, const int* __restrict__ src, const float* __restrict__ v,
                                   float* __restrict__ gathered) {
  SXB_GRID_LOOP(idx, static_cast<std::size_t>(rows) * M) {
    const std::size_t g = idx / M, m = idx % M;
    gathered[idx] = v[static_cast<std::size_t>(src[g]) * M + m];
  }
}

// out[o, m] += the entries of o in order; the block's saturated reads go to *clipped.
__global__ void entry_sums_kernel(int N, std::size_t M, const int* __restrict__ entry_begin,
                                  const int* __restrict__ entry_y, const double* __restrict__ to_level,
                                  const float* __restrict__ back, double top, const float* __restrict__ Y,
                                  float* __restrict__ out, unsigned long long* clipped) {
  __shared__ double scratch[kReduceThreads];
  double saturated = 0.0;
  SXB_GRID_LOOP(idx, static_cast<std::size_t>(N) * M) {
    const int o = static_cast<int>(idx / M);
    const std::size_t m = idx % M;
    float acc = out[idx];
    for (int e = entry_begin[o]; e < entry_begin[o + 1]; ++e) {
      bool c = false;
      acc += adc_term(Y[static_cast<std::size_t>(entry_y[e]) * M + m], to_level[e], top, back[e], c);
      saturated += c ? 1.0 : 0.0;
    }
    out[idx] = acc;
  }
  const double total = block_sum(saturated, scratch);
  if (threadIdx.x == 0 && total > 0.0) atomicAdd(clipped, static_cast<unsigned long long>(total));
}

// y [first + n, o, m] = out [o, n * pixels + m] + bias[o].
__global__ void output_kernel(int images, int N, std::size_t pixels, int first, const float* __restrict__ out,
                              const float* __restrict__ bias, float* __restrict__ y) {
  const std::size_t M = static_cast<std::size_t>(images) * pixels;
  SXB_GRID_LOOP(idx, static_cast<std::size_t>(images) * N * pixels) {
    const std::size_t m = idx % pixels, o = (idx / pixels) % N, n = idx / (pixels * N);
    y[static_cast<std::size_t>(first) * N * pixels + idx] = out[o * M + n * pixels + m] + (bias ? bias[o] : 0.0f);
  }
}

template <class T>
T* take(const ScratchFn& scratch, std::size_t count) {
  return static_cast<T*>(scratch(std::max<std::size_t>(count, 1) * sizeof(T)));
}

template <class T>
void upload(cuda::DeviceBuffer<T>& d, const std::vector<T>& h, cudaStream_t s) {
  d.resize(std::max<std::size_t>(h.size(), 1));
  if (!h.empty()) SXB_CUDA_CHECK(cudaMemcpyAsync(d.data(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice, s));
}

}  // namespace

std::unique_ptr<DeviceTileLayer> upload_tile_layer(const TileProductLayer& layer, cudaStream_t stream) {
  auto d = std::make_unique<DeviceTileLayer>();
  d->plan = TileProductPlan::of(layer);
  upload(d->w, layer.w, stream);
  upload(d->gather_src, d->plan.gather_src, stream);
  upload(d->entry_begin, d->plan.entry_begin, stream);
  upload(d->entry_y, d->plan.entry_y, stream);
  SXB_CUDA_CHECK(cudaStreamSynchronize(stream));
  d->layer = layer;
  d->layer.w.clear();
  d->layer.w.shrink_to_fit();
  return d;
}

TileProductCounts tile_product(const Queue& q, const DeviceTileLayer& d, const TileConverters& c,
                               const Conv2dShape* conv, int batch, const float* x, const float* bias, float* y,
                               const ScratchFn& scratch) {
  const TileProductLayer& layer = d.layer;
  const TileProductPlan& plan = d.plan;
  const int K = layer.inputs, N = layer.outputs;
  Columns g;
  g.K = K;
  if (conv) {
    g = {true, K, conv->in_channels, conv->height, conv->width, conv->kernel_h, conv->kernel_w, conv->padding,
         conv->stride, conv->out_width(), static_cast<std::size_t>(conv->out_height()) * conv->out_width()};
  }
  const DacLevels dac = dac_levels(c);
  const TilePlanes planes = tile_planes(c);
  const double top = adc_top_level(c.adc_bits);
  const int chunk = tile_chunk_images(plan, g.pixels, batch, planes.bit_serial, kTileBudgetFloats);
  const std::size_t Mmax = g.pixels * chunk, E = static_cast<std::size_t>(plan.entries());

  // Entry factors of every plane, uploaded once.
  std::vector<double> to_level_host, one_to_level;
  std::vector<float> back_host, one_back;
  for (int i = 0; i < planes.count; ++i) {
    tile_entry_factors(plan, layer, c, planes.coefficient(i, c), one_to_level, one_back);
    to_level_host.insert(to_level_host.end(), one_to_level.begin(), one_to_level.end());
    back_host.insert(back_host.end(), one_back.begin(), one_back.end());
  }
  auto* to_level = take<double>(scratch, to_level_host.size());
  auto* back = take<float>(scratch, back_host.size());
  SXB_CUDA_CHECK(cudaMemcpyAsync(to_level, to_level_host.data(), to_level_host.size() * sizeof(double),
                                 cudaMemcpyHostToDevice, q.stream));
  SXB_CUDA_CHECK(cudaMemcpyAsync(back, back_host.data(), back_host.size() * sizeof(float), cudaMemcpyHostToDevice,
                                 q.stream));
  auto* clipped = take<unsigned long long>(scratch, 1);
  SXB_CUDA_CHECK(cudaMemsetAsync(clipped, 0, sizeof(unsigned long long), q.stream));

  float* col = take<float>(scratch, K * Mmax);
  float* plane = planes.bit_serial ? take<float>(scratch, K * Mmax) : col;
  float* gathered = take<float>(scratch, plan.gather_src.size() * Mmax);
  float* Y = take<float>(scratch, plan.y_rows * Mmax);
  float* out = take<float>(scratch, N * Mmax);
  auto** pointers = take<const float*>(scratch, 3 * static_cast<std::size_t>(plan.pairs));
  std::vector<const float*> host_pointers(3 * static_cast<std::size_t>(plan.pairs));

  const float one = 1.0f, zero = 0.0f;
  long long reads = 0;
  for (int first = 0; first < batch; first += chunk) {
    const int images = std::min(chunk, batch - first);
    const std::size_t M = g.pixels * images, KM = static_cast<std::size_t>(K) * M;
    cuda::launch(columns_kernel, blocks_for(KM), kThreads, 0, q.stream, g, first, images, x, col);
    if (c.dac_bits > 0) cuda::launch(dac_kernel, blocks_for(KM), kThreads, 0, q.stream, KM, dac, planes.bit_serial, col);
    SXB_CUDA_CHECK(cudaMemsetAsync(out, 0, N * M * sizeof(float), q.stream));
    // The pointer arrays of the batched GEMMs: per group, its pairs' A, W and Y.
    std::size_t at = 0;
    for (const std::vector<int>& group : plan.groups)
      for (int qi : group) {
        host_pointers[at] = (plan.a_gathered[qi] ? gathered : plane) + static_cast<std::size_t>(plan.a_row[qi]) * M;
        host_pointers[plan.pairs + at] = d.w.data() + layer.w_begin[qi];
        host_pointers[2 * plan.pairs + at] = Y + static_cast<std::size_t>(plan.y_row[qi]) * M;
        ++at;
      }
    SXB_CUDA_CHECK(cudaMemcpyAsync(pointers, host_pointers.data(), host_pointers.size() * sizeof(const float*),
                                   cudaMemcpyHostToDevice, q.stream));
    for (int i = 0; i < planes.count; ++i) {
      if (planes.bit_serial)
        cuda::launch(pulse_kernel, blocks_for(KM), kThreads, 0, q.stream, KM, col, i < planes.pulses ? 1 : -1,
               i % planes.pulses, c.bits_per_pulse, plane);
      const int G = static_cast<int>(plan.gather_src.size());
      cuda::launch(gather_rows_kernel, blocks_for(G * M), kThreads, 0, q.stream, G, M, d.gather_src.data(), plane, gathered);
      std::size_t group_at = 0;
      for (const std::vector<int>& group : plan.groups) {
        const int r = layer.pair_rows(group[0]), cq = layer.pair_cols(group[0]);
        const int count = static_cast<int>(group.size());
        if (cq > 0 && r == 0) {
          for (int qi : group)
            SXB_CUDA_CHECK(cudaMemsetAsync(Y + static_cast<std::size_t>(plan.y_row[qi]) * M, 0, cq * M * sizeof(float),
                                           q.stream));
        } else if (cq > 0) {
          SXB_CUBLAS_CHECK(cublasSgemmBatched(q.blas, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(M), cq, r, &one,
                                              pointers + group_at, static_cast<int>(M), pointers + plan.pairs + group_at,
                                              r, &zero, const_cast<float**>(pointers + 2 * plan.pairs + group_at),
                                              static_cast<int>(M), count));
        }
        group_at += group.size();
      }
      cuda::launch(entry_sums_kernel, blocks_for(N * M), kReduceThreads, 0, q.stream, N, M, d.entry_begin.data(),
             d.entry_y.data(), to_level + i * E, back + i * E, top, Y, out, clipped);
      if (top > 0.0) reads += static_cast<long long>(E * M);
    }
    cuda::launch(output_kernel, blocks_for(static_cast<std::size_t>(images) * N * g.pixels), kThreads, 0, q.stream, images,
           N, g.pixels, first, out, bias, y);
  }
  unsigned long long saturated = 0;
  SXB_CUDA_CHECK(cudaMemcpyAsync(&saturated, clipped, sizeof saturated, cudaMemcpyDeviceToHost, q.stream));
  SXB_CUDA_CHECK(cudaStreamSynchronize(q.stream));
  return {reads, static_cast<long long>(saturated)};
}

}  // namespace sxb::nn::gpu
