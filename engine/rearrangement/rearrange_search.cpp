#include "engine/rearrangement/rearrange_search.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "engine/crossbar/tile_solver.h"
#include "engine/io/stopwatch.h"
#include "kernels/common/counter_rng.h"
#include "kernels/common/error.h"

namespace sxb {

namespace {

struct TileRef {
  const MappedLayer* layer;
  const TilePlacement* placement;
};

// Squared W_eff error of each tile (ideal devices, the configuration's
// resistances), solved in batches of about 256 MiB of g and T.
std::vector<double> tile_errors(const std::vector<TileRef>& tiles, int R, int C, const CrossbarConfig& config,
                                Backend backend) {
  const DeviceModel d = config.devices();
  const DeviceModel ideal{d.g_min, d.g_max};
  const std::size_t cells = static_cast<std::size_t>(R) * C;
  const std::size_t per_batch = std::max<std::size_t>(1, (std::size_t{256} << 20) / (4 * cells * sizeof(double)));
  std::vector<double> error(tiles.size(), 0.0);
  for (std::size_t begin = 0; begin < tiles.size(); begin += per_batch) {
    const std::size_t n = std::min(tiles.size() - begin, per_batch);
    TileBatch batch = pair_batch(n, R, C, config);
#pragma omp parallel for schedule(dynamic, 4)
    for (std::ptrdiff_t q = 0; q < static_cast<std::ptrdiff_t>(n); ++q) {
      const TileRef& t = tiles[begin + q];
      program_tile(t.layer->matrix, t.layer->outputs, t.layer->layer, 0, *t.placement, R, C, t.layer->scale, ideal,
                   batch.conductance.data() + 2 * q * cells, batch.conductance.data() + (2 * q + 1) * cells);
    }
    const std::vector<double> transfer = transfer_matrices(batch, backend);
#pragma omp parallel for schedule(dynamic, 4)
    for (std::ptrdiff_t q = 0; q < static_cast<std::ptrdiff_t>(n); ++q) {
      const TileRef& t = tiles[begin + q];
      const double* gp = batch.conductance.data() + 2 * q * cells;
      const double* gn = gp + cells;
      const double* tp = transfer.data() + 2 * q * cells;
      const double* tn = tp + cells;
      const double factor = t.layer->scale / (ideal.g_max - ideal.g_min);
      double sum = 0.0;
      for (std::size_t j = 0; j < t.placement->cols.size(); ++j)
        for (std::size_t i = 0; i < t.placement->rows.size(); ++i) {
          const double e = ((tp[j * R + i] - tn[j * R + i]) - (gp[i * C + j] - gn[i * C + j])) * factor;
          sum += e * e;
        }
      error[begin + q] = sum;
    }
  }
  return error;
}

// The random proposals of one row-block.
struct BlockDraws {
  std::size_t layer;
  std::vector<std::size_t> tiles;
  rng::SplitMix64 stream;
  std::uint64_t next() { return stream.next(); }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(stream.below(n)); }
};

struct Proposal {
  std::size_t layer;
  std::vector<std::size_t> tiles;
  std::vector<TilePlacement> placements;
};

void swap_within(const LayerLayout& layer, std::size_t t, BlockDraws& draws, std::vector<Proposal>& out) {
  TilePlacement p = layer.tiles[t];
  const std::size_t c = p.cols.size();
  if (c < 2) return;
  const std::size_t i = draws.below(c), j = (i + 1 + draws.below(c - 1)) % c;
  std::swap(p.cols[i], p.cols[j]);
  out.push_back({draws.layer, {t}, {std::move(p)}});
}

void random_proposals(const NetworkLayout& layout, BlockDraws& draws, std::vector<Proposal>& out) {
  const LayerLayout& layer = layout.layers[draws.layer];
  std::vector<std::size_t> order = draws.tiles;
  for (std::size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[draws.below(k)]);
  std::size_t k = 0;
  for (; k + 1 < order.size(); k += 2) {
    const std::size_t a = order[k], b = order[k + 1];
    if (draws.next() & 1) {
      TilePlacement pa = layer.tiles[a], pb = layer.tiles[b];
      std::swap(pa.cols[draws.below(pa.cols.size())], pb.cols[draws.below(pb.cols.size())]);
      out.push_back({draws.layer, {a, b}, {std::move(pa), std::move(pb)}});
    } else {
      swap_within(layer, a, draws, out);
      swap_within(layer, b, draws, out);
    }
  }
  if (k < order.size()) swap_within(layer, order[k], draws, out);
}

// The heuristic proposals: `policy` of each row-block (balance) or tile (sort).
void policy_proposals(const std::vector<const MappedLayer*>& sources, const NetworkLayout& layout,
                      const DeviceModel& devices, RearrangePolicy policy, std::vector<Proposal>& out) {
  for (std::size_t l = 0; l < layout.layers.size(); ++l) {
    const LayerLayout& now = layout.layers[l];
    const LayerLayout next = rearrange_layer(*sources[l], now, layout.tile_rows, layout.tile_cols, devices, policy);
    for (const std::vector<std::size_t>& block : row_blocks(now)) {
      Proposal p{l, {}, {}};
      for (std::size_t t : block) {
        if (next.tiles[t].cols == now.tiles[t].cols) continue;
        p.tiles.push_back(t);
        p.placements.push_back(next.tiles[t]);
        if (policy != RearrangePolicy::Balance) {  // one proposal per tile
          out.push_back(std::move(p));
          p = Proposal{l, {}, {}};
        }
      }
      if (!p.tiles.empty()) out.push_back(std::move(p));
    }
  }
}

}  // namespace

