#include "apps/python/py_common.h"

#include <fmt/format.h>

#include <cmath>

#include "kernels/common/error.h"

namespace sxb::python {

nlohmann::json json_of(py::handle v, const std::string& where) {
  if (v.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
  if (py::isinstance<py::int_>(v)) {
    try {
      return v.cast<long long>();
    } catch (const py::cast_error&) {
      throw py::value_error(fmt::format("{}: {} is too large", where, py::str(v).cast<std::string>()));
    }
  }
  if (py::isinstance<py::float_>(v)) return v.cast<double>();
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::dict>(v)) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [key, value] : v.cast<py::dict>()) {
      if (!py::isinstance<py::str>(key))
        throw py::type_error(fmt::format("{}: keys must be strings, not {}", where, py::repr(key).cast<std::string>()));
      const std::string k = key.cast<std::string>();
      j[k] = json_of(value, where + "." + k);
    }
    return j;
  }
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    nlohmann::json j = nlohmann::json::array();
    std::size_t i = 0;
    for (py::handle item : v) j.push_back(json_of(item, fmt::format("{}[{}]", where, i++)));
    return j;
  }
  if (py::hasattr(v, "__index__")) return json_of(py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr())), where);
  if (py::hasattr(v, "__float__") && !py::hasattr(v, "__len__")) return py::float_(py::reinterpret_borrow<py::object>(v)).cast<double>();
  throw py::type_error(fmt::format("{}: expected a number, string, bool, list or dict, not {}", where,
                                   py::str(py::type::of(v).attr("__name__")).cast<std::string>()));
}

py::object python_of(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(j.get<long long>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(j.get<unsigned long long>());
    case nlohmann::json::value_t::number_float: return py::float_(j.get<double>());
    case nlohmann::json::value_t::string: return py::str(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      py::list out;
      for (const auto& item : j) out.append(python_of(item));
      return out;
    }
    case nlohmann::json::value_t::object: {
      py::dict out;
      for (const auto& [key, value] : j.items()) out[py::str(key)] = python_of(value);
      return out;
    }
    default: return py::none();
  }
}

CrossbarConfig crossbar_config(py::handle keys) {
  if (!py::isinstance<py::dict>(keys)) throw py::type_error("config: expected a dict of crossbar configuration keys");
  return crossbar_config_from_json(json_of(keys, "CrossbarConfig"), "CrossbarConfig");
}

Backend backend_named(const std::string& name) { return parse_backend(name, "backend"); }

void check_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw PythonRaised{};
}

std::function<void(const std::string&)> python_log(py::object callable) {
  if (callable.is_none()) return [](const std::string&) { check_signals(); };
  return [callable](const std::string& line) {
    py::gil_scoped_acquire gil;
    try {
      callable(line);
    } catch (py::error_already_set& e) {
      e.restore();  // pending again; raised once the engine has unwound
      throw PythonRaised{};
    }
    if (PyErr_CheckSignals() != 0) throw PythonRaised{};
  };
}

}  // namespace sxb::python
