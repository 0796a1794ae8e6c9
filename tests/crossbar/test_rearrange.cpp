// Column rearrangement (engine/rearrangement/rearrange.h): every policy is a permutation of
// the columns of each row-block that leaves the ideal W_eff and the tile count
// unchanged, on dense and packed (XCS- and XRS-like) layouts; sort orders,
// balance and search do what docs/model.md says; evaluate reports it.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "engine/evaluation/crossbar_eval.h"
#include "engine/evaluation/crossbar_render.h"
#include "engine/rearrangement/rearrange.h"
#include "engine/crossbar/scheduler.h"
#include "kernels/common/error.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

constexpr int kTile = 16;

// Columns of very different strength, so the policies have something to do.
MappedLayer layer_with_strong_columns(const std::string& name, int K, int N, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> z(0.0f, 1.0f);
  std::uniform_real_distribution<float> strength(0.05f, 1.0f);
  std::vector<float> column(N);
  for (float& c : column) c = strength(rng);
  MappedLayer m{name, K, N, std::vector<float>(static_cast<std::size_t>(K) * N), 0.0};
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) m.matrix[static_cast<std::size_t>(k) * N + n] = column[n] * z(rng);
  m.scale = max_abs(m.matrix);
  return m;
}

// XCS-like: in each row-block the surviving column segments (about 60 %)
// packed side by side; pruned segments are zero in the matrix.
LayerLayout xcs_like(MappedLayer& m, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  LayerLayout l{m.layer, m.inputs, m.outputs, {}};
  for (int r0 = 0; r0 < m.inputs; r0 += kTile) {
    std::vector<int> rows, kept;
    for (int k = r0; k < std::min(m.inputs, r0 + kTile); ++k) rows.push_back(k);
    for (int n = 0; n < m.outputs; ++n) {
      if (rng() % 10 < 6) {
        kept.push_back(n);
      } else {
        for (int k : rows) m.matrix[static_cast<std::size_t>(k) * m.outputs + n] = 0.0f;
      }
    }
    for (std::size_t c0 = 0; c0 < kept.size(); c0 += kTile)
      l.tiles.push_back({rows, std::vector<int>(kept.begin() + c0, kept.begin() + std::min(kept.size(), c0 + kTile))});
  }
  return l;
}

// XRS-like: in each column-block the surviving rows (about 60 %) packed.
LayerLayout xrs_like(MappedLayer& m, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  LayerLayout l{m.layer, m.inputs, m.outputs, {}};
  for (int c0 = 0; c0 < m.outputs; c0 += kTile) {
    std::vector<int> cols, kept;
    for (int n = c0; n < std::min(m.outputs, c0 + kTile); ++n) cols.push_back(n);
    for (int k = 0; k < m.inputs; ++k) {
      if (rng() % 10 < 6) {
        kept.push_back(k);
      } else {
        for (int n : cols) m.matrix[static_cast<std::size_t>(k) * m.outputs + n] = 0.0f;
      }
    }
    for (std::size_t r0 = 0; r0 < kept.size(); r0 += kTile)
      l.tiles.push_back({std::vector<int>(kept.begin() + r0, kept.begin() + std::min(kept.size(), r0 + kTile)), cols});
  }
  return l;
}

struct Case {
  std::string name;
  std::vector<MappedLayer> layers;
  NetworkLayout layout;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const std::string method : {"dense", "xcs", "xrs"}) {
    Case c{method,
           {layer_with_strong_columns("features.0", 40, 50, 1), layer_with_strong_columns("classifier", 24, 10, 2)},
           {}};
    c.layout.method = method;
    c.layout.tile_rows = c.layout.tile_cols = kTile;
    for (MappedLayer& m : c.layers) {
      c.layout.layers.push_back(method == "dense" ? dense_layout(m.layer, m.inputs, m.outputs, kTile, kTile)
                                : method == "xcs" ? xcs_like(m, 3)
                                                  : xrs_like(m, 4));
      m.scale = max_abs(m.matrix);
    }
    c.layout.check(method);
    out.push_back(std::move(c));
  }
  return out;
}

CrossbarConfig config_16() {
  CrossbarConfig c = crossbar_preset("default");
  c.tile_rows = c.tile_cols = kTile;
  return c;
}

