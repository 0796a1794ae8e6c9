// The settings of training (SgdSettings, TrainConfig): their keys, checks
// and JSON form (engine/training/train.h).
#include <fmt/format.h>

#include <cmath>

#include "engine/crossbar/wct.h"
#include "engine/io/json_keys.h"
#include "engine/training/train.h"
#include "kernels/common/error.h"

namespace sxb {

void SgdSettings::read_keys(Keys& k) {
  k.integer("batch", batch, 1, 65536);
  k.number("lr", lr);
  k.text("schedule", schedule);
  k.flag("nesterov", nesterov);
  k.number("momentum", momentum);
  k.number("weight_decay", weight_decay);
  k.integer("seed", seed);
}

void SgdSettings::write_keys(nlohmann::json& j) const {
  j["batch"] = batch;
  j["lr"] = lr;
  j["schedule"] = schedule;
  j["nesterov"] = nesterov;
  j["momentum"] = momentum;
  j["weight_decay"] = weight_decay;
  j["seed"] = seed;
}

void SgdSettings::check(const std::string& path) const {
  const std::string p = path.empty() ? "" : path + ".";
  SXB_REQUIRE(batch >= 1 && batch <= 65536, Message{Key{p + "batch"}, fmt::format(" {} is not in 1..65536", batch)});
  SXB_REQUIRE(std::isfinite(lr) && lr > 0.0 && lr <= kMaxLearningRate,
              Message{Key{p + "lr"}, fmt::format(" {} is not in (0, {}]", lr, kMaxLearningRate)});
  SXB_REQUIRE(schedule == "cosine" || schedule == "step",
              Message{Key{p + "schedule"}, fmt::format(" '{}' is not one of cosine, step", schedule)});
  SXB_REQUIRE(std::isfinite(momentum) && momentum >= 0.0 && momentum < 1.0,
              Message{Key{p + "momentum"}, fmt::format(" {} is not in [0, 1)", momentum)});
  SXB_REQUIRE(!nesterov || momentum > 0.0, Message{Key{p + "nesterov"}, " needs ", Key{p + "momentum"}, " > 0"});
  SXB_REQUIRE(std::isfinite(weight_decay) && weight_decay >= 0.0 && weight_decay <= kMaxWeightDecay,
              Message{Key{p + "weight_decay"}, fmt::format(" {} is not in [0, {}]", weight_decay, kMaxWeightDecay)});
  SXB_REQUIRE(seed <= kMaxJsonInteger, Message{Key{p + "seed"}, fmt::format(" {} is not in 0..2^53", seed)});
}

void TrainConfig::check(const std::string& path) const {
  const std::string p = path.empty() ? "" : path + ".";
  SXB_REQUIRE(model == "vgg11" || model == "vgg16",
              Message{Key{p + "model"}, fmt::format(" '{}' is not one of vgg11, vgg16", model)});
  SXB_REQUIRE(std::isfinite(width) && width > 0.0 && width <= nn::kMaxWidth,
              Message{Key{p + "width"}, fmt::format(" {} is not in (0, {}]", width, nn::kMaxWidth)});
  SXB_REQUIRE(classes >= 0 && classes <= 100000,
              Message{Key{p + "classes"}, fmt::format(" {} is not in 1..100000", classes)});
  SXB_REQUIRE(dropout >= 0.0f && dropout < 1.0f,
              Message{Key{p + "dropout"}, fmt::format(" {} is not in [0, 1)", dropout)});
  SXB_REQUIRE(epochs >= 1 && epochs <= 100000,
              Message{Key{p + "epochs"}, fmt::format(" {} is not in 1..100000", epochs)});
  SgdSettings::check(path);
  SXB_REQUIRE(warmup_epochs >= 0 && warmup_epochs < epochs,
              Message{Key{p + "warmup_epochs"}, fmt::format(" {} is not in 0..epochs - 1 ({})", warmup_epochs,
                                                             epochs - 1)});
  SXB_REQUIRE(threads >= 0 && threads <= 4096,
              Message{Key{p + "threads"}, fmt::format(" {} is not in 0..4096 (0: all cores)", threads)});
  SXB_REQUIRE(prefetch >= 0 && prefetch <= 64,
              Message{Key{p + "prefetch"}, fmt::format(" {} is not in 0..64", prefetch)});
  if (wct_kappa != 0.0) check_wct_kappa(wct_kappa, p + "wct_kappa");
  SXB_REQUIRE(!out.empty(), Message{Key{p + "out"}, " (the trained model's path) is required"});
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j = {{"model", model},   {"width", width}, {"classes", classes},
                      {"dropout", dropout}, {"data", data},   {"epochs", epochs},
                      {"init_weights", init_weights}};
  write_keys(j);
  if (wct_kappa > 0.0) j["wct_kappa"] = wct_kappa;  // absent when off: earlier checkpoints still resume
  if (warmup_epochs > 0) j["warmup_epochs"] = warmup_epochs;  // the same
  return j;
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j, const std::string& path, const std::string& context) {
  TrainConfig c;
  Keys k(j, path, context);
  k.text("model", c.model);
  k.number("width", c.width);
  k.integer("classes", c.classes, 0, 100000);
  k.number("dropout", c.dropout);
  k.text("data", c.data);
  k.integer("epochs", c.epochs, 1, 100000);
  k.integer("warmup_epochs", c.warmup_epochs, 0, 100000);
  c.read_keys(k);
  k.number("wct_kappa", c.wct_kappa);
  k.text("init_weights", c.init_weights);
  k.done();
  return c;
}

std::string strip_safetensors(const std::string& path) {
  const std::string ext = ".safetensors";
  const bool has_ext = path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
  return has_ext ? path.substr(0, path.size() - ext.size()) : path;
}

std::string checkpoint_path(const std::string& out) { return strip_safetensors(out) + ".ckpt.safetensors"; }

}  // namespace sxb
