// Structured pruning (engine/pruning/pruning.h): groups and their norms, the
// proximal step, selection with deterministic ties, exact packing, tile
// counts and crossbar accounting (tests/workflows/test_pruning_vgg.cpp: on VGG).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "models/io/atomic_file.h"
#include "engine/crossbar/layout_file.h"
#include "engine/pruning/pruning.h"
#include "engine/pruning/pruning_accounting.h"
#include "engine/pruning/pruning_run.h"
#include "engine/data/synthetic.h"
#include "engine/training/train.h"
#include "models/io/safetensors.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {



std::vector<float> random_weights(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> w(n);
  for (float& x : w) x = normal(rng);
  return w;
}

// W[k][n] of the PyTorch weight [N, K].
float W(const std::vector<float>& weight, int K, int k, int n) { return weight[static_cast<std::size_t>(n) * K + k]; }

// --- Groups ------------------------------------------------------------------------

TEST(PruningGroups, CountsSizesAndNormsMatchADirectComputation) {
  const int K = 70, N = 50, R = 32, C = 16;
  const std::vector<float> w = random_weights(static_cast<std::size_t>(K) * N, 3);
  for (PruneMethod m : {PruneMethod::ChannelFilter, PruneMethod::ColumnSegments, PruneMethod::RowSegments}) {
    const GroupGeometry g{m, K, N, R, C};
    const std::vector<double> norms = group_norms(g, w.data());
    std::vector<double> direct;
    std::vector<int> sizes;
    if (m == PruneMethod::ChannelFilter) {
      for (int n = 0; n < N; ++n) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += double(W(w, K, k, n)) * W(w, K, k, n);
        direct.push_back(std::sqrt(s));
        sizes.push_back(K);
      }
    } else if (m == PruneMethod::ColumnSegments) {
      for (int b = 0; b < 3; ++b)  // row-blocks of 32, 32, 6
        for (int n = 0; n < N; ++n) {
          double s = 0;
          for (int k = b * R; k < std::min(K, b * R + R); ++k) s += double(W(w, K, k, n)) * W(w, K, k, n);
          direct.push_back(std::sqrt(s));
          sizes.push_back(b < 2 ? 32 : 6);
        }
    } else {
      for (int c = 0; c < 4; ++c)  // column-blocks of 16, 16, 16, 2
        for (int k = 0; k < K; ++k) {
          double s = 0;
          for (int n = c * C; n < std::min(N, c * C + C); ++n) s += double(W(w, K, k, n)) * W(w, K, k, n);
          direct.push_back(std::sqrt(s));
          sizes.push_back(c < 3 ? 16 : 2);
        }
    }
    ASSERT_EQ(g.count(), direct.size()) << method_name(m);
    for (std::size_t i = 0; i < direct.size(); ++i) {
      EXPECT_NEAR(norms[i], direct[i], 1e-12 * direct[i]) << method_name(m) << " group " << i;
      EXPECT_EQ(g.size(i), sizes[i]) << method_name(m) << " group " << i;
    }
    // Every weight is in exactly one group.
    std::vector<int> hits(w.size(), 0);
    for (std::size_t i = 0; i < g.count(); ++i) g.for_each(i, [&](std::size_t off) { ++hits[off]; });
    EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), static_cast<long>(w.size())) << method_name(m);
  }
}

TEST(PruningGroups, ProximalStepIsGroupSoftThresholding) {
  const int K = 40, N = 6, R = 16, C = 4;
  std::vector<float> w = random_weights(static_cast<std::size_t>(K) * N, 4);
  for (int k = 0; k < 16; ++k) w[static_cast<std::size_t>(2) * K + k] *= 0.01f;  // a small group (b 0, n 2)
  const GroupGeometry g{PruneMethod::ColumnSegments, K, N, R, C};
  const std::vector<double> before = group_norms(g, w.data());
  const double step = 0.125;  // threshold 0.5 for the groups of 16 weights, 0.125 * sqrt(8) for the last block
  ASSERT_LT(before[2], 0.5);
  std::vector<float> after = w;
  proximal_group_lasso(g, step, after.data());
  const std::vector<double> norms = group_norms(g, after.data());
  for (std::size_t i = 0; i < g.count(); ++i) {
    const double t = step * std::sqrt(i < 12 ? 16.0 : 8.0);  // row-blocks of 16, 16, 8 rows
    const double factor = std::max(0.0, 1.0 - t / before[i]);
    EXPECT_NEAR(norms[i], before[i] * factor, 1e-6 * before[i]) << i;
    g.for_each(i, [&](std::size_t off) { EXPECT_EQ(after[off], static_cast<float>(w[off] * factor)); });
  }
  EXPECT_EQ(norms[2], 0.0);
}

