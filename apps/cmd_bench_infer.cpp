// `sparsexbar bench infer`: steady-state inference throughput of the network
// engine, measured the way scripts/torch_vgg_bench.py --eval measures PyTorch
// in eval mode: one batch of random inputs resident on the device, `--warmup`
// untimed forwards, then `--steps` timed forwards (the eval path, Vgg::infer, or with
// `--layers` the layer-by-layer eval-mode forward), ending with the logits
// read back. Weights are the benchmark model's random initialisation; the
// speed of a dense forward does not depend on their values.
#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/model_options.h"
#include "apps/number_options.h"
#include "engine/io/version.h"
#include "models/vgg.h"

namespace sxb::app {

void add_bench_infer_command(CLI::App& bench) {
  struct Options {
    std::string model = "vgg11", device = "cpu";
    double width = 1.0;
    int batch = 128, steps = 8, warmup = 2, threads = 0;
    bool layers = false, json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = bench.add_subcommand("infer", "Inference images per second on resident inputs (as PyTorch's eval)");
  cmd->add_option("--model", opt->model, "vgg11 or vgg16")->capture_default_str();
  cmd->add_option("--width", opt->width, "Width multiplier")->check(CLI::Range(0.01, 16.0))->capture_default_str();
  cmd->add_option("--batch", opt->batch, "Images per forward")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--steps", opt->steps, "Timed forwards")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--warmup", opt->warmup, "Untimed forwards first")->check(CLI::Range(0, 1000))->capture_default_str();
  cmd->add_option("--device", opt->device, "Network engine: cpu, cuda or auto")->capture_default_str();
  add_threads_option(cmd, opt->threads, "OpenMP threads (0: all cores)");
  cmd->add_flag("--layers", opt->layers, "Time the layer-by-layer eval-mode forward instead of the eval path");
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of a line");
  cmd->callback([opt] {
    use_threads(opt->threads);
    std::unique_ptr<nn::Backend> b = nn::make_backend(opt->device);
    const std::unique_ptr<nn::Vgg> model = benchmark_vgg(opt->model, opt->width, *b);
    nn::Vgg& net = *model;
    const int n = opt->batch;
    std::vector<float> images(static_cast<std::size_t>(n) * nn::kVggInputChannels * nn::kVggInputSize *
                              nn::kVggInputSize);
    for (std::size_t i = 0; i < images.size(); ++i)
      images[i] = static_cast<float>((rng::splitmix64(i) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    nn::Tensor x = b->empty({n, nn::kVggInputChannels, nn::kVggInputSize, nn::kVggInputSize});
    b->upload(images.data(), x);
    const auto forward = [&]() -> const nn::Tensor& {
      return opt->layers ? net.forward(x, nn::ForwardContext{nn::Mode::Eval}) : net.infer(x);
    };
    for (int i = 0; i < opt->warmup; ++i) (void)forward();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 1; i < opt->steps; ++i) (void)forward();
    const std::vector<float> logits = nn::to_host(*b, forward());  // the last one, read back: waits for the device
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = static_cast<double>(n) * opt->steps / s;
    const nlohmann::json out = {{"benchmark", "infer"},      {"model", opt->model},
                                {"width", opt->width},       {"batch", n},
                                {"steps", opt->steps},   {"warmup", opt->warmup},
                                {"path", opt->layers ? "layers" : "eval"},
                                {"device", b->describe()},   {"threads", omp_get_max_threads()},
                                {"seconds", s},              {"images_per_second", rate},
                                {"first_logit", logits.empty() ? 0.0f : logits[0]},
                                {"version", version_line()}};
    if (opt->json) {
      std::cout << out.dump() << "\n";
      return;
    }
    fmt::print("{} width {} batch {} ({} path): {} forwards in {:.2f} s, {:.1f} images/s ({})\n", opt->model,
               opt->width, n, opt->layers ? "layer-by-layer" : "eval", opt->steps, s, rate, b->describe());
  });
}

}  // namespace sxb::app
