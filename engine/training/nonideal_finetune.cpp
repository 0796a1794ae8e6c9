#include "engine/training/nonideal_finetune.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "engine/converters/converter_network.h"
#include "engine/crossbar/mapping.h"
#include "engine/crossbar/scheduler.h"
#include "engine/crossbar/wct.h"
#include "engine/evaluation/effective_model.h"
#include "engine/evaluation/evaluate.h"
#include "engine/io/stopwatch.h"
#include "kernels/common/counter_rng.h"
#include "kernels/common/error.h"
#include "models/io/safetensors.h"

namespace sxb {
namespace {

using Log = std::function<void(const std::string&)>;

constexpr std::uint64_t kResampleDraws = 0x52534d50ULL;  // purpose of the per-epoch device seeds
constexpr const char* kDeltaPrefix = "delta.";


std::int64_t metadata_integer(const SafetensorsFile& f, const std::string& path, const std::string& key) {
  const auto it = f.metadata.find(key);
  SXB_REQUIRE(it != f.metadata.end(), path + ": no '" + key + "' in __metadata__");
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    throw Error(path + ": __metadata__ " + key + " = '" + it->second + "' is not an integer");
  }
}

// The effective-weight forward of one training: D per mapped layer, the
// weight hook that adds it to the current weights, the solve schedule and
// the state file.
class EffectiveForward {
 public:
  EffectiveForward(const TrainConfig& config, const NonidealSettings& settings, int steps_per_epoch, Log log,
                   const Dataset& range_set)
      : config_(config), settings_(settings), solver_(resolve(settings.solver)), steps_per_epoch_(steps_per_epoch),
        range_set_(range_set),
        total_steps_(static_cast<std::int64_t>(config.epochs) * steps_per_epoch), log_(std::move(log)),
        state_path_(nonideal_state_path(config.out)) {}

  // Before the caller's on_model: the mapping scales of WCT, as train() finds them.
  void find_wct(nn::Vgg& model) {
    if (config_.wct_kappa <= 0.0) return;
    if (config_.resume) {
      const std::string ckpt = checkpoint_path(config_.out);
      wct_ = read_wct_metadata(read_safetensors(ckpt), ckpt);
    } else {
      std::optional<WctScales> inherited;
      if (!config_.init_weights.empty())
        inherited = read_wct_metadata(read_safetensors(config_.init_weights), config_.init_weights);
      wct_ = start_wct(model, config_.wct_kappa, inherited, "the starting weights");
    }
  }

  // After the caller's on_model: masks of zeros, D (solved or resumed), the hook.
  void start(nn::Vgg& model) {
    backend_ = &model.backend();
    if (settings_.mask_zeros) log_(fmt::format("holding {} zero weights at zero", mask_zero_weights(model)));
    if (config_.resume) {
      load_state(model);
      // The converters' tile pairs are not in the state file: solved again at
      // the resume point, with the seed the uninterrupted run solved with last.
      if (settings_.crossbar.tile_level()) {
        const std::int64_t epoch = steps_done_ / steps_per_epoch_;
        solve(model, steps_done_ >= total_steps_ ? settings_.crossbar.seed : seed_of_epoch(static_cast<int>(epoch)),
              false);
      }
    } else {
      solve(model, settings_.crossbar.seed);
    }
    model.set_weight_hook([this](const std::string& layer, const nn::Tensor& w) { return effective(layer, w); });
  }

  void after_step(nn::Vgg& model, const StepInfo& info) {
    ++version_;
    steps_done_ = info.global_step + 1;
    const bool epoch_end = steps_done_ % steps_per_epoch_ == 0;
    if (steps_done_ % settings_.resolve_every == 0 || epoch_end) {
      // The solve ending an epoch draws the next epoch's devices (resample), the last one the configuration's.
      const bool last = steps_done_ >= total_steps_;
      solve(model, last        ? settings_.crossbar.seed
                   : epoch_end ? seed_of_epoch(info.epoch + 1)
                               : seed_of_epoch(info.epoch));
    } else if (converters_) {
      follow_weights(model);
    }
    if (epoch_end) save_state();
  }

  void save_state() const {
    SafetensorsFile f;
    for (const auto& [name, l] : layers_) {
      HostTensor t;
      t.shape = l.shape;
      t.data = l.delta;
      f.tensors[kDeltaPrefix + name] = std::move(t);
    }
    f.metadata["kind"] = "sparsexbar-nonideal-state";
    f.metadata["settings"] = settings_.to_json().dump();
    f.metadata["steps_done"] = std::to_string(steps_done_);
    f.metadata["solves"] = std::to_string(solves_total_);
    write_safetensors(state_path_, f);
  }

