// evaluate: `sparsexbar evaluate` without its files of output
// (engine/evaluation/model_evaluation.h: evaluate_model_file), returning the
// typed crossbar report as the dict that `evaluate --json` writes.
#include <pybind11/stl.h>

#include <fmt/format.h>

#include <optional>

#include "apps/python/py_common.h"
#include "engine/crossbar/layout_file.h"
#include "engine/evaluation/model_evaluation.h"
#include "models/nn_backend.h"

namespace sxb::python {
namespace {

py::object evaluate(const std::string& model, const std::string& weights, const std::string& data, py::dict config,
                    const std::vector<std::string>& calibrations, std::size_t bn_recalibrate,
                    std::optional<std::string> layout, const std::string& device, const std::string& backend,
                    std::optional<std::string> cache_dir, py::object log) {
  CrossbarEvalOptions eo;
  eo.crossbar = crossbar_config(config);
  eo.backend = backend_named(backend);
  if (layout) {  // a packed layout fixes the tile size
    const NetworkLayout l = read_layout_file(*layout);
    eo.crossbar.tile_rows = l.tile_rows;
    eo.crossbar.tile_cols = l.tile_cols;
  }
  for (std::size_t i = 0; i < calibrations.size(); ++i) {
    eo.evaluation.calibrations.push_back(parse_calibration(calibrations[i], "calibrations"));
    for (std::size_t k = 0; k < i; ++k)
      if (calibrations[k] == calibrations[i])
        throw Error(fmt::format("calibrations: \"{}\" is listed twice", calibrations[i]));
  }
  eo.evaluation.bn_recalibrate = bn_recalibrate;
  eo.cache_dir = cache_dir.value_or("");
  eo.data_source = data;
  eo.log = python_log(log);
  ModelEvalRequest request;
  request.weights = weights;
  request.model = nn::VggRequest{model, std::nullopt, std::nullopt};
  request.layout = layout.value_or("");
  request.options = eo;
  const nlohmann::json report = run_released([&] {
    std::unique_ptr<nn::Backend> net = nn::make_backend(device);
    const Dataset test = load_dataset(data, Split::Test);
    return to_json(evaluate_model_file(request, *net, test).report);
  });
  return python_of(report);
}

}  // namespace

void bind_evaluate(py::module_& m) {
  m.def("evaluate", &evaluate, py::arg("model"), py::arg("weights"), py::arg("data"), py::arg("config"),
        py::arg("calibrations"), py::arg("bn_recalibrate"), py::arg("layout"), py::arg("device"), py::arg("backend"),
        py::arg("cache_dir"), py::arg("log"), "The crossbar report of a model file, as `evaluate --json` writes it");
}

}  // namespace sxb::python
