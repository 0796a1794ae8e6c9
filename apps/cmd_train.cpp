// `sparsexbar train`: train VGG11/VGG16 on CIFAR, an image folder or the
// synthetic set (engine/training/train.h). Ctrl-C or SIGTERM finishes the current step, writes
// the checkpoint and exits non-zero with the command that resumes.
#include <fmt/format.h>
#include <omp.h>

#include <filesystem>
#include <memory>

#include "apps/commands.h"
#include "apps/number_options.h"
#include "apps/output_paths.h"
#include "apps/model_options.h"
#include "apps/nonideal_options.h"
#include "apps/stop_signal.h"
#include "engine/crossbar/layout_file.h"
#include "engine/pruning/pruning.h"
#include "engine/training/nonideal_finetune.h"
#include "engine/training/train.h"
#include "models/io/atomic_file.h"

namespace sxb::app {
namespace {

// `options` as the flags set them: checked, then the training runs.
void run_train(const TrainConfig& options, const std::string& device, bool wct_given,
               const std::optional<NonidealSettings>& nonideal, const NonidealFlags& nonideal_flags) {
  TrainConfig config = options;
  if (wct_given) check_wct_kappa(config.wct_kappa, "train.wct_kappa");  // an explicit 0 is an error too
  config.check("train");
  use_threads(config.threads);
  SXB_REQUIRE(!written_in_place(config.out),
              "--out " + config.out + ": train keeps its checkpoint beside the model (" + checkpoint_path(config.out) +
                  "), so --out must name a file, not standard output or a device");
  check_distinct_paths({{"--out", config.out}, {"the checkpoint", checkpoint_path(config.out)},
                        {"the fine-tuning state", nonideal ? nonideal_state_path(config.out) : std::string()}},
                       {{"--init", config.init_weights}, {"--layout", nonideal_flags.layout},
                        {"--crossbar", nonideal_flags.crossbar.file}});
  check_output_file(config.out, "--out");
  if (config.resume && !std::filesystem::exists(checkpoint_path(config.out))) {
    fmt::print(stderr, "train: no checkpoint {} yet; starting afresh\n", checkpoint_path(config.out));
    config.resume = false;
  }
  const Dataset train_set = load_dataset(config.data, Split::Train);
  const Dataset test_set = load_dataset(config.data, Split::Test);
  std::unique_ptr<nn::Backend> backend = nn::make_backend(device);

  TrainHooks hooks;
  TrainResult r;
  NonidealStats tuned;
  if (nonideal && nonideal->layout)
    hooks.on_model = [&](nn::Vgg& m) {
      // As evaluate checks it when the weights come from --init; a random init gets the layout's masks.
      check_layout_for_model(*nonideal->layout, m, nonideal_flags.layout, !config.init_weights.empty());
      set_masks(m, *nonideal->layout);
    };
  {
    const StopSignal stop;
    hooks.stop_requested = stop.poll();
    r = nonideal ? train_nonideal(config, *nonideal, train_set, test_set, *backend, hooks, &tuned)
                 : train(config, train_set, test_set, *backend, hooks);
  }
  if (r.interrupted) {
    throw Error(fmt::format("interrupted at epoch {}/{}, step {}: checkpoint written to {}; continue with the same "
                            "command plus --resume",
                            r.epoch + 1, config.epochs, r.step, r.checkpoint));
  }
  fmt::print("{} width {}: test accuracy {:.2f}% (loss {:.4f}) on {} after {} epochs, {:.1f} s; model written to {}\n",
             config.model, config.width, 100.0 * r.test_accuracy, r.test_loss, test_set.source, config.epochs,
             r.seconds, r.model_path);
  if (nonideal)
    fmt::print("non-ideal fine-tuning: {:.2f}% on the crossbar, {:.2f}% in software; {} solves, {:.1f} s of {:.1f} s\n",
               100.0 * tuned.nonideal_test_accuracy, 100.0 * tuned.software_test_accuracy, tuned.solves,
               tuned.solve_seconds, tuned.train_seconds);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto opt = std::make_shared<TrainConfig>();
  CLI::App* cmd = app.add_subcommand("train", "Train a VGG11/VGG16 classifier (see docs/cli.md)");
  cmd->add_option("--model", opt->model, "vgg11 or vgg16")->required();
  cmd->add_option("--width", opt->width, "Width multiplier: channels c -> max(1, round(c * W))")->capture_default_str();
  cmd->add_option("--classes", opt->classes, "Number of classes (default: the data set's)");
  cmd->add_option("--dropout", opt->dropout, "Dropout probability before the classifier")->capture_default_str();
  cmd->add_option("--data", opt->data, "cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, folder:DIR or synthetic[:N]")
      ->required();
  cmd->add_option("--epochs", opt->epochs, "Epochs")->capture_default_str();
  cmd->add_option("--warmup-epochs", opt->warmup_epochs,
                  "Epochs of linear learning-rate warm-up before the schedule (0: none)")
      ->capture_default_str();
  cmd->add_option("--batch", opt->batch, "Batch size")->capture_default_str();
  cmd->add_option("--lr", opt->lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--schedule", opt->schedule, "Learning-rate schedule: cosine or step")->capture_default_str();
  cmd->add_flag("--nesterov", opt->nesterov, "Nesterov momentum");
  cmd->add_option("--momentum", opt->momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", opt->weight_decay, "L2 weight decay on every parameter")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Seed of initialisation, shuffling, augmentation and dropout")
      ->capture_default_str();
  add_threads_option(cmd, opt->threads, "OpenMP threads (0: all cores); results do not depend on it");
  cmd->add_option("--init", opt->init_weights, "Start from these weights (safetensors) instead of a random init")->check(CLI::ExistingFile);
  cmd->add_option("--out", opt->out, "Trained model (safetensors); the checkpoint goes to <out>.ckpt.safetensors")
      ->required();
  cmd->add_flag("--resume", opt->resume, "Continue from the checkpoint of --out (same settings); without one yet, start afresh");
  CLI::Option* wct = cmd->add_option(
      "--wct-kappa", opt->wct_kappa,
      "Weight-constrained training: after every step clamp each conv/linear weight to |w| <= K * s_ref, s_ref = the "
      "layer's mapping scale before WCT (max|W| of --init, else of the random init); 0 < K <= 1, default off");
  auto device = std::make_shared<std::string>();
  add_device_option(cmd, *device);
  auto nonideal = std::make_shared<NonidealFlags>();
  add_nonideal_options(cmd, *nonideal);
  cmd->callback([opt, device, wct, nonideal] {
    run_train(*opt, *device, wct->count() > 0, nonideal_settings(*nonideal), *nonideal);
  });
}

}  // namespace sxb::app
