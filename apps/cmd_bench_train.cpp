// `sparsexbar bench train`: steady-state training throughput of the network
// engine, measured the way scripts/torch_vgg_bench.py measures PyTorch eager:
// one batch of random inputs resident on the device, 5 warm-up steps, then
// timed steps of forward, softmax cross-entropy, backward and SGD (momentum
// 0.9, weight decay 5e-4), ending with the loss read back. Data loading and
// augmentation are not included (`train` overlaps them on another thread).
#include <fmt/format.h>
#include <omp.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/bench_options.h"
#include "apps/commands.h"
#include "apps/number_options.h"
#include "apps/model_options.h"
#include "models/vgg.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"

namespace sxb::app {

void add_bench_train_command(CLI::App& bench) {
  auto opt = std::make_shared<ResidentBench>();
  CLI::App* cmd = bench.add_subcommand("train", "Training steps per second on resident inputs (as PyTorch's bench)");
  add_resident_bench_options(cmd, *opt, "step");
  cmd->callback([opt] {
    use_threads(opt->threads);
    std::unique_ptr<nn::Backend> b = nn::make_backend(opt->device);
    const std::unique_ptr<nn::Vgg> model = benchmark_vgg(opt->model, opt->width, *b);
    nn::Vgg& net = *model;
    net.prepare_training();
    const int n = opt->batch;
    const std::vector<float> images = resident_images(n);
    std::vector<std::int32_t> labels(n);
    for (int i = 0; i < n; ++i) labels[i] = static_cast<std::int32_t>(rng::splitmix64(1000003 + i) % net.config().classes);
    nn::Tensor x = b->empty({n, nn::kVggInputChannels, nn::kVggInputSize, nn::kVggInputSize});
    nn::Tensor y = b->empty({n}, nn::DType::I32), dlogits;
    b->upload(images.data(), x);
    b->upload(labels.data(), y);
    const nn::SgdParams sgd{0.02f, 0.9f, 5e-4f, false};
    std::uint64_t step = 0;
    nn::LossResult loss;
    auto train_step = [&] {
      const nn::Tensor& logits = net.forward(x, {nn::Mode::Train, 1, step++});
      nn::ensure_shape(*b, dlogits, logits.shape());
      loss = b->softmax_cross_entropy(logits, y, &dlogits);  // reads the loss back: waits for the device
      net.backward(dlogits);
      for (nn::Parameter* p : net.parameters()) b->sgd_step(sgd, p->value, p->grad, &p->momentum, nullptr);
    };
    for (int i = 0; i < opt->warmup; ++i) train_step();
    const Stopwatch watch;
    for (int i = 0; i < opt->steps; ++i) train_step();
    (void)nn::to_host(*b, net.parameters().back()->value);  // waits for the last SGD step
    const double s = watch.seconds();
    const double rate = static_cast<double>(n) * opt->steps / s;
    const nlohmann::json out = {{"benchmark", "train"},     {"model", opt->model},
                                {"width", opt->width},      {"batch", n},
                                {"steps", opt->steps},      {"warmup", opt->warmup},
                                {"device", b->describe()},  {"threads", omp_get_max_threads()},
                                {"seconds", s},             {"images_per_second", rate},
                                {"final_loss", loss.loss},
                                {"version", version_line()}};
    if (opt->json) {
      std::cout << out.dump() << "\n";
      return;
    }
    fmt::print("{} width {} batch {}: {} steps in {:.2f} s, {:.1f} images/s ({})\n", opt->model, opt->width, n,
               opt->steps, s, rate, b->describe());
  });
}

}  // namespace sxb::app
