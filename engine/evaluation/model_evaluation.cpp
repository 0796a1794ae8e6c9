#include "engine/evaluation/model_evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include <fmt/ranges.h>

#include "engine/crossbar/layout_file.h"
#include "engine/crossbar/wct.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

// A model fine-tuned through the crossbar (engine/training/nonideal_finetune.h)
// records the configuration it was tuned for: a warning when it differs from
// the evaluated one (the preset name aside), else empty.
std::string tuned_crossbar_warning(const SafetensorsFile& file, const std::string& path, const CrossbarConfig& evaluated) {
  const auto it = file.metadata.find("nonideal_crossbar");
  if (it == file.metadata.end()) return "";
  nlohmann::json tuned;
  try {
    tuned = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::parse_error&) {
    return path + ": __metadata__ nonideal_crossbar is not valid JSON";
  }
  nlohmann::json now = evaluated.to_json();
  tuned.erase("preset");
  now.erase("preset");
  if (tuned == now) return "";
  std::vector<std::string> keys;
  for (const auto& [key, value] : now.items())
    if (!tuned.contains(key) || tuned[key] != value) keys.push_back(fmt::format("{} {} (tuned: {})", key, value.dump(), tuned.contains(key) ? tuned[key].dump() : "absent"));
  for (const auto& [key, value] : tuned.items())
    if (!now.contains(key)) keys.push_back(fmt::format("{} absent (tuned: {})", key, value.dump()));
  return fmt::format("{} was fine-tuned for another crossbar configuration; evaluated with {}", path, fmt::join(keys, ", "));
}

}  // namespace

CrossbarEvalResult evaluate_model_file(const ModelEvalRequest& request, nn::Backend& backend, const Dataset& test,
                                       SoftwareMemo* memo) {
  const std::string& path = request.weights;
  std::optional<SafetensorsFile> read;
  if (!request.file) read = read_safetensors(path);
  const SafetensorsFile& file = request.file ? *request.file : *read;
  const nn::VggConfig config = request.config ? *request.config : nn::vgg_config_for_file(file, path, request.model, true);
  CrossbarEvalOptions o = request.options;
  o.model_source = path;
  o.wct = read_wct_metadata(file, path);  // s = s_ref of a WCT model
  check_model_classes(config.classes, test, path);
  nn::Vgg model(config, backend);
  model.load_state_dict(file, path);
  if (!request.layout.empty()) {
    if (!o.layout) o.layout = read_layout_file(request.layout);
    check_layout_for_model(*o.layout, model, request.layout);
  }
  if (!request.unpruned.empty())
    o.reference_crossbars = request.unpruned == path
                                ? dense_crossbars(file, path, o.crossbar.tile_rows, o.crossbar.tile_cols)
                                : dense_crossbars(request.unpruned, o.crossbar.tile_rows, o.crossbar.tile_cols);
  std::optional<Dataset> bn_train;  // the training split, for batch-norm re-estimation
  if ((o.evaluation.bn_recalibrate > 0 || o.crossbar.tile_level()) && !o.bn_train) {
    bn_train = load_dataset(o.data_source.empty() ? test.source : o.data_source, Split::Train);
    o.bn_train = &*bn_train;
  }
  const Normalization norm = normalization_of(config);
  const std::string tuned = tuned_crossbar_warning(file, path, o.crossbar);
  if (!tuned.empty() && o.log) o.log("warning: " + tuned);
  const auto warn = [&tuned](CrossbarEvalResult r) {
    if (!tuned.empty()) r.report.warnings.push_back(tuned);
    return r;
  };
  if (!memo) return warn(evaluate_on_crossbars(model, test, norm, o));
  // The weights file, the data and every setting of the network that changes its software outputs.
  std::string key = fmt::format("{}\n{}\n{} {} {} {} {}/{}/{} {}/{}/{}", path,
                                o.data_source.empty() ? test.source : o.data_source, config.model, config.width,
                                config.classes, test.size(), config.input_mean[0], config.input_mean[1],
                                config.input_mean[2], config.input_std[0], config.input_std[1], config.input_std[2]);
  for (int c : config.channels) key += fmt::format(" {}", c);
  if (memo->key != key) {
    memo->key.clear();
    memo->result = evaluate(model, test, norm);
    memo->key = key;
  }
  return warn(evaluate_on_crossbars(model, test, norm, o, &memo->result));
}

long long dense_crossbars(const std::string& path, int tile_rows, int tile_cols) {
  return dense_crossbars(read_safetensors(path), path, tile_rows, tile_cols);
}

long long dense_crossbars(const SafetensorsFile& f, const std::string& path, int tile_rows, int tile_cols) {
  long long positions = 0;
  for (const auto& [name, t] : f.tensors) {
    const bool conv = name.starts_with("features.") && name.ends_with(".weight") && t.shape.size() == 4;
    if (!conv && name != "classifier.weight") continue;
    SXB_REQUIRE(t.shape.size() == 2 || conv, path + ": tensor " + name + " must be 2-D (out, in) (for the CCR reference)");
    const long long n = t.shape[0], k = t.numel() / std::max<std::int64_t>(1, t.shape[0]);
    positions += ((k + tile_rows - 1) / tile_rows) * ((n + tile_cols - 1) / tile_cols);
  }
  SXB_REQUIRE(positions > 0, path + ": no conv or linear weights found (for the CCR reference)");
  return 2 * positions;
}

}  // namespace sxb
