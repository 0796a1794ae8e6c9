// The settings of the prune pipeline (PruneRunConfig): keys, checks and JSON
// forms (engine/pruning/pruning_run.h).
#include <fmt/format.h>

#include <cmath>

#include "engine/crossbar/wct.h"
#include "engine/io/json_keys.h"
#include "engine/pruning/pruning_run.h"
#include "kernels/common/error.h"

namespace sxb {

void PruneRunConfig::check(const std::string& path) const {
  const std::string p = path.empty() ? "" : path + ".";
  spec.check(path);
  SXB_REQUIRE(!weights.empty(), Message{Key{p + "weights"}, " (the dense model) is required"});
  SXB_REQUIRE(model.empty() || model == "vgg11" || model == "vgg16",
              Message{Key{p + "model"}, fmt::format(" '{}' is not one of vgg11, vgg16", model)});
  SgdSettings::check(path);
  SXB_REQUIRE(std::isfinite(lambda) && lambda >= 0.0 && lambda <= 10.0,
              Message{Key{p + "lambda"}, fmt::format(" {} is not in [0, 10]", lambda)});
  SXB_REQUIRE(reg_epochs >= 0 && reg_epochs <= 100000,
              Message{Key{p + "reg_epochs"}, fmt::format(" {} is not in 0..100000", reg_epochs)});
  SXB_REQUIRE(finetune_epochs >= 0 && finetune_epochs <= 100000,
              Message{Key{p + "finetune_epochs"}, fmt::format(" {} is not in 0..100000", finetune_epochs)});
  SXB_REQUIRE(std::isfinite(finetune_lr) && finetune_lr >= 0.0 && finetune_lr <= kMaxLearningRate,
              Message{Key{p + "finetune_lr"}, fmt::format(" {} is not in [0, {}] (0: ", finetune_lr, kMaxLearningRate),
                      Key{p + "lr"}, ")"});
  if (dropout)
    SXB_REQUIRE(*dropout >= 0.0f && *dropout < 1.0f,
                Message{Key{p + "dropout"}, fmt::format(" {} is not in [0, 1)", *dropout)});
  if (wct_kappa != 0.0) {
    check_wct_kappa(wct_kappa, p + "wct_kappa");
    SXB_REQUIRE(finetune_epochs > 0, Message{Key{p + "wct_kappa"}, " constrains fine-tuning: it needs ",
                                             Key{p + "finetune_epochs"}, " > 0"});
  }
  SXB_REQUIRE(threads >= 0,
              Message{Key{p + "threads"}, fmt::format(" {} must be non-negative (0: all cores)", threads)});
  SXB_REQUIRE(!out.empty(), Message{Key{p + "out"}, " (the pruned model's path) is required"});
  SXB_REQUIRE(
      strip_safetensors(out) + ".safetensors" != weights && strip_safetensors(out) != strip_safetensors(weights),
      Message{Key{p + "out"}, " " + out + " would overwrite the dense model ", Key{p + "weights"}, " " + weights});
}

nlohmann::json PruneRunConfig::to_json() const {
  nlohmann::json j = {{"method", method_name(spec.method)},
                      {"sparsity", spec.sparsity},
                      {"tile", fmt::format("{}x{}", spec.tile_rows, spec.tile_cols)},
                      {"max_layer_sparsity", spec.max_layer_sparsity},
                      {"prune_first", spec.prune_first},
                      {"prune_classifier", spec.prune_classifier},
                      {"lambda", lambda},
                      {"reg_epochs", reg_epochs},
                      {"finetune_epochs", finetune_epochs},
                      {"finetune_lr", finetune_lr},
                      {"wct_kappa", wct_kappa},
                      {"weights", weights},
                      {"model", model},
                      {"data", data}};
  if (spec.per_layer) j["per_layer"] = spec.layer_targets;
  if (dropout) j["dropout"] = *dropout;
  write_keys(j);
  return j;
}

PruneRunConfig PruneRunConfig::from_json(const nlohmann::json& j, const std::string& path,
                                         const std::string& context) {
  PruneRunConfig c;
  Keys k(j, path, context);
  std::string method = method_name(c.spec.method);
  k.text("method", method);
  try {
    c.spec.method = parse_prune_method(method);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", k.where("method"), e.what()));
  }
  k.number("sparsity", c.spec.sparsity);
  k.tile("tile", c.spec.tile_rows, c.spec.tile_cols);
  k.number("max_layer_sparsity", c.spec.max_layer_sparsity);
  k.flag("prune_first", c.spec.prune_first);
  k.flag("prune_classifier", c.spec.prune_classifier);
  if (const nlohmann::json* x = k.get("per_layer")) {
    SXB_REQUIRE(x->is_object(), k.where("per_layer") + " must be an object {\"layer\": fraction, ...}");
    c.spec.per_layer = true;
    for (const auto& [layer, t] : x->items()) {
      SXB_REQUIRE(t.is_number(), fmt::format("{}: \"{}\" must be a number (got {})", k.where("per_layer"), layer,
                                             t.dump()));
      c.spec.layer_targets[layer] = t.get<double>();
    }
  }
  k.number("lambda", c.lambda);
  k.integer("reg_epochs", c.reg_epochs, 0, 100000);
  k.integer("finetune_epochs", c.finetune_epochs, 0, 100000);
  k.number("finetune_lr", c.finetune_lr);
  k.number("wct_kappa", c.wct_kappa);
  if (k.has("dropout")) {
    float d = 0.0f;
    k.number("dropout", d);
    c.dropout = d;
  }
  c.read_keys(k);
  k.text("weights", c.weights);
  k.text("model", c.model);
  k.text("data", c.data);
  k.done();
  return c;
}

nlohmann::json PruneRunConfig::resume_json() const {
  nlohmann::json j = {{"spec", spec.to_json()},  {"weights", weights},
                      {"model", model},          {"data", data},
                      {"lambda", lambda},        {"reg_epochs", reg_epochs},
                      {"finetune_epochs", finetune_epochs}, {"batch", batch},
                      {"lr", lr},                {"finetune_lr", finetune_lr},
                      {"schedule", schedule},    {"momentum", momentum},
                      {"weight_decay", weight_decay}, {"seed", seed}};
  // Absent at their defaults: earlier runs still resume.
  if (wct_kappa > 0.0) j["wct_kappa"] = wct_kappa;
  if (nesterov) j["nesterov"] = nesterov;
  if (dropout) j["dropout"] = *dropout;
  return j;
}

}  // namespace sxb
