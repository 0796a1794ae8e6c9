// What the bindings share: Python values <-> JSON, the crossbar configuration
// and solver choice from Python arguments, and running engine work without the
// GIL while Ctrl-C and Python callbacks still reach it.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/crossbar_config.h"

namespace sxb::python {

namespace py = pybind11;

// A Python exception is pending (set by PyErr_CheckSignals or a callback):
// unwinds the engine, which catches only sxb::Error, back to run_released.
struct PythonRaised {};

// None, bool, int, float, str, and lists and dicts of them, as JSON; numbers
// that are not Python's own (NumPy scalars) through __index__ or __float__.
// TypeError naming `where` for anything else.
nlohmann::json json_of(py::handle value, const std::string& where);
// JSON as Python values (dicts, lists, numbers, strings).
py::object python_of(const nlohmann::json& j);

// The configuration of a dict of keys, through crossbar_config_from_json (the
// JSON file's keys and checks); errors name the key.
CrossbarConfig crossbar_config(py::handle keys);
Backend backend_named(const std::string& name);

// Without the GIL: checks for Ctrl-C (PyErr_CheckSignals); throws PythonRaised
// when KeyboardInterrupt (or the signal handler's exception) is pending.
void check_signals();
// A log callback for the engine from a Python callable (None: no lines); it
// takes the GIL for each line and checks for Ctrl-C too.
std::function<void(const std::string&)> python_log(py::object callable);

// Runs f() with the GIL released; a pending Python exception (PythonRaised)
// is raised again once the GIL is back.
template <class F>
auto run_released(F&& f) -> decltype(f()) {
  try {
    py::gil_scoped_release release;
    return f();
  } catch (const PythonRaised&) {
    throw py::error_already_set();
  }
}

void bind_config(py::module_& m);
void bind_tiles(py::module_& m);
void bind_weff(py::module_& m);
void bind_evaluate(py::module_& m);

}  // namespace sxb::python
