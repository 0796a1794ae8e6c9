// The crossbar configuration: the same keys, presets and checks as the JSON
// file (engine/crossbar/crossbar_config.h). Python's CrossbarConfig keeps the
// complete dict these return and hands it back to every call.
#include <pybind11/stl.h>

#include "apps/python/py_common.h"

namespace sxb::python {

void bind_config(py::module_& m) {
  m.def(
      "crossbar_config",
      [](py::dict keys) { return python_of(crossbar_config(keys).to_json()); }, py::arg("keys"),
      "Every key of the configuration that `keys` (\"preset\" first, then the others) gives; Error naming a bad key");
  m.def(
      "read_crossbar_config", [](const std::string& path) { return python_of(read_crossbar_config(path).to_json()); },
      py::arg("path"), "The configuration of a JSON file, as crossbar_config returns it");
  m.def("crossbar_presets", &crossbar_presets, "The presets' names, in documentation order");
}

}  // namespace sxb::python
