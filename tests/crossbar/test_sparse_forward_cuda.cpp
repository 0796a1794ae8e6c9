// The CUDA sparse (cuSPARSE CSR) layer path against the CPU one, for conv2d
// and linear. Skipped (never passed) without a usable GPU.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/common/error.h"
#include "models/nn_backend.h"
#include "tests/support/random_values.h"
#include "tests/support/skip.h"

namespace sxb::nn {
namespace {

using test_support::random_values;
using test_support::relative_error;
using test_support::sparsify;

constexpr double kTol = 1e-5;

class SparseForwardCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    SXB_SKIP_UNLESS_USABLE(cuda_nn_capability());
    cpu_ = make_cpu_backend();
    gpu_ = make_cuda_backend();
  }
  std::unique_ptr<Backend> cpu_, gpu_;
};

TEST_F(SparseForwardCuda, ConvMatchesCpu) {
  for (const double density : {0.0, 0.05, 0.3, 1.0}) {
    const Conv2dShape s{5, 12, 9, 9, 20, 3, 3, 1, 1};
    const int rows = 20, cols = 12 * 9;
    auto w = random_values(static_cast<std::size_t>(rows) * cols, 1);
    sparsify(w, density, 2);
    const auto x = random_values(5 * 12 * 9 * 9, 3);
    const auto bias = random_values(rows, 4);
    std::vector<std::vector<float>> out;
    for (Backend* b : {cpu_.get(), gpu_.get()}) {
      const Tensor tx = from_host(*b, {5, 12, 9, 9}, x), tb = from_host(*b, {rows}, bias);
      Tensor y = b->empty({5, rows, 9, 9});
      b->conv2d_forward_sparse(s, tx, sparse_from_dense(*b, w.data(), rows, cols), &tb, y);
      out.push_back(to_host(*b, y));
    }
    EXPECT_LE(relative_error(out[1], out[0]), kTol) << "density " << density;
  }
}

TEST_F(SparseForwardCuda, LinearMatchesCpu) {
  const LinearShape s{7, 64, 10};
  auto w = random_values(640, 5);
  sparsify(w, 0.25, 6);
  const auto x = random_values(7 * 64, 7);
  const auto bias = random_values(10, 8);
  std::vector<std::vector<float>> out;
  for (Backend* b : {cpu_.get(), gpu_.get()}) {
    const Tensor tx = from_host(*b, {7, 64}, x), tb = from_host(*b, {10}, bias);
    Tensor y = b->empty({7, 10});
    b->linear_forward_sparse(s, tx, sparse_from_dense(*b, w.data(), 10, 64), &tb, y);
    out.push_back(to_host(*b, y));
  }
  EXPECT_LE(relative_error(out[1], out[0]), kTol);
}

}  // namespace
}  // namespace sxb::nn
