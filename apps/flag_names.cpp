#include "apps/flag_names.h"

#include <map>

namespace sxb::app {
namespace {

// Key -> flag, for every command. The settings structs name their keys
// (engine/training/train.h, engine/pruning/pruning_run.h, ...); the commands
// fill them from these flags.
const std::map<std::string, std::string>& flag_table() {
  static const std::map<std::string, std::string> table = [] {
    std::map<std::string, std::string> t = {
        // A model file's completion (models/vgg.h: vgg_config_for_file) and a data set spec.
        {"model", "--model"},
        {"width", "--width"},
        {"classes", "--classes"},
        {"data", "--data"},
        // sweep run, list and merge.
        {"shard", "--shard"},
        {"mean_over", "--mean-over"},
        {"plot.x", "--x"},
        {"plot.series", "--series"},
        // Read-out variants of evaluate and demo (engine/evaluation/evaluation_settings.h).
        {"evaluation.calibrations", "--calibration"},
        {"evaluation.bn_recalibrate", "--bn-recalibrate"},
        // evaluate's column rearrangement (engine/rearrangement/rearrange.h).
        {"rearrange.extra", "--rearrange-extra"},
        // train --nonideal (engine/training/nonideal_finetune.h).
        {"nonideal.resolve_every", "--resolve-every"},
        {"nonideal.crossbar", "--crossbar"},
        {"nonideal.layout", "--layout"},
        // weff (engine/crossbar/state_dict_weff.h).
        {"weff.include", "--include"},
        {"weff.exclude", "--exclude"},
        {"weff.groups", "--groups"},
        {"weff.layout", "--layout"},
        // prune only.
        {"prune.method", "--method"},
        {"prune.sparsity", "--sparsity"},
        {"prune.per_layer", "--per-layer"},
        {"prune.tile", "--tile"},
        {"prune.weights", "--weights"},
        {"prune.lambda", "--lambda"},
        {"prune.reg_epochs", "--reg-epochs"},
        {"prune.finetune_epochs", "--finetune-epochs"},
        {"prune.finetune_lr", "--finetune-lr"},
        {"prune.prune_first", "--prune-first"},
        {"prune.prune_classifier", "--prune-classifier"},
        {"prune.max_layer_sparsity", "--max-layer-sparsity"},
        // train only.
        {"train.epochs", "--epochs"},
        {"train.init_weights", "--init"},
    };
    // Keys that train and prune share, under the same flag.
    for (const char* command : {"train", "prune"})
      for (const auto& [key, flag] : std::map<std::string, std::string>{{"model", "--model"},
                                                                        {"width", "--width"},
                                                                        {"classes", "--classes"},
                                                                        {"dropout", "--dropout"},
                                                                        {"data", "--data"},
                                                                        {"batch", "--batch"},
                                                                        {"lr", "--lr"},
                                                                        {"schedule", "--schedule"},
                                                                        {"nesterov", "--nesterov"},
                                                                        {"momentum", "--momentum"},
                                                                        {"weight_decay", "--weight-decay"},
                                                                        {"seed", "--seed"},
                                                                        {"threads", "--threads"},
                                                                        {"out", "--out"},
                                                                        {"wct_kappa", "--wct-kappa"},
                                                                        {"warmup_epochs", "--warmup-epochs"},
                                                                        {"resume", "--resume"}})
        t.emplace(std::string(command) + "." + key, flag);
    return t;
  }();
  return table;
}

}  // namespace

std::string flag_of_key(const std::string& key) {
  const auto it = flag_table().find(key);
  return it == flag_table().end() ? key : it->second;
}

std::string cli_message(const Error& e) { return e.message().render(flag_of_key); }

}  // namespace sxb::app