RearrangeOptions options(RearrangePolicy p) {
  RearrangeOptions o;
  o.policy = p;
  o.rounds = 6;
  o.budget_seconds = 60.0;
  return o;
}

const std::vector<RearrangePolicy> kPolicies = {RearrangePolicy::None, RearrangePolicy::Sort,
                                                RearrangePolicy::SortReverse, RearrangePolicy::Balance,
                                                RearrangePolicy::Search};

std::vector<std::vector<float>> solved(const Case& c, const NetworkLayout& layout, const CrossbarConfig& config,
                                       bool ideal) {
  SchedulerOptions so;
  so.ideal = ideal;
  std::vector<std::vector<float>> w;
  for (const LayerEffective& e : effective_weights(c.layers, layout, config, so)) w.push_back(e.w_eff);
  return w;
}

TEST(Rearrange, PolicyNamesAndBadName) {
  for (const std::string& name : rearrange_policy_names()) EXPECT_EQ(to_string(parse_rearrange_policy(name)), name);
  try {
    parse_rearrange_policy("shuffle");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("rearrange.policy"), std::string::npos) << what;
    EXPECT_NE(what.find("'shuffle'"), std::string::npos) << what;
    EXPECT_NE(what.find("sort-reverse"), std::string::npos) << what;
  }
}

// Every policy, on dense, XCS- and XRS-like layouts: a permutation of each
// row-block's columns (every tile keeps its rows and its column count), the
// same tile count, and the ideal W_eff bit for bit, both without a solve and
// solved with every resistance zero.
TEST(Rearrange, EveryPolicyIsAPermutationThatKeepsTheIdealWeff) {
  const CrossbarConfig config = config_16();
  CrossbarConfig shorted = config;
  shorted.res = TileResistances{0.0, 0.0, 0.0, 0.0};
  for (const Case& c : cases()) {
    const auto ideal_none = solved(c, c.layout, config, true);
    const auto zero_none = solved(c, c.layout, shorted, false);
    for (RearrangePolicy p : kPolicies) {
      SCOPED_TRACE(c.name + " " + to_string(p));
      const Rearrangement r = rearrange(c.layers, c.layout, config, options(p));
      ASSERT_EQ(r.layout.layers.size(), c.layout.layers.size());
      EXPECT_EQ(r.layout.crossbars(), c.layout.crossbars());
      EXPECT_NO_THROW(r.layout.check("rearranged"));
      for (std::size_t l = 0; l < c.layout.layers.size(); ++l) {
        const LayerLayout &a = c.layout.layers[l], &b = r.layout.layers[l];
        ASSERT_EQ(a.tiles.size(), b.tiles.size());
        for (std::size_t t = 0; t < a.tiles.size(); ++t) {
          EXPECT_EQ(a.tiles[t].rows, b.tiles[t].rows);
          EXPECT_EQ(a.tiles[t].cols.size(), b.tiles[t].cols.size());
        }
        for (const std::vector<std::size_t>& block : row_blocks(a)) {  // a bijection of the block's columns
          std::vector<int> from, to;
          for (std::size_t t : block) {
            from.insert(from.end(), a.tiles[t].cols.begin(), a.tiles[t].cols.end());
            to.insert(to.end(), b.tiles[t].cols.begin(), b.tiles[t].cols.end());
          }
          std::sort(from.begin(), from.end());
          std::sort(to.begin(), to.end());
          EXPECT_EQ(from, to);
        }
      }
      EXPECT_EQ(solved(c, r.layout, config, true), ideal_none);
      EXPECT_EQ(solved(c, r.layout, shorted, false), zero_none);
      if (p == RearrangePolicy::None) {
        EXPECT_EQ(to_json(r.layout), to_json(c.layout));
      }
    }
  }
}

