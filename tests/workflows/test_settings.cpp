// Settings as data: TrainConfig and PruneRunConfig read and write their JSON
// keys (round trip), name the key path in every error, a sweep point embeds
// them (its defaults are the commands'), and the CLI writes flags for keys.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/flag_names.h"
#include "apps/model_options.h"
#include "engine/crossbar/wct.h"
#include "engine/data/dataset.h"
#include "engine/io/json_keys.h"
#include "engine/pruning/pruning_run.h"
#include "engine/studies/sweep.h"
#include "engine/training/train.h"
#include "kernels/common/error.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

using json = nlohmann::json;

using test::error_of;

// The message names every part and no command-line flag.
void expect_key_error(const std::string& message, const std::vector<std::string>& parts) {
  ASSERT_FALSE(message.empty()) << "no error";
  for (const std::string& p : parts) EXPECT_NE(message.find(p), std::string::npos) << message;
  EXPECT_EQ(message.find("--"), std::string::npos) << message;
}

TrainConfig unusual_training() {
  TrainConfig t;
  t.model = "vgg16";
  t.width = 0.25;
  t.classes = 7;
  t.dropout = 0.3f;
  t.data = "synthetic:64";
  t.epochs = 3;
  t.batch = 16;
  t.lr = 0.07;
  t.schedule = "step";
  t.nesterov = true;
  t.momentum = 0.8;
  t.weight_decay = 1e-3;
  t.seed = 42;
  t.wct_kappa = 0.5;
  t.init_weights = "init.safetensors";
  return t;
}

PruneRunConfig unusual_pruning() {
  PruneRunConfig p;
  p.spec.method = PruneMethod::RowSegments;
  p.spec.sparsity = 0.4;
  p.spec.tile_rows = 32;
  p.spec.tile_cols = 16;
  p.spec.max_layer_sparsity = 0.8;
  p.spec.prune_first = true;
  p.spec.per_layer = true;
  p.spec.layer_targets = {{"features.3", 0.5}, {"classifier", 0.25}};
  p.weights = "dense.safetensors";
  p.model = "vgg11";
  p.data = "synthetic:64";
  p.lambda = 0.02;
  p.reg_epochs = 2;
  p.finetune_epochs = 3;
  p.finetune_lr = 0.01;
  p.dropout = 0.2f;
  p.wct_kappa = 0.75;
  p.batch = 8;
  p.lr = 0.05;
  p.schedule = "step";
  p.nesterov = true;
  p.momentum = 0.7;
  p.weight_decay = 2e-4;
  p.seed = 5;
  return p;
}

TEST(Settings, TrainingRoundTrips) {
  for (const TrainConfig& t : {TrainConfig{}, unusual_training()}) {
    EXPECT_EQ(TrainConfig::from_json(t.to_json()), t) << t.to_json().dump();
    EXPECT_EQ(TrainConfig::from_json(json::parse(t.to_json().dump())), t);  // through text
  }
  EXPECT_EQ(TrainConfig::from_json(json::object()), TrainConfig{});  // absent keys: the defaults
  EXPECT_NE(TrainConfig::from_json(unusual_training().to_json()), TrainConfig{});
}

TEST(Settings, PruningRoundTrips) {
  PruneRunConfig plain;
  plain.spec.sparsity = 0.5;
  for (const PruneRunConfig& p : {PruneRunConfig{}, plain, unusual_pruning()}) {
    EXPECT_EQ(PruneRunConfig::from_json(p.to_json()), p) << p.to_json().dump();
    EXPECT_EQ(PruneRunConfig::from_json(json::parse(p.to_json().dump())), p);
  }
  EXPECT_FALSE(PruneRunConfig{}.to_json().contains("dropout"));  // unset: the dense model's
  // A tile given as N is N x N.
  EXPECT_EQ(PruneRunConfig::from_json(json{{"tile", 32}}).spec.tile_cols, 32);
}

TEST(Settings, ResumeRecordKeepsItsEarlierKeys) {
  // The settings compared on resume gain nesterov and dropout only when set.
  const json plain = PruneRunConfig{}.resume_json();
  EXPECT_FALSE(plain.contains("nesterov"));
  EXPECT_FALSE(plain.contains("dropout"));
  EXPECT_TRUE(plain.contains("spec"));
  const json set = unusual_pruning().resume_json();
  EXPECT_EQ(set["nesterov"], true);
  EXPECT_FLOAT_EQ(set["dropout"].get<float>(), 0.2f);
}