// --- Selection ----------------------------------------------------------------------

LayerGroups layer_with_norms(const std::string& name, PruneMethod m, int K, int N, int R, int C,
                             std::vector<double> norms, bool prunable = true) {
  LayerGroups l;
  l.layer = name;
  l.geometry = {m, K, N, R, C};
  l.norms = std::move(norms);
  l.prunable = prunable;
  return l;
}

TEST(PruningSelection, TiesGoToTheLowerLayerThenTheLowerGroup) {
  // Two xcs layers (one row-block each) whose groups all have score 1.
  std::vector<LayerGroups> layers = {
      layer_with_norms("a", PruneMethod::ColumnSegments, 4, 4, 4, 4, std::vector<double>(4, 2.0)),
      layer_with_norms("b", PruneMethod::ColumnSegments, 4, 4, 4, 4, std::vector<double>(4, 2.0))};
  const Selection s = select_groups(layers, {false, 0.25, 0.95});  // 8 of 32 weights: two groups
  EXPECT_EQ(s.keep[0], (std::vector<std::uint8_t>{0, 0, 1, 1}));
  EXPECT_EQ(s.keep[1], (std::vector<std::uint8_t>{1, 1, 1, 1}));
  EXPECT_EQ(s.removed_weights, 8);
  // The cap (at most half of a layer's groups) moves the rest to the next layer.
  const Selection capped = select_groups(layers, {false, 0.75, 0.5});
  EXPECT_EQ(capped.keep[0], (std::vector<std::uint8_t>{0, 0, 1, 1}));
  EXPECT_EQ(capped.keep[1], (std::vector<std::uint8_t>{0, 0, 1, 1}));
  EXPECT_FALSE(capped.reached);
  // Same result whatever the call.
  EXPECT_EQ(select_groups(layers, {false, 0.25, 0.95}).keep, s.keep);
}

TEST(PruningSelection, GlobalAndPerLayerMatchADirectRanking) {
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<int> level(0, 20);  // coarse values: many ties
  auto norms = [&](std::size_t n) {
    std::vector<double> v(n);
    for (double& x : v) x = level(rng) * 0.1;
    return v;
  };
  // xrs, R x C = 8 x 8: layer 0 is 20 x 12 (2 column-blocks: 8, 4), layer 1 is 30 x 16, layer 2 exempt.
  std::vector<LayerGroups> layers = {
      layer_with_norms("l0", PruneMethod::RowSegments, 20, 12, 8, 8, norms(40)),
      layer_with_norms("l1", PruneMethod::RowSegments, 30, 16, 8, 8, norms(60)),
      layer_with_norms("l2", PruneMethod::RowSegments, 16, 4, 8, 8, norms(16), false)};
  const double target = 0.4;
  const Selection s = select_groups(layers, {false, target, 0.99});
  // Direct: sort (score, layer, group) of the prunable layers, take a prefix until 40 % of all weights.
  struct Entry {
    double score;
    int layer, group, size;
  };
  std::vector<Entry> all;
  for (int l = 0; l < 2; ++l)
    for (int g = 0; g < static_cast<int>(layers[l].norms.size()); ++g) {
      const int K = layers[l].geometry.inputs, N = layers[l].geometry.outputs;
      const int size = (g / K) * 8 + 8 <= N ? 8 : N - (g / K) * 8;
      all.push_back({layers[l].norms[g] / std::sqrt(double(size)), l, g, size});
    }
  std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.score, a.layer, a.group) < std::tie(b.score, b.layer, b.group);
  });
  const long long total = 20 * 12 + 30 * 16 + 16 * 4;
  long long removed = 0;
  std::vector<std::vector<std::uint8_t>> keep = {std::vector<std::uint8_t>(40, 1), std::vector<std::uint8_t>(60, 1),
                                                 std::vector<std::uint8_t>(16, 1)};
  for (const Entry& e : all) {
    if (removed >= std::ceil(target * total)) break;
    keep[e.layer][e.group] = 0;
    removed += e.size;
  }
  EXPECT_EQ(s.keep, keep);
  EXPECT_EQ(s.removed_weights, removed);
  EXPECT_EQ(s.dense_weights, total);
  EXPECT_GE(s.sparsity(), target);

  // Per-layer: round(t * groups) lowest of each layer, ties by index.
  layers[0].target = 0.25;
  layers[1].target = 0.5;
  const Selection p = select_groups(layers, {true, 0.0, 0.95});
  for (int l = 0; l < 2; ++l) {
    const std::size_t n = layers[l].norms.size();
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    const GroupGeometry& g = layers[l].geometry;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return layers[l].norms[a] / std::sqrt(double(g.size(a))) < layers[l].norms[b] / std::sqrt(double(g.size(b)));
    });
    std::vector<std::uint8_t> want(n, 1);
    for (std::size_t r = 0; r < static_cast<std::size_t>(std::llround(layers[l].target * n)); ++r) want[order[r]] = 0;
    EXPECT_EQ(p.keep[l], want) << l;
  }
  EXPECT_EQ(p.keep[2], std::vector<std::uint8_t>(16, 1));
}