  int solves() const { return solves_run_; }
  int solves_total() const { return solves_total_; }
  double solve_seconds() const { return solve_seconds_; }

 private:
  struct Layer {
    std::vector<std::int64_t> shape;
    std::vector<float> delta;  // W_eff_last - W_last, weight layout
    std::vector<float> host;   // scratch: W + D
    nn::Tensor eff;            // W + D on the network backend
    std::uint64_t version = 0;
  };

  std::uint64_t seed_of_epoch(int epoch) const {
    const std::uint64_t seed = settings_.crossbar.seed;
    if (!settings_.variation_resample || epoch == 0) return seed;
    return rng::counter_hash(seed, kResampleDraws, static_cast<std::uint64_t>(epoch));
  }

  std::optional<nn::Tensor> effective(const std::string& layer, const nn::Tensor& w) {
    const auto it = layers_.find(layer);
    if (it == layers_.end()) return std::nullopt;
    Layer& l = it->second;
    if (l.version != version_) {
      l.host.resize(w.numel());
      backend_->download(w, l.host.data());
      for (std::size_t i = 0; i < l.host.size(); ++i) l.host[i] += l.delta[i];
      if (l.eff.empty()) l.eff = backend_->empty(w.shape());
      backend_->upload(l.host.data(), l.eff);
      l.version = version_;
    }
    return l.eff;
  }

  // The converters' tile pairs follow the weights between solves (ConverterNetwork::shift_weights).
  void follow_weights(nn::Vgg& model) {
    for (std::size_t l = 0; l < converters_->layers(); ++l) {
      const TileLayer& t = converters_->layer(l);
      const nn::Tensor& w = model.parameter(t.layer + ".weight").value;
      const std::vector<float> now = layer_matrix(nn::to_host(*backend_, w).data(), t.outputs, t.inputs);
      std::vector<float>& delta = scratch_;
      const std::vector<float>& then = solved_matrix_.at(t.layer);
      delta.resize(now.size());
      for (std::size_t i = 0; i < now.size(); ++i) delta[i] = now[i] - then[i];
      converters_->shift_weights(l, delta);
    }
  }

  // D of every layer from W_eff of the current weights on devices `seed`;
  // with converter keys also the tile pairs, their ranges and the product
  // hook (the forward through the converters, straight-through gradient by
  // the weight hook's W + D). `count`: a solve of the schedule (not a resume's).
  void solve(nn::Vgg& model, std::uint64_t seed, bool count = true) {
    const auto t0 = Clock::now();
    CrossbarConfig xbar = settings_.crossbar;
    xbar.seed = seed;
    std::vector<MappedLayer> mapped = mapped_layers(model);
    assign_mapping_scales(mapped, xbar, wct_);
    const NetworkLayout layout =
        settings_.layout ? *settings_.layout : dense_network_layout(mapped, xbar.tile_rows, xbar.tile_cols);
    SchedulerOptions so;
    so.backend = solver_;
    so.pair_weights = xbar.tile_level();
    ScheduleStats stats;
    const std::vector<LayerEffective> eff = effective_weights(mapped, layout, xbar, so, &stats);
    std::map<std::string, const MappedLayer*> by_name;
    for (const MappedLayer& m : mapped) by_name[m.layer] = &m;
    for (const LayerEffective& e : eff) {
      const MappedLayer& m = *by_name.at(e.layer);
      Layer& l = layers_[e.layer];
      const nn::Tensor& w = model.parameter(e.layer + ".weight").value;
      l.shape.assign(w.shape().begin(), w.shape().end());
      std::vector<float> weights(w.numel());
      weight_from_layer_matrix(m.matrix.data(), e.outputs, e.inputs, weights.data());
      l.delta.resize(w.numel());
      weight_from_layer_matrix(e.w_eff.data(), e.outputs, e.inputs, l.delta.data());
      for (std::size_t i = 0; i < weights.size(); ++i) l.delta[i] -= weights[i];
    }
    if (xbar.tile_level()) {
      model.set_product_hook(nullptr);
      converters_ = std::make_unique<ConverterNetwork>(eff, layout, xbar);
      // Ranges from the training-mode forward (batch statistics), which is what
      // the converters see while fine-tuning; the running statistics stay.
      converters_->set_ranges(model, range_set_, normalization_of(model.config()), nn::Mode::Train);
      converters_->attach(model);
      for (const MappedLayer& m : mapped) solved_matrix_[m.layer] = m.matrix;
    }
    ++version_;
    if (count) {
      ++solves_run_;
      ++solves_total_;
    }
    const double s = seconds_since(t0);
    solve_seconds_ += s;
    log_(fmt::format("non-ideal forward: solve {} after step {} ({} tiles, {:.2f} s)", solves_total_, steps_done_,
                     stats.tiles, s));
  }

