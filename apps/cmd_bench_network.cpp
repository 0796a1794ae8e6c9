// `sparsexbar bench network`: a whole network on crossbars — seconds to solve
// every tile (W_eff), images per second of inference with W_eff, and the
// arithmetic of the per-input-vector alternative (engine/evaluation/network_bench.h).
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/crossbar_options.h"
#include "apps/model_options.h"
#include "engine/evaluation/network_bench.h"
#include "engine/io/version.h"

namespace sxb::app {
namespace {

// The 10,000 test images of CIFAR: what the totals are extrapolated to.
constexpr double kTestSet = 10000.0;

nlohmann::json to_json(const NetworkBenchResult& r, const std::string& model, double width, int images,
                       const CrossbarConfig& xbar, const std::string& network_device) {
  const double inference_10k = r.inference_seconds / images * kTestSet;
  const double weff_10k = r.solve_seconds + inference_10k;
  const double per_vector_10k = r.per_vector_solve_seconds * static_cast<double>(r.per_vector_solves_per_image) * kTestSet;
  const auto or_null = [&](double v) { return r.tile_level_seconds > 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"benchmark", "network"},
          {"model", model},
          {"width", width},
          {"tile", xbar.tile_rows},
          {"tiles", r.stats.tiles},
          {"batches", r.stats.batches},
          {"crossbars", r.crossbars},
          {"solver_backend", to_string(r.backend)},
          {"solver_device", describe(r.backend)},
          {"network_device", network_device},
          {"solve_seconds", r.solve_seconds},
          {"solve_phase_seconds", {{"program", r.stats.program_seconds}, {"solve", r.stats.solve_seconds},
                                   {"assemble", r.stats.assemble_seconds}}},
          {"inference_images", images},
          {"inference_images_per_second", images / r.inference_seconds},
          {"test_set_10k_inference_seconds", inference_10k},
          {"weff_total_10k_seconds", weff_10k},
          {"per_vector_solve_seconds", r.per_vector_solve_seconds},
          {"per_vector_solves_per_image", r.per_vector_solves_per_image},
          {"per_vector_total_10k_seconds", per_vector_10k},
          {"speedup_weff_vs_per_vector", per_vector_10k / weff_10k},
          {"dac_bits", xbar.dac_bits},
          {"adc_bits", xbar.adc_bits},
          {"tile_level_images_per_second", or_null(images / r.tile_level_seconds)},
          {"tile_level_slowdown", or_null(r.tile_level_seconds / r.inference_seconds)},
          {"version", version_line()}};
}

void print_table(const nlohmann::json& j, const NetworkBenchResult& r) {
  fmt::print("{} width {} on {}x{} tiles: {} tiles ({} crossbars) solved in {:.2f} s on {} ({})\n",
             j["model"].get<std::string>(), j["width"].get<double>(), j["tile"].get<int>(), j["tile"].get<int>(),
             r.stats.tiles, r.crossbars, r.solve_seconds, to_string(r.backend), describe(r.backend));
  fmt::print("inference with W_eff: {:.1f} images/s -> 10,000 images in {:.1f} s ({})\n",
             j["inference_images_per_second"].get<double>(), j["test_set_10k_inference_seconds"].get<double>(),
             j["network_device"].get<std::string>());
  if (r.tile_level_seconds > 0)
    fmt::print("tile-level forward, DAC {} bits, ADC {} bits (0: ideal): {:.1f} images/s, {:.2f}x the W_eff path's time\n",
               j["dac_bits"].get<int>(), j["adc_bits"].get<int>(), j["tile_level_images_per_second"].get<double>(),
               j["tile_level_slowdown"].get<double>());
  fmt::print("per-vector alternative: {} solves/image x {:.3e} s/solve x 10,000 images = {:.3e} s\n",
             r.per_vector_solves_per_image, r.per_vector_solve_seconds, j["per_vector_total_10k_seconds"].get<double>());
  fmt::print("W_eff approach: {:.2f} s solve + {:.1f} s inference = {:.1f} s  ->  speedup {:.3g}x\n", r.solve_seconds,
             j["test_set_10k_inference_seconds"].get<double>(), j["weff_total_10k_seconds"].get<double>(),
             j["speedup_weff_vs_per_vector"].get<double>());
}

}  // namespace

void add_bench_network_command(CLI::App& bench) {
  struct Options {
    std::string model = "vgg16", backend, device;
    double width = 1.0;
    int tile = CrossbarConfig{}.tile_rows, images = NetworkBenchSettings{}.images, dac_bits = 0, adc_bits = 0;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand("network", "A whole network on crossbars: solve time and inference speed");
  cmd->add_option("--model", opt->model, "vgg11 or vgg16")->capture_default_str();
  cmd->add_option("--width", opt->width, "Width multiplier")->capture_default_str();
  cmd->add_option("--tile", opt->tile, "Tile rows = cols")->check(CLI::Range(1, kMaxTileDim))->capture_default_str();
  cmd->add_option("--images", opt->images, "Images timed for inference")->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  add_backend_option(cmd, opt->backend);
  add_device_option(cmd, opt->device);
  cmd->add_option("--dac-bits", opt->dac_bits, "Also time the tile-level forward with this DAC (0: ideal)")
      ->capture_default_str();
  cmd->add_option("--adc-bits", opt->adc_bits, "Also time the tile-level forward with this ADC (0: ideal)")
      ->capture_default_str();
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of a table");
  cmd->callback([opt] {
    NetworkBenchSettings s;
    s.backend = parse_backend(opt->backend, "--backend");
    s.crossbar.tile_rows = s.crossbar.tile_cols = opt->tile;
    s.crossbar.dac_bits = opt->dac_bits;
    s.crossbar.adc_bits = opt->adc_bits;
    s.crossbar.check("--dac-bits/--adc-bits");
    s.images = opt->images;
    std::unique_ptr<nn::Backend> nb = nn::make_backend(opt->device);
    const std::unique_ptr<nn::Vgg> net = benchmark_vgg(opt->model, opt->width, *nb);
    const NetworkBenchResult r = bench_network(*net, s);
    const nlohmann::json out = to_json(r, opt->model, opt->width, opt->images, s.crossbar, nb->describe());
    if (opt->json)
      std::cout << out.dump(2) << "\n";
    else
      print_table(out, r);
  });
}

}  // namespace sxb::app
