#include "engine/pruning/pruning_run.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "models/io/atomic_file.h"
#include "engine/evaluation/evaluate.h"
#include "engine/crossbar/layout_file.h"
#include "models/io/safetensors.h"
#include "engine/io/json_keys.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"

namespace sxb {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();


nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in, path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error&) {
    throw Error(path + ": not valid JSON");
  }
}

// JSON has no NaN: a missing accuracy is null.
nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double accuracy_of(nn::Vgg& model, const Dataset& test_set) {
  if (test_set.size() == 0) return kNaN;
  return evaluate(model, test_set, normalization_of(model.config())).accuracy;
}

// A model and its configuration from a file written by train() or this pipeline.
std::unique_ptr<nn::Vgg> load_model(const std::string& path, const std::string& model_name, nn::Backend& backend) {
  const SafetensorsFile f = read_safetensors(path);
  const nn::VggConfig c = nn::vgg_config_for_file(f, path, nn::VggRequest{model_name, std::nullopt, std::nullopt}, true);
  auto m = std::make_unique<nn::Vgg>(c, backend);
  m->load_state_dict(f, path);
  return m;
}

struct PhaseResult {
  bool interrupted = false;
  double test_accuracy = kNaN;
  double seconds = 0.0;
  bool skipped = false;
  std::unique_ptr<nn::Vgg> model;
};

// One train() phase with the pipeline's resume rules (see the header).
PhaseResult run_phase(const std::string& name, TrainConfig t, bool resume, const Dataset& train_set,
                      const Dataset& test_set, nn::Backend& backend, const TrainHooks& hooks,
                      const std::function<void(const std::string&)>& log) {
  PhaseResult r;
  const auto t0 = Clock::now();
  if (resume && std::filesystem::exists(t.out)) {
    const SafetensorsFile f = read_safetensors(t.out);
    const auto it = f.metadata.find("train_config");
    if (it != f.metadata.end() && it->second == t.to_json().dump()) {
      log(fmt::format("{}: finished earlier ({}), skipped", name, t.out));
      r.skipped = true;
      r.model = load_model(t.out, t.model, backend);
      const auto acc = f.metadata.find("test_accuracy");
      if (acc != f.metadata.end()) r.test_accuracy = std::stod(acc->second);
      r.seconds = seconds_since(t0);
      return r;
    }
  }
  t.resume = resume && std::filesystem::exists(checkpoint_path(t.out));
  if (resume && !t.resume) log(fmt::format("{}: no checkpoint {}, starting the phase", name, checkpoint_path(t.out)));
  log(fmt::format("--- {}: {} epochs from {}", name, t.epochs, t.init_weights));
  TrainResult tr = train(t, train_set, test_set, backend, hooks);
  r.interrupted = tr.interrupted;
  r.test_accuracy = test_set.size() > 0 ? tr.test_accuracy : kNaN;
  r.model = std::move(tr.model);
  r.seconds = seconds_since(t0);
  return r;
}

}  // namespace

PrunePaths prune_paths(const std::string& out) {
  const std::string stem = strip_safetensors(out);
  return {stem + ".safetensors", stem + ".layout.json", stem + ".prune.json", stem + ".reg.safetensors",
          stem + ".hard.safetensors"};
}

// A resumed run must have the settings of the run that wrote the summary.
void check_resume_settings(const PrunePaths& paths, const nlohmann::json& settings) {
  SXB_REQUIRE(std::filesystem::exists(paths.summary),
              paths.summary + ": no earlier run to resume (start afresh instead of resuming)");
  const nlohmann::json then = read_json_file(paths.summary);
  SXB_REQUIRE(then.contains("settings"), paths.summary + ": not a sparsexbar prune summary");
  for (const auto& [key, value] : settings.items()) {
    const std::string before = then["settings"].contains(key) ? then["settings"][key].dump() : "(absent)";
    SXB_REQUIRE(before == value.dump(),
                fmt::format("{}: the run was started with {} = {}, this one has {} = {}; resume with the original "
                            "settings (or start afresh instead of resuming)",
                            paths.summary, key, before, key, value.dump()));
  }
}

// Phase 2: hard pruning of the regularised model to the target; writes the
// hard-pruned weights and the layout, fills the result's accounting and
// accuracies, and returns the pruned network with the "pruning" summary.
struct HardPruned {
  PrunedNetwork network;
  nlohmann::json pruning;
  double seconds = 0.0;
};

