// Training of a VGG classifier with the standard CIFAR recipe: SGD with
// momentum (optionally Nesterov) and weight decay on every parameter, a
// cosine (per step) or step learning-rate schedule, random crop (pad 4) and
// horizontal flip, per-channel input normalisation from the training set.
//
// Reproducibility: every random choice (initialisation, shuffle, crops and
// flips, dropout masks) is a counter-based draw from `seed`, and the layer
// kernels are deterministic, so the final weights are bit-identical for any
// thread count, and a run resumed from its checkpoint ends with the same
// weights as an uninterrupted run.
//
// Files: the checkpoint (model tensors, "momentum.<name>" buffers, the
// position in training, the configuration and, with WCT, its kappa and s_ref
// (engine/crossbar/wct.h) in __metadata__) is written
// atomically at the end of every epoch and when a stop is requested; the
// trained model (PyTorch names, configuration and WCT in __metadata__) at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"
#include "engine/crossbar/wct.h"
#include "models/vgg.h"

namespace sxb {

class Keys;

// Bounds of the SGD settings (check()): lr in (0, kMaxLearningRate], momentum
// in [0, 1), weight_decay in [0, kMaxWeightDecay], batch in 1..65536, seed in
// 0..2^53. A run whose loss turns non-finite anyway stops with an Error.
inline constexpr double kMaxLearningRate = 100.0, kMaxWeightDecay = 1.0;

// The SGD recipe of training, shared by the two training phases of pruning
// (engine/pruning/pruning_run.h): its defaults are defined here only.
struct SgdSettings {
  int batch = 128;
  double lr = 0.02;                 // peak learning rate (see the measurements in docs)
  std::string schedule = "cosine";  // "cosine" or "step"
  bool nesterov = false;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  std::uint64_t seed = 1;

  // The keys batch, lr, schedule, nesterov, momentum, weight_decay, seed.
  void read_keys(Keys& k);
  void write_keys(nlohmann::json& j) const;
  void check(const std::string& path) const;  // Error naming the key ("<path>.lr")
  bool operator==(const SgdSettings&) const = default;
};

// The settings of `sparsexbar train` and of a sweep point's training. As JSON
// (to_json, from_json) the keys are the field names; run-only fields are not
// part of it.
struct TrainConfig : SgdSettings {
  // Model.
  std::string model = nn::kDefaultVgg;
  double width = 1.0;
  int classes = 0;  // 0: the training set's number of classes
  float dropout = 0.0f;
  // Data: the data set spec, for the record (the data sets are passed in).
  std::string data;
  int epochs = 10;
  // Linear warm-up: the first warmup_epochs epochs raise the learning rate
  // step by step to lr, the schedule then runs over the remaining epochs; 0: none.
  int warmup_epochs = 0;
  // Weight-constrained training (engine/crossbar/wct.h): > 0 clamps every mapped
  // layer's weights to |w| <= wct_kappa * s_ref after each step; 0: off.
  double wct_kappa = 0.0;
  std::string init_weights;  // start from these weights instead of a random initialisation
  // Run (not part of the result; may differ on resume).
  int threads = 0;  // for the record; the caller sets the OpenMP thread count
  std::string out;  // the trained model's path
  bool resume = false;
  int prefetch = 3;  // batches prepared ahead

  // Error naming the bad key as "<path>.<key>" (run-only fields too: "train.out").
  void check(const std::string& path = "train") const;
  // The settings that determine the result (compared on resume).
  nlohmann::json to_json() const;
  // The keys of to_json(); absent keys keep their defaults. Unknown keys and
  // values of the wrong type are Errors naming "<context>: <path>.<key>".
  static TrainConfig from_json(const nlohmann::json& j, const std::string& path = "train",
                               const std::string& context = "");
  bool operator==(const TrainConfig&) const = default;
};

// "<out minus .safetensors>.ckpt.safetensors".
std::string checkpoint_path(const std::string& out);
// `path` without a trailing ".safetensors" (the stem of the files beside a model).
std::string strip_safetensors(const std::string& path);

// Learning rate of 0-based step `global_step`. With W = warmup_epochs * steps
// per epoch, steps t < W take lr * (t + 1) / W; the schedule then runs over the
// other T - W steps (t' = t - W, E' = epochs - warmup_epochs): cosine from lr
// to 0 (lr/2 * (1 + cos(pi * t' / (T - W)))), or step: lr, then x0.1 from
// epoch floor(E'/2) and x0.01 from epoch floor(3E'/4) of those.
double learning_rate(const TrainConfig& c, std::int64_t global_step, int steps_per_epoch);

struct StepInfo {
  int epoch = 0, step = 0, steps_per_epoch = 0;
  std::int64_t global_step = 0;
  double lr = 0.0, loss = 0.0;
  int batch = 0, correct = 0;
};

struct TrainHooks {
  // After the model is built or loaded, before the first step (set masks, a weight hook, ...).
  std::function<void(nn::Vgg&)> on_model;
  // After every optimizer step (pruning masks, weight clamps, ...).
  std::function<void(nn::Vgg&, const StepInfo&)> after_step;
  // Polled after every step; true writes the checkpoint and returns (interrupted).
  std::function<bool()> stop_requested;
  // Progress lines (default: standard error).
  std::function<void(const std::string&)> log;
};

struct EpochRecord {
  int epoch = 0;  // 1-based
  double lr = 0.0, train_loss = 0.0, train_accuracy = 0.0;
  double test_loss = 0.0, test_accuracy = 0.0;
  double seconds = 0.0, images_per_second = 0.0;
};

struct TrainResult {
  bool interrupted = false;
  int epoch = 0, step = 0;  // position reached: `step` steps done in 0-based epoch `epoch`
  std::vector<EpochRecord> epochs;  // epochs finished by this run
  double test_accuracy = 0.0, test_loss = 0.0;  // of the final model (if a test set was given)
  double seconds = 0.0;
  std::string checkpoint, model_path;
  std::unique_ptr<nn::Vgg> model;  // the trained model; runs on the backend given to train()
  std::optional<WctScales> wct;    // with config.wct_kappa > 0: kappa and s_ref used
};

// `test` may be empty (no per-epoch evaluation). With config.resume the
// checkpoint must exist and match the configuration.
TrainResult train(const TrainConfig& config, const Dataset& train_set, const Dataset& test_set, nn::Backend& backend,
                  const TrainHooks& hooks = {});

}  // namespace sxb
