// `sparsexbar bench network`: a whole network on crossbars — seconds to solve
// every tile (W_eff), images per second of inference with W_eff, and the
// arithmetic of the per-input-vector alternative (one circuit solve per tile
// per output pixel per image).
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/model_options.h"
#include "engine/converters/converter_network.h"
#include "engine/evaluation/crossbar_eval.h"
#include "engine/crossbar/example_tile.h"
#include "engine/data/synthetic.h"
#include "engine/crossbar/tile_solver.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"

namespace sxb::app {
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

}  // namespace

void add_bench_network_command(CLI::App& bench) {
  struct Options {
    std::string model = "vgg16", backend = "auto", device = "cpu";
    double width = 1.0;
    int tile = 64, images = 512, probe_tiles = 16, dac_bits = 0, adc_bits = 0;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand("network", "A whole network on crossbars: solve time and inference speed");
  cmd->add_option("--model", opt->model, "vgg11 or vgg16")->capture_default_str();
  cmd->add_option("--width", opt->width, "Width multiplier")->capture_default_str();
  cmd->add_option("--tile", opt->tile, "Tile rows = cols")->check(CLI::Range(1, kMaxTileDim))->capture_default_str();
  cmd->add_option("--images", opt->images, "Images timed for inference")->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--backend", opt->backend, "Tile solver: cpu or cuda (auto: cuda if present)")->capture_default_str();
  cmd->add_option("--device", opt->device, "Network engine for inference: cpu, cuda or auto")->capture_default_str();
  cmd->add_option("--dac-bits", opt->dac_bits, "Also time the tile-level forward with this DAC (0: ideal)")
      ->capture_default_str();
  cmd->add_option("--adc-bits", opt->adc_bits, "Also time the tile-level forward with this ADC (0: ideal)")
      ->capture_default_str();
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of a table");
  cmd->callback([opt] {
    const Backend backend = resolve(parse_backend(opt->backend, "--backend"));
    std::unique_ptr<nn::Backend> nb = nn::make_backend(opt->device);
    const std::unique_ptr<nn::Vgg> net = benchmark_vgg(opt->model, opt->width, *nb);
    nn::Vgg& model = *net;
    CrossbarConfig xbar;
    xbar.tile_rows = xbar.tile_cols = opt->tile;
    xbar.dac_bits = opt->dac_bits;
    xbar.adc_bits = opt->adc_bits;
    xbar.check("--dac-bits/--adc-bits");
    std::vector<MappedLayer> layers = mapped_layers(model);
    for (MappedLayer& m : layers) m.scale = mapping_scale(m.matrix, xbar);
    const NetworkLayout layout = dense_network_layout(layers, opt->tile, opt->tile);

    // Warm-up on a few tiles (GPU context, page faults), then every tile of the network.
    {
      NetworkLayout small = layout;
      small.layers.resize(1);
      (void)effective_weights(layers, small, xbar, SchedulerOptions{backend});
    }
    SchedulerOptions so{backend};
    so.pair_weights = xbar.tile_level();
    ScheduleStats st;
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<LayerEffective> eff = effective_weights(layers, layout, xbar, so, &st);
    const double solve_seconds = seconds_since(t0);

    // Inference with W_eff on the network engine (CPU).
    const Dataset images = make_synthetic(static_cast<std::size_t>(opt->images), 7);
    (void)evaluate_with_weights(model, make_synthetic(64, 8), Normalization{}, eff);  // warm-up
    t0 = std::chrono::steady_clock::now();
    (void)evaluate_with_weights(model, images, Normalization{}, eff);
    const double inference_seconds = seconds_since(t0);
    // The tile-level forward through the converters, ranges over 64 synthetic images.
    double tile_seconds = 0.0;
    if (xbar.tile_level()) {
      ConverterNetwork converters(eff, layout, xbar);
      converters.set_ranges(model, make_synthetic(64, 9), Normalization{});
      converters.run_with(model, [&] { (void)evaluate(model, make_synthetic(16, 8), Normalization{}); });  // warm-up
      t0 = std::chrono::steady_clock::now();
      converters.run_with(model, [&] { (void)evaluate(model, images, Normalization{}); });
      tile_seconds = seconds_since(t0);
    }

    // Per-vector alternative: one circuit solve per tile array per output pixel per image.
    const std::vector<long long> pixels = output_pixels(opt->model);
    long long solves_per_image = 0;
    for (std::size_t l = 0; l < layout.layers.size(); ++l)
      solves_per_image += 2 * static_cast<long long>(layout.layers[l].tiles.size()) * pixels.at(l);
    TileBatch probe;
    for (int k = 0; k < opt->probe_tiles; ++k) {
      const auto g = example_conductances(opt->tile, opt->tile, 500 + k);
      probe.add(opt->tile, opt->tile, g.data());
    }
    const double per_vector_solve = one_vector_solve_seconds(probe, backend, kDefaultVRead) / opt->probe_tiles;
    const double test_set = 10000.0;
    const double weff_10k = solve_seconds + inference_seconds / opt->images * test_set;
    const double per_vector_10k = per_vector_solve * static_cast<double>(solves_per_image) * test_set;

    const nlohmann::json out = {
        {"benchmark", "network"},
        {"model", opt->model},
        {"width", opt->width},
        {"tile", opt->tile},
        {"tiles", st.tiles},
        {"batches", st.batches},
        {"crossbars", layout.crossbars()},
        {"solver_backend", to_string(backend)},
        {"solver_device", describe(backend)},
        {"network_device", nb->describe()},
        {"solve_seconds", solve_seconds},
        {"solve_phase_seconds", {{"program", st.program_seconds}, {"solve", st.solve_seconds},
                                 {"assemble", st.assemble_seconds}}},
        {"inference_images", opt->images},
        {"inference_images_per_second", opt->images / inference_seconds},
        {"test_set_10k_inference_seconds", inference_seconds / opt->images * test_set},
        {"weff_total_10k_seconds", weff_10k},
        {"per_vector_solve_seconds", per_vector_solve},
        {"per_vector_solves_per_image", solves_per_image},
        {"per_vector_total_10k_seconds", per_vector_10k},
        {"speedup_weff_vs_per_vector", per_vector_10k / weff_10k},
        {"dac_bits", opt->dac_bits},
        {"adc_bits", opt->adc_bits},
        {"tile_level_images_per_second", tile_seconds > 0 ? nlohmann::json(opt->images / tile_seconds) : nlohmann::json(nullptr)},
        {"tile_level_slowdown", tile_seconds > 0 ? nlohmann::json(tile_seconds / inference_seconds) : nlohmann::json(nullptr)},
        {"version", version_line()}};
    if (opt->json) {
      std::cout << out.dump(2) << "\n";
      return;
    }
    fmt::print("{} width {} on {}x{} tiles: {} tiles ({} crossbars) solved in {:.2f} s on {} ({})\n", opt->model,
               opt->width, opt->tile, opt->tile, st.tiles, layout.crossbars(), solve_seconds, to_string(backend),
               describe(backend));
    fmt::print("inference with W_eff: {:.1f} images/s -> 10,000 images in {:.1f} s ({})\n",
               opt->images / inference_seconds, inference_seconds / opt->images * test_set, nb->describe());
    if (tile_seconds > 0)
      fmt::print("tile-level forward, DAC {} bits, ADC {} bits (0: ideal): {:.1f} images/s, {:.2f}x the W_eff path's time\n",
                 opt->dac_bits, opt->adc_bits, opt->images / tile_seconds, tile_seconds / inference_seconds);
    fmt::print("per-vector alternative: {} solves/image x {:.3e} s/solve x 10,000 images = {:.3e} s\n",
               solves_per_image, per_vector_solve, per_vector_10k);
    fmt::print("W_eff approach: {:.2f} s solve + {:.1f} s inference = {:.1f} s  ->  speedup {:.3g}x\n", solve_seconds,
               inference_seconds / opt->images * test_set, weff_10k, per_vector_10k / weff_10k);
  });
}

}  // namespace sxb::app
