// The sweep's small dense kernels against naive loops.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <vector>

#include "kernels/tile/cpu/dense_small.h"
#include "tests/test_helpers.h"

namespace sxb::cpu {
namespace {

using Matrix = std::vector<double>;  // column-major n x m

Matrix random_matrix(int n, int m, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Matrix a(static_cast<std::size_t>(n) * m);
  for (double& x : a) x = u(rng);
  return a;
}

Matrix naive_product(int n, int k, int m, const Matrix& A, const Matrix& B, bool transpose_a) {
  Matrix C(static_cast<std::size_t>(n) * m, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j)
      for (int l = 0; l < k; ++l) C[i + j * n] += (transpose_a ? A[l + i * k] : A[i + l * n]) * B[l + j * k];
  return C;
}

// SPD: G^T G + n I.
Matrix spd(int n, std::uint64_t seed) {
  const Matrix G = random_matrix(n, n, seed);
  Matrix A = naive_product(n, n, n, G, G, true);
  for (int i = 0; i < n; ++i) A[i + i * n] += n;
  return A;
}

class DenseSmall : public testing::TestWithParam<int> {};

TEST_P(DenseSmall, MatchNaiveLoops) {
  const int n = GetParam(), m = 7;
  const Matrix A = spd(n, n);
  Matrix L = A;
  ASSERT_TRUE(cholesky_lower(n, L.data()));
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < j; ++i) L[i + j * n] = 0.0;  // keep the factor's lower triangle
  Matrix LLt(static_cast<std::size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) LLt[i + j * n] += L[i + k * n] * L[j + k * n];
  EXPECT_LE(test::max_relative_error(LLt, A), 1e-13);

  const Matrix X0 = random_matrix(n, m, 99);
  Matrix X = X0;
  solve_lower(n, L.data(), X.data(), m, 2.0);  // X = 2 L^{-1} X0
  Matrix back = naive_product(n, n, m, L, X, false);
  for (double& v : back) v *= 0.5;
  EXPECT_LE(test::max_relative_error(back, X0), 1e-13);
  X = X0;
  solve_lower_transposed(n, L.data(), X.data(), m);  // L^T X = X0
  EXPECT_LE(test::max_relative_error(naive_product(n, n, m, L, X, true), X0), 1e-13);

  Matrix inv = A;
  ASSERT_TRUE(invert_spd(n, inv.data()));
  Matrix identity(static_cast<std::size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) identity[i + i * n] = 1.0;
  EXPECT_LE(test::max_relative_error(naive_product(n, n, n, A, inv, false), identity), 1e-13);

  Matrix C(static_cast<std::size_t>(n) * m);
  multiply(n, m, A.data(), X0.data(), C.data());
  EXPECT_LE(test::max_relative_error(C, naive_product(n, n, m, A, X0, false)), 1e-14);

  const Matrix B = random_matrix(n, n, 7);
  Matrix Y = A;
  subtract_gram(n, B.data(), Y.data());
  Matrix expected = naive_product(n, n, n, B, B, true);
  for (std::size_t k = 0; k < expected.size(); ++k) expected[k] = A[k] - expected[k];
  EXPECT_LE(test::max_relative_error(Y, expected), 1e-13);
}

TEST_P(DenseSmall, InverseReadsOnlyTheLowerTriangle) {
  const int n = GetParam();
  const Matrix A = spd(n, n + 1);
  Matrix full = A, lower = A;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < j; ++i) lower[i + j * n] = std::numeric_limits<double>::quiet_NaN();
  ASSERT_TRUE(invert_spd(n, full.data()));
  ASSERT_TRUE(invert_spd(n, lower.data()));
  EXPECT_EQ(full, lower);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) EXPECT_EQ(full[i + j * n], full[j + i * n]);
}

INSTANTIATE_TEST_SUITE_P(Sizes, DenseSmall, testing::Values(1, 3, 8, 15, 16, 17, 33, 64, 100));

TEST(DenseSmall, NotPositiveDefiniteIsReported) {
  Matrix A = {1.0, 2.0, 2.0, 1.0};  // eigenvalues 3, -1
  Matrix B = A;
  EXPECT_FALSE(cholesky_lower(2, A.data()));
  EXPECT_FALSE(invert_spd(2, B.data()));
}

}  // namespace
}  // namespace sxb::cpu
