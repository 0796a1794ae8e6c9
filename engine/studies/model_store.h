// One store of trained and pruned models, named by the hash of the settings
// that make them: <cache>/sweep-models/train-<model>-<hash>.safetensors and
// prune-<model>-<hash>.* (engine/pruning/pruning_run.h). The demo and every
// sweep point take a model from here when one with the same settings exists;
// a lock file per model makes a second runner wait instead of making it
// twice, and an interrupted training or pruning resumes from its checkpoint.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"
#include "engine/pruning/pruning_run.h"
#include "engine/training/nonideal_finetune.h"
#include "engine/training/train.h"

namespace sxb {

struct StoredModel {
  std::string path;
  nlohmann::json identity;   // what the model is made of (keys the next step's entry)
  bool interrupted = false;  // a stop was requested: no model yet
  double seconds = 0.0;      // spent making it (0 when reused)
  nlohmann::json summary;    // pruned: {"accuracy", "pruning"} of <stem>.prune.json
};

class ModelStore {
 public:
  // `stop` is polled while waiting for a lock and during training; `log` gets progress lines.
  ModelStore(const std::string& cache_dir, std::function<bool()> stop, std::function<void(const std::string&)> log);

  // The model trained with `config` (its out and resume are set here). `train_id`:
  // the training settings that determine the weights (train_identity_json);
  // `engine`: null for the CPU engine, else its name (the last bits differ).
  StoredModel trained(TrainConfig config, const nlohmann::json& train_id, const nlohmann::json& engine,
                      const Dataset& train_set, const Dataset& test_set, nn::Backend& backend, const TrainHooks& hooks);

  // The model pruned from `dense` with `config` (weights, out and resume set here).
  StoredModel pruned(PruneRunConfig config, const StoredModel& dense, const nlohmann::json& prune_id,
                     const nlohmann::json& engine, const Dataset& train_set, const Dataset& test_set,
                     nn::Backend& backend, const TrainHooks& hooks);

  // `base` fine-tuned through the crossbar (engine/training/nonideal_finetune.h)
  // with `config` (init_weights, out and resume set here) and `settings`;
  // `tune_id`: the stage's settings and crossbar that determine the weights.
  StoredModel tuned(TrainConfig config, const NonidealSettings& settings, const StoredModel& base,
                    const nlohmann::json& tune_id, const nlohmann::json& engine, const Dataset& train_set,
                    const Dataset& test_set, nn::Backend& backend, const TrainHooks& hooks);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::function<bool()> stop_;
  std::function<void(const std::string&)> log_;
};

}  // namespace sxb
