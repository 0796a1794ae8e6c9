// `sparsexbar prune`: structured pruning for crossbars (cf, xcs, xrs) of a
// dense model: group-lasso regularisation, hard pruning, fine-tuning with the
// masks held fixed, and the crossbar accounting (engine/pruning/pruning_run.h).
// Ctrl-C or SIGTERM finishes the current step, writes the phase's checkpoint and exits
// non-zero with the command that resumes.
#include <fmt/format.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "apps/commands.h"
#include "apps/number_options.h"
#include "apps/output_paths.h"
#include "apps/model_options.h"
#include "apps/stop_signal.h"
#include "models/io/atomic_file.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/pruning/pruning_run.h"

namespace sxb::app {
namespace {

// The tile of `spec` as --tile writes it: "64" square, else "32x64".
std::string tile_text(const PruneSpec& spec) {
  return spec.tile_rows == spec.tile_cols ? std::to_string(spec.tile_rows)
                                          : fmt::format("{}x{}", spec.tile_rows, spec.tile_cols);
}

std::string percent(double v) { return std::isfinite(v) ? fmt::format("{:.2f}%", 100.0 * v) : "-"; }

// `config` as the flags set it: checked, then the pruning runs.
void run_prune(PruneRunConfig config, const std::string& device) {
  use_threads(config.threads);
  const PrunePaths paths = prune_paths(config.out);
  SXB_REQUIRE(!written_in_place(config.out),
              "--out " + config.out + ": prune writes its layout, summary and checkpoints beside the model, so "
              "--out must name a file, not standard output or a device");
  check_distinct_paths({{"--out", paths.model}, {"the layout", paths.layout}, {"the summary", paths.summary},
                        {"the regularised model", paths.regularised}, {"the hard-pruned model", paths.hard}},
                       {{"--weights", config.weights}});
  check_output_file(paths.model, "--out");
  if (config.resume && !std::filesystem::exists(paths.summary)) {
    fmt::print(stderr, "prune: no earlier run {} yet; starting afresh\n", paths.summary);
    config.resume = false;
  }
  const Dataset train_set = load_dataset(config.data, Split::Train);
  const Dataset test_set = load_dataset(config.data, Split::Test);
  std::unique_ptr<nn::Backend> backend = nn::make_backend(device);

  TrainHooks hooks;
  PruneRunResult result;
  {
    const StopSignal stop;
    hooks.stop_requested = stop.poll();
    result = run_pruning(config, train_set, test_set, *backend, hooks);
  }
  if (result.interrupted)
    throw Error(fmt::format(
        "interrupted during {}: checkpoint written; continue with the same command plus --resume", result.phase));
  fmt::print("{}", format_table(result.account));
  fmt::print("test accuracy on {}: dense {}, regularised {}, hard-pruned {}, fine-tuned {}\n", test_set.source,
             percent(result.dense_accuracy), percent(result.regularised_accuracy), percent(result.pruned_accuracy),
             percent(result.accuracy));
  fmt::print("pruned model {}, layout {}, summary (JSON) {}\n", result.paths.model, result.paths.layout,
             result.paths.summary);
}

}  // namespace

void add_prune_command(CLI::App& app) {
  struct Options {
    PruneRunConfig run;
    std::string method, tile = tile_text(PruneSpec{}), per_layer;
    float dropout = 0.0f;
  };
  auto opt = std::make_shared<Options>();
  PruneRunConfig& r = opt->run;
  CLI::App* cmd = app.add_subcommand(
      "prune", "Structured pruning for crossbars: cf, xcs or xrs with group lasso, hard pruning and fine-tuning "
               "(see docs/cli.md)");
  cmd->add_option("--method", opt->method, "cf (filters), xcs (crossbar column segments) or xrs (row segments)")
      ->required();
  CLI::Option* sparsity = cmd->add_option(
      "--sparsity", r.spec.sparsity,
      "Target: fraction of all mapped weights removed (global ranking); with --per-layer the default fraction of "
      "each prunable layer's groups");
  CLI::Option* per_layer = cmd->add_option(
      "--per-layer", opt->per_layer, "JSON {\"features.3\": 0.5, ...}: fraction of each layer's groups to remove")->check(CLI::ExistingFile);
  cmd->add_option("--tile", opt->tile, "Crossbar tile R (square) or RxC")->capture_default_str();
  cmd->add_option("--weights", r.weights, "The dense model (safetensors written by train)")->check(CLI::ExistingFile)->required();
  cmd->add_option("--model", r.model, "vgg11 or vgg16 (default: the weights' metadata)");
  cmd->add_option("--data", r.data, "cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, folder:DIR or synthetic[:N]")
      ->required();
  cmd->add_option("--lambda", r.lambda, "Group-lasso strength: each SGD step shrinks a group's RMS weight by lr * lambda")
      ->capture_default_str();
  cmd->add_option("--reg-epochs", r.reg_epochs, "Epochs of group-lasso training (0: prune the weights as they are)")
      ->capture_default_str();
  cmd->add_option("--finetune-epochs", r.finetune_epochs, "Epochs of fine-tuning with the masks held fixed")
      ->capture_default_str();
  cmd->add_option("--lr", r.lr, "Peak learning rate of both phases")->capture_default_str();
  cmd->add_option("--finetune-lr", r.finetune_lr, "Peak learning rate of fine-tuning (0: --lr)")->capture_default_str();
  cmd->add_option("--schedule", r.schedule, "Learning-rate schedule of both phases: cosine or step")
      ->capture_default_str();
  cmd->add_option("--batch", r.batch, "Batch size")->capture_default_str();
  cmd->add_flag("--nesterov", r.nesterov, "Nesterov momentum");
  cmd->add_option("--momentum", r.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", r.weight_decay, "L2 weight decay")->capture_default_str();
  CLI::Option* dropout =
      cmd->add_option("--dropout", opt->dropout, "Dropout probability of both phases (default: the dense model's)");
  cmd->add_option("--seed", r.seed, "Seed of shuffling, augmentation and dropout")->capture_default_str();
  cmd->add_flag("--prune-first", r.spec.prune_first, "Also prune the first conv layer (exempt by default)");
  cmd->add_flag("--prune-classifier", r.spec.prune_classifier,
                "Also prune the classifier (xcs/xrs; exempt by default)");
  cmd->add_option("--max-layer-sparsity", r.spec.max_layer_sparsity,
                  "Global ranking: at most this fraction of any layer's groups")
      ->capture_default_str();
  add_threads_option(cmd, r.threads, "OpenMP threads (0: all cores); results do not depend on it");
  cmd->add_option("--out", r.out,
                  "Pruned model <out>.safetensors, with <out>.layout.json, <out>.prune.json and checkpoints")
      ->required();
  cmd->add_flag("--resume", r.resume, "Continue an interrupted run with the same settings; without one yet, start afresh");
  CLI::Option* wct = cmd->add_option(
      "--wct-kappa", r.wct_kappa,
      "Weight-constrained fine-tuning: after every step clamp each conv/linear weight to |w| <= K * s_ref, s_ref = "
      "max|W| of the hard-pruned layer; 0 < K <= 1, default off");
  auto device = std::make_shared<std::string>();
  add_device_option(cmd, *device);
  cmd->callback([opt, sparsity, per_layer, wct, dropout, device] {
    {
      PruneRunConfig config = opt->run;
      if (dropout->count()) config.dropout = opt->dropout;
      config.spec.method = parse_prune_method(opt->method);
      parse_tile_size(opt->tile, config.spec.tile_rows, config.spec.tile_cols, "--tile");
      SXB_REQUIRE(sparsity->count() || per_layer->count(), Message{Key{"prune.sparsity"}, " or ", Key{"prune.per_layer"}, " is required"});
      if (per_layer->count()) {
        config.spec.per_layer = true;
        config.spec.layer_targets = read_layer_targets(opt->per_layer);
      }
      if (wct->count()) check_wct_kappa(config.wct_kappa, "prune.wct_kappa");  // an explicit 0 is an error too
      config.check("prune");
      run_prune(config, *device);
    }
  });
}

}  // namespace sxb::app
