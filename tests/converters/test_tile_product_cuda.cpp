// The CUDA tile product (kernels/nn/cuda/tile_product.cu) against the engine's
// tile-level forward on the host: single layers over the cases of the CPU
// emulation test, and a small VGG11 evaluated through the converters on both
// backends. Every test is skipped (never passed) without a usable GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>

#include "engine/converters/converter_network.h"
#include "engine/crossbar/scheduler.h"
#include "engine/evaluation/effective_model.h"
#include "engine/evaluation/evaluate.h"
#include "models/nn_backend.h"
#include "tests/converters/random_tile_layer.h"
#include "tests/support/random_vgg.h"
#include "tests/support/skip.h"

namespace sxb {
namespace {

struct Case {
  const char* name;
  int dac_bits, adc_bits, pulse_bits, slices, weight_bits;
  bool is_signed, packed, conv;
  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
};

class TileProductCuda : public ::testing::TestWithParam<Case> {};

TEST_P(TileProductCuda, MatchesTheEngineForward) {
  SXB_SKIP_UNLESS_USABLE(nn::cuda_nn_capability());
  const Case c = GetParam();
  const int K = c.conv ? 16 * 9 : 300, N = 70, batch = c.conv ? 5 : 33;
  const TileLayer t = random_layer(K, N, 64, 32, c.slices, c.weight_bits, c.packed, 31);
  ConverterSettings s;
  s.dac_bits = c.dac_bits;
  s.adc_bits = c.adc_bits;
  s.input_bits_per_pulse = c.pulse_bits;
  const nn::Conv2dShape shape{batch, 16, 9, 9, N, 3, 3, 1, 1};
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> u(c.is_signed ? -1.0f : 0.0f, 1.0f);
  std::vector<float> x(c.conv ? batch * 16 * 81 : batch * K);
  for (float& v : x) v = u(rng);
  const LayerInput in{x.data(), batch, c.conv ? &shape : nullptr};
  LayerRanges r;
  r.dac = {0.8, c.is_signed};
  for (int k = 0; k < c.slices && c.adc_bits; ++k) r.adc.push_back(3.0 + k);
  std::vector<float> bias(N);
  for (int o = 0; o < N; ++o) bias[o] = 0.01f * o;
  const std::size_t pixels = c.conv ? 81 : 1, size = static_cast<std::size_t>(batch) * N * pixels;
  std::vector<float> want(size);
  AdcCounts counts;
  tile_layer_forward(t, s, r, in, bias.data(), want.data(), &counts);

  const std::unique_ptr<nn::Backend> gpu = nn::make_cuda_backend();
  const auto handle = gpu->prepare_tile_product(flat_tile_layer(t));
  ASSERT_TRUE(handle);
  const nn::Tensor xd = nn::from_host(*gpu, c.conv ? std::vector<int>{batch, 16, 9, 9} : std::vector<int>{batch, K}, x);
  const nn::Tensor bd = nn::from_host(*gpu, {N}, bias);
  const nn::Tensor yd = gpu->empty(c.conv ? std::vector<int>{batch, N, 9, 9} : std::vector<int>{batch, N});
  const nn::TileProductCounts got_counts =
      gpu->tile_product(*handle, tile_converters(s, r), c.conv ? &shape : nullptr, batch, xd, &bd, yd);
  const std::vector<float> got = nn::to_host(*gpu, yd);
  // cuBLAS sums in another order than OpenBLAS: an ADC rounding at a level's
  // edge may flip, rarely, by one level.
  double scale = 0.0, lsb = 0.0;
  for (float v : want) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  for (int k = 0; k < c.slices && c.adc_bits; ++k)
    lsb = std::max(lsb, t.slice_weight[k] * r.adc[k] / ((1 << (c.adc_bits - 1)) - 1) * 2.0 *
                            (c.pulse_bits ? std::pow(2.0, c.dac_bits) * r.dac.range : 1.0));
  int off = 0;
  double worst = 0.0;
  for (std::size_t i = 0; i < size; ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
    ASSERT_TRUE(std::isfinite(d)) << c.name << " element " << i;
    if (d > 1e-5 * scale) ++off, worst = std::max(worst, d);
  }
  EXPECT_LE(off, c.adc_bits ? static_cast<int>(size / 100) : 0) << c.name;
  EXPECT_LE(worst, 2.0 * lsb + 1e-5 * scale) << c.name;
  EXPECT_EQ(got_counts.reads, counts.reads) << c.name;
  EXPECT_NEAR(static_cast<double>(got_counts.clipped), static_cast<double>(counts.clipped),
              0.01 * static_cast<double>(counts.reads))
      << c.name;
  // Run to run the same bits.
  gpu->tile_product(*handle, tile_converters(s, r), c.conv ? &shape : nullptr, batch, xd, &bd, yd);
  EXPECT_EQ(nn::to_host(*gpu, yd), got) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TileProductCuda,
    ::testing::Values(Case{"analog", 0, 0, 0, 1, 0, true, false, true},
                      Case{"dac_unsigned", 6, 0, 0, 1, 0, false, false, true},
                      Case{"dac_adc_signed_linear", 6, 5, 0, 1, 0, true, false, false},
                      Case{"adc_packed", 0, 4, 0, 1, 0, true, true, true},
                      Case{"slices2_packed", 6, 6, 0, 2, 8, true, true, true},
                      Case{"slices4", 8, 6, 0, 4, 8, false, false, false},
                      Case{"pulses1_signed", 5, 6, 1, 1, 0, true, false, true},
                      Case{"pulses2_unsigned_sliced", 6, 6, 2, 2, 4, false, true, false}),
    [](const auto& info) { return std::string(info.param.name); });

// A whole network through the converters: ranges and logits on the CUDA
// backend follow the host path's.
TEST(TileProductCudaNetwork, Vgg11ThroughTheConvertersOnBothBackends) {
  SXB_SKIP_UNLESS_USABLE(nn::cuda_nn_capability());
  const Dataset train = load_dataset("synthetic:40", Split::Train);
  const Dataset test = load_dataset("synthetic:24", Split::Test);
  const Normalization norm{{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
  CrossbarConfig xbar = crossbar_preset("default");
  xbar.tile_rows = xbar.tile_cols = 32;
  xbar.dac_bits = 8;
  xbar.adc_bits = 8;
  xbar.range_images = 16;
  std::vector<EvalResult> results;
  std::vector<std::vector<LayerConverters>> summaries;
  for (bool cuda : {false, true}) {
    const std::unique_ptr<nn::Backend> b = cuda ? nn::make_cuda_backend() : nn::make_cpu_backend();
    const std::unique_ptr<nn::Vgg> model = test_support::random_vgg(*b, "vgg11", 0.125, 3, 4, 0.1f);
    std::vector<MappedLayer> layers = mapped_layers(*model);
    for (MappedLayer& m : layers) m.scale = mapping_scale(m.matrix, xbar);
    const NetworkLayout layout = dense_network_layout(layers, 32, 32);
    SchedulerOptions so;
    so.backend = Backend::Cpu;
    so.pair_weights = true;
    const std::vector<LayerEffective> eff = effective_weights(layers, layout, xbar, so);
    ConverterNetwork network(eff, layout, xbar);
    network.set_ranges(*model, train, norm);
    network.run_with(*model, [&] { results.push_back(evaluate(*model, test, norm)); });
    summaries.push_back(network.summary());
  }
  ASSERT_EQ(results[0].logits.size(), results[1].logits.size());
  double scale = 0.0, diff = 0.0;
  for (std::size_t i = 0; i < results[0].logits.size(); ++i) {
    scale = std::max(scale, std::fabs(static_cast<double>(results[0].logits[i])));
    diff = std::max(diff, std::fabs(static_cast<double>(results[1].logits[i] - results[0].logits[i])));
  }
  EXPECT_LE(diff, 0.02 * scale);
  for (std::size_t l = 0; l < summaries[0].size(); ++l) {
    EXPECT_NEAR(summaries[1][l].dac.range, summaries[0][l].dac.range, 0.01 * summaries[0][l].dac.range);
    EXPECT_NEAR(summaries[1][l].adc[0], summaries[0][l].adc[0], 0.01 * summaries[0][l].adc[0]);
    EXPECT_EQ(summaries[1][l].counts.reads, summaries[0][l].counts.reads);
  }
}

}  // namespace
}  // namespace sxb
