#include "engine/evaluation/model_evaluation.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/crossbar/layout_file.h"
#include "engine/crossbar/wct.h"
#include "kernels/common/error.h"

namespace sxb {

CrossbarEvalResult evaluate_model_file(const ModelEvalRequest& request, nn::Backend& backend, const Dataset& test,
                                       SoftwareMemo* memo) {
  const std::string& path = request.weights;
  const SafetensorsFile file = read_safetensors(path);
  const nn::VggConfig config = request.config ? *request.config : nn::vgg_config_for_file(file, path, request.model, true);
  CrossbarEvalOptions o = request.options;
  o.model_source = path;
  o.wct = read_wct_metadata(file, path);  // s = s_ref of a WCT model
  nn::Vgg model(config, backend);
  model.load_state_dict(file, path);
  if (!request.layout.empty()) {
    o.layout = read_layout_file(request.layout);
    check_layout_for_model(*o.layout, model, request.layout);
  }
  if (!request.unpruned.empty())
    o.reference_crossbars = request.unpruned == path
                                ? dense_crossbars(file, path, o.crossbar.tile_rows, o.crossbar.tile_cols)
                                : dense_crossbars(request.unpruned, o.crossbar.tile_rows, o.crossbar.tile_cols);
  std::optional<Dataset> bn_train;  // the training split, for batch-norm re-estimation
  if (o.evaluation.bn_recalibrate > 0 && !o.bn_train) {
    bn_train = load_dataset(o.data_source.empty() ? test.source : o.data_source, Split::Train);
    o.bn_train = &*bn_train;
  }
  const Normalization norm = normalization_of(config);
  if (!memo) return evaluate_on_crossbars(model, test, norm, o);
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
  return evaluate_on_crossbars(model, test, norm, o, &memo->result);
}

long long dense_crossbars(const std::string& path, int tile_rows, int tile_cols) {
  return dense_crossbars(read_safetensors(path), path, tile_rows, tile_cols);
}

long long dense_crossbars(const SafetensorsFile& f, const std::string& path, int tile_rows, int tile_cols) {
  long long positions = 0;
  for (const auto& [name, t] : f.tensors) {
    const bool conv = name.starts_with("features.") && name.ends_with(".weight") && t.shape.size() == 4;
    if (!conv && name != "classifier.weight") continue;
    const long long n = t.shape[0], k = t.numel() / std::max<std::int64_t>(1, t.shape[0]);
    positions += ((k + tile_rows - 1) / tile_rows) * ((n + tile_cols - 1) / tile_cols);
  }
  SXB_REQUIRE(positions > 0, path + ": no conv or linear weights found (for the CCR reference)");
  return 2 * positions;
}

}  // namespace sxb