TEST(Settings, UnknownKeysAndBadValuesNameTheKeyPath) {
  expect_key_error(error_of([] { TrainConfig::from_json(json{{"lrr", 0.1}}); }), {"train.lrr: unknown key"});
  expect_key_error(error_of([] { TrainConfig::from_json(json{{"lr", "fast"}}); }), {"train.lr must be a number"});
  expect_key_error(error_of([] { TrainConfig::from_json(json{{"epochs", 0}}); }), {"train.epochs", "[1, 100000]"});
  expect_key_error(error_of([] { TrainConfig::from_json(json{{"seed", -1}}); }), {"train.seed"});
  expect_key_error(error_of([] { TrainConfig::from_json(json{{"nesterov", 1}}); }),
                   {"train.nesterov", "true or false"});
  expect_key_error(error_of([] { TrainConfig::from_json(json{{"lrr", 1}}, "train", "f.json"); }),
                   {"f.json: train.lrr: unknown key"});
  expect_key_error(error_of([] { PruneRunConfig::from_json(json{{"momentun", 0.5}}); }),
                   {"prune.momentun: unknown key"});
  expect_key_error(error_of([] { PruneRunConfig::from_json(json{{"tile", "3y4"}}); }), {"prune.tile", "RxC"});
  expect_key_error(error_of([] { PruneRunConfig::from_json(json{{"method", "xyz"}}); }), {"prune.method"});
  expect_key_error(error_of([] { PruneRunConfig::from_json(json{{"per_layer", 0.5}}); }), {"prune.per_layer"});
  expect_key_error(error_of([] { PruneRunConfig::from_json(json::array()); }), {"prune", "JSON object"});
}

TEST(Settings, StrictNumbers) {
  EXPECT_EQ(json_integer(json(64), 1, 100, "k"), 64);
  EXPECT_EQ(json_integer(json(64.0), 1, 100, "k"), 64);  // no fraction: exact
  EXPECT_EQ(json_integer(json::parse("9007199254740993"), 0, 1ll << 62, "k"), 9007199254740993ll);  // a token: exact
  expect_key_error(error_of([] { json_integer(json(16.7), 1, 100, "train.epochs"); }),
                   {"train.epochs must be an integer in [1, 100] (got 16.7)"});
  expect_key_error(error_of([] { json_integer(json(1e300), 1, 1ll << 62, "k"); }), {"k must be an integer"});
  expect_key_error(error_of([] { json_integer(json(9007199254740994.0), 0, 1ll << 62, "k"); }), {"k"});  // > 2^53
  expect_key_error(error_of([] { json_integer(json(true), 0, 1, "k"); }), {"k must be an integer"});
  expect_key_error(error_of([] { json_integer(json("16"), 0, 100, "k"); }), {"k must be an integer"});
  expect_key_error(error_of([] { json_integer(json::parse("18446744073709551615"), 0, 100, "k"); }), {"k"});
  EXPECT_EQ(json_unsigned(json(kMaxJsonInteger), ~0ull, "seed"), kMaxJsonInteger);
  expect_key_error(error_of([] { json_unsigned(json(-1), 100, "seed"); }), {"seed must be an integer in [0, 100]"});
  expect_key_error(error_of([] { json_unsigned(json(kMaxJsonInteger + 1), ~0ull, "seed"); }), {"seed"});
  EXPECT_EQ(json_number(json(0.5), 0.0, 1.0, "m"), 0.5);
  expect_key_error(error_of([] { json_number(json(1e308), 0.0, 100.0, "lr"); }), {"lr must be a number in [0, 100]"});
  expect_key_error(error_of([] { json_number(json("x"), 0.0, 1.0, "m"); }), {"m must be a number"});

  // Through the settings: integers are never truncated, seeds never wrapped, lr bounded.
  expect_key_error(error_of([] { TrainConfig::from_json(json{{"epochs", 16.7}}); }), {"train.epochs", "16.7"});
  EXPECT_EQ(TrainConfig::from_json(json{{"epochs", 16.0}}).epochs, 16);
  expect_key_error(error_of([] { TrainConfig::from_json(json{{"batch", 32.5}}); }), {"train.batch"});
  expect_key_error(error_of([] { TrainConfig::from_json(json{{"seed", 1e17}}); }), {"train.seed"});
  expect_key_error(error_of([] { TrainConfig::from_json(json::parse(R"({"seed": 18446744073709551615})")); }),
                   {"train.seed"});
  EXPECT_EQ(TrainConfig::from_json(json{{"seed", kMaxJsonInteger}}).seed, kMaxJsonInteger);
  TrainConfig t = TrainConfig::from_json(json{{"lr", 1e308}});
  t.out = "m.safetensors";
  expect_key_error(error_of([&] { t.check(); }), {"train.lr 1e+308 is not in (0, 100]"});
  t.lr = 100;
  EXPECT_NO_THROW(t.check());
  t.weight_decay = 2;
  expect_key_error(error_of([&] { t.check(); }), {"train.weight_decay 2 is not in [0, 1]"});
  t.weight_decay = 0;
  t.threads = 100000;
  expect_key_error(error_of([&] { t.check(); }), {"train.threads 100000"});
  PruneRunConfig p = PruneRunConfig::from_json(json{{"sparsity", 0.5}, {"finetune_lr", 1e308}});
  p.weights = "dense.safetensors";
  p.out = "pruned";
  expect_key_error(error_of([&] { p.check(); }), {"prune.finetune_lr 1e+308 is not in [0, 100]"});
  p.finetune_lr = 0;
  p.lambda = 1e9;
  expect_key_error(error_of([&] { p.check(); }), {"prune.lambda 1000000000 is not in [0, 10]"});
}

