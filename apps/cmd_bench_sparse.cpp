// `sparsexbar bench sparse`: dense GEMM against the CSR product for VGG conv
// and linear layer shapes at a range of weight densities, on the network
// engine's backend; reports, per shape, the largest density at which the
// sparse product was faster (the crossover used by engine/evaluation/sparse_forward.h).
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/model_options.h"
#include "engine/evaluation/sparse_forward.h"
#include "models/nn_backend.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"

namespace sxb::app {
namespace {

struct LayerShape {
  std::string name;
  int in_channels, out_channels, size;  // conv 3x3 on size x size; size 0: linear
};

// Conv layers of VGG11 at width 1 (CIFAR), one per feature-map size, and the classifier.
const std::vector<LayerShape> kShapes = {{"conv 64->128 @16x16", 64, 128, 16},
                                         {"conv 128->256 @8x8", 128, 256, 8},
                                         {"conv 256->512 @4x4", 256, 512, 4},
                                         {"conv 512->512 @2x2", 512, 512, 2},
                                         {"linear 512->10", 512, 10, 0}};

// Weight [rows, cols] with each entry non-zero with probability `density`
// (a fixed hash of the position, the same on every run).
std::vector<float> sparse_weight(int rows, int cols, double density) {
  std::vector<float> w(static_cast<std::size_t>(rows) * cols, 0.0f);
  for (std::size_t i = 0; i < w.size(); ++i) {
    const std::uint64_t h = rng::splitmix64(i * rng::kGoldenGamma + 17);
    if (static_cast<double>(h >> 11) * 0x1.0p-53 < density) w[i] = static_cast<float>((h & 0xffff) / 65536.0 - 0.5);
  }
  return w;
}

// Best of `repeat` timed calls (after one warm-up), in seconds; `sync` waits for the device.
template <class F>
double best_time(int repeat, F&& run, nn::Backend& b, const nn::Tensor& sync) {
  run();
  (void)nn::to_host(b, sync);
  double best = 1e30;
  for (int r = 0; r < repeat; ++r) {
    const Stopwatch watch;
    run();
    (void)nn::to_host(b, sync);  // download waits for the backend's stream
    best = std::min(best, watch.seconds());
  }
  return best;
}

}  // namespace

void add_bench_sparse_command(CLI::App& bench) {
  struct Options {
    std::string device;
    int batch = 64, repeat = 3;
    std::vector<double> densities = {0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5};
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd =
      bench.add_subcommand("sparse", "Dense against sparse (CSR) layer products: the W_eff density crossover");
  add_device_option(cmd, opt->device);
  cmd->add_option("--batch", opt->batch, "Images per forward")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--repeat", opt->repeat, "Timed repetitions (the best is reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--densities", opt->densities, "Weight densities to time")->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of a table");
  cmd->callback([opt] {
    std::unique_ptr<nn::Backend> b = nn::make_backend(opt->device);
    nlohmann::json shapes = nlohmann::json::array();
    double worst_crossover = 1.0;
    for (const LayerShape& shape : kShapes) {
      const bool conv = shape.size > 0;
      const int rows = shape.out_channels, cols = conv ? shape.in_channels * 9 : shape.in_channels;
      const std::vector<int> x_shape = conv ? std::vector<int>{opt->batch, shape.in_channels, shape.size, shape.size}
                                            : std::vector<int>{opt->batch, shape.in_channels};
      const std::vector<int> y_shape = conv ? std::vector<int>{opt->batch, rows, shape.size, shape.size}
                                            : std::vector<int>{opt->batch, rows};
      int x_count = 1;
      for (int d : x_shape) x_count *= d;
      nn::Tensor x = nn::from_host(*b, x_shape, sparse_weight(1, x_count, 1.0));
      nn::Tensor y = b->empty(y_shape), bias = b->empty({rows});
      b->fill(bias, 0.1f);
      const nn::Conv2dShape cs{opt->batch, shape.in_channels, shape.size, shape.size, rows, 3, 3, 1, 1};
      const nn::LinearShape ls{opt->batch, shape.in_channels, rows};
      nn::Tensor dense_w = nn::from_host(*b, conv ? std::vector<int>{rows, shape.in_channels, 3, 3}
                                                  : std::vector<int>{rows, cols},
                                         sparse_weight(rows, cols, 1.0));
      const double dense_s = best_time(
          opt->repeat,
          [&] { conv ? b->conv2d_forward(cs, x, dense_w, &bias, y) : b->linear_forward(ls, x, dense_w, &bias, y); },
          *b, y);
      nlohmann::json points = nlohmann::json::array();
      double crossover = 0.0;
      for (double d : opt->densities) {
        const std::vector<float> host = sparse_weight(rows, cols, d);
        const nn::SparseWeight w = nn::sparse_from_dense(*b, host.data(), rows, cols);
        const double sparse_s = best_time(
            opt->repeat,
            [&] {
              conv ? b->conv2d_forward_sparse(cs, x, w, &bias, y) : b->linear_forward_sparse(ls, x, w, &bias, y);
            },
            *b, y);
        if (sparse_s < dense_s) crossover = std::max(crossover, d);
        points.push_back({{"density", d}, {"nnz", w.nnz()}, {"sparse_seconds", sparse_s}});
      }
      if (conv) worst_crossover = std::min(worst_crossover, crossover);
      shapes.push_back({{"layer", shape.name}, {"rows", rows}, {"cols", cols}, {"dense_seconds", dense_s},
                        {"points", points}, {"crossover_density", crossover}});
    }
    const nlohmann::json out = {{"benchmark", "sparse"},
                                {"device", b->describe()},
                                {"batch", opt->batch},
                                {"shapes", shapes},
                                {"conv_crossover_density", worst_crossover},
                                {"crossover_in_use", sparse_crossover(b->name())},
                                {"version", version_line()}};
    if (opt->json) {
      std::cout << out.dump(2) << "\n";
      return;
    }
    fmt::print("dense vs CSR forward, batch {}, {}\n", opt->batch, b->describe());
    for (const auto& s : shapes) {
      fmt::print("{:<22} dense {:8.3f} ms |", s["layer"].get<std::string>(), 1e3 * s["dense_seconds"].get<double>());
      for (const auto& p : s["points"])
        fmt::print(" {:g}: {:.3f}", p["density"].get<double>(), 1e3 * p["sparse_seconds"].get<double>());
      fmt::print(" ms | crossover {:g}\n", s["crossover_density"].get<double>());
    }
    fmt::print("conv crossover (smallest over the shapes): {:g}; in use for {}: {:g}\n", worst_crossover, b->name(),
               sparse_crossover(b->name()));
  });
}

}  // namespace sxb::app
