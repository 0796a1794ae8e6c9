// The crossbar engine's work on each backend of the network-backend table
// (tests/support/nn_backends.h; cuda in the _gpu binary, SKIPPED without a
// GPU): batch-norm re-estimation on the network backend against its oracle,
// and the scheduler's effective weights on the device's tile solver against
// the reference solver. Tolerances per operation: re-estimated statistics
// 1e-4 (|mean difference| / sd, |var difference| / var), 1e-5 between batch
// sizes, bit for bit run to run; W_eff 1e-6 of the layer's mapping scale
// (fp32 storage), NF sums 1e-9, low-device counts exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/crossbar/scheduler.h"
#include "engine/data/synthetic.h"
#include "engine/evaluation/bn_reestimation.h"
#include "engine/evaluation/crossbar_eval.h"
#include "tests/support/nn_backends.h"

namespace sxb {
namespace {

constexpr double kStatisticsTol = 1e-4, kBatchSizeTol = 1e-5, kWeffTol = 1e-6, kNfTol = 1e-9;

class CrossbarBackends : public test_support::NnBackendPair {};

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

TEST_P(CrossbarBackends, BatchNormReestimationMatchesTheOracleAndIsDeterministic) {
  nn::VggConfig c;
  c.model = "vgg11";
  c.width = 0.125;
  nn::Vgg on_ref(c, *ref_), on_dev(c, *dev_);
  on_ref.init(3);
  on_dev.load_state_dict(on_ref.state_dict(), "copy");
  const Dataset train = make_synthetic(128, 3);
  const Normalization norm = channel_statistics(train);

  // 96 images in batches of 32, then of 17 (a short last batch).
  reestimate_batchnorm(on_ref, train, norm, 96, 32);
  const BatchNormState expected = save_batchnorm(on_ref);
  const BnReestimation first = reestimate_batchnorm(on_dev, train, norm, 96, 32);
  const BatchNormState got = save_batchnorm(on_dev);
  EXPECT_LT(max_difference(got, expected), kStatisticsTol);

  restore_batchnorm(on_dev, first.before);
  reestimate_batchnorm(on_dev, train, norm, 96, 32);
  const BatchNormState again = save_batchnorm(on_dev);
  for (std::size_t l = 0; l < got.layers.size(); ++l) {
    EXPECT_EQ(std::memcmp(got.mean[l].data(), again.mean[l].data(), got.mean[l].size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(got.var[l].data(), again.var[l].data(), got.var[l].size() * sizeof(float)), 0);
  }

  restore_batchnorm(on_dev, first.before);
  reestimate_batchnorm(on_dev, train, norm, 96, 17);
  EXPECT_LT(max_difference(save_batchnorm(on_dev), got), kBatchSizeTol);
}

MappedLayer random_layer(const std::string& name, int K, int N, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.1f);
  MappedLayer m{name, K, N, std::vector<float>(static_cast<std::size_t>(K) * N), 0.0};
  for (float& w : m.matrix) w = n(rng);
  m.scale = max_abs(m.matrix);
  return m;
}

TEST_P(CrossbarBackends, EffectiveWeightsMatchTheReferenceSolver) {
  SXB_SKIP_UNLESS_USABLE(GetParam().tile_capability());
  const std::vector<MappedLayer> layers = {random_layer("a", 150, 70, 1), random_layer("b", 64, 130, 2),
                                           random_layer("c", 27, 16, 3)};
  for (int tile : {16, 32, 64}) {
    CrossbarConfig c;
    c.tile_rows = c.tile_cols = tile;
    c.variation_sigma = 0.05;
    c.stuck_at_gmin = 0.01;
    const NetworkLayout layout = dense_network_layout(layers, tile, tile);
    const auto want = effective_weights(layers, layout, c, SchedulerOptions{Backend::Reference});
    const auto got = effective_weights(layers, layout, c, SchedulerOptions{GetParam().tile_backend});
    for (std::size_t l = 0; l < layers.size(); ++l) {
      double worst = 0.0;
      for (std::size_t k = 0; k < want[l].w_eff.size(); ++k)
        worst = std::max(worst, std::fabs(static_cast<double>(want[l].w_eff[k]) - got[l].w_eff[k]) / layers[l].scale);
      EXPECT_LT(worst, kWeffTol) << "tile " << tile << " layer " << layers[l].layer;
      EXPECT_NEAR(got[l].stats.nf_sum, want[l].stats.nf_sum, kNfTol * std::fabs(want[l].stats.nf_sum));
      EXPECT_EQ(got[l].stats.low_devices, want[l].stats.low_devices);
    }
  }
}

SXB_INSTANTIATE_NN_BACKENDS(CrossbarBackends);

}  // namespace
}  // namespace sxb