TEST(PruningSelection, ChannelFilterCountsTheNextLayersInputChannels) {
  // conv 3x3: 3 -> 4 channels (K 27), conv 3x3: 4 -> 6 (K 36), linear 6 -> 2.
  std::vector<LayerGroups> layers = {
      layer_with_norms("c0", PruneMethod::ChannelFilter, 27, 4, 8, 8, {5, 5, 5, 5}),
      layer_with_norms("c1", PruneMethod::ChannelFilter, 36, 6, 8, 8, {0.1, 9, 9, 9, 9, 9}),
      layer_with_norms("fc", PruneMethod::ChannelFilter, 6, 2, 8, 8, {1, 1}, false)};
  // Dense: 108 + 216 + 12 = 336 weights. Filter 0 of c1 (score 0.1/6): its 36
  // weights and one classifier input (2 weights) = 38.
  Selection s = select_groups(layers, {false, 0.1, 0.95});
  EXPECT_EQ(s.dense_weights, 336);
  EXPECT_EQ(s.removed_weights, 38);
  EXPECT_EQ(s.keep[1], (std::vector<std::uint8_t>{0, 1, 1, 1, 1, 1}));
  // Next: filter 0 of c0 (score 5/sqrt(27) < 9/6): 27 weights, and one input
  // channel of c1 (9 weights) for each of c1's 5 remaining filters: 38 + 72 = 110.
  s = select_groups(layers, {false, 0.2, 0.95});
  EXPECT_EQ(s.removed_weights, 110);
  EXPECT_EQ(s.keep[0], (std::vector<std::uint8_t>{0, 1, 1, 1}));
  layers[2].prunable = true;
  EXPECT_THROW(select_groups(layers, {false, 0.2, 0.95}), Error);
}

// --- Packing and accounting -------------------------------------------------------------

// y[n] = sum_k W_eff[k][n] x[k], with W_eff accumulated from the tiles' index maps.
std::vector<double> packed_product(const LayerLayout& l, const std::vector<float>& weight, const std::vector<double>& x) {
  std::vector<double> y(l.outputs, 0.0);
  for (const TilePlacement& t : l.tiles)
    for (int r : t.rows)
      for (int c : t.cols) y[c] += double(W(weight, l.inputs, r, c)) * x[r];
  return y;
}

