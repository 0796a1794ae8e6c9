// Structured pruning (engine/pruning/pruning.h, pruning_run.h): groups and their
// norms, the proximal step, selection with deterministic ties, exact packing,
// tile counts and crossbar accounting, C/F shrinking against masking, the
// channel list in safetensors, masks held through fine-tuning, resume, and
// the whole pipeline on the synthetic set.
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

struct ThreadCount {
  int saved = omp_get_max_threads();
  explicit ThreadCount(int n) { omp_set_num_threads(n); }
  ~ThreadCount() { omp_set_num_threads(saved); }
};

void quiet(const std::string&) {}

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

// --- On VGG ---------------------------------------------------------------------------

std::vector<float> random_batch(int n, std::uint64_t seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<std::size_t>(n) * 3 * 32 * 32);
  for (float& v : x) v = normal(rng);
  return x;
}

// A VGG11 with random weights and non-trivial batch-norm statistics.
std::unique_ptr<nn::Vgg> random_vgg(nn::Backend& b, double width, std::uint64_t seed) {
  auto m = std::make_unique<nn::Vgg>(nn::VggConfig{"vgg11", width, 10}, b);
  m->init(seed);
  const nn::Tensor x = nn::from_host(b, {8, 3, 32, 32}, random_batch(8, seed));
  m->forward(x, {nn::Mode::Train});
  return m;
}

TEST(PruningChannelFilter, ShrunkModelGivesTheOutputsOfTheMaskedModel) {
  auto backend = nn::make_cpu_backend();
  nn::Backend& b = *backend;
  auto model = random_vgg(b, 0.125, 5);  // channels 8, 16, 32, 32, 64, 64, 64, 64
  const SafetensorsFile state = model->state_dict();
  const std::vector<int> channels = model->config().conv_channels();
  // Remove filters 0, 5, 7 of features.4 (conv 1) and 1, 2, 60 of features.25 (the last conv).
  std::vector<std::vector<int>> kept;
  const std::set<int> cut1 = {0, 5, 7}, cut7 = {1, 2, 60};
  for (std::size_t l = 0; l < channels.size(); ++l) {
    std::vector<int> k;
    for (int c = 0; c < channels[l]; ++c)
      if (!(l == 1 && cut1.count(c)) && !(l == 7 && cut7.count(c))) k.push_back(c);
    kept.push_back(k);
  }
  nn::VggConfig shrunk_config;
  const SafetensorsFile shrunk_state = keep_channels(state, model->config(), kept, &shrunk_config);
  EXPECT_EQ(shrunk_config.channels, (std::vector<int>{8, 13, 32, 32, 64, 64, 64, 61}));
  EXPECT_EQ(shrunk_state.tensors.at("features.4.weight").shape, (std::vector<std::int64_t>{13, 8, 3, 3}));
  EXPECT_EQ(shrunk_state.tensors.at("features.8.weight").shape, (std::vector<std::int64_t>{32, 13, 3, 3}));
  EXPECT_EQ(shrunk_state.tensors.at("features.5.running_var").shape, (std::vector<std::int64_t>{13}));
  EXPECT_EQ(shrunk_state.tensors.at("classifier.weight").shape, (std::vector<std::int64_t>{10, 61}));

  // The masked model: the filters and the next layer's matching inputs at zero.
  SafetensorsFile masked = state;
  auto zero = [&](const std::string& name, int out_channel, int in_channel) {
    HostTensor& t = masked.tensors.at(name);
    const std::size_t d0 = t.shape[0], d1 = t.shape[1], inner = t.data.size() / (d0 * d1);
    for (std::size_t o = 0; o < d0; ++o)
      for (std::size_t i = 0; i < d1; ++i)
        if (int(o) == out_channel || int(i) == in_channel)
          std::fill_n(t.data.begin() + (o * d1 + i) * inner, inner, 0.0f);
  };
  for (int c : cut1) {
    zero("features.4.weight", c, -1);
    zero("features.8.weight", -1, c);
  }
  for (int c : cut7) {
    zero("features.25.weight", c, -1);
    zero("classifier.weight", -1, c);
  }
  model->load_state_dict(masked, "masked");
  const nn::Tensor x = nn::from_host(b, {6, 3, 32, 32}, random_batch(6, 77));
  const std::vector<float> want = nn::to_host(b, model->forward(x, {nn::Mode::Eval}));

  // Saved and loaded through safetensors: the channel list travels in __metadata__.
  const std::string path = testing::TempDir() + "/cf_shrunk.safetensors";
  write_safetensors(path, shrunk_state);
  const SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.metadata.at("channels"), "[8, 13, 32, 32, 64, 64, 64, 61]");
  const nn::VggConfig loaded = nn::vgg_config_for_file(f, path, nn::VggRequest{"vgg11"}, true);
  EXPECT_EQ(loaded.channels, shrunk_config.channels);
  nn::Vgg shrunk(loaded, b);
  shrunk.load_state_dict(f, path);
  const std::vector<float> got = nn::to_host(b, shrunk.forward(x, {nn::Mode::Eval}));
  ASSERT_EQ(got.size(), want.size());
  float scale = 0.0f;
  for (float v : want) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f * scale) << i;

  // A bad channel list in the metadata is an error naming the key.
  SafetensorsFile bad = f;
  bad.metadata["channels"] = "[8, 13]";
  EXPECT_THROW(nn::vgg_config_for_file(bad, "bad.safetensors", nn::VggRequest{"vgg11"}, true), Error);
  bad.metadata["channels"] = "8, 13";
  try {
    nn::vgg_config_for_file(bad, "bad.safetensors", nn::VggRequest{"vgg11"}, true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("channels"), std::string::npos) << e.what();
  }
}

