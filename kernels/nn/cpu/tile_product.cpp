// The CUDA tile product's algorithm on the host (kernels/nn/tile_product.h):
// each loop below is one kernel or cuBLAS call of cuda/tile_product.cu, in the
// same order, with the same plan and element functions. Serial: it checks the
// CUDA path where no GPU is present, it is not a fast path.
#include <cblas.h>

#include <algorithm>

#include "kernels/nn/tile_product.h"

namespace sxb::nn::cpu {

namespace {

// The column matrix [K, M] of images [first, first + images) (columns_kernel).
void columns(const Conv2dShape* conv, int K, int first, int images, std::size_t pixels, const float* x, float* col) {
  const std::size_t M = pixels * images;
  for (int p = 0; p < K; ++p)
    for (std::size_t r = 0; r < M; ++r) {
      const std::size_t n = r / pixels, m = r % pixels;
      float v;
      if (!conv) {
        v = x[(first + n) * static_cast<std::size_t>(K) + p];
      } else {
        const Conv2dShape& s = *conv;
        const int Wo = s.out_width(), oh = static_cast<int>(m) / Wo, ow = static_cast<int>(m) % Wo;
        const int c = p / (s.kernel_h * s.kernel_w), tap = p % (s.kernel_h * s.kernel_w);
        const int ih = oh * s.stride - s.padding + tap / s.kernel_w, iw = ow * s.stride - s.padding + tap % s.kernel_w;
        v = 0.0f;
        if (ih >= 0 && ih < s.height && iw >= 0 && iw < s.width)
          v = x[(((first + n) * static_cast<std::size_t>(s.in_channels) + c) * s.height + ih) * s.width + iw];
      }
      col[static_cast<std::size_t>(p) * M + r] = v;
    }
}

}  // namespace

TileProductCounts tile_product_emulated(const TileProductLayer& layer, const TileConverters& c,
                                        const Conv2dShape* conv, int batch, const float* x, const float* bias,
                                        float* y, std::size_t budget_floats) {
  const TileProductPlan plan = TileProductPlan::of(layer);
  const int K = layer.inputs, N = layer.outputs;
  const std::size_t pixels = conv ? static_cast<std::size_t>(conv->out_height()) * conv->out_width() : 1;
  const DacLevels dac = dac_levels(c);
  const TilePlanes planes = tile_planes(c);
  const double top = adc_top_level(c.adc_bits);
  const int chunk = tile_chunk_images(plan, pixels, batch, planes.bit_serial, budget_floats);
  std::vector<float> col, plane, gathered, Y, out;
  std::vector<std::vector<double>> to_level(planes.count);
  std::vector<std::vector<float>> back(planes.count);
  for (int i = 0; i < planes.count; ++i)
    tile_entry_factors(plan, layer, c, planes.coefficient(i, c), to_level[i], back[i]);
  TileProductCounts counts;
  for (int first = 0; first < batch; first += chunk) {
    const int images = std::min(chunk, batch - first);
    const std::size_t M = pixels * images;
    col.resize(static_cast<std::size_t>(K) * M);
    columns(conv, K, first, images, pixels, x, col.data());
    if (c.dac_bits > 0)
      for (float& v : col) v = dac_value(v, dac, planes.bit_serial);
    out.assign(static_cast<std::size_t>(N) * M, 0.0f);
    for (int i = 0; i < planes.count; ++i) {
      const float* v = col.data();
      if (planes.bit_serial) {
        plane.resize(col.size());
        const int sign = i < planes.pulses ? 1 : -1, pulse = i % planes.pulses;
        for (std::size_t e = 0; e < col.size(); ++e) plane[e] = pulse_value(col[e], sign, pulse, c.bits_per_pulse);
        v = plane.data();
      }
      gathered.resize(plan.gather_src.size() * M);
      for (std::size_t g = 0; g < plan.gather_src.size(); ++g)
        std::copy_n(v + static_cast<std::size_t>(plan.gather_src[g]) * M, M, gathered.data() + g * M);
      Y.resize(static_cast<std::size_t>(plan.y_rows) * M);
      for (const std::vector<int>& group : plan.groups)
        for (int q : group) {
          const int r = layer.pair_rows(q), cq = layer.pair_cols(q);
          if (cq == 0) continue;
          float* yq = Y.data() + static_cast<std::size_t>(plan.y_row[q]) * M;
          if (r == 0) {
            std::fill(yq, yq + static_cast<std::size_t>(cq) * M, 0.0f);
            continue;
          }
          const float* a = (plan.a_gathered[q] ? gathered.data() : v) + static_cast<std::size_t>(plan.a_row[q]) * M;
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cq, static_cast<int>(M), r, 1.0f,
                      layer.w.data() + layer.w_begin[q], r, a, static_cast<int>(M), 0.0f, yq, static_cast<int>(M));
        }
      for (int o = 0; o < N; ++o)
        for (std::size_t m = 0; m < M; ++m) {
          float acc = out[static_cast<std::size_t>(o) * M + m];
          for (int e = plan.entry_begin[o]; e < plan.entry_begin[o + 1]; ++e) {
            bool clipped = false;
            acc += adc_term(Y[static_cast<std::size_t>(plan.entry_y[e]) * M + m], to_level[i][e], top, back[i][e],
                            clipped);
            counts.clipped += clipped ? 1 : 0;
          }
          out[static_cast<std::size_t>(o) * M + m] = acc;
        }
      if (top > 0.0) counts.reads += static_cast<long long>(plan.entries()) * static_cast<long long>(M);
    }
    for (int n = 0; n < images; ++n)
      for (int o = 0; o < N; ++o)
        for (std::size_t m = 0; m < pixels; ++m)
          y[(static_cast<std::size_t>(first + n) * N + o) * pixels + m] =
              out[static_cast<std::size_t>(o) * M + n * pixels + m] + (bias ? bias[o] : 0.0f);
  }
  return counts;
}

}  // namespace sxb::nn::cpu