HardPruned hard_pruning_phase(const PruneRunConfig& c, std::unique_ptr<nn::Vgg>& regularised,
                              const std::string& regularised_path, const NetworkLayout& dense_layout_all,
                              const Dataset& test_set, nn::Backend& backend, PruneRunResult& result,
                              const std::function<void(const std::string&)>& log) {
  const PrunePaths& paths = result.paths;
  // Groups the lasso drove to exactly zero, as a guide for lambda.
  std::size_t zero_groups = 0, prunable_groups = 0;
  for (const LayerGroups& g : network_groups(*regularised, c.spec)) {
    if (!g.prunable) continue;
    prunable_groups += g.norms.size();
    for (double n : g.norms) zero_groups += n == 0.0 ? 1 : 0;
  }

  // --- Phase 2: hard pruning.
  const auto t_hard = Clock::now();
  HardPruned out;
  PrunedNetwork& pruned = out.network;
  pruned = hard_prune(*regularised, c.spec);
  regularised.reset();
  pruned.weights.metadata["pruning_method"] = method_name(c.spec.method);
  if (const auto wct = read_wct_metadata(read_safetensors(regularised_path), regularised_path))
    write_wct_metadata(*wct, pruned.weights);  // pruning only zeroes or removes weights: still within the clamp
  write_safetensors(paths.hard, pruned.weights);
  result.account = account_crossbars(pruned.layout, dense_layout_all);
  result.target_sparsity = c.spec.per_layer ? kNaN : c.spec.sparsity;
  result.sparsity = pruned.selection.sparsity();
  result.target_reached = pruned.selection.reached;
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerPruning& l : pruned.layers) {
    nlohmann::json j = {{"layer", l.layer}, {"groups", l.groups}, {"removed_groups", l.removed_groups}};
    if (c.spec.method == PruneMethod::ChannelFilter && !l.kept_channels.empty()) j["kept_channels"] = l.kept_channels;
    layers.push_back(j);
  }
  out.pruning = {{"spec", c.spec.to_json()},
                                  {"dense_weights", c.weights},
                                  {"removed_weights", pruned.selection.removed_weights},
                                  {"sparsity", result.sparsity},
                                  {"target_reached", result.target_reached},
                                  {"lasso_zero_groups", zero_groups},
                                  {"prunable_groups", prunable_groups},
                                  {"layers", layers}};
  write_layout_file(paths.layout, pruned.layout, {{"accounting", to_json(result.account)}, {"pruning", out.pruning}});
  {
    nn::Vgg hard(pruned.config, backend);
    hard.load_state_dict(pruned.weights, paths.hard);
    result.pruned_accuracy = accuracy_of(hard, test_set);
  }
  out.seconds = seconds_since(t_hard);
  log(fmt::format("hard pruning ({}): removed {} of {} weights ({:.2f}%{}), {} of {} prunable groups were already 0; "
                  "{} -> {} crossbars (CCR {:.3f}){}; layout {}",
                  method_name(c.spec.method), pruned.selection.removed_weights, pruned.selection.dense_weights,
                  100.0 * result.sparsity,
                  result.target_reached ? "" : fmt::format(", target {:.2f}% not reachable", 100.0 * c.spec.sparsity),
                  zero_groups, prunable_groups, result.account.total.dense_crossbars(),
                  result.account.total.crossbars(), result.account.total.ccr(),
                  std::isfinite(result.pruned_accuracy)
                      ? fmt::format(", test accuracy {:.2f}%", 100.0 * result.pruned_accuracy)
                      : "",
                  paths.layout));

  return out;
}

// The summary of a finished run: files, accuracies, pruning, accounting and
// timings, written atomically to <stem>.prune.json.
void write_done_summary(nlohmann::json& summary, const PruneRunResult& result, const std::string& regularised_path,
                        const Dataset& test_set, const nlohmann::json& pruning, const nlohmann::json& seconds) {
  const PrunePaths& paths = result.paths;
  summary["status"] = "done";
  summary["files"] = {{"model", paths.model}, {"layout", paths.layout}, {"regularised", regularised_path},
                      {"hard_pruned", paths.hard}};
  summary["test_data"] = test_set.source;
  summary["accuracy"] = {{"dense", number_or_null(result.dense_accuracy)},
                         {"regularised", number_or_null(result.regularised_accuracy)},
                         {"hard_pruned", number_or_null(result.pruned_accuracy)},
                         {"fine_tuned", number_or_null(result.accuracy)}};
  summary["pruning"] = pruning;
  summary["accounting"] = to_json(result.account);
  summary["seconds"] = seconds;
  write_file_atomic(paths.summary, summary.dump(2) + "\n");
}