std::vector<double> weff_squared_error(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                       const CrossbarConfig& config, Backend backend) {
  std::vector<TileRef> all;
  for (const LayerLayout& ll : layout.layers) {
    const auto it =
        std::find_if(layers.begin(), layers.end(), [&](const MappedLayer& m) { return m.layer == ll.layer; });
    SXB_REQUIRE(it != layers.end(), "weff_squared_error: layer '" + ll.layer + "' is not a layer of the model");
    for (const TilePlacement& p : ll.tiles) all.push_back({&*it, &p});
  }
  const std::vector<double> error = tile_errors(all, layout.tile_rows, layout.tile_cols, config, backend);
  std::vector<double> out;
  std::size_t k = 0;
  for (const LayerLayout& ll : layout.layers) {
    out.push_back(std::accumulate(error.begin() + k, error.begin() + k + ll.tiles.size(), 0.0));
    k += ll.tiles.size();
  }
  return out;
}

SearchOutcome search_rearrangement(const std::vector<const MappedLayer*>& sources, const NetworkLayout& layout,
                                   const CrossbarConfig& config, const RearrangeOptions& options) {
  const Stopwatch watch;
  const int R = layout.tile_rows, C = layout.tile_cols;
  const DeviceModel devices = config.devices();
  SearchOutcome out;
  out.layout = layout;
  NetworkLayout& now = out.layout;

  std::vector<std::vector<double>> error(now.layers.size());
  {
    std::vector<TileRef> all;
    for (std::size_t l = 0; l < now.layers.size(); ++l)
      for (const TilePlacement& p : now.layers[l].tiles) all.push_back({sources[l], &p});
    const std::vector<double> flat = tile_errors(all, R, C, config, options.backend);
    std::size_t k = 0;
    for (std::size_t l = 0; l < now.layers.size(); ++l)
      error[l].assign(flat.begin() + k, flat.begin() + k + now.layers[l].tiles.size()), k += now.layers[l].tiles.size();
  }
  const auto totals = [&] {
    std::vector<double> s;
    for (const std::vector<double>& e : error) s.push_back(std::accumulate(e.begin(), e.end(), 0.0));
    return s;
  };
  out.objective_before = totals();

  std::vector<BlockDraws> blocks;
  for (std::size_t l = 0; l < now.layers.size(); ++l) {
    const std::vector<std::vector<std::size_t>> groups = row_blocks(now.layers[l]);
    for (std::size_t b = 0; b < groups.size(); ++b)
      blocks.push_back({l, groups[b], {rng::mix64(options.seed ^ rng::mix64((static_cast<std::uint64_t>(l) << 32) | b))}});
  }

  for (int round = 1;; ++round) {
    if (options.rounds > 0 && round > options.rounds) {
      out.stopped_by = "rounds";
      break;
    }
    if (watch.seconds() >= options.budget_seconds) {
      out.stopped_by = "budget";
      break;
    }
    std::vector<Proposal> proposals;
    if (round <= 3) {
      const RearrangePolicy heuristic[] = {RearrangePolicy::Balance, RearrangePolicy::Sort,
                                           RearrangePolicy::SortReverse};
      policy_proposals(sources, now, devices, heuristic[round - 1], proposals);
    } else {
      for (BlockDraws& b : blocks) random_proposals(now, b, proposals);
      if (proposals.empty()) {
        out.stopped_by = "no moves";
        break;
      }
    }
    std::vector<TileRef> refs;
    for (const Proposal& p : proposals)
      for (const TilePlacement& q : p.placements) refs.push_back({sources[p.layer], &q});
    const std::vector<double> fresh = tile_errors(refs, R, C, config, options.backend);
    std::size_t k = 0;
    for (const Proposal& p : proposals) {
      double before = 0.0, after = 0.0;
      for (std::size_t i = 0; i < p.tiles.size(); ++i) before += error[p.layer][p.tiles[i]], after += fresh[k + i];
      if (after < before) {
        for (std::size_t i = 0; i < p.tiles.size(); ++i) {
          now.layers[p.layer].tiles[p.tiles[i]] = p.placements[i];
          error[p.layer][p.tiles[i]] = fresh[k + i];
        }
        ++out.accepted;
      }
      k += p.tiles.size();
    }
    out.proposals += static_cast<long long>(proposals.size());
    out.rounds = round;
  }
  out.objective_after = totals();
  return out;
}

}  // namespace sxb
