// sparsexbar._core: the extension under the Python package sparsexbar
// (apps/python/sparsexbar/__init__.py holds the typed, documented API).
// sxb::Error, the engine's one-line error, becomes sparsexbar.Error, a ValueError.
#include "apps/python/py_common.h"
#include "engine/io/version.h"
#include "kernels/common/error.h"

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  m.doc() = "SparseXbar's engine (use the package sparsexbar, not this module)";
  py::register_exception<sxb::Error>(m, "Error", PyExc_ValueError);
  m.def("version", &sxb::version_line, "The engine's version line");
  sxb::python::bind_config(m);
  sxb::python::bind_tiles(m);
  sxb::python::bind_weff(m);
  sxb::python::bind_evaluate(m);
}