namespace {

// A run that ends in an error leaves its summary saying so ("status": "failed"
// and the error), not "running"; the summary stays resumable.
void mark_failed(const std::string& summary_path, const std::string& error) {
  try {
    if (!std::filesystem::exists(summary_path)) return;
    nlohmann::json summary = read_json_file(summary_path);
    if (!summary.is_object() || summary.value("status", "") != "running") return;
    summary["status"] = "failed";
    summary["error"] = error;
    write_file_atomic(summary_path, summary.dump(2) + "\n");
  } catch (const std::exception&) {
    // The first error is the one reported.
  }
}

PruneRunResult run_pruning_steps(const PruneRunConfig& c, const Dataset& train_set, const Dataset& test_set,
                                 nn::Backend& backend, const TrainHooks& hooks_in);

}  // namespace

PruneRunResult run_pruning(const PruneRunConfig& c, const Dataset& train_set, const Dataset& test_set,
                           nn::Backend& backend, const TrainHooks& hooks) {
  try {
    return run_pruning_steps(c, train_set, test_set, backend, hooks);
  } catch (const std::exception& e) {
    if (!c.out.empty()) mark_failed(prune_paths(c.out).summary, e.what());
    throw;
  }
}

namespace {

using Log = std::function<void(const std::string&)>;

// The dense model, its crossbars and the training settings both phases start from.
struct DenseStart {
  std::unique_ptr<nn::Vgg> model;
  std::string model_name;
  NetworkLayout layout;  // dense tiles of the whole network, the CCR reference
  TrainConfig base;      // SGD settings, model and data of both training phases
};

DenseStart dense_phase(const PruneRunConfig& c, const Dataset& test_set, nn::Backend& backend, PruneRunResult& result,
                       const Log& log) {
  DenseStart d;
  d.model_name = c.model;
  if (d.model_name.empty()) {
    const SafetensorsFile f = read_safetensors(c.weights);
    const auto it = f.metadata.find("model");
    SXB_REQUIRE(it != f.metadata.end(), Message{Subject{c.weights}, ": no 'model' in __metadata__; set ",
                                                Key{"prune.model"}, " to vgg11 or vgg16"});
    d.model_name = it->second;
  }
  d.model = load_model(c.weights, d.model_name, backend);
  const nn::VggConfig& config = d.model->config();
  d.layout = dense_network_layout(*d.model, c.spec.tile_rows, c.spec.tile_cols);
  result.dense_accuracy = accuracy_of(*d.model, test_set);
  log(fmt::format("dense {} width {}: {} crossbars at {}x{} tiles{}", d.model_name, config.width, d.layout.crossbars(),
                  c.spec.tile_rows, c.spec.tile_cols,
                  std::isfinite(result.dense_accuracy)
                      ? fmt::format(", test accuracy {:.2f}%", 100.0 * result.dense_accuracy)
                      : ""));
  static_cast<SgdSettings&>(d.base) = c;  // batch, lr, schedule, nesterov, momentum, weight_decay, seed
  d.base.model = d.model_name;
  d.base.width = config.width;
  d.base.classes = config.classes;
  d.base.dropout = c.dropout.value_or(config.dropout);
  d.base.data = c.data;
  d.base.threads = c.threads;
  d.base.prefetch = c.prefetch;
  return d;
}

// One training phase of `base`: `epochs` from `init`, written to `out`, with
// the run's stop request and log; `customise` adds the phase's hooks. The
// model, or null when interrupted (then the result says where).
PhaseResult training_phase(const std::string& name, const TrainConfig& base, int epochs, const std::string& init,
                           const std::string& out, const std::function<void(TrainConfig&, TrainHooks&)>& customise,
                           const PruneRunConfig& c, const Dataset& train_set, const Dataset& test_set,
                           nn::Backend& backend, const TrainHooks& hooks_in, const Log& log, PruneRunResult& result) {
  TrainConfig t = base;
  t.epochs = epochs;
  t.init_weights = init;
  t.out = out;
  TrainHooks h;
  h.stop_requested = hooks_in.stop_requested;
  h.log = log;
  customise(t, h);
  PhaseResult p = run_phase(name, t, c.resume, train_set, test_set, backend, h, log);
  if (p.interrupted) {
    result.interrupted = true;
    result.phase = name;
  }
  return p;
}

// Phase 3 without fine-tuning: the hard-pruned weights are the model.
std::unique_ptr<nn::Vgg> keep_hard_pruned(const PrunedNetwork& pruned, const std::string& model_name,
                                          nn::Backend& backend, PruneRunResult& result) {
  const PrunePaths& paths = result.paths;
  SafetensorsFile f = pruned.weights;
  f.metadata["layout"] = std::filesystem::path(paths.layout).filename().string();
  write_safetensors(paths.model, f);
  result.accuracy = result.pruned_accuracy;
  return load_model(paths.model, model_name, backend);
}

// Records the pruning method and the layout in a fine-tuned model file.
void record_layout(const PruneRunConfig& c, const PrunePaths& paths) {
  SafetensorsFile f = read_safetensors(paths.model);
  f.metadata["pruning_method"] = method_name(c.spec.method);
  f.metadata["layout"] = std::filesystem::path(paths.layout).filename().string();
  write_safetensors(paths.model, f);
}

PruneRunResult run_pruning_steps(const PruneRunConfig& c, const Dataset& train_set, const Dataset& test_set,
                                 nn::Backend& backend, const TrainHooks& hooks_in) {
  const auto t_start = Clock::now();
  c.check();
  auto log = log_or_stderr(hooks_in.log);
  PruneRunResult result;
  result.paths = prune_paths(c.out);
  const PrunePaths& paths = result.paths;
  const nlohmann::json settings = c.resume_json();
  nlohmann::json summary = {{"kind", "sparsexbar-prune"},
                            {"settings", settings},
                            {"status", "running"},
                            {"git", git_revision()},
                            {"backend", backend.describe()}};
  if (c.resume) check_resume_settings(paths, settings);
  write_file_atomic(paths.summary, summary.dump(2) + "\n");

  DenseStart dense = dense_phase(c, test_set, backend, result, log);

  // --- Phase 1: group-lasso regularisation.
  std::unique_ptr<nn::Vgg> regularised;
  std::string regularised_path = c.weights;
  double reg_seconds = 0.0;
  if (c.reg_epochs > 0) {
    const PruneSpec spec = c.spec;
    const double lambda = c.lambda;
    const auto lasso = [spec, lambda](TrainConfig&, TrainHooks& h) {
      h.after_step = [spec, lambda](nn::Vgg& m, const StepInfo& s) { apply_group_lasso(m, spec, s.lr * lambda); };
    };
    PhaseResult p = training_phase("regularisation", dense.base, c.reg_epochs, c.weights, paths.regularised, lasso, c,
                                   train_set, test_set, backend, hooks_in, log, result);
    if (p.interrupted) return result;
    regularised = std::move(p.model);
    regularised_path = paths.regularised;
    result.regularised_accuracy = p.test_accuracy;
    reg_seconds = p.seconds;
  } else {
    regularised = std::move(dense.model);
    result.regularised_accuracy = result.dense_accuracy;
  }
  dense.model.reset();

  // --- Phase 2: hard pruning.
  const HardPruned hard =
      hard_pruning_phase(c, regularised, regularised_path, dense.layout, test_set, backend, result, log);

  // --- Phase 3: fine-tuning with the masks held fixed.
  std::unique_ptr<nn::Vgg> final_model;
  double finetune_seconds = 0.0;
  if (c.finetune_epochs > 0) {
    const NetworkLayout layout = hard.network.layout;
    const auto masked = [&c, layout](TrainConfig& t, TrainHooks& h) {
      t.lr = c.finetune_lr > 0.0 ? c.finetune_lr : c.lr;
      t.wct_kappa = c.wct_kappa;
      h.on_model = [layout](nn::Vgg& m) { set_masks(m, layout); };
    };
    PhaseResult p = training_phase("fine-tuning", dense.base, c.finetune_epochs, paths.hard, paths.model, masked, c,
                                   train_set, test_set, backend, hooks_in, log, result);
    if (p.interrupted) return result;
    final_model = std::move(p.model);
    result.accuracy = p.test_accuracy;
    finetune_seconds = p.seconds;
    if (!p.skipped) record_layout(c, paths);
  } else {
    final_model = keep_hard_pruned(hard.network, dense.model_name, backend, result);
  }
  record_weights_identity(paths.layout, *final_model);
  check_layout_for_model(read_layout_file(paths.layout), *final_model, paths.layout);

  write_done_summary(summary, result, regularised_path, test_set, hard.pruning,
                     {{"regularisation", reg_seconds},
                      {"hard_pruning", hard.seconds},
                      {"fine_tuning", finetune_seconds},
                      {"total", seconds_since(t_start)}});
  result.summary = summary;
  return result;
}

}  // namespace

}  // namespace sxb