TEST(PruningChannelFilter, HardPruningShrinksEveryPrunableLayerAndTheLayoutIsDense) {
  auto backend = nn::make_cpu_backend();
  auto model = random_vgg(*backend, 0.125, 6);
  PruneSpec spec;
  spec.method = PruneMethod::ChannelFilter;
  spec.tile_rows = spec.tile_cols = 32;
  spec.sparsity = 0.5;
  const PrunedNetwork p = hard_prune(*model, spec);
  EXPECT_GE(p.selection.sparsity(), 0.5);
  EXPECT_EQ(p.config.channels.size(), 8u);
  EXPECT_EQ(p.config.channels[0], 8);  // the first conv is exempt by default
  nn::Vgg shrunk(p.config, *backend);
  shrunk.load_state_dict(p.weights, "hard");
  check_layout_for_model(p.layout, shrunk, "layout");
  long long weights = 0;
  for (const std::string& l : shrunk.weight_layers()) weights += shrunk.parameter(l + ".weight").value.numel();
  EXPECT_EQ(weights, p.selection.dense_weights - p.selection.removed_weights);
  for (const LayerLayout& l : p.layout.layers) {
    const LayerLayout d = dense_layout(l.layer, l.inputs, l.outputs, 32, 32);
    EXPECT_EQ(l.tiles.size(), d.tiles.size());
  }
}

TEST(PruningLayout, FileRoundTripAndChecksAgainstTheModel) {
  auto backend = nn::make_cpu_backend();
  auto model = random_vgg(*backend, 0.0625, 7);
  PruneSpec spec;
  spec.method = PruneMethod::RowSegments;
  spec.tile_rows = 16;
  spec.tile_cols = 8;
  spec.sparsity = 0.6;
  spec.prune_classifier = true;
  const PrunedNetwork p = hard_prune(*model, spec);
  const std::string path = testing::TempDir() + "/xrs.layout.json";
  write_layout_file(path, p.layout, {{"pruning", {{"note", "test"}}}});
  const NetworkLayout back = read_layout_file(path);
  EXPECT_EQ(to_json(back), to_json(p.layout));
  EXPECT_EQ(layout_path("dir/m.safetensors"), "dir/m.layout.json");

  nn::Vgg pruned(p.config, *backend);
  pruned.load_state_dict(p.weights, "hard");
  EXPECT_NO_THROW(check_layout_for_model(back, pruned, path));
  // The dense weights do not belong to this layout.
  try {
    check_layout_for_model(back, *model, path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("held by no tile"), std::string::npos) << e.what();
  }
  // A layer of the wrong shape, and a missing layer.
  NetworkLayout wrong = back;
  wrong.layers[1] = dense_layout(wrong.layers[1].layer, 10, 10, 16, 8);
  EXPECT_THROW(check_layout_for_model(wrong, pruned, path), Error);
  wrong = back;
  wrong.layers.pop_back();
  try {
    check_layout_for_model(wrong, pruned, path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no layout for layer 'classifier'"), std::string::npos) << e.what();
  }
  // A corrupt file: errors name it.
  write_file_atomic(path, R"({"method": "xrs", "tile_rows": 16, "tile_cols": 8, "layers": [{"layer": "x", "inputs": 4,
    "outputs": 4, "tiles": [{"rows": [0, 4], "cols": [0]}]}]})");
  try {
    read_layout_file(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("row index 4 outside"), std::string::npos) << e.what();
  }
}

