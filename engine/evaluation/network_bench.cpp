#include "engine/evaluation/network_bench.h"

#include <vector>

#include "engine/converters/converter_network.h"
#include "engine/crossbar/example_tile.h"
#include "engine/crossbar/tile_solver.h"
#include "engine/data/synthetic.h"
#include "engine/evaluation/effective_model.h"
#include "engine/io/stopwatch.h"

namespace sxb {
namespace {

// Output pixels of each mapped layer for one 32 x 32 image, in weight_layers() order.
std::vector<long long> output_pixels(const std::string& model) {
  std::vector<long long> out;
  int size = nn::kVggInputSize;
  for (int c : nn::vgg_layout(model)) {
    if (c == nn::kVggPool)
      size /= 2;
    else
      out.push_back(static_cast<long long>(size) * size);
  }
  out.push_back(1);  // classifier
  return out;
}

// Every tile solved, after a warm-up on the first layer (GPU context, page faults).
std::vector<LayerEffective> solve_phase(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                        const CrossbarConfig& xbar, NetworkBenchResult& r) {
  NetworkLayout small = layout;
  small.layers.resize(1);
  SchedulerOptions so;
  so.backend = r.backend;
  (void)effective_weights(layers, small, xbar, so);
  so.pair_weights = xbar.tile_level();
  const auto t0 = Clock::now();
  std::vector<LayerEffective> eff = effective_weights(layers, layout, xbar, so, &r.stats);
  r.solve_seconds = seconds_since(t0);
  return eff;
}

// Inference with W_eff on the model's network engine, then (when the
// configuration sets converters) the tile-level forward, ranges over 64 images.
void inference_phase(nn::Vgg& model, const std::vector<LayerEffective>& eff, const NetworkLayout& layout,
                     const NetworkBenchSettings& s, NetworkBenchResult& r) {
  const Dataset images = make_synthetic(static_cast<std::size_t>(s.images), 7);
  (void)evaluate_with_weights(model, make_synthetic(64, 8), Normalization{}, eff);  // warm-up
  auto t0 = Clock::now();
  (void)evaluate_with_weights(model, images, Normalization{}, eff);
  r.inference_seconds = seconds_since(t0);
  if (!s.crossbar.tile_level()) return;
  ConverterNetwork converters(eff, layout, s.crossbar);
  converters.set_ranges(model, make_synthetic(64, 9), Normalization{});
  converters.run_with(model, [&] { (void)evaluate(model, make_synthetic(16, 8), Normalization{}); });  // warm-up
  t0 = Clock::now();
  converters.run_with(model, [&] { (void)evaluate(model, images, Normalization{}); });
  r.tile_level_seconds = seconds_since(t0);
}

// The per-vector alternative: one circuit solve per tile array per output pixel per image.
void per_vector_phase(const std::string& model, const NetworkLayout& layout, const NetworkBenchSettings& s,
                      NetworkBenchResult& r) {
  const std::vector<long long> pixels = output_pixels(model);
  for (std::size_t l = 0; l < layout.layers.size(); ++l)
    r.per_vector_solves_per_image += 2 * static_cast<long long>(layout.layers[l].tiles.size()) * pixels.at(l);
  const int rows = s.crossbar.tile_rows, cols = s.crossbar.tile_cols;
  TileBatch probe;
  for (int k = 0; k < s.probe_tiles; ++k) {
    const auto g = example_conductances(rows, cols, 500 + k);
    probe.add(rows, cols, g.data());
  }
  r.per_vector_solve_seconds = one_vector_solve_seconds(probe, r.backend, s.crossbar.v_read) / s.probe_tiles;
}

}  // namespace

NetworkBenchResult bench_network(nn::Vgg& model, const NetworkBenchSettings& s) {
  s.crossbar.check("crossbar configuration");
  NetworkBenchResult r;
  r.backend = resolve(s.backend);
  std::vector<MappedLayer> layers = mapped_layers(model);
  for (MappedLayer& m : layers) m.scale = mapping_scale(m.matrix, s.crossbar);
  const NetworkLayout layout = dense_network_layout(layers, s.crossbar.tile_rows, s.crossbar.tile_cols);
  r.crossbars = layout.crossbars();
  const std::vector<LayerEffective> eff = solve_phase(layers, layout, s.crossbar, r);
  inference_phase(model, eff, layout, s, r);
  per_vector_phase(model.config().model, layout, s, r);
  return r;
}

}  // namespace sxb
