// Batch-norm re-estimation on the CUDA network engine against the CPU one,
// and its determinism there. Skipped (never passed) without a usable GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "engine/data/synthetic.h"
#include "engine/evaluation/bn_reestimation.h"
#include "tests/support/skip.h"

namespace sxb {
namespace {

// Max over layers and channels of |mean difference| / sd and |var difference| / var.
double max_difference(const BatchNormState& a, const BatchNormState& b) {
  double worst = 0.0;
  for (std::size_t l = 0; l < a.layers.size(); ++l)
    for (std::size_t c = 0; c < a.mean[l].size(); ++c) {
      const double var = static_cast<double>(b.var[l][c]) + 1e-12;
      worst = std::max(worst, std::fabs(static_cast<double>(a.mean[l][c]) - b.mean[l][c]) / std::sqrt(var));
      worst = std::max(worst, std::fabs(static_cast<double>(a.var[l][c]) - b.var[l][c]) / var);
    }
  return worst;
}

TEST(BnReestimationCuda, MatchesCpuAndIsDeterministic) {
  SXB_SKIP_UNLESS_USABLE(nn::cuda_nn_capability());
  auto cpu = nn::make_cpu_backend();
  auto gpu = nn::make_cuda_backend();
  nn::VggConfig c;
  c.model = "vgg11";
  c.width = 0.25;
  nn::Vgg on_cpu(c, *cpu), on_gpu(c, *gpu);
  on_cpu.init(3);
  on_gpu.load_state_dict(on_cpu.state_dict(), "copy");
  const Dataset train = make_synthetic(300, 3);
  const Normalization norm = channel_statistics(train);

  reestimate_batchnorm(on_cpu, train, norm, 256, 64);
  const BatchNormState expected = save_batchnorm(on_cpu);
  const BnReestimation first = reestimate_batchnorm(on_gpu, train, norm, 256, 64);
  const BatchNormState got = save_batchnorm(on_gpu);
  EXPECT_LT(max_difference(got, expected), 1e-4);

  restore_batchnorm(on_gpu, first.before);
  reestimate_batchnorm(on_gpu, train, norm, 256, 64);
  const BatchNormState again = save_batchnorm(on_gpu);
  for (std::size_t l = 0; l < got.layers.size(); ++l) {
    EXPECT_EQ(std::memcmp(got.mean[l].data(), again.mean[l].data(), got.mean[l].size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(got.var[l].data(), again.var[l].data(), got.var[l].size() * sizeof(float)), 0);
  }

  restore_batchnorm(on_gpu, first.before);
  reestimate_batchnorm(on_gpu, train, norm, 256, 17);
  EXPECT_LT(max_difference(save_batchnorm(on_gpu), got), 1e-5);
}

}  // namespace
}  // namespace sxb