TEST(PruningPacking, PackedTilesComputeTheMaskedProductExactly) {
  std::mt19937_64 rng(12);
  for (PruneMethod m : {PruneMethod::ColumnSegments, PruneMethod::RowSegments}) {
    for (int trial = 0; trial < 20; ++trial) {
      const int K = 1 + static_cast<int>(rng() % 150), N = 1 + static_cast<int>(rng() % 90);
      const int R = 1 + static_cast<int>(rng() % 40), C = 1 + static_cast<int>(rng() % 40);
      const GroupGeometry g{m, K, N, R, C};
      const double p_keep = (rng() % 5) * 0.25;
      std::vector<std::uint8_t> keep(g.count());
      for (auto& k : keep) k = (rng() % 1000) < p_keep * 1000 ? 1 : 0;
      std::vector<float> w(static_cast<std::size_t>(K) * N);
      for (float& v : w) v = static_cast<float>(static_cast<int>(rng() % 7) - 3);  // small integers: exact sums
      std::vector<double> x(K);
      for (double& v : x) v = static_cast<double>(static_cast<int>(rng() % 9) - 4);
      const LayerLayout l = packed_layout("layer", g, keep);
      ASSERT_NO_THROW(l.check(R, C, "test"));
      std::vector<std::uint8_t> mask(w.size());
      group_mask(g, keep, mask.data());
      std::vector<double> want(N, 0.0);
      for (int k = 0; k < K; ++k)
        for (int n = 0; n < N; ++n)
          if (mask[static_cast<std::size_t>(n) * K + k]) want[n] += double(W(w, K, k, n)) * x[k];
      EXPECT_EQ(packed_product(l, w, x), want) << method_name(m) << " K " << K << " N " << N << " R " << R << " C " << C;
      // Held cells = kept weights; tiles = sum over blocks of ceil(survivors / tile extent).
      long long held = 0, kept = 0, tiles = 0;
      for (const TilePlacement& t : l.tiles) held += static_cast<long long>(t.rows.size() * t.cols.size());
      for (auto v : mask) kept += v;
      EXPECT_EQ(held, kept);
      const int blocks = m == PruneMethod::ColumnSegments ? (K + R - 1) / R : (N + C - 1) / C;
      const int per_block = m == PruneMethod::ColumnSegments ? N : K, extent = m == PruneMethod::ColumnSegments ? C : R;
      for (int b = 0; b < blocks; ++b) {
        int s = 0;
        for (int i = 0; i < per_block; ++i) s += keep[static_cast<std::size_t>(b) * per_block + i];
        tiles += (s + extent - 1) / extent;
      }
      EXPECT_EQ(static_cast<long long>(l.tiles.size()), tiles);
    }
  }
}

TEST(PruningPacking, TileCountsAndCrossbarAccountingByHand) {
  const int K = 70, N = 50, R = 32, C = 16;
  // xcs: row-blocks of 32, 32, 6 rows; 50, 17 and 0 surviving columns -> 4 + 2 + 0 tiles.
  GroupGeometry xcs{PruneMethod::ColumnSegments, K, N, R, C};
  std::vector<std::uint8_t> keep(xcs.count(), 0);
  for (int n = 0; n < 50; ++n) keep[n] = 1;
  for (int n = 0; n < 17; ++n) keep[50 + 3 * n % 50] = 1;
  const LayerLayout lx = packed_layout("a", xcs, keep);
  EXPECT_EQ(lx.tiles.size(), 6u);
  EXPECT_EQ(lx.tiles[3].cols, (std::vector<int>{48, 49}));
  EXPECT_EQ(lx.tiles[4].rows.front(), 32);
  EXPECT_EQ(lx.tiles[4].cols.size(), 16u);
  EXPECT_EQ(lx.tiles[5].cols.size(), 1u);
  // xrs: column-blocks of 16, 16, 16, 2; 70, 33, 1 and 0 surviving rows -> 3 + 2 + 1 + 0 tiles.
  GroupGeometry xrs{PruneMethod::RowSegments, K, N, R, C};
  std::vector<std::uint8_t> rows(xrs.count(), 0);
  for (int k = 0; k < 70; ++k) rows[k] = 1;
  for (int k = 0; k < 33; ++k) rows[70 + 2 * k] = 1;
  rows[140 + 69] = 1;
  const LayerLayout lr = packed_layout("b", xrs, rows);
  EXPECT_EQ(lr.tiles.size(), 6u);
  EXPECT_EQ(lr.tiles[5].rows, (std::vector<int>{69}));
  EXPECT_EQ(lr.tiles[5].cols.size(), 16u);

  // Unpruned: ceil(70/32) x ceil(50/16) = 3 x 4 = 12 positions per layer.
  NetworkLayout pruned{"xcs", R, C, {lx, lr}}, dense{"dense", R, C, {dense_layout("a", K, N, R, C), dense_layout("b", K, N, R, C)}};
  const CrossbarAccount a = account_crossbars(pruned, dense);
  EXPECT_EQ(a.layers[0].dense_tiles, 12);
  EXPECT_EQ(a.layers[0].tiles, 6);
  EXPECT_EQ(a.layers[0].weights, 32 * 50 + 32 * 17);
  EXPECT_EQ(a.total.crossbars(), 24);
  EXPECT_EQ(a.total.dense_crossbars(), 48);
  EXPECT_DOUBLE_EQ(a.total.ccr(), 2.0);
  EXPECT_DOUBLE_EQ(a.layers[1].sparsity(), 1.0 - (70.0 * 16 + 33 * 16 + 16) / 3500.0);
  EXPECT_EQ(to_json(a)["total"]["crossbars"], 24);
  EXPECT_NE(format_table(a).find("total"), std::string::npos);
}

}  // namespace
}  // namespace sxb