  // D and the solve count of the state file, which must belong to the checkpoint's position.
  void load_state(nn::Vgg& model) {
    const std::string ckpt_path = checkpoint_path(config_.out);
    const SafetensorsFile ckpt = read_safetensors(ckpt_path);
    steps_done_ = metadata_integer(ckpt, ckpt_path, "epoch") * steps_per_epoch_ + metadata_integer(ckpt, ckpt_path, "step");
    SXB_REQUIRE(std::filesystem::exists(state_path_),
                state_path_ + ": no non-ideal fine-tuning state to resume from (start afresh instead of resuming)");
    const SafetensorsFile f = read_safetensors(state_path_);
    const auto settings = f.metadata.find("settings");
    SXB_REQUIRE(settings != f.metadata.end() && settings->second == settings_.to_json().dump(),
                state_path_ + ": written with other non-ideal fine-tuning settings (crossbar, resolve_every, "
                              "variation_resample, layout, mask_zeros); resume with the original settings");
    const std::int64_t done = metadata_integer(f, state_path_, "steps_done");
    SXB_REQUIRE(done == steps_done_, fmt::format("{}: written after step {}, the checkpoint {} is after step {}",
                                                 state_path_, done, ckpt_path, steps_done_));
    solves_total_ = static_cast<int>(metadata_integer(f, state_path_, "solves"));
    for (const std::string& layer : model.weight_layers()) {
      const auto it = f.tensors.find(kDeltaPrefix + layer);
      if (it == f.tensors.end()) continue;  // not mapped
      const nn::Tensor& w = model.parameter(layer + ".weight").value;
      SXB_REQUIRE(it->second.numel() == static_cast<std::int64_t>(w.numel()),
                  state_path_ + ": tensor '" + it->first + "' has the wrong size");
      Layer& l = layers_[layer];
      l.shape = it->second.shape;
      l.delta = it->second.data;
    }
    ++version_;
    log_(fmt::format("non-ideal forward: resuming with D of {} after step {} ({} solves so far)", state_path_,
                     steps_done_, solves_total_));
  }

  TrainConfig config_;
  NonidealSettings settings_;
  Backend solver_;
  int steps_per_epoch_;
  const Dataset& range_set_;
  std::unique_ptr<ConverterNetwork> converters_;
  std::map<std::string, std::vector<float>> solved_matrix_;  // layer matrices at the last solve
  std::vector<float> scratch_;
  std::int64_t total_steps_;
  Log log_;
  std::string state_path_;
  nn::Backend* backend_ = nullptr;
  std::optional<WctScales> wct_;
  std::map<std::string, Layer> layers_;
  std::uint64_t version_ = 1;
  std::int64_t steps_done_ = 0;
  int solves_run_ = 0, solves_total_ = 0;
  double solve_seconds_ = 0.0;
};

// The tuned model's metadata: the crossbar it was tuned for, the settings and
// both test accuracies.
void record_tuning(const std::string& path, const NonidealSettings& settings, int solves, const NonidealStats& stats,
                   bool tested) {
  SafetensorsFile f = read_safetensors(path);
  nlohmann::json tuning = settings.to_json();
  tuning["solves"] = solves;
  f.metadata["nonideal_crossbar"] = settings.crossbar.to_json().dump();
  f.metadata["nonideal_finetune"] = tuning.dump();
  if (tested) {
    f.metadata["test_accuracy"] = fmt::format("{:.17g}", stats.software_test_accuracy);
    f.metadata["nonideal_test_accuracy"] = fmt::format("{:.17g}", stats.nonideal_test_accuracy);
  }
  write_safetensors(path, f);
}

}  // namespace

