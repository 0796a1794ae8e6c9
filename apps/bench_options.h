// Options shared by the resident-batch benchmarks (bench train, bench infer).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "models/vgg.h"

namespace sxb::app {

// The options of the resident-batch benchmarks (bench train, bench infer):
// one batch of inputs resident on the device, `warmup` untimed then `steps`
// timed passes. `pass` names one pass in the help ("step", "forward").
struct ResidentBench {
  std::string model = nn::kDefaultVgg, device;
  double width = 1.0;
  int batch = 128, steps = 10, warmup = 5, threads = 0;
  bool json = false;
};
void add_resident_bench_options(CLI::App* cmd, ResidentBench& o, const std::string& pass);

// n images of random values in [-1, 1), the same for every run (splitmix64).
std::vector<float> resident_images(int n);

}  // namespace sxb::app
