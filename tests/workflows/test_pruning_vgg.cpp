// Structured pruning on VGG (engine/pruning/pruning.h, pruning_run.h): C/F
// shrinking against masking, the channel list in safetensors, the layout
// file, masks held through fine-tuning, resume, and the whole pipeline on the
// synthetic set.
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
#include "engine/io/json_file.h"
#include "engine/pruning/pruning.h"
#include "engine/pruning/pruning_accounting.h"
#include "engine/pruning/pruning_run.h"
#include "engine/data/synthetic.h"
#include "engine/training/train.h"
#include "models/io/safetensors.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

using test::ThreadCount;

void quiet(const std::string&) {}

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
  // Weights whose zeros are a superset of the layout's (a sparser model) pass the
  // held-by-no-tile check; the recorded mask identity catches them.
  SafetensorsFile sparser_weights = p.weights;
  std::vector<float>& w1 = sparser_weights.tensors.at(back.layers[1].layer + ".weight").data;
  *std::find_if(w1.begin(), w1.end(), [](float v) { return v != 0.0f; }) = 0.0f;
  nn::Vgg sparser(p.config, *backend);
  sparser.load_state_dict(sparser_weights, "sparser");
  EXPECT_NO_THROW(check_layout_for_model(back, sparser, path));
  record_weights_identity(path, pruned);
  const NetworkLayout identified = read_layout_file(path);
  EXPECT_EQ(identified.weights_mask_hash, weights_mask_hash(pruned));
  EXPECT_EQ(to_json(identified), to_json(p.layout));
  EXPECT_NO_THROW(check_layout_for_model(identified, pruned, path));
  EXPECT_NO_THROW(check_layout_for_model(identified, sparser, path, false));  // shapes only
  try {
    check_layout_for_model(identified, sparser, path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": the layout was written for other weights"), std::string::npos)
        << e.what();
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

// An edited layout (tile size, method), an unknown key: errors naming the file.
TEST(PruningLayout, EditedFilesAndUnknownKeysAreRefused) {
  auto backend = nn::make_cpu_backend();
  auto model = random_vgg(*backend, 0.0625, 8);
  PruneSpec spec;
  spec.method = PruneMethod::ColumnSegments;
  spec.tile_rows = 16;
  spec.tile_cols = 16;
  spec.sparsity = 0.5;
  const PrunedNetwork p = hard_prune(*model, spec);
  const std::string path = testing::TempDir() + "/edited.layout.json";
  write_layout_file(path, p.layout, {{"pruning", {{"note", "test"}}}});
  const nlohmann::json written = read_json_file(path, "the layout file");
  ASSERT_TRUE(written.contains("content_hash"));
  const auto error_for = [&](const nlohmann::json& j) {
    write_file_atomic(path, j.dump());
    try {
      read_layout_file(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  nlohmann::json edited = written;
  edited["tile_rows"] = 32;
  edited["tile_cols"] = 32;
  EXPECT_NE(error_for(edited).find(path + ": the layout was edited"), std::string::npos) << error_for(edited);
  edited = written;
  edited["method"] = "cf";
  EXPECT_NE(error_for(edited).find("the layout was edited"), std::string::npos) << error_for(edited);
  edited = written;
  edited["tile_size"] = 32;
  EXPECT_NE(error_for(edited).find("unknown key \"tile_size\""), std::string::npos) << error_for(edited);
  // A file written before layouts carried a hash is still read.
  edited = written;
  edited.erase("content_hash");
  EXPECT_EQ(error_for(edited), "no error");
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

  const PruneRunConfig straight = tiny_prune(PruneMethod::ColumnSegments, dense, "prune_straight");
  const PruneRunResult a = run_pruning(straight, train_set, test_set, *backend, hooks);
  ASSERT_FALSE(a.interrupted);
  EXPECT_GT(a.account.total.ccr(), 1.0);

  // The fine-tuned weights: zero wherever no tile holds them, and so is their momentum.
  const NetworkLayout layout = read_layout_file(a.paths.layout);
  const SafetensorsFile model = read_safetensors(a.paths.model), ckpt = read_safetensors(checkpoint_path(a.paths.model));
  nn::Vgg fine(nn::vgg_config_for_file(model, a.paths.model, nn::VggRequest{"vgg11", std::nullopt, std::nullopt}, true),
               *backend);
  fine.load_state_dict(model, a.paths.model);
  EXPECT_EQ(layout.weights_mask_hash, weights_mask_hash(fine));  // the identity of the fine-tuned weights
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
  EXPECT_EQ(model.metadata.at("layout"), "prune_straight.layout.json");

  // Interrupted in each phase and resumed: the same files as the straight run.
  const PruneRunConfig c = tiny_prune(PruneMethod::ColumnSegments, dense, "prune_resumed");
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