TEST(Settings, CheckNamesTheKeyNotAFlag) {
  TrainConfig t;
  t.out = "m.safetensors";
  ASSERT_NO_THROW(t.check());
  const auto train_error = [&](auto change, const std::string& path = "train") {
    TrainConfig bad = t;
    change(bad);
    return error_of([&] { bad.check(path); });
  };
  expect_key_error(train_error([](TrainConfig& c) { c.epochs = 0; }), {"train.epochs 0"});
  expect_key_error(train_error([](TrainConfig& c) { c.lr = -1; }), {"train.lr -1"});
  expect_key_error(train_error([](TrainConfig& c) { c.weight_decay = -1; }), {"train.weight_decay"});
  expect_key_error(train_error([](TrainConfig& c) { c.dropout = 1.0f; }), {"train.dropout 1"});
  expect_key_error(train_error([](TrainConfig& c) { c.nesterov = true, c.momentum = 0; }),
                   {"train.nesterov", "train.momentum"});
  expect_key_error(train_error([](TrainConfig& c) { c.wct_kappa = 2; }), {"train.wct_kappa 2"});
  expect_key_error(train_error([](TrainConfig& c) { c.out.clear(); }), {"train.out"});
  expect_key_error(train_error([](TrainConfig& c) { c.batch = 0; }, "point.train"), {"point.train.batch 0"});

  PruneRunConfig p;
  p.spec.sparsity = 0.5;
  p.weights = "dense.safetensors";
  p.out = "pruned";
  ASSERT_NO_THROW(p.check());
  const auto prune_error = [&](auto change) {
    PruneRunConfig bad = p;
    change(bad);
    return error_of([&] { bad.check(); });
  };
  expect_key_error(prune_error([](PruneRunConfig& c) { c.spec.sparsity = 1.5; }), {"prune.sparsity 1.5"});
  expect_key_error(prune_error([](PruneRunConfig& c) { c.spec.tile_rows = 0; }), {"prune.tile 0x64"});
  expect_key_error(prune_error([](PruneRunConfig& c) { c.lambda = -1; }), {"prune.lambda -1"});
  expect_key_error(prune_error([](PruneRunConfig& c) { c.momentum = 1; }), {"prune.momentum 1"});
  expect_key_error(prune_error([](PruneRunConfig& c) { c.schedule = "linear"; }), {"prune.schedule 'linear'"});
  expect_key_error(prune_error([](PruneRunConfig& c) { c.dropout = -0.5f; }), {"prune.dropout"});
  expect_key_error(prune_error([](PruneRunConfig& c) { c.finetune_lr = -1; }), {"prune.finetune_lr", "prune.lr"});
  expect_key_error(prune_error([](PruneRunConfig& c) { c.wct_kappa = 0.5, c.finetune_epochs = 0; }),
                   {"prune.wct_kappa", "prune.finetune_epochs"});
  expect_key_error(prune_error([](PruneRunConfig& c) { c.out = "dense"; }), {"prune.out", "prune.weights"});
  expect_key_error(prune_error([](PruneRunConfig& c) {
                     c.spec.method = PruneMethod::ChannelFilter, c.spec.prune_classifier = true;
                   }),
                   {"prune.prune_classifier"});
  expect_key_error(error_of([] { load_dataset("synthetic:x", Split::Test); }), {"data 'synthetic:x'"});
  expect_key_error(error_of([] { parse_shard("3/2"); }), {"shard '3/2'"});
}

Sweep parse(const std::string& text) { return sweep_from_json(nlohmann::ordered_json::parse(text), "s.json"); }

