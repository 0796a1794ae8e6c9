#include "kernels/nn/tile_product.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "kernels/common/error.h"

namespace sxb::nn {

void TileProductLayer::check() const {
  const std::size_t P = static_cast<std::size_t>(pairs());
  SXB_REQUIRE(inputs > 0 && outputs > 0 && positions > 0 && slices > 0, "tile product: empty layer");
  SXB_REQUIRE(row_begin.size() == P + 1 && col_begin.size() == P + 1 && w_begin.size() == P + 1 &&
                  slice_weight.size() == static_cast<std::size_t>(slices),
              "tile product: per-pair arrays have the wrong size");
  SXB_REQUIRE(row_begin.back() == static_cast<int>(rows.size()) && col_begin.back() == static_cast<int>(cols.size()) &&
                  w_begin.back() == w.size() && scale.size() == cols.size(),
              "tile product: flat arrays have the wrong size");
  for (std::size_t q = 0; q < P; ++q) {
    const int r = pair_rows(static_cast<int>(q)), c = pair_cols(static_cast<int>(q));
    SXB_REQUIRE(r >= 0 && c >= 0 && w_begin[q + 1] - w_begin[q] == static_cast<std::size_t>(r) * c,
                "tile product: pair " + std::to_string(q) + " has weights of the wrong size");
  }
  for (int v : rows) SXB_REQUIRE(v >= 0 && v < inputs, "tile product: a row outside the layer");
  for (int v : cols) SXB_REQUIRE(v >= 0 && v < outputs, "tile product: a column outside the layer");
}

TileProductPlan TileProductPlan::of(const TileProductLayer& layer) {
  layer.check();
  TileProductPlan p;
  p.inputs = layer.inputs;
  p.outputs = layer.outputs;
  p.pairs = layer.pairs();
  p.a_row.resize(p.pairs);
  p.a_gathered.resize(p.pairs);
  p.y_row.resize(p.pairs);
  // Operands per position (its slices share the rows): a run of rows is read
  // in place, other rows are gathered once per distinct row list.
  std::map<std::vector<int>, int> gathered;
  for (int t = 0; t < layer.positions; ++t) {
    const int* r = layer.rows.data() + layer.row_begin[t];
    const int n = layer.pair_rows(t);
    bool run = n > 0;
    for (int i = 1; i < n && run; ++i) run = r[i] == r[0] + i;
    int row = run ? r[0] : 0;
    if (!run) {
      const auto [it, fresh] = gathered.try_emplace(std::vector<int>(r, r + n), static_cast<int>(p.gather_src.size()));
      if (fresh) p.gather_src.insert(p.gather_src.end(), r, r + n);
      row = it->second;
    }
    for (int k = 0; k < layer.slices; ++k) {
      const int q = k * layer.positions + t;
      SXB_REQUIRE(layer.pair_rows(q) == n && std::equal(r, r + n, layer.rows.data() + layer.row_begin[q]),
                  "tile product: the slices of a position hold other rows");
      p.a_row[q] = row;
      p.a_gathered[q] = run ? 0 : 1;
    }
  }
  std::map<std::pair<int, int>, std::size_t> group_of;
  for (int q = 0; q < p.pairs; ++q) {
    p.y_row[q] = p.y_rows;
    p.y_rows += layer.pair_cols(q);
    const auto [it, fresh] = group_of.try_emplace({layer.pair_rows(q), layer.pair_cols(q)}, p.groups.size());
    if (fresh) p.groups.emplace_back();
    p.groups[it->second].push_back(q);
  }
  // Entries per output, (position, slice) ascending: the engine's order of addition.
  std::vector<std::vector<int>> per_output(layer.outputs), local(layer.outputs);  // pair q, its column j
  for (int t = 0; t < layer.positions; ++t)
    for (int k = 0; k < layer.slices; ++k) {
      const int q = k * layer.positions + t;
      for (int j = 0; j < layer.pair_cols(q); ++j) {
        const int o = layer.cols[layer.col_begin[q] + j];
        per_output[o].push_back(q);
        local[o].push_back(j);
      }
    }
  p.entry_begin.assign(1, 0);
  for (int o = 0; o < layer.outputs; ++o) {
    for (std::size_t e = 0; e < per_output[o].size(); ++e) {
      const int q = per_output[o][e], j = local[o][e];
      p.entry_y.push_back(p.y_row[q] + j);
      p.entry_slice.push_back(q / layer.positions);
      p.entry_scale.push_back(layer.scale[layer.col_begin[q] + j]);
    }
    p.entry_begin.push_back(static_cast<int>(p.entry_y.size()));
  }
  return p;
}

DacLevels dac_levels(const TileConverters& c) {
  DacLevels d;
  if (c.dac_bits == 0) return d;
  const int top = c.dac_signed ? (1 << (c.dac_bits - 1)) - 1 : (1 << c.dac_bits) - 1;
  d.top = top;
  d.lo = c.dac_signed ? -top : 0.0;
  d.to_level = c.dac_range > 0.0 ? top / c.dac_range : 0.0;
  d.step = c.dac_range / top;
  return d;
}

TilePlanes tile_planes(const TileConverters& c) {
  TilePlanes p;
  if (c.dac_bits == 0 || c.bits_per_pulse == 0) return p;
  const int magnitude = c.dac_signed ? c.dac_bits - 1 : c.dac_bits;
  p.bit_serial = true;
  p.pulses = (magnitude + c.bits_per_pulse - 1) / c.bits_per_pulse;
  p.count = (c.dac_signed ? 2 : 1) * p.pulses;
  return p;
}

double TilePlanes::coefficient(int i, const TileConverters& c) const {
  if (!bit_serial) return 1.0;
  const int sign = i < pulses ? 1 : -1, m = i % pulses, mask = (1 << c.bits_per_pulse) - 1;
  return sign * std::ldexp(static_cast<double>(mask), m * c.bits_per_pulse) * dac_levels(c).step;
}

int tile_chunk_images(const TileProductPlan& plan, std::size_t pixels, int batch, bool bit_serial,
                      std::size_t budget_floats) {
  const std::size_t per_column = static_cast<std::size_t>(plan.inputs) * (bit_serial ? 2 : 1) + plan.gather_src.size() +
                                 static_cast<std::size_t>(plan.y_rows) + static_cast<std::size_t>(plan.outputs);
  const std::size_t images = budget_floats / (per_column * pixels);
  return static_cast<int>(std::clamp<std::size_t>(images, 1, static_cast<std::size_t>(std::max(batch, 1))));
}

void tile_entry_factors(const TileProductPlan& plan, const TileProductLayer& layer, const TileConverters& c,
                        double coefficient, std::vector<double>& to_level, std::vector<float>& back) {
  const double top = adc_top_level(c.adc_bits);
  SXB_REQUIRE(top == 0.0 || c.adc_range.size() == static_cast<std::size_t>(layer.slices),
              "tile product: ADC ranges are not set");
  const std::size_t E = plan.entry_y.size();
  to_level.assign(E, 0.0);
  back.resize(E);
  for (std::size_t e = 0; e < E; ++e) {
    const int k = plan.entry_slice[e];
    const double weight = coefficient * layer.slice_weight[k];
    if (top == 0.0) {
      back[e] = static_cast<float>(weight);
      continue;
    }
    const double range = c.adc_range[k], scale = plan.entry_scale[e];
    to_level[e] = range > 0.0 ? top / (range * scale) : 0.0;
    back[e] = static_cast<float>(weight * range / top * scale);
  }
}

}  // namespace sxb::nn
