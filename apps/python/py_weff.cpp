// effective_weights: `sparsexbar weff` in memory (engine/crossbar/state_dict_weff.h).
// Tensors arrive as (dtype, shape, contiguous array) with their safetensors
// dtype names and leave the same way, as bytes in a uint8 array; the package's
// Python side turns them into and out of NumPy (and torch) tensors. Also the
// safetensors files themselves (read and written by the engine's reader and
// writer), for state dicts kept on disk.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <fmt/format.h>

#include <cstring>
#include <optional>

#include "apps/python/py_common.h"
#include "engine/crossbar/layout_file.h"
#include "engine/crossbar/state_dict_weff.h"

namespace sxb::python {
namespace {

RawTensor raw_tensor(const std::string& name, py::handle entry) {
  const auto t = entry.cast<py::tuple>();
  if (t.size() != 3) throw py::value_error(fmt::format("tensor '{}': expected (dtype, shape, array)", name));
  RawTensor r;
  r.dtype = t[0].cast<std::string>();
  r.shape = t[1].cast<std::vector<std::int64_t>>();
  const auto a = py::array::ensure(t[2], py::array::c_style);
  if (!a) throw py::type_error(fmt::format("tensor '{}': expected a contiguous array", name));
  r.bytes.assign(static_cast<const char*>(a.data()), static_cast<std::size_t>(a.nbytes()));
  const int size = safetensors_dtype_size(r.dtype);
  if (size > 0 && static_cast<std::int64_t>(r.bytes.size()) != r.numel() * size)
    throw py::value_error(fmt::format("tensor '{}': {} bytes for shape {} of {}", name, r.bytes.size(),
                                      py::str(t[1]).cast<std::string>(), r.dtype));
  return r;
}

RawSafetensors raw_file(py::dict tensors, py::dict metadata) {
  RawSafetensors f;
  for (const auto& [key, value] : tensors) {
    const std::string name = key.cast<std::string>();
    f.tensors.emplace(name, raw_tensor(name, value));
  }
  for (const auto& [key, value] : metadata) f.metadata[key.cast<std::string>()] = value.cast<std::string>();
  return f;
}

py::dict tensors_of(const RawSafetensors& f) {
  py::dict out;
  for (const auto& [name, t] : f.tensors) {
    py::array_t<std::uint8_t> bytes(static_cast<py::ssize_t>(t.bytes.size()));
    if (!t.bytes.empty()) std::memcpy(bytes.mutable_data(), t.bytes.data(), t.bytes.size());
    out[py::str(name)] = py::make_tuple(t.dtype, t.shape, bytes);
  }
  return out;
}

py::tuple effective(py::dict tensors, py::dict metadata, py::dict config, const std::vector<std::string>& calibrations,
                    const std::string& include, const std::string& exclude, const std::map<std::string, int>& groups,
                    std::optional<std::string> layout, std::optional<std::pair<int, int>> tile, const std::string& backend,
                    py::object log, const std::string& source) {
  StateDictWeffOptions o;
  o.crossbar = crossbar_config(config);
  if (layout) {
    o.layout = read_layout_file(*layout);
    o.crossbar.tile_rows = o.layout->tile_rows;  // a packed layout fixes the tile size
    o.crossbar.tile_cols = o.layout->tile_cols;
  }
  if (tile) {
    o.crossbar.tile_rows = tile->first;
    o.crossbar.tile_cols = tile->second;
  }
  o.crossbar.check("CrossbarConfig");
  for (const std::string& c : calibrations) o.calibrations.push_back(parse_calibration(c, "calibration"));
  if (!o.calibrations.empty()) o.crossbar.calibration = o.calibrations.front();  // as --set calibration=...
  o.include = include;
  o.exclude = exclude;
  o.groups = groups;
  o.backend = backend_named(backend);
  o.log = python_log(log);
  const RawSafetensors in = raw_file(tensors, metadata);
  const StateDictWeff r = run_released([&] { return state_dict_weff(in, source, o); });
  py::list files;
  files.append(tensors_of(r.file));
  for (const RawSafetensors& f : r.other_files) files.append(tensors_of(f));
  return py::make_tuple(files, python_of(to_json(r, source, o)));
}

}  // namespace

void bind_weff(py::module_& m) {
  m.def("effective_weights", &effective, py::arg("tensors"), py::arg("metadata"), py::arg("config"),
        py::arg("calibrations"), py::arg("include"), py::arg("exclude"), py::arg("groups"), py::arg("layout"),
        py::arg("tile"), py::arg("backend"), py::arg("log"), py::arg("source"),
        "W_eff of a state dict {name: (dtype, shape, array)}: ([state dict per calibration], report)");
  m.def(
      "read_safetensors",
      [](const std::string& path) {
        const RawSafetensors f = read_safetensors_raw(path);
        py::dict metadata;
        for (const auto& [k, v] : f.metadata) metadata[py::str(k)] = v;
        return py::make_tuple(tensors_of(f), metadata);
      },
      py::arg("path"), "({name: (dtype, shape, bytes)}, metadata) of a safetensors file");
  m.def(
      "write_safetensors",
      [](const std::string& path, py::dict tensors, py::dict metadata) {
        write_safetensors_raw(path, raw_file(tensors, metadata));
      },
      py::arg("path"), py::arg("tensors"), py::arg("metadata"), "Writes {name: (dtype, shape, array)} atomically");
}

}  // namespace sxb::python