void NonidealSettings::check(const std::string& path) const {
  const std::string p = path.empty() ? "" : path + ".";
  crossbar.check(Message{Key{p + "crossbar"}});
  SXB_REQUIRE(resolve_every >= 1, Message{Key{p + "resolve_every"}, fmt::format(" {} must be at least 1", resolve_every)});
  if (layout) {
    SXB_REQUIRE(layout->tile_rows == crossbar.tile_rows && layout->tile_cols == crossbar.tile_cols,
                Message{Key{p + "layout"}, fmt::format(": the layout is for {} x {} tiles but the crossbar configuration "
                                                       "asks for {} x {}",
                                                       layout->tile_rows, layout->tile_cols, crossbar.tile_rows,
                                                       crossbar.tile_cols)});
    layout->check(p + "layout");
  }
}

nlohmann::json NonidealSettings::to_json() const {
  nlohmann::json crossbar_json = crossbar.to_json();
  crossbar_json.erase("preset");  // the values are what count
  return {{"crossbar", crossbar_json},
          {"resolve_every", resolve_every},
          {"variation_resample", variation_resample},
          {"layout", layout ? nlohmann::json(layout->method) : nlohmann::json(nullptr)},
          {"mask_zeros", mask_zeros}};
}

std::string nonideal_state_path(const std::string& out) { return strip_safetensors(out) + ".nonideal.ckpt.safetensors"; }

long long mask_zero_weights(nn::Vgg& model) {
  nn::Backend& b = model.backend();
  long long masked = 0;
  for (const std::string& layer : model.weight_layers()) {
    nn::Parameter& p = model.parameter(layer + ".weight");
    const std::vector<float> w = nn::to_host(b, p.value);
    std::vector<std::uint8_t> keep(w.size(), 1);
    if (!p.mask.empty()) b.download(p.mask, keep.data());
    long long zeros = 0;
    for (std::size_t i = 0; i < w.size(); ++i)
      if (w[i] == 0.0f && keep[i]) {
        keep[i] = 0;
        ++zeros;
      }
    if (zeros == 0) continue;
    masked += zeros;
    if (p.mask.empty()) p.mask = b.empty(p.value.shape(), nn::DType::U8);
    b.upload(keep.data(), p.mask);
  }
  return masked;
}

TrainResult train_nonideal(const TrainConfig& config, const NonidealSettings& settings, const Dataset& train_set,
                           const Dataset& test_set, nn::Backend& backend, const TrainHooks& hooks,
                           NonidealStats* stats) {
  const auto t0 = Clock::now();
  config.check();
  settings.check("nonideal");
  SXB_REQUIRE(train_set.size() > 0, "the training set is empty");
  const int steps_per_epoch = static_cast<int>((train_set.size() + config.batch - 1) / config.batch);
  const Log log = log_or_stderr(hooks.log);
  EffectiveForward forward(config, settings, steps_per_epoch, log, train_set);

  TrainHooks h = hooks;
  h.log = log;
  h.on_model = [&](nn::Vgg& m) {
    forward.find_wct(m);
    if (hooks.on_model) hooks.on_model(m);
    forward.start(m);
  };
  h.after_step = [&](nn::Vgg& m, const StepInfo& info) {
    if (hooks.after_step) hooks.after_step(m, info);
    forward.after_step(m, info);
  };
  h.stop_requested = [&]() {
    const bool stop = hooks.stop_requested && hooks.stop_requested();
    if (stop) forward.save_state();
    return stop;
  };
  TrainResult r = train(config, train_set, test_set, backend, h);
  if (r.model) {
    r.model->set_weight_hook(nullptr);
    r.model->set_product_hook(nullptr);
  }

  NonidealStats s;
  s.solves = forward.solves();
  s.solve_seconds = forward.solve_seconds();
  if (!r.interrupted) {
    const bool tested = test_set.size() > 0;
    if (tested) {
      s.nonideal_test_accuracy = r.test_accuracy;  // train() tested through the hook, after the final solve
      const EvalResult software = evaluate(*r.model, test_set, normalization_of(r.model->config()));
      s.software_test_accuracy = software.accuracy;
      log(fmt::format("tuned for the crossbar: software test accuracy {:.2f}%, on the crossbar {:.2f}%",
                      100.0 * s.software_test_accuracy, 100.0 * s.nonideal_test_accuracy));
    }
    record_tuning(r.model_path, settings, forward.solves_total(), s, tested);
  }
  s.train_seconds = seconds_since(t0);
  if (stats) *stats = s;
  return r;
}

}  // namespace sxb