// --- The pipeline -------------------------------------------------------------------------

// A dense model trained briefly on the synthetic set (cached per process).
std::string tiny_dense_model(const Dataset& train_set, double width, int epochs, int batch, double lr,
                             const std::string& name) {
  const std::string path = testing::TempDir() + "/" + name;
  std::filesystem::remove(path);
  std::filesystem::remove(checkpoint_path(path));
  TrainConfig c;
  c.model = "vgg11";
  c.width = width;
  c.data = "synthetic";
  c.epochs = epochs;
  c.batch = batch;
  c.lr = lr;
  c.seed = 3;
  c.out = path;
  auto backend = nn::make_cpu_backend();
  TrainHooks hooks;
  hooks.log = quiet;
  train(c, train_set, Dataset{}, *backend, hooks);
  return path;
}

PruneRunConfig tiny_prune(PruneMethod m, const std::string& weights, const std::string& out) {
  PruneRunConfig c;
  c.spec.method = m;
  c.spec.tile_rows = c.spec.tile_cols = 8;
  c.spec.sparsity = 0.5;
  c.weights = weights;
  c.data = "synthetic";
  c.lambda = 0.05;
  c.reg_epochs = 1;
  c.finetune_epochs = 1;
  c.batch = 32;
  c.lr = 0.02;
  c.seed = 4;
  c.out = testing::TempDir() + "/" + out;
  for (const std::string& f : {".safetensors", ".reg.safetensors", ".hard.safetensors", ".layout.json", ".prune.json",
                               ".ckpt.safetensors", ".reg.ckpt.safetensors"})
    std::filesystem::remove(c.out + f);
  return c;
}

TEST(PruningRun, FineTuningHoldsPrunedWeightsAndMomentumAtZeroAndResumeIsExact) {
  ThreadCount threads(2);
  const Dataset train_set = load_dataset("synthetic:128", Split::Train), test_set = make_synthetic(32, 99);
  const std::string dense = tiny_dense_model(train_set, 0.0625, 1, 32, 0.02, "tiny_dense.safetensors");
  auto backend = nn::make_cpu_backend();
  TrainHooks hooks;
  hooks.log = quiet;

  const PruneRunConfig straight = tiny_prune(PruneMethod::ColumnSegments, dense, "straight");
  const PruneRunResult a = run_pruning(straight, train_set, test_set, *backend, hooks);
  ASSERT_FALSE(a.interrupted);
  EXPECT_GT(a.account.total.ccr(), 1.0);

  // The fine-tuned weights: zero wherever no tile holds them, and so is their momentum.
  const NetworkLayout layout = read_layout_file(a.paths.layout);
  const SafetensorsFile model = read_safetensors(a.paths.model), ckpt = read_safetensors(checkpoint_path(a.paths.model));
  const SafetensorsFile hard = read_safetensors(a.paths.hard);
  long long pruned = 0, changed = 0;
  for (const LayerLayout& l : layout.layers) {
    std::vector<std::uint8_t> held(static_cast<std::size_t>(l.inputs) * l.outputs, 0);
    for (const TilePlacement& t : l.tiles)
      for (int k : t.rows)
        for (int n : t.cols) held[static_cast<std::size_t>(n) * l.inputs + k] = 1;
    const auto& w = model.tensors.at(l.layer + ".weight").data;
    const auto& m = ckpt.tensors.at("momentum." + l.layer + ".weight").data;
    const auto& h = hard.tensors.at(l.layer + ".weight").data;
    for (std::size_t i = 0; i < held.size(); ++i) {
      if (held[i]) {
        changed += w[i] != h[i];
        continue;
      }
      ++pruned;
      ASSERT_EQ(w[i], 0.0f) << l.layer << " " << i;
      ASSERT_EQ(m[i], 0.0f) << l.layer << " " << i;
    }
  }
  EXPECT_GT(pruned, 0);
  EXPECT_GT(changed, 0);  // fine-tuning did train the kept weights
  EXPECT_EQ(model.metadata.at("layout"), "straight.layout.json");

  // Interrupted in each phase and resumed: the same files as the straight run.
  const PruneRunConfig c = tiny_prune(PruneMethod::ColumnSegments, dense, "resumed");
  int steps = 0;
  hooks.stop_requested = [&] { return ++steps == 2; };  // 4 steps per epoch
  PruneRunResult r = run_pruning(c, train_set, test_set, *backend, hooks);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.phase, "regularisation");
  PruneRunConfig again = c;
  again.resume = true;
  steps = 0;
  hooks.stop_requested = [&] { return ++steps == 4; };  // 2 more steps of phase 1, 2 of phase 3
  r = run_pruning(again, train_set, test_set, *backend, hooks);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.phase, "fine-tuning");
  hooks.stop_requested = nullptr;
  r = run_pruning(again, train_set, test_set, *backend, hooks);
  ASSERT_FALSE(r.interrupted);
  const SafetensorsFile resumed = read_safetensors(r.paths.model);
  for (const auto& [name, t] : model.tensors) EXPECT_TRUE(t.data == resumed.tensors.at(name).data) << name;
  EXPECT_EQ(to_json(read_layout_file(r.paths.layout)), to_json(layout));
  EXPECT_EQ(r.accuracy, a.accuracy);
  // Resuming with another setting is refused, naming it.
  PruneRunConfig other = again;
  other.lambda = 0.1;
  try {
    run_pruning(other, train_set, test_set, *backend, hooks);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lambda"), std::string::npos) << e.what();
  }
}

