// The pruning pipeline of `sparsexbar prune`, in three phases on
// a dense model trained by engine/training/train.h:
//   1. regularisation: train() from the dense weights with the group-lasso
//      proximal step after every SGD step (TrainHooks::after_step), for
//      reg_epochs (skipped when 0: the weights are taken as they are);
//   2. hard pruning to the target (engine/pruning/pruning.h), written at once as
//      <stem>.hard.safetensors and the final <stem>.layout.json;
//   3. fine-tuning: train() from the hard-pruned weights with the masks of
//      the layout held fixed (Parameter::mask), for finetune_epochs (when 0
//      the hard-pruned weights are the result); with wct_kappa > 0 it is
//      weight-constrained (engine/crossbar/wct.h), s_ref from the hard-pruned model.
// The hard-pruned model keeps the WCT metadata of the model it was pruned
// from (pruning only removes weights, so they still respect the clamp).
// Files for out = <stem>[.safetensors]: <stem>.safetensors (the pruned model),
// <stem>.layout.json, <stem>.prune.json (settings and the JSON summary),
// <stem>.reg.safetensors, <stem>.hard.safetensors, and the checkpoints
// <stem>.reg.ckpt.safetensors (phase 1) and <stem>.ckpt.safetensors (phase 3).
// Resume: the settings must equal those in <stem>.prune.json; a phase whose
// result exists (with the same training settings) is skipped, a phase with a
// checkpoint continues from it (bit-identical, as train()), and hard pruning
// is recomputed (it is deterministic).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"
#include "engine/pruning/pruning.h"
#include "engine/pruning/pruning_accounting.h"
#include "engine/training/train.h"

namespace sxb {

// The settings of `sparsexbar prune` and of a sweep point's pruning. As JSON
// (to_json, from_json) the keys are flat: method, sparsity, tile ("RxC"),
// max_layer_sparsity, prune_first, prune_classifier, per_layer (an object
// layer -> fraction, only in per-layer mode), lambda, reg_epochs,
// finetune_epochs, finetune_lr, wct_kappa, dropout (only when set), the SGD
// keys of engine/training/train.h (batch, lr, schedule, nesterov, momentum,
// weight_decay, seed), weights, model and data; run-only fields are not part of it.
struct PruneRunConfig : SgdSettings {  // the training of both phases
  PruneSpec spec;
  std::string weights;  // the dense model (safetensors written by `train`)
  std::string model;    // "vgg11"/"vgg16"; empty: the weights' metadata
  std::string data;     // the data set spec, for the record
  double lambda = 1e-3;  // group-lasso strength
  int reg_epochs = 10, finetune_epochs = 10;
  double finetune_lr = 0.0;      // peak learning rate of fine-tuning; 0: lr
  std::optional<float> dropout;  // of both phases; unset: the dense model's
  // Weight-constrained fine-tuning (engine/crossbar/wct.h): > 0 clamps the weights to
  // |w| <= wct_kappa * s_ref after each fine-tuning step, s_ref from the
  // hard-pruned model; 0: off. Needs finetune_epochs > 0.
  double wct_kappa = 0.0;
  // Run (not part of the result).
  int threads = 0, prefetch = 3;
  std::string out;
  bool resume = false;

  // Error naming the bad key as "<path>.<key>" (run-only fields too: "prune.out").
  void check(const std::string& path = "prune") const;
  nlohmann::json to_json() const;
  // The keys of to_json(); absent keys keep their defaults. Unknown keys and
  // values of the wrong type are Errors naming "<context>: <path>.<key>".
  static PruneRunConfig from_json(const nlohmann::json& j, const std::string& path = "prune",
                                  const std::string& context = "");
  // The settings compared on resume, as <stem>.prune.json records them
  // ("settings"; nesterov and dropout only when set, so earlier runs resume).
  nlohmann::json resume_json() const;
  bool operator==(const PruneRunConfig&) const = default;
};

struct PrunePaths {
  std::string model, layout, summary, regularised, hard;
};
PrunePaths prune_paths(const std::string& out);

struct PruneRunResult {
  bool interrupted = false;
  std::string phase;  // the phase interrupted: "regularisation" or "fine-tuning"
  PrunePaths paths;
  CrossbarAccount account;
  double target_sparsity = 0.0, sparsity = 0.0;  // of all mapped weights
  bool target_reached = true;
  // Test accuracy (NaN without a test set): dense, after regularisation,
  // after hard pruning, after fine-tuning (the result).
  double dense_accuracy = 0.0, regularised_accuracy = 0.0, pruned_accuracy = 0.0, accuracy = 0.0;
  nlohmann::json summary;  // as written to paths.summary
};

// hooks.stop_requested and hooks.log are used; on_model and after_step are
// the pipeline's own.
PruneRunResult run_pruning(const PruneRunConfig& config, const Dataset& train_set, const Dataset& test_set,
                           nn::Backend& backend, const TrainHooks& hooks = {});

}  // namespace sxb