TEST(Settings, EverySettingReachesTheSweepRun) {
  const Sweep s = parse(R"({"base": {"train": {"dropout": 0.25, "momentum": 0.8},
      "prune": {"sparsity": 0.5, "weight_decay": 1e-3, "momentum": 0.7, "schedule": "step", "nesterov": true,
                "dropout": 0.1, "prune_first": true}}, "grid": {}})");
  const SweepPointConfig& c = s.points[0].config;
  const TrainConfig t = c.train_config("m.safetensors");
  EXPECT_FLOAT_EQ(t.dropout, 0.25f);
  EXPECT_EQ(t.momentum, 0.8);
  EXPECT_EQ(t.model, c.model);
  EXPECT_EQ(t.data, c.data);
  const PruneRunConfig p = c.prune_config("dense.safetensors", "pruned");
  EXPECT_EQ(p.weight_decay, 1e-3);
  EXPECT_EQ(p.momentum, 0.7);
  EXPECT_EQ(p.schedule, "step");
  EXPECT_TRUE(p.nesterov);
  EXPECT_FLOAT_EQ(p.dropout.value_or(-1.0f), 0.1f);
  EXPECT_TRUE(p.spec.prune_first);
  EXPECT_EQ(p.weights, "dense.safetensors");
  EXPECT_EQ(p.out, "pruned");
  // ... and into the point's record and id.
  const json j = c.to_json();
  EXPECT_FLOAT_EQ(j["train"]["dropout"].get<float>(), 0.25f);
  EXPECT_EQ(j["prune"]["weight_decay"], 1e-3);
  EXPECT_EQ(j["prune"]["schedule"], "step");
}

TEST(Settings, NewSweepKeysChangeTheIdOnlyWhenSet) {
  const std::string plain = parse(R"({"base": {"prune": {"sparsity": 0.5}}, "grid": {}})").points[0].id;
  // Written at their defaults, the new keys leave the id as it was.
  EXPECT_EQ(parse(R"({"base": {"train": {"dropout": 0}, "prune": {"sparsity": 0.5, "weight_decay": 5e-4,
      "schedule": "cosine", "momentum": 0.9, "nesterov": false}}, "grid": {}})")
                .points[0]
                .id,
            plain);
  const json record = parse(R"({"base": {"prune": {"sparsity": 0.5}}, "grid": {}})").points[0].config.to_json();
  for (const char* key : {"schedule", "momentum", "weight_decay", "nesterov", "dropout", "prune_first"})
    EXPECT_FALSE(record["prune"].contains(key)) << key;
  EXPECT_FALSE(record["train"].contains("dropout"));
  EXPECT_NE(parse(R"({"base": {"train": {"dropout": 0.1}, "prune": {"sparsity": 0.5}}, "grid": {}})").points[0].id,
            plain);
  EXPECT_NE(parse(R"({"base": {"prune": {"sparsity": 0.5, "weight_decay": 1e-3}}, "grid": {}})").points[0].id,
            plain);
}

TEST(Settings, SweepErrorsNameThePointAndTheKeyPath) {
  const auto error = [](const std::string& text) { return error_of([&] { parse(text); }); };
  expect_key_error(error(R"({"base": {"train": {"lr": -1}}, "grid": {}})"), {"s.json: point 0", "train.lr -1"});
  expect_key_error(error(R"({"base": {"train": {"dropot": 0.1}}, "grid": {}})"), {"train.dropot: unknown key"});
  expect_key_error(error(R"({"base": {"train": {"model": "vgg16"}}, "grid": {}})"), {"train.model: unknown key"});
  expect_key_error(error(R"({"base": {"prune": {"sparsity": 0.5, "weights": "a"}}, "grid": {}})"),
                   {"prune.weights: unknown key"});
  expect_key_error(error(R"({"base": {"prune": {"sparsity": 0.5, "momentum": 2}}, "grid": {}})"),
                   {"prune.momentum 2"});
}

TEST(Settings, CommandsWriteFlagsForKeys) {
  // The library's message names keys; the command line writes each as its flag from one table.
  TrainConfig c;
  c.out = "m.safetensors";
  c.nesterov = true;
  c.momentum = 0.0;
  try {
    c.check("train");
    FAIL() << "nesterov without momentum was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.key(), "train.nesterov");
    EXPECT_EQ(std::string(e.what()), "train.nesterov needs train.momentum > 0");
    EXPECT_EQ(app::cli_message(e), "--nesterov needs --momentum > 0");
  }
  const Error data([] {
    try {
      (void)load_dataset("a:b", Split::Test);
    } catch (const Error& e) {
      return e;
    }
    return Error("no error");
  }());
  EXPECT_EQ(data.key(), "data");
  EXPECT_EQ(app::cli_message(data).rfind("--data 'a:b': unknown kind", 0), 0u) << app::cli_message(data);
  // A key no flag sets stays a key; text that merely looks like a key is never rewritten.
  const Error plain(Message{Key{"r_on"}, " = -1 must be positive; train.lr is text here"});
  EXPECT_EQ(app::cli_message(plain), "r_on = -1 must be positive; train.lr is text here");
  EXPECT_EQ(app::flag_of_key("prune.finetune_lr"), "--finetune-lr");
  EXPECT_EQ(app::flag_of_key("train.lr"), "--lr");
  EXPECT_EQ(app::flag_of_key("train.lr_max"), "train.lr_max");
}

}  // namespace
}  // namespace sxb