TEST(Rearrange, RowBlocksGroupTilesWithTheSameRows) {
  const std::vector<Case> all = cases();
  EXPECT_EQ(row_blocks(all[0].layout.layers[0]).size(), 3u);  // dense 40 x 50 on 16 x 16: 3 row-blocks of 4 tiles
  EXPECT_EQ(row_blocks(all[0].layout.layers[0])[0], (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_EQ(row_blocks(all[1].layout.layers[0]).size(), 3u);  // xcs: packed per row-block
  const LayerLayout& xrs = all[2].layout.layers[0];
  EXPECT_EQ(row_blocks(xrs).size(), xrs.tiles.size());  // xrs: different surviving rows, one tile each
  LayerLayout shuffled{"x", 4, 4, {{{0, 1}, {0, 1}}, {{1, 0}, {2, 3}}, {{2, 3}, {0}}}};
  EXPECT_EQ(row_blocks(shuffled).size(), 2u);  // the same set of rows in another order is the same row-block
}

// sort: column totals g+ + g- decrease from tile column 0 (the drivers' end of
// the word lines); sort-reverse: they increase. The set of columns of each tile is kept.
TEST(Rearrange, SortOrdersColumnsFromTheDrivers) {
  const CrossbarConfig config = config_16();
  const DeviceModel d = config.devices();
  for (const Case& c : cases()) {
    for (RearrangePolicy p : {RearrangePolicy::Sort, RearrangePolicy::SortReverse}) {
      SCOPED_TRACE(c.name + " " + to_string(p));
      const Rearrangement r = rearrange(c.layers, c.layout, config, options(p));
      std::size_t reordered = 0;
      for (std::size_t l = 0; l < c.layers.size(); ++l)
        for (std::size_t t = 0; t < r.layout.layers[l].tiles.size(); ++t) {
          const TilePlacement& q = r.layout.layers[l].tiles[t];
          std::vector<int> a = c.layout.layers[l].tiles[t].cols, b = q.cols;
          reordered += a != b;
          std::sort(a.begin(), a.end());
          std::sort(b.begin(), b.end());
          EXPECT_EQ(a, b);
          for (std::size_t j = 1; j < q.cols.size(); ++j) {
            const double prev = column_conductance(c.layers[l], q.rows, q.cols[j - 1], d).total;
            const double next = column_conductance(c.layers[l], q.rows, q.cols[j], d).total;
            if (p == RearrangePolicy::Sort)
              EXPECT_GE(prev, next);
            else
              EXPECT_LE(prev, next);
          }
        }
      EXPECT_GT(reordered, 0u);
    }
  }
}

double largest_tile_total(const Case& c, const NetworkLayout& layout, std::size_t l,
                          const std::vector<std::size_t>& block) {
  const std::vector<TileConductance> t =
      tile_conductances(c.layers[l], layout.layers[l], layout.tile_rows, layout.tile_cols, config_16().devices());
  double worst = 0.0;
  for (std::size_t k : block) worst = std::max(worst, t[k].total);
  return worst;
}

TEST(Rearrange, BalanceLowersTheLargestTileConductanceOfEveryRowBlock) {
  const CrossbarConfig config = config_16();
  bool lowered = false;
  for (const Case& c : cases()) {
    const Rearrangement r = rearrange(c.layers, c.layout, config, options(RearrangePolicy::Balance));
    for (std::size_t l = 0; l < c.layers.size(); ++l)
      for (const std::vector<std::size_t>& block : row_blocks(c.layout.layers[l])) {
        const double before = largest_tile_total(c, c.layout, l, block),
                     after = largest_tile_total(c, r.layout, l, block);
        EXPECT_LE(after, before * (1.0 + 1e-12)) << c.name << " layer " << l;
        lowered |= after < before * (1.0 - 1e-6);
      }
  }
  EXPECT_TRUE(lowered);

  // Two tiles, one with only strong columns, one with only weak ones: balance mixes them.
  Case c{"two tiles", {MappedLayer{"features.0", 8, 8, std::vector<float>(64, 0.0f), 1.0}}, {}};
  for (int k = 0; k < 8; ++k)
    for (int n = 0; n < 4; ++n) c.layers[0].matrix[k * 8 + n] = 1.0f;  // columns 0..3 at G_max
  c.layout.tile_rows = c.layout.tile_cols = 4;
  c.layout.layers.push_back(dense_layout("features.0", 8, 8, 4, 4));
  const Rearrangement r = rearrange(c.layers, c.layout, config, options(RearrangePolicy::Balance));
  for (const std::vector<std::size_t>& block : row_blocks(c.layout.layers[0])) {
    EXPECT_LT(largest_tile_total(c, r.layout, 0, block), largest_tile_total(c, c.layout, 0, block));
    for (std::size_t t : block) {
      const std::vector<int>& cols = r.layout.layers[0].tiles[t].cols;
      EXPECT_EQ(std::count_if(cols.begin(), cols.end(), [](int n) { return n < 4; }), 2);
    }
  }
  EXPECT_LT(r.layers[0].low_share_max_after, r.layers[0].low_share_max_before);
  EXPECT_GT(r.layers[0].low_share_min_after, r.layers[0].low_share_min_before);
  EXPECT_DOUBLE_EQ(r.layers[0].low_share_mean_after, r.layers[0].low_share_mean_before);
}

// search starts from none and accepts only improvements of its objective;
// with a fixed number of rounds the result depends only on the seed.
TEST(Rearrange, SearchIsNeverWorseThanNoneAndRepeatable) {
  const CrossbarConfig config = config_16();
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const std::vector<double> none = weff_squared_error(c.layers, c.layout, config, Backend::Cpu);
    const RearrangeOptions o = options(RearrangePolicy::Search);
    const Rearrangement a = rearrange(c.layers, c.layout, config, o);
    const std::vector<double> found = weff_squared_error(c.layers, a.layout, config, Backend::Cpu);
    double total_none = 0.0, total_found = 0.0;
    for (std::size_t l = 0; l < none.size(); ++l) {
      EXPECT_LE(found[l], none[l]);
      EXPECT_DOUBLE_EQ(a.layers[l].objective_before, none[l]);
      EXPECT_NEAR(a.layers[l].objective_after, found[l], 1e-9 * none[l]);
      total_none += none[l];
      total_found += found[l];
    }
    EXPECT_LT(total_found, total_none);
    EXPECT_EQ(a.rounds, o.rounds);
    EXPECT_EQ(a.stopped_by, "rounds");
    EXPECT_GT(a.accepted, 0);
    const Rearrangement b = rearrange(c.layers, c.layout, config, o);
    EXPECT_EQ(to_json(b.layout), to_json(a.layout));
    RearrangeOptions other = o;
    other.seed = 7;
    other.rounds = 12;
    EXPECT_NE(to_json(rearrange(c.layers, c.layout, config, other).layout), to_json(a.layout));
  }
  // A zero budget still returns the (unchanged) layout.
  const Case c = cases()[0];
  RearrangeOptions broke = options(RearrangePolicy::Search);
  broke.budget_seconds = 0.0;
  const Rearrangement r = rearrange(c.layers, c.layout, config, broke);
  EXPECT_EQ(r.stopped_by, "budget");
  EXPECT_EQ(to_json(r.layout), to_json(c.layout));
}

TEST(Rearrange, CacheKeyNamesThePolicy) {
  EXPECT_EQ(rearranged_cache_key("abc", options(RearrangePolicy::None)), "abc");
  std::set<std::string> keys;
  for (RearrangePolicy p : kPolicies) keys.insert(rearranged_cache_key("abc", options(p)));
  EXPECT_EQ(keys.size(), kPolicies.size());
}

RearrangeOptions spread(double extra) {
  RearrangeOptions o;
  o.policy = RearrangePolicy::Spread;
  o.extra = extra;
  return o;
}

// The held weights (k, n) of a layer, sorted.
std::vector<std::pair<int, int>> held(const LayerLayout& l) {
  std::vector<std::pair<int, int>> out;
  for (const TilePlacement& p : l.tiles)
    for (int k : p.rows)
      for (int n : p.cols) out.emplace_back(k, n);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Rearrange, SpreadWithoutBudgetIsNone) {
  const CrossbarConfig config = config_16();
  for (const Case& c : cases()) {
    const Rearrangement r = rearrange(c.layers, c.layout, config, spread(0.0));
    EXPECT_EQ(to_json(r.layout), to_json(c.layout)) << c.name;
    for (const LayerRearrangement& l : r.layers) {
      EXPECT_EQ(l.moved_columns, 0u);
      EXPECT_EQ(l.crossbars_after, l.crossbars_before);
    }
  }
  EXPECT_EQ(rearranged_cache_key("abc", spread(0.0)), "abc");
  EXPECT_NE(rearranged_cache_key("abc", spread(0.25)), rearranged_cache_key("abc", spread(0.5)));
  EXPECT_EQ(spread(0.25).to_json()["extra"], 0.25);
}

// Within the budget floor(extra x positions) per layer, every weight held
// exactly once, the ideal W_eff unchanged, fewer columns on the busiest tile.
TEST(Rearrange, SpreadStaysWithinTheBudgetAndPlacesEveryWeightOnce) {
  const CrossbarConfig config = config_16();
  bool fewer = false;
  for (const Case& c : cases()) {
    const auto ideal_none = solved(c, c.layout, config, true);
    for (double extra : {0.1, 0.25, 0.5, 3.0}) {
      SCOPED_TRACE(c.name + " extra " + std::to_string(extra));
      const Rearrangement r = rearrange(c.layers, c.layout, config, spread(extra));
      EXPECT_NO_THROW(r.layout.check("spread"));
      for (std::size_t l = 0; l < c.layout.layers.size(); ++l) {
        const LayerLayout &a = c.layout.layers[l], &b = r.layout.layers[l];
        const std::size_t allowed =
            a.tiles.size() + static_cast<std::size_t>(std::floor(extra * a.tiles.size() + 1e-9));
        EXPECT_GE(b.tiles.size(), a.tiles.size());
        EXPECT_LE(b.tiles.size(), allowed);
        EXPECT_LE(2 * b.tiles.size(), static_cast<std::size_t>(std::floor((1.0 + extra) * 2 * a.tiles.size() + 1e-9)));
        EXPECT_EQ(r.layers[l].crossbars_after, 2 * static_cast<long long>(b.tiles.size()));
        EXPECT_EQ(held(b), held(a));
        for (std::size_t t = 0; t < a.tiles.size(); ++t) EXPECT_EQ(b.tiles[t].rows, a.tiles[t].rows);
        const auto busiest = [](const LayerLayout& x) {
          std::size_t most = 0;
          for (const TilePlacement& p : x.tiles) most = std::max(most, p.cols.size());
          return most;
        };
        EXPECT_LE(busiest(b), busiest(a));
        fewer |= busiest(b) < busiest(a);
        for (const std::vector<std::size_t>& block : row_blocks(b)) {  // sizes within a spread block differ by <= 1
          std::size_t lo = kTile, hi = 0;
          for (std::size_t t : block) {
            lo = std::min(lo, b.tiles[t].cols.size());
            hi = std::max(hi, b.tiles[t].cols.size());
          }
          if (block.back() >= a.tiles.size()) EXPECT_LE(hi - lo, 1u);
        }
      }
      EXPECT_EQ(solved(c, r.layout, config, true), ideal_none);
    }
  }
  EXPECT_TRUE(fewer);
  // A generous budget ends with one column per tile.
  const Case c = cases()[0];
  const Rearrangement r = rearrange(c.layers, c.layout, config, spread(100.0));
  for (const TilePlacement& p : r.layout.layers[0].tiles) EXPECT_EQ(p.cols.size(), 1u);
  EXPECT_EQ(r.layout.layers[0].tiles.size(), 3u * 50u);
}

TEST(Rearrange, SpreadBalancesTheTotalsOfTheNewTiles) {
  // 8 x 8 on 4 x 4 tiles: two row-blocks of two tiles; columns 0..3 strong.
  Case c{"two tiles", {MappedLayer{"features.0", 8, 8, std::vector<float>(64, 0.01f), 1.0}}, {}};
  for (int k = 0; k < 8; ++k)
    for (int n = 0; n < 4; ++n) c.layers[0].matrix[k * 8 + n] = 1.0f;
  c.layout.tile_rows = c.layout.tile_cols = 4;
  c.layout.layers.push_back(dense_layout("features.0", 8, 8, 4, 4));
  const Rearrangement r = rearrange(c.layers, c.layout, config_16(), spread(1.0));
  const LayerLayout& l = r.layout.layers[0];
  ASSERT_EQ(l.tiles.size(), 8u);  // 4 + floor(1.0 x 4)
  for (const TilePlacement& p : l.tiles) {
    ASSERT_EQ(p.cols.size(), 2u);
    EXPECT_EQ(std::count_if(p.cols.begin(), p.cols.end(), [](int n) { return n < 4; }), 1);
  }
  EXPECT_LT(r.layers[0].max_tile_conductance_after, r.layers[0].max_tile_conductance_before);
  SchedulerOptions so;
  so.ideal = true;
  const auto before = effective_weights(c.layers, c.layout, config_16(), so);
  const auto after = effective_weights(c.layers, r.layout, config_16(), so);
  const nlohmann::json j = rearrangement_json(r, spread(1.0), c.layers, before, after, 0.5, 0.5);
  EXPECT_EQ(j["crossbars"]["before"], 8);
  EXPECT_EQ(j["crossbars"]["after"], 16);
  EXPECT_EQ(j["layers"][0]["crossbars_after"], 16);
  EXPECT_NE(rearrangement_table(j).find("crossbars: 8 > 16"), std::string::npos);
}

TEST(Rearrange, SpreadOptionErrors) {
  const Case c = cases()[0];
  const auto error_of = [&](const RearrangeOptions& o) {
    try {
      rearrange(c.layers, c.layout, config_16(), o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  RearrangeOptions sort = options(RearrangePolicy::Sort);
  sort.extra = 0.5;
  EXPECT_NE(error_of(sort).find("rearrange.extra"), std::string::npos);
  EXPECT_NE(error_of(spread(-0.1)).find("rearrange.extra"), std::string::npos);
  EXPECT_NE(error_of(spread(std::nan(""))).find("rearrange.extra"), std::string::npos);
}

// evaluate with a policy: the ideal crossbar still matches the software model,
// and the report holds the before/after comparison.
TEST(Rearrange, EvaluateReportsBeforeAndAfter) {
  auto backend = nn::make_cpu_backend();
  nn::VggConfig vc;
  vc.width = 0.0625;
  nn::Vgg model(vc, *backend);
  model.init(5);
  const Dataset test_set = load_dataset("synthetic:40", Split::Test);
  CrossbarEvalOptions o;
  o.backend = Backend::Cpu;
  o.crossbar.tile_rows = o.crossbar.tile_cols = 16;
  o.cache_dir = test::fresh_dir("rearrange_cache").string();
  const CrossbarEvalResult none = evaluate_on_crossbars(model, test_set, Normalization{}, o);
  EXPECT_TRUE(to_json(none.report).at("rearrangement").is_null());
  o.rearrange.policy = RearrangePolicy::Balance;
  const CrossbarEvalResult r = evaluate_on_crossbars(model, test_set, Normalization{}, o);
  EXPECT_EQ(r.ideal.predicted, r.software.predicted);
  EXPECT_EQ(r.report.crossbars, none.report.crossbars);
  EXPECT_NE(to_json(r.report)["cache"]["file"], to_json(none.report)["cache"]["file"]);
  const nlohmann::json x = to_json(r.report).at("rearrangement");
  EXPECT_EQ(x["policy"], "balance");
  EXPECT_EQ(x["accuracy"]["before"].get<double>(), none.nonideal.accuracy);
  EXPECT_EQ(x["accuracy"]["after"].get<double>(), r.nonideal.accuracy);
  ASSERT_EQ(x["layers"].size(), to_json(r.report)["layers"].size());
  for (std::size_t l = 0; l < x["layers"].size(); ++l) {
    EXPECT_EQ(x["layers"][l]["nf_mean_before"], to_json(none.report)["layers"][l]["nf_mean"]);
    EXPECT_EQ(x["layers"][l]["nf_mean_after"], to_json(r.report)["layers"][l]["nf_mean"]);
    EXPECT_LE(x["layers"][l]["max_tile_conductance_after"].get<double>(),
              x["layers"][l]["max_tile_conductance_before"].get<double>() * (1 + 1e-12));
    EXPECT_TRUE(x["layers"][l]["weff_error_after"].is_number());
  }
  EXPECT_NE(crossbar_table(r.report).find("column rearrangement 'balance'"), std::string::npos);
}

}  // namespace
}  // namespace sxb
