// The sparse (CSR) layer path against the dense one: the CPU kernels for
// conv2d and linear, the backend's CSR construction, and a whole network
// evaluated with sparse effective weights (engine/evaluation/sparse_forward.h).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/evaluation/crossbar_eval.h"
#include "engine/evaluation/sparse_forward.h"
#include "engine/data/synthetic.h"
#include "kernels/common/error.h"
#include "kernels/nn/layers.h"
#include "models/nn_backend.h"
#include "models/vgg.h"
#include "tests/support/random_values.h"

namespace sxb {
namespace {

using test_support::random_values;
using test_support::relative_error;
using test_support::sparsify;

constexpr double kTol = 2e-6;  // float re-association of the same products

struct ConvCase {
  nn::Conv2dShape shape;
  double density;
};

TEST(SparseForward, CsrHoldsExactlyTheNonZerosInRowOrder) {
  auto backend = nn::make_cpu_backend();
  const std::vector<float> w = {0, 1.5f, 0, -2, 0, 0, 0, 0, 3, 0, 0, 4};  // 3 x 4
  const nn::SparseWeight s = nn::sparse_from_dense(*backend, w.data(), 3, 4);
  ASSERT_EQ(s.nnz(), 4u);
  const auto* rp = s.row_ptr.data<std::int32_t>();
  const auto* ci = s.col_idx.data<std::int32_t>();
  EXPECT_EQ(std::vector<int>(rp, rp + 4), (std::vector<int>{0, 2, 2, 4}));
  EXPECT_EQ(std::vector<int>(ci, ci + 4), (std::vector<int>{1, 3, 0, 3}));
  EXPECT_EQ(nn::to_host(*backend, s.values), (std::vector<float>{1.5f, -2, 3, 4}));
}

TEST(SparseForward, ConvCsrMatchesDenseConv) {
  auto backend = nn::make_cpu_backend();
  const std::vector<ConvCase> cases = {
      {{3, 8, 10, 9, 16, 3, 3, 1, 1}, 0.3}, {{2, 16, 6, 6, 7, 3, 3, 1, 1}, 0.05},
      {{2, 5, 7, 7, 4, 1, 1, 0, 1}, 0.5},   {{2, 4, 9, 9, 6, 3, 3, 0, 2}, 1.0},
      {{1, 4, 5, 5, 3, 3, 3, 1, 1}, 0.0}};
  std::uint64_t seed = 10;
  for (const ConvCase& c : cases) {
    const nn::Conv2dShape& s = c.shape;
    const int rows = s.out_channels, cols = s.in_channels * s.kernel_h * s.kernel_w;
    auto w = random_values(static_cast<std::size_t>(rows) * cols, ++seed);
    sparsify(w, c.density, ++seed);
    const auto x = random_values(static_cast<std::size_t>(s.batch) * s.in_channels * s.height * s.width, ++seed);
    const auto bias = random_values(static_cast<std::size_t>(rows), ++seed);
    const std::size_t y_size = static_cast<std::size_t>(s.batch) * rows * s.out_height() * s.out_width();
    std::vector<float> dense(y_size), sparse(y_size, 1e30f);
    nn::cpu::conv2d_forward(s, x.data(), w.data(), bias.data(), dense.data());
    const nn::SparseWeight sw = nn::sparse_from_dense(*backend, w.data(), rows, cols);
    const nn::CsrView view{rows, cols, sw.nnz(), sw.row_ptr.data<std::int32_t>(), sw.col_idx.data<std::int32_t>(),
                           sw.values.data<float>()};
    nn::cpu::conv2d_forward_csr(s, x.data(), view, bias.data(), sparse.data());
    EXPECT_LE(relative_error(sparse, dense), kTol) << "density " << c.density << ", out " << rows;
  }
}

TEST(SparseForward, LinearCsrMatchesDenseLinearThroughTheBackend) {
  auto b = nn::make_cpu_backend();
  const nn::LinearShape s{5, 37, 11};
  auto w = random_values(37 * 11, 3);
  sparsify(w, 0.2, 4);
  const nn::Tensor x = nn::from_host(*b, {5, 37}, random_values(5 * 37, 5));
  const nn::Tensor bias = nn::from_host(*b, {11}, random_values(11, 6));
  const nn::Tensor dense_w = nn::from_host(*b, {11, 37}, w);
  nn::Tensor y_dense = b->empty({5, 11}), y_sparse = b->empty({5, 11});
  b->linear_forward(s, x, dense_w, &bias, y_dense);
  b->linear_forward_sparse(s, x, nn::sparse_from_dense(*b, w.data(), 11, 37), &bias, y_sparse);
  EXPECT_LE(relative_error(nn::to_host(*b, y_sparse), nn::to_host(*b, y_dense)), kTol);
}

// A packed (pruned) layout leaves W_eff zero outside its tiles: the network
// gives the same predictions and logits on the dense and on the sparse path.
TEST(SparseForward, NetworkOnSparseEffectiveWeightsMatchesDensePath) {
  auto b = nn::make_cpu_backend();
  nn::VggConfig c;
  c.model = "vgg11";
  c.width = 0.125;
  nn::Vgg model(c, *b);
  model.init(3);
  std::vector<LayerEffective> layers;
  std::uint64_t seed = 100;
  for (const MappedLayer& m : mapped_layers(model)) {
    LayerEffective e;
    e.layer = m.layer;
    e.inputs = m.inputs;
    e.outputs = m.outputs;
    e.w_eff = m.matrix;
    sparsify(e.w_eff, 0.15, ++seed);
    layers.push_back(std::move(e));
  }
  const Dataset data = make_synthetic(40, 9);
  std::vector<std::string> sparse_layers, none;
  const EvalResult dense = evaluate_with_weights(model, data, Normalization{}, layers, SparsePath::Dense, &none);
  const EvalResult sparse = evaluate_with_weights(model, data, Normalization{}, layers, SparsePath::Sparse,
                                                  &sparse_layers);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(sparse_layers.size(), layers.size());
  EXPECT_LE(relative_error(sparse.logits, dense.logits), 1e-4);
  EXPECT_EQ(sparse.predicted, dense.predicted);
  // Auto takes the sparse path exactly for the layers at or below the crossover.
  std::vector<std::string> auto_layers, expected;
  for (const LayerEffective& e : layers)
    if (density(e.w_eff) <= sparse_crossover("cpu")) expected.push_back(e.layer);
  (void)evaluate_with_weights(model, data, Normalization{}, layers, SparsePath::Auto, &auto_layers);
  EXPECT_EQ(auto_layers, expected);
}

TEST(SparseForward, PathSelection) {
  EXPECT_EQ(parse_sparse_path("auto", "--sparse"), SparsePath::Auto);
  EXPECT_EQ(parse_sparse_path("dense", "--sparse"), SparsePath::Dense);
  EXPECT_EQ(parse_sparse_path("sparse", "--sparse"), SparsePath::Sparse);
  EXPECT_THROW(parse_sparse_path("csr", "--sparse"), Error);
  EXPECT_TRUE(use_sparse(SparsePath::Sparse, 1.0, "cpu"));
  EXPECT_FALSE(use_sparse(SparsePath::Dense, 0.0, "cpu"));
  EXPECT_TRUE(use_sparse(SparsePath::Auto, 0.0, "cpu"));
  EXPECT_FALSE(use_sparse(SparsePath::Auto, 1.0, "cpu"));
  EXPECT_DOUBLE_EQ(density({0, 1, 0, 2}), 0.5);
  EXPECT_DOUBLE_EQ(density({}), 0.0);
}

}  // namespace
}  // namespace sxb
