// `sparsexbar bench infer`: steady-state inference throughput of the network
// engine, measured the way scripts/torch_vgg_bench.py --eval measures PyTorch
// in eval mode: one batch of random inputs resident on the device, `--warmup`
// untimed forwards, then `--steps` timed forwards (the eval path, Vgg::infer, or with
// `--layers` the layer-by-layer eval-mode forward), ending with the logits
// read back. Weights are the benchmark model's random initialisation; the
// speed of a dense forward does not depend on their values.
#include <fmt/format.h>
#include <omp.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/bench_options.h"
#include "apps/commands.h"
#include "apps/model_options.h"
#include "apps/number_options.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"
#include "models/vgg.h"

namespace sxb::app {

void add_bench_infer_command(CLI::App& bench) {
  struct Options : ResidentBench {
    bool layers = false;
  };
  auto opt = std::make_shared<Options>();
  opt->steps = 8;
  opt->warmup = 2;
  CLI::App* cmd = bench.add_subcommand("infer", "Inference images per second on resident inputs (as PyTorch's eval)");
  add_resident_bench_options(cmd, *opt, "forward");
  cmd->add_flag("--layers", opt->layers, "Time the layer-by-layer eval-mode forward instead of the eval path");
  cmd->callback([opt] {
    use_threads(opt->threads);
    std::unique_ptr<nn::Backend> b = nn::make_backend(opt->device);
    const std::unique_ptr<nn::Vgg> model = benchmark_vgg(opt->model, opt->width, *b);
    nn::Vgg& net = *model;
    const int n = opt->batch;
    const std::vector<float> images = resident_images(n);
    nn::Tensor x = b->empty({n, nn::kVggInputChannels, nn::kVggInputSize, nn::kVggInputSize});
    b->upload(images.data(), x);
    const auto forward = [&]() -> const nn::Tensor& {
      return opt->layers ? net.forward(x, nn::ForwardContext{nn::Mode::Eval}) : net.infer(x);
    };
    for (int i = 0; i < opt->warmup; ++i) (void)forward();
    const Stopwatch watch;
    for (int i = 1; i < opt->steps; ++i) (void)forward();
    const std::vector<float> logits = nn::to_host(*b, forward());  // the last one, read back: waits for the device
    const double s = watch.seconds();
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
