#include "engine/rearrangement/rearrange.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "engine/io/content_hash.h"
#include "engine/rearrangement/rearrange_search.h"
#include "engine/io/stopwatch.h"
#include "kernels/common/error.h"

namespace sxb {

std::vector<std::string> rearrange_policy_names() {
  return {"none", "sort", "sort-reverse", "balance", "search", "spread"};
}

RearrangePolicy parse_rearrange_policy(const std::string& name, const std::string& field) {
  const std::vector<std::string> names = rearrange_policy_names();
  for (std::size_t k = 0; k < names.size(); ++k)
    if (name == names[k]) return static_cast<RearrangePolicy>(k);
  throw Error(fmt::format("{}: unknown column rearrangement policy '{}' (choose one of: {})", field, name,
                          fmt::join(names, ", ")));
}

std::string to_string(RearrangePolicy policy) { return rearrange_policy_names().at(static_cast<std::size_t>(policy)); }

nlohmann::json RearrangeOptions::to_json() const {
  nlohmann::json j = {{"policy", to_string(policy)}};
  if (policy == RearrangePolicy::Search) {
    j["budget_seconds"] = budget_seconds;
    j["rounds"] = rounds;
    j["seed"] = seed;
  }
  if (policy == RearrangePolicy::Spread) j["extra"] = extra;
  return j;
}

std::vector<std::vector<std::size_t>> row_blocks(const LayerLayout& layer) {
  std::map<std::vector<int>, std::size_t> index;  // sorted rows -> group
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t t = 0; t < layer.tiles.size(); ++t) {
    std::vector<int> rows = layer.tiles[t].rows;
    std::sort(rows.begin(), rows.end());
    const auto [it, fresh] = index.emplace(std::move(rows), groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(t);
  }
  return groups;
}

ColumnConductance column_conductance(const MappedLayer& m, const std::vector<int>& rows, int n,
                                     const DeviceModel& devices) {
  const DeviceModel ideal{devices.g_min, devices.g_max};
  const int r = static_cast<int>(rows.size());
  std::vector<double> g_pos(r), g_neg(r);
  program_tile(m.matrix, m.outputs, m.layer, 0, TilePlacement{rows, {n}}, r, 1, m.scale, ideal, g_pos.data(),
               g_neg.data());
  const double threshold = 0.5 * (ideal.g_min + ideal.g_max);
  ColumnConductance c;
  for (int i = 0; i < r; ++i) {
    c.total += g_pos[i] + g_neg[i];
    c.low += (g_pos[i] < threshold) + (g_neg[i] < threshold);
  }
  return c;
}

std::vector<TileConductance> tile_conductances(const MappedLayer& m, const LayerLayout& layer, int tile_rows,
                                               int tile_cols, const DeviceModel& devices) {
  const long long cells = static_cast<long long>(tile_rows) * tile_cols;
  std::vector<TileConductance> out;
  for (const TilePlacement& p : layer.tiles) {
    const long long unused = cells - static_cast<long long>(p.rows.size() * p.cols.size());
    double total = 2.0 * static_cast<double>(unused) * devices.g_min;  // unused cells of both arrays at G_min
    long long low = 2 * unused;
    for (int n : p.cols) {
      const ColumnConductance c = column_conductance(m, p.rows, n, devices);
      total += c.total;
      low += c.low;
    }
    out.push_back({total, static_cast<double>(low) / static_cast<double>(2 * cells)});
  }
  return out;
}

namespace {

// Column totals of a row-block's columns over its rows.
std::map<int, double> block_totals(const MappedLayer& m, const LayerLayout& layer,
                                   const std::vector<std::size_t>& block, const DeviceModel& devices) {
  std::map<int, double> total;
  const std::vector<int>& rows = layer.tiles[block.front()].rows;
  for (std::size_t t : block)
    for (int n : layer.tiles[t].cols) total[n] = column_conductance(m, rows, n, devices).total;
  return total;
}

void sort_tile(TilePlacement& p, const std::map<int, double>& total, bool decreasing) {
  std::stable_sort(p.cols.begin(), p.cols.end(), [&](int a, int b) {
    const double ga = total.at(a), gb = total.at(b);
    if (ga != gb) return decreasing ? ga > gb : ga < gb;
    return a < b;
  });
}

// Largest tile total of a row-block with `cols[k]` on tile k.
double max_load(const std::vector<double>& fixed, const std::vector<std::vector<int>>& cols,
                const std::map<int, double>& total) {
  double worst = 0.0;
  for (std::size_t k = 0; k < cols.size(); ++k) {
    double load = fixed[k];
    for (int n : cols[k]) load += total.at(n);
    worst = std::max(worst, load);
  }
  return worst;
}

// Largest total first, each column to the least loaded tile with room; then
// swaps that lower the most loaded tile. Kept only if the largest tile total
// does not grow.
void balance_block(LayerLayout& layer, const std::vector<std::size_t>& block, const std::map<int, double>& total,
                   int tile_rows, int tile_cols, double g_min) {
  const std::size_t m = block.size();
  std::vector<double> fixed(m);
  std::vector<std::vector<int>> before(m);
  std::vector<int> columns;
  for (std::size_t k = 0; k < m; ++k) {
    const TilePlacement& p = layer.tiles[block[k]];
    const long long unused =
        static_cast<long long>(tile_rows) * tile_cols - static_cast<long long>(p.rows.size() * p.cols.size());
    fixed[k] = 2.0 * static_cast<double>(unused) * g_min;
    before[k] = p.cols;
    columns.insert(columns.end(), p.cols.begin(), p.cols.end());
  }
  std::sort(columns.begin(), columns.end(), [&](int a, int b) {
    const double ga = total.at(a), gb = total.at(b);
    return ga != gb ? ga > gb : a < b;
  });
  std::vector<std::vector<int>> after(m);
  std::vector<double> load = fixed;
  for (int n : columns) {
    std::size_t best = m;
    for (std::size_t k = 0; k < m; ++k)
      if (after[k].size() < before[k].size() && (best == m || load[k] < load[best])) best = k;
    after[best].push_back(n);
    load[best] += total.at(n);
  }
  for (int iteration = 0; iteration < 4096; ++iteration) {  // swaps out of the most loaded tile
    const std::size_t hi = static_cast<std::size_t>(std::max_element(load.begin(), load.end()) - load.begin());
    double best_peak = load[hi];
    std::size_t best_k = m, best_a = 0, best_b = 0;
    for (std::size_t k = 0; k < m; ++k) {
      if (k == hi) continue;
      for (std::size_t a = 0; a < after[hi].size(); ++a)
        for (std::size_t b = 0; b < after[k].size(); ++b) {
          const double d = total.at(after[hi][a]) - total.at(after[k][b]);
          const double peak = std::max(load[hi] - d, load[k] + d);
          if (d > 0.0 && peak < best_peak) best_peak = peak, best_k = k, best_a = a, best_b = b;
        }
    }
    if (best_k == m) break;
    const double d = total.at(after[hi][best_a]) - total.at(after[best_k][best_b]);
    std::swap(after[hi][best_a], after[best_k][best_b]);
    load[hi] -= d;
    load[best_k] += d;
  }
  for (std::vector<int>& c : after) std::sort(c.begin(), c.end());
  if (max_load(fixed, after, total) > max_load(fixed, before, total)) return;
  for (std::size_t k = 0; k < m; ++k) layer.tiles[block[k]].cols = after[k];
}

}  // namespace

LayerLayout rearrange_layer(const MappedLayer& m, const LayerLayout& layer, int tile_rows, int tile_cols,
                            const DeviceModel& devices, RearrangePolicy policy, double extra) {
  SXB_REQUIRE(policy != RearrangePolicy::Search, "rearrange_layer: 'search' rearranges the whole network");
  if (policy == RearrangePolicy::Spread) return spread_layer(m, layer, tile_rows, tile_cols, devices, extra);
  LayerLayout out = layer;
  if (policy == RearrangePolicy::None) return out;
  for (const std::vector<std::size_t>& block : row_blocks(layer)) {
    const std::map<int, double> total = block_totals(m, layer, block, devices);
    if (policy == RearrangePolicy::Balance) {
      if (block.size() > 1) balance_block(out, block, total, tile_rows, tile_cols, devices.g_min);
    } else {
      for (std::size_t t : block) sort_tile(out.tiles[t], total, policy == RearrangePolicy::Sort);
    }
  }
  return out;
}

namespace {

const MappedLayer& source_of(const std::vector<MappedLayer>& layers, const LayerLayout& ll) {
  const auto it = std::find_if(layers.begin(), layers.end(), [&](const MappedLayer& m) { return m.layer == ll.layer; });
  SXB_REQUIRE(it != layers.end(), fmt::format("rearrangement: layer '{}' is not a layer of the model", ll.layer));
  SXB_REQUIRE(it->inputs == ll.inputs && it->outputs == ll.outputs && it->scale > 0.0,
              fmt::format("rearrangement: layer '{}' does not match the model or has no mapping scale", ll.layer));
  return *it;
}

void tile_summary(const std::vector<TileConductance>& tiles, double& low_min, double& low_mean, double& low_max,
                  double& max_total) {
  low_min = tiles.empty() ? 0.0 : 1.0;
  low_mean = low_max = max_total = 0.0;
  for (const TileConductance& t : tiles) {
    low_min = std::min(low_min, t.low_share);
    low_max = std::max(low_max, t.low_share);
    low_mean += t.low_share / static_cast<double>(tiles.size());
    max_total = std::max(max_total, t.total);
  }
}

}  // namespace

Rearrangement rearrange(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                        const CrossbarConfig& config, const RearrangeOptions& options) {
  const Stopwatch watch;
  spread_budget(0, options.extra);  // checks rearrange.extra
  SXB_REQUIRE(options.extra == 0.0 || options.policy == RearrangePolicy::Spread,
              fmt::format("rearrange.extra = {} applies to policy spread only (policy is {})", options.extra,
                          to_string(options.policy)));
  const DeviceModel devices = config.devices();
  const int R = layout.tile_rows, C = layout.tile_cols;
  std::vector<const MappedLayer*> sources;
  for (const LayerLayout& ll : layout.layers) sources.push_back(&source_of(layers, ll));

  Rearrangement r;
  std::vector<double> objective_before, objective_after;
  if (options.policy == RearrangePolicy::Search) {
    SearchOutcome s = search_rearrangement(sources, layout, config, options);
    r.layout = std::move(s.layout);
    r.rounds = s.rounds;
    r.proposals = s.proposals;
    r.accepted = s.accepted;
    r.stopped_by = s.stopped_by;
    objective_before = std::move(s.objective_before);
    objective_after = std::move(s.objective_after);
  } else {
    r.layout = layout;
    for (std::size_t l = 0; l < layout.layers.size(); ++l)
      r.layout.layers[l] =
          rearrange_layer(*sources[l], layout.layers[l], R, C, devices, options.policy, options.extra);
  }
  r.layout.check("rearranged layout");

  for (std::size_t l = 0; l < layout.layers.size(); ++l) {
    const LayerLayout &a = layout.layers[l], &b = r.layout.layers[l];
    LayerRearrangement s;
    s.layer = a.layer;
    s.row_blocks = row_blocks(a).size();
    s.tiles = a.tiles.size();
    s.crossbars_before = 2 * static_cast<long long>(a.tiles.size());
    s.crossbars_after = 2 * static_cast<long long>(b.tiles.size());
    for (std::size_t t = 0; t < a.tiles.size(); ++t)
      for (std::size_t j = 0; j < a.tiles[t].cols.size(); ++j)
        s.moved_columns +=
            t >= b.tiles.size() || j >= b.tiles[t].cols.size() || a.tiles[t].cols[j] != b.tiles[t].cols[j];
    tile_summary(tile_conductances(*sources[l], a, R, C, devices), s.low_share_min_before, s.low_share_mean_before,
                 s.low_share_max_before, s.max_tile_conductance_before);
    tile_summary(tile_conductances(*sources[l], b, R, C, devices), s.low_share_min_after, s.low_share_mean_after,
                 s.low_share_max_after, s.max_tile_conductance_after);
    if (!objective_before.empty()) {
      s.objective_before = objective_before[l];
      s.objective_after = objective_after[l];
    }
    r.layers.push_back(std::move(s));
  }
  r.seconds = watch.seconds();
  return r;
}

std::string rearranged_cache_key(const std::string& key, const RearrangeOptions& options) {
  if (options.policy == RearrangePolicy::None || (options.policy == RearrangePolicy::Spread && options.extra == 0.0))
    return key;  // the layout as given
  ContentHash h;
  h.add("rearranged " + key);
  h.add(options.to_json().dump());
  return h.hex();
}

}  // namespace sxb
