// Inference with sparse effective weights. The W_eff of a pruned
// layout (XCS, XRS) is zero outside its packed tiles; a layer whose W_eff has
// few enough non-zeros runs as a CSR product on the network backend (the CPU
// kernel of kernels/nn/cpu, cuSPARSE SpMM on CUDA) instead of the dense GEMM.
// The crossover densities are measured by `sparsexbar bench sparse`
// (docs/performance.md).
#pragma once

#include <string>
#include <vector>

namespace sxb {

enum class SparsePath { Auto, Dense, Sparse };

// "auto", "dense" or "sparse"; else an Error naming `field`.
SparsePath parse_sparse_path(const std::string& name, const std::string& field);
std::string to_string(SparsePath p);

// Largest W_eff density (non-zeros / entries) at which the sparse product is
// faster on the network backend named `backend` ("cpu", "cuda").
double sparse_crossover(const std::string& backend);

// Share of non-zero entries (0 for an empty matrix).
double density(const std::vector<float>& matrix);

// Whether a layer of this density runs sparse under `path` on `backend`.
bool use_sparse(SparsePath path, double layer_density, const std::string& backend);

}  // namespace sxb
