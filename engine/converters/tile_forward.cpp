#include "engine/converters/tile_forward.h"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "kernels/common/error.h"
#include "kernels/common/multiversion.h"

namespace sxb {

ConverterSettings ConverterSettings::of(const CrossbarConfig& c) {
  return {c.dac_bits, c.adc_bits, c.input_bits_per_pulse, c.adc_range_percentile, c.range_images};
}

TileLayer TileLayer::of(const LayerEffective& e, const LayerLayout& layout, const CrossbarConfig& config) {
  SXB_REQUIRE(e.pairs.size() == e.positions * static_cast<std::size_t>(e.slices) && e.positions == layout.tiles.size(),
              fmt::format("layer '{}': the tile-level forward needs the weights of every tile pair", e.layer));
  TileLayer t;
  t.layer = e.layer;
  t.inputs = e.inputs;
  t.outputs = e.outputs;
  t.positions = e.positions;
  t.slices = e.slices;
  const int B = config.weight_bits, b = config.bits_per_cell();
  for (int k = 0; k < e.slices; ++k)
    t.slice_weight.push_back(B > 0 ? std::ldexp(static_cast<double>((1LL << b) - 1), k * b) /
                                         static_cast<double>((1LL << B) - 1)
                                   : 1.0);
  t.pairs.resize(e.pairs.size());
  for (std::size_t q = 0; q < e.pairs.size(); ++q) {
    const TilePlacement& p = layout.tiles[q % e.positions];
    TilePair& pair = t.pairs[q];
    pair.rows = p.rows;
    pair.cols = p.cols;
    bool run = !p.rows.empty();
    for (std::size_t i = 1; i < p.rows.size() && run; ++i) run = p.rows[i] == p.rows[0] + static_cast<int>(i);
    pair.first_row = run ? p.rows[0] : -1;
    SXB_REQUIRE(e.pairs[q].weights.size() == 1 && e.pairs[q].weights[0].size() == p.rows.size() * p.cols.size(),
                fmt::format("layer '{}': tile pair {} has no weights of one calibration", e.layer, q));
    pair.w = e.pairs[q].weights[0];
    pair.scale = e.pairs[q].scale;
  }
  return t;
}

namespace {

// Column matrix of images [first, first + count) of a conv input: row
// (c, i, j), column (image, oh, ow), 0 in the padding; ld = count Ho Wo.
void conv_columns(const nn::Conv2dShape& s, const float* x, int first, int count, float* col) {
  const int Ho = s.out_height(), Wo = s.out_width();
  const std::size_t pixels = static_cast<std::size_t>(Ho) * Wo, ld = pixels * count;
  const std::size_t in_sample = static_cast<std::size_t>(s.in_channels) * s.height * s.width;
  for (int c = 0; c < s.in_channels; ++c)
    for (int i = 0; i < s.kernel_h; ++i)
      for (int j = 0; j < s.kernel_w; ++j) {
        float* row = col + ((static_cast<std::size_t>(c) * s.kernel_h + i) * s.kernel_w + j) * ld;
        // Output columns ow whose input column iw = ow stride - pad + j is inside the image: [lo, hi).
        int lo = 0, hi = Wo;
        while (lo < Wo && lo * s.stride - s.padding + j < 0) ++lo;
        while (hi > lo && (hi - 1) * s.stride - s.padding + j >= s.width) --hi;
        for (int n = 0; n < count; ++n) {
          const float* plane = x + (first + n) * in_sample + static_cast<std::size_t>(c) * s.height * s.width;
          float* out = row + n * pixels;
          for (int oh = 0; oh < Ho; ++oh) {
            float* o = out + static_cast<std::size_t>(oh) * Wo;
            const int ih = oh * s.stride - s.padding + i;
            if (ih < 0 || ih >= s.height) {
              std::fill(o, o + Wo, 0.0f);
              continue;
            }
            const float* in = plane + static_cast<std::size_t>(ih) * s.width - s.padding + j;
            std::fill(o, o + lo, 0.0f);
            if (s.stride == 1) {
              std::copy(in + lo, in + hi, o + lo);
            } else {
              for (int ow = lo; ow < hi; ++ow) o[ow] = in[static_cast<std::ptrdiff_t>(ow) * s.stride];
            }
            std::fill(o + hi, o + Wo, 0.0f);
          }
        }
      }
}

// round(t), half away from zero, as std::round (t - trunc(t) is exact), in a
// form the compiler vectorises.
inline double round_half_away(double t) {
  const double r = std::trunc(t), f = t - r;
  return r + (f >= 0.5 ? 1.0 : 0.0) - (f <= -0.5 ? 1.0 : 0.0);
}

inline double clip(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

// x <- its DAC level (as_levels) or x_q = level step; levels in [lo, top].
SXB_MULTIVERSION void dac_quantise(float* x, std::size_t n, double to_level, double lo, double top, double step,
                                   bool as_levels) {
  for (std::size_t i = 0; i < n; ++i) {
    const double level = clip(round_half_away(x[i] * to_level), lo, top);
    x[i] = static_cast<float>(as_levels ? level : level * step);
  }
}

// o += clip(round(y to_level), -top, top) back over M values; returns the clipped reads.
SXB_MULTIVERSION long long adc_accumulate(const float* __restrict y, std::size_t M, double to_level, double top,
                                          float back, float* __restrict o) {
  long long clipped = 0;
  for (std::size_t m = 0; m < M; ++m) {
    const double level = round_half_away(static_cast<double>(y[m]) * to_level);
    const double c = clip(level, -top, top);
    clipped += c != level ? 1 : 0;
    o[m] += static_cast<float>(c) * back;
  }
  return clipped;
}

// One input pattern applied to every tile pair: values v (K x M, the column
// matrix itself or `storage`) and the coefficient its digitised sums are added with.
struct Plane {
  const float* v = nullptr;
  std::vector<float> storage;
  double coefficient = 1.0;
};

// The planes of a column matrix: x itself, x_q (in place), or the pulses of x_q's levels.
void make_planes(std::vector<float>& col, const ConverterSettings& s, const DacRange& dac,
                 std::vector<Plane>& planes) {
  const std::size_t n = col.size();
  if (s.dac_bits == 0) {
    planes.resize(1);
    planes[0].v = col.data();
    planes[0].coefficient = 1.0;
    return;
  }
  const int top = dac_top(s.dac_bits, dac.is_signed);
  const double step = dac.range / top;  // x_q = level step
  if (s.input_bits_per_pulse == 0) {
    planes.resize(1);
    dac_quantise(col.data(), n, dac.range > 0.0 ? top / dac.range : 0.0, dac.is_signed ? -top : 0.0, top, step, false);
    planes[0].v = col.data();
    planes[0].coefficient = 1.0;
    return;
  }
  const int p = s.input_bits_per_pulse, magnitude_bits = dac.is_signed ? s.dac_bits - 1 : s.dac_bits;
  const int pulses = (magnitude_bits + p - 1) / p, mask = (1 << p) - 1;
  const int passes = dac.is_signed ? 2 : 1;
  planes.resize(static_cast<std::size_t>(passes) * pulses);
  dac_quantise(col.data(), n, dac.range > 0.0 ? top / dac.range : 0.0, dac.is_signed ? -top : 0.0, top, step,
               true);  // levels, exact in float
  for (int pass = 0; pass < passes; ++pass) {
    const int sign = pass == 0 ? 1 : -1;
    for (int m = 0; m < pulses; ++m) {
      Plane& plane = planes[static_cast<std::size_t>(pass) * pulses + m];
      plane.storage.resize(n);
      const float fraction = 1.0f / static_cast<float>(mask);
      for (std::size_t i = 0; i < n; ++i) {
        const int level = std::max(sign * static_cast<int>(col[i]), 0);
        const int digit = (level >> (m * p)) & mask;
        plane.storage[i] = digit == mask ? 1.0f : static_cast<float>(digit) * fraction;
      }
      plane.v = plane.storage.data();
      plane.coefficient = sign * std::ldexp(static_cast<double>(mask), m * p) * step;
    }
  }
}

// out (N x M) += the layer's digitised tile sums of the planes (or, with
// `collect`, every |u| collected and out untouched).
void tile_sums(const TileLayer& layer, const ConverterSettings& s, const LayerRanges& ranges,
               const std::vector<Plane>& planes, std::size_t M, float* out, AdcCounts& counts,
               std::vector<AbsPercentile>* collect) {
  thread_local std::vector<float> gathered, y;
  const int top = s.adc_bits > 0 ? adc_top(s.adc_bits) : 0;
  for (const Plane& plane : planes) {
    for (std::size_t t = 0; t < layer.positions; ++t) {
      const TilePair& first = layer.pairs[t];
      const int r = static_cast<int>(first.rows.size());
      const float* a = nullptr;
      if (first.first_row >= 0) {
        a = plane.v + static_cast<std::size_t>(first.first_row) * M;
      } else {
        gathered.resize(static_cast<std::size_t>(r) * M);
        for (int i = 0; i < r; ++i)
          std::copy_n(plane.v + static_cast<std::size_t>(first.rows[i]) * M, M, gathered.data() + i * M);
        a = gathered.data();
      }
      for (int k = 0; k < layer.slices; ++k) {
        const TilePair& pair = layer.pairs[k * layer.positions + t];
        const int c = static_cast<int>(pair.cols.size());
        y.resize(static_cast<std::size_t>(c) * M);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, static_cast<int>(M), r, 1.0f, pair.w.data(), r, a,
                    static_cast<int>(M), 0.0f, y.data(), static_cast<int>(M));
        const double weight = plane.coefficient * layer.slice_weight[k];
        for (int j = 0; j < c; ++j) {
          const float* yj = y.data() + static_cast<std::size_t>(j) * M;
          const double scale = pair.scale[j];
          if (collect) {
            AbsPercentile& into = (*collect)[k];
            for (std::size_t m = 0; m < M; ++m) into.add(static_cast<float>(yj[m] / scale));
            continue;
          }
          float* o = out + static_cast<std::size_t>(pair.cols[j]) * M;
          if (top == 0) {
            const float f = static_cast<float>(weight);
            for (std::size_t m = 0; m < M; ++m) o[m] += f * yj[m];
            continue;
          }
          // level = round(u L / r_u), u = y / s_j; added as f_k s_j level r_u / L.
          const double range = ranges.adc[k], to_level = range > 0.0 ? top / (range * scale) : 0.0;
          const float back = static_cast<float>(weight * range / top * scale);
          counts.clipped += adc_accumulate(yj, M, to_level, top, back, o);
          counts.reads += static_cast<long long>(M);
        }
      }
    }
  }
}

}  // namespace

void tile_layer_forward(const TileLayer& layer, const ConverterSettings& s, const LayerRanges& ranges,
                        const LayerInput& in, const float* bias, float* y, AdcCounts* counts,
                        std::vector<AbsPercentile>* collect) {
  const int K = layer.inputs, N = layer.outputs, batch = in.batch;
  const std::size_t pixels = in.conv ? static_cast<std::size_t>(in.conv->out_height()) * in.conv->out_width() : 1;
  if (in.conv)
    SXB_REQUIRE(in.conv->in_channels * in.conv->kernel_h * in.conv->kernel_w == K && in.conv->out_channels == N,
                fmt::format("layer '{}': the conv shape does not match its {} x {} tiles", layer.layer, K, N));
  SXB_REQUIRE(s.adc_bits == 0 || collect || ranges.adc.size() == static_cast<std::size_t>(layer.slices),
              fmt::format("layer '{}': ADC ranges are not set", layer.layer));
  // Images per chunk: about 2^21 column-matrix entries, shape and batch only.
  const std::size_t target = std::max<std::size_t>(pixels, (std::size_t{1} << 21) / static_cast<std::size_t>(K));
  const int chunk = static_cast<int>(std::clamp<std::size_t>(target / pixels, 1, static_cast<std::size_t>(batch)));
  const int chunks = (batch + chunk - 1) / chunk;
  AdcCounts total;
#pragma omp parallel
  {
    // Kept per thread between calls: the steady state neither allocates nor page-faults.
    thread_local std::vector<float> col, out;
    thread_local std::vector<Plane> planes;
    AdcCounts local;
    std::vector<AbsPercentile> mine;
    if (collect)
      for (const AbsPercentile& c : *collect) mine.push_back(c.empty_like());
#pragma omp for schedule(dynamic, 1)
    for (int c = 0; c < chunks; ++c) {
      const int first = c * chunk, count = std::min(chunk, batch - first);
      const std::size_t M = pixels * count;
      col.resize(static_cast<std::size_t>(K) * M);
      if (in.conv) {
        conv_columns(*in.conv, in.x, first, count, col.data());
      } else {
        for (int n = 0; n < count; ++n)
          for (int k = 0; k < K; ++k) col[static_cast<std::size_t>(k) * M + n] = in.x[(first + n) * static_cast<std::size_t>(K) + k];
      }
      make_planes(col, s, ranges.dac, planes);
      if (!collect) out.assign(static_cast<std::size_t>(N) * M, 0.0f);
      tile_sums(layer, s, ranges, planes, M, out.data(), local, collect ? &mine : nullptr);
      if (collect) continue;
      for (int n = 0; n < count; ++n)
        for (int o = 0; o < N; ++o) {
          const float b = bias ? bias[o] : 0.0f;
          const float* from = out.data() + static_cast<std::size_t>(o) * M + n * pixels;
          float* to = y + (static_cast<std::size_t>(first + n) * N + o) * pixels;
          for (std::size_t q = 0; q < pixels; ++q) to[q] = from[q] + b;
        }
    }
#pragma omp critical(sxb_tile_forward)
    {
      total.reads += local.reads;
      total.clipped += local.clipped;
      if (collect)
        for (std::size_t k = 0; k < mine.size(); ++k) (*collect)[k].merge(mine[k]);
    }
  }
  if (counts) {
    counts->reads += total.reads;
    counts->clipped += total.clipped;
  }
}

nn::TileProductLayer flat_tile_layer(const TileLayer& layer) {
  nn::TileProductLayer f;
  f.inputs = layer.inputs;
  f.outputs = layer.outputs;
  f.positions = static_cast<int>(layer.positions);
  f.slices = layer.slices;
  f.slice_weight = layer.slice_weight;
  f.row_begin.push_back(0);
  f.col_begin.push_back(0);
  f.w_begin.push_back(0);
  for (const TilePair& p : layer.pairs) {
    f.rows.insert(f.rows.end(), p.rows.begin(), p.rows.end());
    f.cols.insert(f.cols.end(), p.cols.begin(), p.cols.end());
    f.w.insert(f.w.end(), p.w.begin(), p.w.end());
    f.scale.insert(f.scale.end(), p.scale.begin(), p.scale.end());
    f.row_begin.push_back(static_cast<int>(f.rows.size()));
    f.col_begin.push_back(static_cast<int>(f.cols.size()));
    f.w_begin.push_back(f.w.size());
  }
  return f;
}

nn::TileConverters tile_converters(const ConverterSettings& s, const LayerRanges& ranges) {
  nn::TileConverters c;
  c.dac_bits = s.dac_bits;
  c.adc_bits = s.adc_bits;
  c.bits_per_pulse = s.input_bits_per_pulse;
  c.dac_range = ranges.dac.range;
  c.dac_signed = ranges.dac.is_signed;
  c.adc_range = ranges.adc;
  return c;
}

}  // namespace sxb
