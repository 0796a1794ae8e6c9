// Sweeps: a JSON file with a base configuration and a grid of
// values per key; every point of the grid's Cartesian product is one full
// pipeline configuration (train or given weights -> optional pruning ->
// evaluation on crossbars) with a stable id, the hash of its normalised form.
//
//   {"name": "wires", "base": {...point keys...},
//    "grid": {"crossbar.r_wire": [0.5, 2.5], "tile": [32, 64], "prune": [null, {"method": "xcs", ...}]}}
//
// Grid keys are dotted paths into the point configuration; the last grid key
// varies fastest. docs/cli.md lists the point keys and their defaults.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/crossbar_config.h"
#include "engine/evaluation/evaluation_settings.h"
#include "engine/pruning/pruning_run.h"
#include "engine/rearrangement/rearrange.h"
#include "engine/training/nonideal_finetune.h"
#include "engine/training/train.h"

namespace sxb {

// The optional fine-tuning through the crossbar after training or pruning
// ("nonideal_finetune" key; engine/training/nonideal_finetune.h): on the point's
// crossbar, with the point's training data, masks and WCT clamp of the model.
struct NonidealFinetuneStage {
  int epochs = 1;
  double lr = 0.01;
  int batch = 128;
  int resolve_every = NonidealSettings{}.resolve_every;
  bool variation_resample = false;

  nlohmann::json to_json() const;
  static NonidealFinetuneStage from_json(const nlohmann::json& j, const std::string& path = "nonideal_finetune");
  bool operator==(const NonidealFinetuneStage&) const = default;
};

// One point, every default filled in. Its training and pruning are the
// settings structs of `sparsexbar train` and `sparsexbar prune` themselves,
// so their defaults and keys are the commands'.
struct SweepPointConfig {
  std::string model = nn::kDefaultVgg;
  double width = 0.0;                   // 0: 1.0 when training, the file's with weights
  int classes = 0;                      // 0: the data set's (the file's with weights)
  std::string data = "synthetic";       // training data (train, prune)
  std::string eval_data;                // test data of the evaluation; empty: data
  // The pruning and nonideal_finetune phases train on the first N images of
  // each class of `data` (0: all of them); part of the id only when set and
  // one of those phases runs.
  int finetune_images_per_class = 0;
  std::string weights;                  // a trained model; empty: train one
  std::string weights_sha256;           // content of `weights`, part of the id
  // The training of the model when no weights are given; model, width,
  // classes and data are the point's (train_config fills them in).
  TrainConfig train;
  // The pruning; its tile is the crossbar's unless given, finetune_lr 0 is
  // stored as lr; weights, model and data are the point's (prune_config).
  std::optional<PruneRunConfig> prune;
  // Written, and so part of the id, only when set.
  std::optional<NonidealFinetuneStage> nonideal_finetune;
  CrossbarConfig crossbar;
  RearrangeOptions rearrange;
  // Read-out variants and extra physics of the evaluation ("evaluation" key;
  // written, and so part of the id, only when not the default).
  EvaluationSettings evaluation;

  // Normalised, for the record: every default filled in, short forms
  // expanded. Settings added to "train" and "prune" after the first sweeps
  // (train.dropout; prune.schedule, nesterov, momentum, weight_decay,
  // dropout, prune_first, prune_classifier, per_layer) appear only when they
  // differ from their defaults, so the ids of earlier sweep files are unchanged.
  nlohmann::json to_json() const;
  // What the id hashes: to_json() without the names that do not change the
  // result (the weights' path, the crossbar preset's name).
  nlohmann::json id_json() const;
  TrainConfig train_config(const std::string& out) const;  // the training of the model (no weights)
  // The training data of the pruning and nonideal_finetune phases, as it is
  // recorded: `data`, or "<data>#first-<N>-per-class".
  std::string finetune_data() const;
  // The pruning of the model at `weights` into `out` (needs prune).
  PruneRunConfig prune_config(const std::string& weights, const std::string& out) const;
};

// The settings of a training or a pruning that determine its result, as they
// enter point ids and the model store's names (engine/studies/model_store.h):
// the keys of the first sweeps always, later keys only when not their default.
nlohmann::json train_identity_json(const TrainConfig& train);
nlohmann::json prune_identity_json(const PruneRunConfig& prune);

// From a point's JSON (unknown keys and bad values are Errors naming `context`
// and the key path, e.g. "train.lr"). Relative weights paths are taken
// relative to `base_dir`.
SweepPointConfig sweep_point_from_json(const nlohmann::json& j, const std::string& context,
                                       const std::string& base_dir = "");

struct SweepPoint {
  std::size_t index = 0;           // position in the grid order
  std::string id;                  // 16 hex digits of SHA-256(config.to_json())
  SweepPointConfig config;
  nlohmann::ordered_json varied;   // grid key -> value of this point
};

// A grid: keys in file order, each with its values.
using SweepGrid = std::vector<std::pair<std::string, std::vector<nlohmann::json>>>;

// "grid" is one grid object, or a list of them ("blocks"): the points are
// the union of the blocks' Cartesian products, block after block, so a study
// can vary a mitigation only at some sparsities. A block may carry its own
// "base" object, merged key by key over the file's base.
struct Sweep {
  std::string name, path;
  nlohmann::json base;
  SweepGrid grid;                  // every grid key of every block, first-seen order (values: union)
  std::vector<SweepGrid> blocks;   // one per block, in file order
  std::vector<SweepPoint> points;  // the expanded grid
};

// Reads, expands and normalises a sweep file; every point is checked, so a
// bad value fails before anything runs. Duplicate points (same id) are an Error.
Sweep read_sweep(const std::string& path);
Sweep sweep_from_json(const nlohmann::ordered_json& j, const std::string& context, const std::string& base_dir = "");

// Shard k of N (0 <= k < N): the points whose index is k modulo N.
struct Shard {
  int k = 0, n = 1;
  // Claiming: every point is this runner's to try; it runs a point only while
  // it holds the point's lock file (<out>/claims/<id>.lock), so any number of
  // runners, resubmitted tasks and late joiners share the work without
  // running a point twice; a killed runner's locks are released by the OS.
  bool claim = false;
  std::string label;  // claiming: the runner's name in its results file
  bool owns(std::size_t index) const {
    return claim || index % static_cast<std::size_t>(n) == static_cast<std::size_t>(k);
  }
  std::string name() const;  // "k-of-N", or the claiming runner's label
};
// "k/N"; "claim" (claiming, named after host and process); or "auto": a Slurm
// array task claims (named slurm-<array job>-<task>, so stepped arrays and
// resubmitted subsets work), an MPI rank (OMPI_COMM_WORLD_RANK/SIZE,
// PMI_RANK/SIZE) or a Slurm task (SLURM_PROCID/NTASKS) is shard rank/size,
// else 0/1.
Shard parse_shard(const std::string& text);

}  // namespace sxb
