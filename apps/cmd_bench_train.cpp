// `sparsexbar bench train`: steady-state training throughput of the network
// engine, measured the way scripts/torch_vgg_bench.py measures PyTorch eager:
// one batch of random inputs resident on the device, 5 warm-up steps, then
// timed steps of forward, softmax cross-entropy, backward and SGD (momentum
// 0.9, weight decay 5e-4), ending with the loss read back. Data loading and
// augmentation are not included (`train` overlaps them on another thread).
// The timed steps are split into their phases (forward with the loss,
// backward, SGD update); the convolution and linear multiply-adds of each
// phase (as a direct product computes them) are quoted against the measured
// fp32 FMA peak of every thread.
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
#include "engine/crossbar/tile_solver.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"
#include "engine/training/train.h"

namespace sxb::app {
namespace {

// Multiply-adds of one image's forward through the conv and linear layers of
// `net`, as a direct product computes them, and of its backward (weight
// gradients of every layer, input gradients of all but the first).
struct TrainMultiplyAdds {
  double forward = 0.0, backward = 0.0;
};
TrainMultiplyAdds train_multiply_adds(const nn::Vgg& net) {
  TrainMultiplyAdds m;
  const std::vector<int> channels = net.config().conv_channels();
  int in = nn::kVggInputChannels, size = nn::kVggInputSize;
  std::size_t layer = 0;
  for (int v : nn::vgg_layout(net.config().model)) {
    if (v == nn::kVggPool) {
      size /= 2;
      continue;
    }
    const int out = channels.at(layer);
    const double macs = 9.0 * in * out * size * size;
    m.forward += macs;
    m.backward += layer == 0 ? macs : 2.0 * macs;
    in = out, ++layer;
  }
  const double classifier = static_cast<double>(in) * size * size * net.config().classes;
  m.forward += classifier;
  m.backward += 2.0 * classifier;
  return m;
}

}  // namespace

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
    const SgdSettings recipe;  // the training defaults
    const nn::SgdParams sgd{static_cast<float>(recipe.lr), static_cast<float>(recipe.momentum),
                            static_cast<float>(recipe.weight_decay), recipe.nesterov};
    std::uint64_t step = 0;
    nn::LossResult loss;
    // Phase times are taken only on the CPU, where each call returns when its work is done.
    const bool cpu = b->describe().rfind("CPU", 0) == 0;
    double phase[3] = {0.0, 0.0, 0.0};  // forward with the loss, backward, update
    auto train_step = [&] {
      Stopwatch t;
      const nn::Tensor& logits = net.forward(x, {nn::Mode::Train, 1, step++});
      nn::ensure_shape(*b, dlogits, logits.shape());
      loss = b->softmax_cross_entropy(logits, y, &dlogits);  // reads the loss back: waits for the device
      phase[0] += t.seconds();
      t.restart();
      net.backward(dlogits);
      phase[1] += t.seconds();
      t.restart();
      for (nn::Parameter* p : net.parameters()) b->sgd_step(sgd, p->value, p->grad, &p->momentum, nullptr);
      phase[2] += t.seconds();
    };
    for (int i = 0; i < opt->warmup; ++i) train_step();
    phase[0] = phase[1] = phase[2] = 0.0;
    const Stopwatch watch;
    for (int i = 0; i < opt->steps; ++i) train_step();
    (void)nn::to_host(*b, net.parameters().back()->value);  // waits for the last SGD step
    const double s = watch.seconds();
    const double rate = static_cast<double>(n) * opt->steps / s;
    nlohmann::json out = {{"benchmark", "train"},     {"model", opt->model},
                                {"width", opt->width},      {"batch", n},
                                {"steps", opt->steps},      {"warmup", opt->warmup},
                                {"device", b->describe()},  {"threads", omp_get_max_threads()},
                                {"seconds", s},             {"images_per_second", rate},
                                {"final_loss", loss.loss},
                                {"version", version_line()}};
    if (cpu) {
      // fp32 vectors hold twice the lanes of the fp64 FMA chains the peak is measured with.
      const double peak = 2.0 * cpu_fma_peak_per_thread() * omp_get_max_threads();
      const TrainMultiplyAdds m = train_multiply_adds(net);
      const double images = static_cast<double>(n) * opt->steps;
      out["forward_seconds"] = phase[0];
      out["backward_seconds"] = phase[1];
      out["update_seconds"] = phase[2];
      out["fp32_fma_peak_per_s"] = peak;
      out["forward_multiply_adds_per_image"] = m.forward;
      out["backward_multiply_adds_per_image"] = m.backward;
      out["forward_share_of_peak"] = m.forward * images / phase[0] / peak;
      out["backward_share_of_peak"] = m.backward * images / phase[1] / peak;
      out["step_share_of_peak"] = (m.forward + m.backward) * images / s / peak;
    }
    if (opt->json) {
      std::cout << out.dump() << "\n";
      return;
    }
    fmt::print("{} width {} batch {}: {} steps in {:.2f} s, {:.1f} images/s ({})\n", opt->model, opt->width, n,
               opt->steps, s, rate, b->describe());
    if (cpu)
      fmt::print("  forward {:.2f} s, backward {:.2f} s, update {:.2f} s; {:.0f} % / {:.0f} % of the fp32 FMA peak\n",
                 phase[0], phase[1], phase[2], 100 * out["forward_share_of_peak"].get<double>(),
                 100 * out["backward_share_of_peak"].get<double>());
  });
}

}  // namespace sxb::app
