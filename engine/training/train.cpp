#include "engine/training/train.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>

#include "engine/data/batches.h"
#include "engine/evaluation/evaluate.h"
#include "models/io/safetensors.h"
#include "models/weight_checks.h"
#include "engine/io/json_keys.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"

namespace sxb {
namespace {


// Purposes of the counter-based draws of the trainer (see engine/data/batches.h).
constexpr std::uint64_t kInitDraws = 0x494e4954ULL, kDropoutDraws = 0x44524f50ULL;
constexpr double kProgressSeconds = 2.0;
constexpr const char* kMomentumPrefix = "momentum.";


std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = std::lround(s);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, t / 60 % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

// Running sums of the epoch in progress (saved in the checkpoint, so a
// resumed epoch reports the same numbers).
struct EpochSums {
  double loss_sum = 0.0;  // sum over images of the cross-entropy
  std::int64_t correct = 0, seen = 0;
};

std::string exact(double v) { return fmt::format("{:.17g}", v); }

// The checkpoint metadata value `key`, parsed by `parse`; `kind` names the
// expected type in the error.
template <class Parse>
auto metadata_value(const SafetensorsFile& f, const std::string& path, const std::string& key, const char* kind,
                    Parse parse) {
  const auto it = f.metadata.find(key);
  SXB_REQUIRE(it != f.metadata.end(), path + ": not a sparsexbar checkpoint (no '" + key + "' in __metadata__)");
  try {
    return parse(it->second);
  } catch (const std::exception&) {
    throw Error(path + ": __metadata__ " + key + " = '" + it->second + "' is not " + kind);
  }
}

std::int64_t metadata_int(const SafetensorsFile& f, const std::string& path, const std::string& key) {
  return metadata_value(f, path, key, "an integer", [](const std::string& v) { return std::stoll(v); });
}

double metadata_double(const SafetensorsFile& f, const std::string& path, const std::string& key) {
  return metadata_value(f, path, key, "a number", [](const std::string& v) { return std::stod(v); });
}

// Weights that became non-finite during a step whose loss was still finite
// are not written: an Error naming the position and the tensor.
void check_not_diverged(const SafetensorsFile& f, const std::string& when) {
  for (const auto& [name, t] : f.tensors)
    check_finite_values(t, name, "training diverged " + when + " (lower train.lr)");
}

void write_checkpoint(const std::string& path, nn::Vgg& model, const TrainConfig& c, int epoch, int step,
                      const EpochSums& sums, std::size_t train_images, const std::optional<WctScales>& wct) {
  SafetensorsFile f = model.state_dict();
  check_not_diverged(f, fmt::format("by epoch {}/{} step {}", epoch + 1, c.epochs, step));
  for (nn::Parameter* p : model.parameters()) {
    HostTensor h;
    h.shape.assign(p->momentum.shape().begin(), p->momentum.shape().end());
    h.data = nn::to_host(model.backend(), p->momentum);
    f.tensors[kMomentumPrefix + p->name] = std::move(h);
  }
  f.metadata["kind"] = "sparsexbar-checkpoint";
  f.metadata["train_config"] = c.to_json().dump();
  f.metadata["epoch"] = std::to_string(epoch);
  f.metadata["step"] = std::to_string(step);
  f.metadata["train_images"] = std::to_string(train_images);
  f.metadata["epoch_loss_sum"] = exact(sums.loss_sum);
  f.metadata["epoch_correct"] = std::to_string(sums.correct);
  f.metadata["epoch_seen"] = std::to_string(sums.seen);
  f.metadata["git"] = git_revision();
  if (wct) write_wct_metadata(*wct, f);
  write_safetensors(path, f);
}

// The configuration recorded in a checkpoint must equal this run's.
void check_same_config(const SafetensorsFile& f, const std::string& path, const nlohmann::json& now) {
  const auto it = f.metadata.find("train_config");
  SXB_REQUIRE(it != f.metadata.end(), path + ": not a sparsexbar checkpoint (no train_config in __metadata__)");
  nlohmann::json then;
  try {
    then = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::parse_error&) {
    throw Error(path + ": __metadata__ train_config is not valid JSON");
  }
  for (const auto& [key, value] : now.items()) {
    const std::string before = then.contains(key) ? then[key].dump() : "(absent)";
    SXB_REQUIRE(before == value.dump(),
                fmt::format("{}: the checkpoint was written with {} = {}, this run has {} = {}; resume with the "
                            "original settings (or start afresh instead of resuming)",
                            path, key, before, key, value.dump()));
  }
}

}  // namespace

double learning_rate(const TrainConfig& c, std::int64_t global_step, int steps_per_epoch) {
  const std::int64_t warmup = static_cast<std::int64_t>(c.warmup_epochs) * steps_per_epoch;
  if (global_step < warmup) return c.lr * static_cast<double>(global_step + 1) / static_cast<double>(warmup);
  const std::int64_t t = global_step - warmup;
  const int epochs = c.epochs - c.warmup_epochs;
  if (c.schedule == "step") {
    const std::int64_t epoch = t / std::max(steps_per_epoch, 1);
    double lr = c.lr;
    if (epoch >= epochs / 2) lr *= 0.1;
    if (epoch >= epochs * 3 / 4) lr *= 0.1;
    return lr;
  }
  const double total = static_cast<double>(epochs) * steps_per_epoch;
  return 0.5 * c.lr * (1.0 + std::cos(std::numbers::pi * static_cast<double>(t) / total));
}

// Where a training starts: the model (from the checkpoint, from given
// weights, or freshly initialised), its position and, with WCT, kappa and s_ref.
struct TrainStart {
  std::unique_ptr<nn::Vgg> model;
  int epoch = 0, step = 0;
  EpochSums sums;
  std::optional<WctScales> wct;
};

TrainStart start_training(const TrainConfig& config, const Dataset& train_set, nn::Backend& backend,
                          int steps_per_epoch, const std::string& ckpt_path, const nlohmann::json& settings,
                          const std::function<void(const std::string&)>& log) {
  TrainStart start;
  std::unique_ptr<nn::Vgg>& model = start.model;
  int& epoch = start.epoch;
  int& step = start.step;
  EpochSums& sums = start.sums;
  std::optional<WctScales>& wct = start.wct;
  nn::VggConfig model_config;
  model_config.model = config.model;
  model_config.width = config.width;
  model_config.classes = config.classes;
  model_config.dropout = config.dropout;
  const nn::VggRequest request{config.model, config.width, config.classes};
  if (config.resume) {
    SXB_REQUIRE(std::filesystem::exists(ckpt_path),
                ckpt_path + ": no checkpoint to resume from (start afresh instead of resuming)");
    const SafetensorsFile ckpt = read_safetensors(ckpt_path);
    check_same_config(ckpt, ckpt_path, settings);
    SXB_REQUIRE(metadata_int(ckpt, ckpt_path, "train_images") == static_cast<std::int64_t>(train_set.size()),
                Message{Subject{ckpt_path},
                        fmt::format(": the checkpoint was trained on {} images, ", ckpt.metadata.at("train_images")),
                        Key{"train.data"}, fmt::format(" {} has {}", config.data, train_set.size())});
    model_config = nn::vgg_config_for_file(ckpt, ckpt_path, request, true);
    model = std::make_unique<nn::Vgg>(model_config, backend);
    model->prepare_training();
    SafetensorsFile weights = ckpt;
    for (nn::Parameter* p : model->parameters()) {
      const std::string name = kMomentumPrefix + p->name;
      const auto it = weights.tensors.find(name);
      SXB_REQUIRE(it != weights.tensors.end(), ckpt_path + ": missing tensor '" + name + "'");
      SXB_REQUIRE(it->second.numel() == static_cast<std::int64_t>(p->momentum.numel()),
                  ckpt_path + ": tensor '" + name + "' has the wrong size");
      backend.upload(it->second.data.data(), p->momentum);
      weights.tensors.erase(it);
    }
    model->load_state_dict(weights, ckpt_path);
    epoch = static_cast<int>(metadata_int(ckpt, ckpt_path, "epoch"));
    step = static_cast<int>(metadata_int(ckpt, ckpt_path, "step"));
    SXB_REQUIRE(epoch >= 0 && epoch <= config.epochs && step >= 0 && step < steps_per_epoch,
                fmt::format("{}: position epoch {} step {} is outside this run", ckpt_path, epoch, step));
    sums.loss_sum = metadata_double(ckpt, ckpt_path, "epoch_loss_sum");
    sums.correct = metadata_int(ckpt, ckpt_path, "epoch_correct");
    sums.seen = metadata_int(ckpt, ckpt_path, "epoch_seen");
    // WCT keeps the s_ref it started with (not max|W| of the clamped weights).
    wct = read_wct_metadata(ckpt, ckpt_path);
    SXB_REQUIRE(wct.has_value() == (config.wct_kappa > 0.0),
                wct ? Message{Subject{ckpt_path}, ": the checkpoint was written with ", Key{"train.wct_kappa"},
                              fmt::format(" {}, this run has none; resume with the original settings", wct->kappa)}
                    : Message{Subject{ckpt_path},
                              ": the checkpoint has no weight-constrained training metadata (wct_kappa, wct_scales)"});
    if (wct) check_wct_layers(*wct, model->weight_layers());
    log(fmt::format("resuming from {} at epoch {}/{}, step {}/{}", ckpt_path, epoch + 1, config.epochs, step,
                    steps_per_epoch));
  } else {
    const Normalization norm = channel_statistics(train_set);
    model_config.input_mean = norm.mean;
    model_config.input_std = norm.std;
    if (config.init_weights.empty()) {
      model = std::make_unique<nn::Vgg>(model_config, backend);
      model->init(counter_hash(config.seed, kInitDraws, 0, 0));
      if (config.wct_kappa > 0.0)
        wct = start_wct(*model, config.wct_kappa, std::nullopt,
                        fmt::format("the random initialisation (seed {})", config.seed));
    } else {
      // Fine-tuning keeps the input normalisation the weights were trained with.
      const SafetensorsFile init = read_safetensors(config.init_weights);
      if (init.metadata.count("input_mean") && init.metadata.count("input_std"))
        model_config = nn::vgg_config_for_file(init, config.init_weights, request, true);
      model_config.dropout = config.dropout;
      model = std::make_unique<nn::Vgg>(model_config, backend);
      model->load_state_dict(init, config.init_weights);
      if (config.wct_kappa > 0.0)
        wct = start_wct(*model, config.wct_kappa, read_wct_metadata(init, config.init_weights), config.init_weights);
    }
    model->prepare_training();
  }
  return start;
}

// The end of an epoch: its record (with the test accuracy when there is a
// test set), the checkpoint at the start of the next epoch, and a log line.
EpochRecord finish_epoch(nn::Vgg& net, const TrainConfig& config, const Dataset& train_set, const Dataset& test_set,
                         const Normalization& norm, const std::string& ckpt_path, const std::optional<WctScales>& wct,
                         int epoch, double lr, const EpochSums& sums, double seconds, std::int64_t images,
                         TrainResult& result, const std::function<void(const std::string&)>& log) {
  EpochRecord rec;
  rec.epoch = epoch + 1;
  rec.lr = lr;
  rec.train_loss = sums.loss_sum / sums.seen;
  rec.train_accuracy = static_cast<double>(sums.correct) / sums.seen;
  rec.seconds = seconds;
  rec.images_per_second = images / std::max(rec.seconds, 1e-9);
  std::string test_text;
  if (test_set.size() > 0) {
    const EvalResult ev = evaluate(net, test_set, norm);
    rec.test_loss = ev.loss;
    rec.test_accuracy = ev.accuracy;
    result.test_loss = ev.loss;
    result.test_accuracy = ev.accuracy;
    test_text = fmt::format(" | test loss {:.4f} acc {:.2f}%", ev.loss, 100.0 * ev.accuracy);
  }
  write_checkpoint(ckpt_path, net, config, epoch + 1, 0, EpochSums{}, train_set.size(), wct);
  log(fmt::format("epoch {}/{}: train loss {:.4f} acc {:.2f}%{} | {:.1f} s, {:.0f} img/s | checkpoint {}", rec.epoch,
                  config.epochs, rec.train_loss, 100.0 * rec.train_accuracy, test_text, rec.seconds,
                  rec.images_per_second, ckpt_path));
  return rec;
}

// The trained model with its settings, revision, WCT and test accuracy in __metadata__.
void write_trained_model(nn::Vgg& net, const TrainConfig& config, const nlohmann::json& settings,
                         const Dataset& test_set, const std::optional<WctScales>& wct, TrainResult& result) {
  if (result.epochs.empty() && test_set.size() > 0) {  // resumed a finished run
    const EvalResult ev = evaluate(net, test_set, normalization_of(net.config()));
    result.test_loss = ev.loss;
    result.test_accuracy = ev.accuracy;
  }
  SafetensorsFile f = net.state_dict();
  check_not_diverged(f, fmt::format("by the end of epoch {}", config.epochs));
  f.metadata["train_config"] = settings.dump();
  f.metadata["git"] = git_revision();
  if (wct) write_wct_metadata(*wct, f);
  if (test_set.size() > 0) {
    f.metadata["test_data"] = test_set.source;
    f.metadata["test_accuracy"] = exact(result.test_accuracy);
    f.metadata["test_loss"] = exact(result.test_loss);
  }
  write_safetensors(config.out, f);
  result.model_path = config.out;
}

// `config` checked, with its classes completed from the data (0: the
// training set's), which must hold every label.
TrainConfig checked_for_data(const TrainConfig& config_in, const Dataset& train_set, const Dataset& test_set) {
  TrainConfig config = config_in;
  config.check();
  SXB_REQUIRE(train_set.size() > 0, "the training set is empty");
  int max_label = 0;
  for (int label : train_set.labels) max_label = std::max(max_label, label);
  for (int label : test_set.labels) max_label = std::max(max_label, label);
  if (config.classes == 0) config.classes = std::max(train_set.num_classes, max_label + 1);
  SXB_REQUIRE(max_label < config.classes, Message{fmt::format("the data has label {}, but ", max_label),
                                                  Key{"train.classes"}, fmt::format(" is {}", config.classes)});
  return config;
}

// The device tensors of one step, reused from step to step.
struct StepTensors {
  nn::Tensor x, labels, dlogits;
};

// One SGD step on `batch` at learning rate `lr`: forward, loss, backward, the
// update of every parameter (masked ones stay zero) and the WCT clamp.
nn::LossResult train_step(nn::Vgg& net, nn::Backend& backend, const HostBatch& batch, StepTensors& t,
                          const TrainConfig& config, std::int64_t global_step, int steps_per_epoch,
                          std::uint64_t dropout_seed, double lr, const std::optional<WctScales>& wct) {
  const int n = batch.size;
  nn::ensure_shape(backend, t.x, {n, kImageChannels, kImageSize, kImageSize});
  nn::ensure_shape(backend, t.labels, {n}, nn::DType::I32);
  backend.upload(batch.images.data(), t.x);
  backend.upload(batch.labels.data(), t.labels);
  const nn::Tensor& logits = net.forward(t.x, {nn::Mode::Train, dropout_seed, static_cast<std::uint64_t>(global_step)});
  nn::ensure_shape(backend, t.dlogits, logits.shape());
  const nn::LossResult loss = backend.softmax_cross_entropy(logits, t.labels, &t.dlogits);
  SXB_REQUIRE(std::isfinite(loss.loss),
              Message{fmt::format("training diverged: the loss is {} at epoch {}/{} step {}/{} (lr {:.4g}); nothing "
                                  "was written for this step, lower ",
                                  loss.loss, batch.epoch + 1, config.epochs, batch.step + 1, steps_per_epoch, lr),
                      Key{"train.lr"}});
  net.backward(t.dlogits);
  nn::SgdParams sgd{static_cast<float>(lr), static_cast<float>(config.momentum),
                    static_cast<float>(config.weight_decay), config.nesterov};
  for (nn::Parameter* p : net.parameters())
    backend.sgd_step(sgd, p->value, p->grad, &p->momentum, p->mask.empty() ? nullptr : &p->mask);
  if (wct) apply_wct_clamp(net, *wct);
  return loss;
}

TrainResult train(const TrainConfig& config_in, const Dataset& train_set, const Dataset& test_set, nn::Backend& backend,
                  const TrainHooks& hooks) {
  const auto t_start = Clock::now();
  const TrainConfig config = checked_for_data(config_in, train_set, test_set);
  auto log = log_or_stderr(hooks.log);

  const int steps_per_epoch = static_cast<int>((train_set.size() + config.batch - 1) / config.batch);
  const std::string ckpt_path = checkpoint_path(config.out);
  const nlohmann::json settings = config.to_json();

  TrainStart start = start_training(config, train_set, backend, steps_per_epoch, ckpt_path, settings, log);
  std::unique_ptr<nn::Vgg> model = std::move(start.model);
  int epoch = start.epoch, step = start.step;
  EpochSums sums = start.sums;
  const std::optional<WctScales> wct = start.wct;
  nn::Vgg& net = *model;
  if (wct)
    log(fmt::format("weight-constrained training: |w| <= {} * s_ref per mapped layer, s_ref = {}", wct->kappa,
                    wct->origin));
  if (hooks.on_model) hooks.on_model(net);
  const Normalization norm = normalization_of(net.config());
  const std::uint64_t dropout_seed = counter_hash(config.seed, kDropoutDraws, 0, 0);
  log(fmt::format("training {} width {} ({} classes, {} parameters) on {} ({} images), {} epochs of {} steps, "
                  "batch {}, lr {} {}, backend {}",
                  config.model, config.width, config.classes,
                  [&] {
                    std::size_t n = 0;
                    for (nn::Parameter* p : net.parameters()) n += p->value.numel();
                    return n;
                  }(),
                  train_set.source, train_set.size(), config.epochs, steps_per_epoch, config.batch, config.lr,
                  config.schedule, backend.describe()));

  TrainResult result;
  result.checkpoint = ckpt_path;
  StepTensors tensors;
  BatchPrefetcher batches(train_set, norm, config.seed, config.batch, epoch, step, config.epochs, config.prefetch);
  const std::int64_t total_images = static_cast<std::int64_t>(config.epochs) * static_cast<std::int64_t>(train_set.size());
  const std::int64_t first_image = static_cast<std::int64_t>(epoch) * static_cast<std::int64_t>(train_set.size()) +
                                   static_cast<std::int64_t>(step) * config.batch;
  std::int64_t images_this_run = 0;
  auto t_last_log = Clock::now();
  auto t_epoch = Clock::now();
  std::int64_t epoch_images_this_run = 0;

  while (std::optional<HostBatch> batch = batches.next()) {
    SXB_REQUIRE(batch->epoch == epoch && batch->step == step, "internal error: batch out of order");
    const int n = batch->size;
    const std::int64_t global_step = static_cast<std::int64_t>(epoch) * steps_per_epoch + step;
    const double lr = learning_rate(config, global_step, steps_per_epoch);
    const nn::LossResult loss =
        train_step(net, backend, *batch, tensors, config, global_step, steps_per_epoch, dropout_seed, lr, wct);
    if (hooks.after_step)
      hooks.after_step(net, StepInfo{epoch, step, steps_per_epoch, global_step, lr, loss.loss, n, loss.correct});

    sums.loss_sum += loss.loss * n;
    sums.correct += loss.correct;
    sums.seen += n;
    images_this_run += n;
    epoch_images_this_run += n;
    ++step;
    const double elapsed = seconds_since(t_start);
    if (seconds_since(t_last_log) >= kProgressSeconds) {
      t_last_log = Clock::now();
      const double rate = images_this_run / std::max(elapsed, 1e-9);
      const double left = static_cast<double>(total_images - first_image - images_this_run) / rate;
      log(fmt::format("epoch {}/{}  step {}/{}  loss {:.4f}  acc {:.2f}%  lr {:.4g}  {:.0f} img/s  ETA {}", epoch + 1,
                      config.epochs, step, steps_per_epoch, sums.loss_sum / sums.seen,
                      100.0 * sums.correct / sums.seen, lr, rate, format_duration(left)));
    }

    bool checkpoint_written = false;
    if (step == steps_per_epoch) {
      result.epochs.push_back(finish_epoch(net, config, train_set, test_set, norm, ckpt_path, wct, epoch, lr, sums,
                                           seconds_since(t_epoch), epoch_images_this_run, result, log));
      ++epoch;
      step = 0;
      sums = EpochSums{};
      checkpoint_written = true;
      t_epoch = Clock::now();
      epoch_images_this_run = 0;
    }
    if (hooks.stop_requested && hooks.stop_requested()) {
      if (!checkpoint_written) write_checkpoint(ckpt_path, net, config, epoch, step, sums, train_set.size(), wct);
      result.interrupted = true;
      break;
    }
  }

  result.epoch = epoch;
  result.step = step;
  if (!result.interrupted) write_trained_model(net, config, settings, test_set, wct, result);
  result.seconds = seconds_since(t_start);
  result.model = std::move(model);
  result.wct = wct;
  return result;
}

}  // namespace sxb
