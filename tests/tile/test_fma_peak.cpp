// The measured FMA peak and the sweep's multiply-add model behind the share-of-peak figures.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/common/fma_peak.h"
#include "kernels/tile/cpu/tile_sweep.h"

namespace sxb::cpu {
namespace {

TEST(FmaPeak, IsAPlausibleRate) {
  const double peak = measured_fma_peak(0.05, 2);
  EXPECT_TRUE(std::isfinite(peak));
  EXPECT_GT(peak, 1e8);   // even scalar code on a slow core does more
  EXPECT_LT(peak, 1e12);  // no core does 1 T multiply-adds per second
}

TEST(SweepMultiplyAdds, FollowsTheModel) {
  // Per segment and source: R^3/2 + R^2 (columns beyond); 2 R^2 per bit line.
  EXPECT_DOUBLE_EQ(sweep_multiply_adds(1, 1), 0.5 + 1 + 2);
  EXPECT_DOUBLE_EQ(sweep_multiply_adds(64, 64), 17432576.0);
  EXPECT_NEAR(sweep_multiply_adds(128, 128) / sweep_multiply_adds(64, 64), 16.0, 0.5);  // ~R^4
}

}  // namespace
}  // namespace sxb::cpu
