#include "engine/evaluation/sparse_forward.h"

#include <algorithm>

#include "kernels/common/error.h"

namespace sxb {

namespace {
// CPU: `bench sparse` on the 2-core development VM (docs/performance.md): the
// CSR kernel won on every conv shape at density 0.05, on none at 0.1.
constexpr double kCpuSparseCrossover = 0.05;
// CUDA: not yet measured on a GPU (scripts/gpu-check.sh runs `bench sparse`
// on the cuda device); cuSPARSE SpMM against cuBLAS SGEMM, taken conservatively.
constexpr double kCudaSparseCrossover = 0.02;
}  // namespace

SparsePath parse_sparse_path(const std::string& name, const std::string& field) {
  if (name == "auto") return SparsePath::Auto;
  if (name == "dense") return SparsePath::Dense;
  if (name == "sparse") return SparsePath::Sparse;
  throw Error(field + ": '" + name + "' is not auto, dense or sparse");
}

std::string to_string(SparsePath p) {
  return p == SparsePath::Auto ? "auto" : p == SparsePath::Dense ? "dense" : "sparse";
}

double sparse_crossover(const std::string& backend) {
  if (backend == "cuda") return kCudaSparseCrossover;
  return kCpuSparseCrossover;
}

double density(const std::vector<float>& matrix) {
  if (matrix.empty()) return 0.0;
  const auto nnz = std::count_if(matrix.begin(), matrix.end(), [](float v) { return v != 0.0f; });
  return static_cast<double>(nnz) / static_cast<double>(matrix.size());
}

bool use_sparse(SparsePath path, double layer_density, const std::string& backend) {
  if (path == SparsePath::Auto) return layer_density <= sparse_crossover(backend);
  return path == SparsePath::Sparse;
}

}  // namespace sxb
