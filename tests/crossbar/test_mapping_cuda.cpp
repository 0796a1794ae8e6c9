// The scheduler's effective weights on the CUDA tile solver against the CPU
// solver (gpu label: skipped, never passed, without a usable GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/evaluation/crossbar_eval.h"
#include "engine/crossbar/scheduler.h"
#include "kernels/tile/cuda/cuda_backend.h"
#include "tests/support/skip.h"

namespace sxb {
namespace {

MappedLayer random_layer(const std::string& name, int K, int N, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.1f);
  MappedLayer m{name, K, N, std::vector<float>(static_cast<std::size_t>(K) * N), 0.0};
  for (float& w : m.matrix) w = n(rng);
  m.scale = max_abs(m.matrix);
  return m;
}

TEST(MappingCuda, EffectiveWeightsMatchTheCpu) {
  SXB_SKIP_UNLESS_USABLE(cuda_tile_capability());
  const std::vector<MappedLayer> layers = {random_layer("a", 300, 70, 1), random_layer("b", 64, 130, 2),
                                           random_layer("c", 27, 16, 3)};
  for (int tile : {16, 32, 64}) {
    CrossbarConfig c;
    c.tile_rows = c.tile_cols = tile;
    c.variation_sigma = 0.05;
    c.stuck_at_gmin = 0.01;
    const NetworkLayout layout = dense_network_layout(layers, tile, tile);
    SchedulerOptions cpu{Backend::Cpu}, gpu_options{Backend::Cuda};
    const auto a = effective_weights(layers, layout, c, cpu);
    const auto b = effective_weights(layers, layout, c, gpu_options);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      double worst = 0.0;
      for (std::size_t k = 0; k < a[l].w_eff.size(); ++k)
        worst = std::max(worst, std::fabs(static_cast<double>(a[l].w_eff[k]) - b[l].w_eff[k]) / layers[l].scale);
      EXPECT_LT(worst, 1e-6) << "tile " << tile << " layer " << layers[l].layer;  // fp32 storage of W_eff
      EXPECT_NEAR(a[l].stats.nf_sum, b[l].stats.nf_sum, 1e-9 * std::fabs(a[l].stats.nf_sum));
      EXPECT_EQ(a[l].stats.low_devices, b[l].stats.low_devices);
    }
  }
}

}  // namespace
}  // namespace sxb