// All three methods at two sparsities on the synthetic set: CCR > 1, growing
// with sparsity, and fine-tuned accuracy near the dense model's.
TEST(PruningRun, AllMethodsOnTheSyntheticSet) {
  ThreadCount threads(2);
  const Dataset train_set = load_dataset("synthetic:2000", Split::Train);
  const Dataset test_set = load_dataset("synthetic:1000", Split::Test);
  // 5 epochs: 38.7 % test accuracy (chance 10 %), about 10 s on 2 cores.
  const std::string dense = tiny_dense_model(train_set, 0.125, 5, 64, 0.01, "dense_0125.safetensors");
  auto backend = nn::make_cpu_backend();
  TrainHooks hooks;
  hooks.log = quiet;
  for (PruneMethod m : {PruneMethod::ChannelFilter, PruneMethod::ColumnSegments, PruneMethod::RowSegments}) {
    PruneRunConfig low = tiny_prune(m, dense, fmt::format("{}_low", method_name(m)));
    low.spec.tile_rows = low.spec.tile_cols = 16;
    low.spec.sparsity = 0.5;
    low.lambda = 0.05;
    low.batch = 64;
    low.lr = 0.01;
    const PruneRunResult a = run_pruning(low, train_set, test_set, *backend, hooks);
    // The higher sparsity starts from the same regularised weights.
    PruneRunConfig high = tiny_prune(m, a.paths.regularised, fmt::format("{}_high", method_name(m)));
    high.spec = low.spec;
    high.spec.sparsity = 0.75;
    high.reg_epochs = 0;
    high.lambda = low.lambda;
    high.batch = low.batch;
    high.lr = low.lr;
    const PruneRunResult b = run_pruning(high, train_set, test_set, *backend, hooks);
    const std::string what = fmt::format(
        "{}: CCR {:.3f} at {:.1f}%, {:.3f} at {:.1f}%; accuracy dense {:.3f}, regularised {:.3f}, hard "
        "{:.3f}/{:.3f}, fine-tuned {:.3f}/{:.3f}; lasso zeroed {} of {} groups",
        method_name(m), a.account.total.ccr(), 100 * a.sparsity, b.account.total.ccr(), 100 * b.sparsity,
        a.dense_accuracy, a.regularised_accuracy, a.pruned_accuracy, b.pruned_accuracy, a.accuracy, b.accuracy,
        a.summary["pruning"]["lasso_zero_groups"].get<long>(), a.summary["pruning"]["prunable_groups"].get<long>());
    std::printf("%s\n", what.c_str());
    RecordProperty(method_name(m), what);
    EXPECT_GE(a.sparsity, 0.5) << what;
    EXPECT_GE(b.sparsity, 0.75) << what;
    EXPECT_GT(a.account.total.ccr(), 1.0) << what;
    EXPECT_GT(b.account.total.ccr(), a.account.total.ccr()) << what;
    EXPECT_GT(a.accuracy, a.dense_accuracy - 0.15) << what;
    EXPECT_GT(b.accuracy, a.dense_accuracy - 0.25) << what;
  }
}

}  // namespace
}  // namespace sxb
