// Command-line options that name a trained model (--model, --width,
// --classes, --weights, --input-mean, --input-std), shared by the commands
// that load one (eval, evaluate).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common/error.h"
#include "models/vgg.h"

namespace sxb::app {

struct ModelOptions {
  std::string model, weights, input_mean, input_std;
  double width = 1.0;
  int classes = 0;
  CLI::Option *width_option = nullptr, *classes_option = nullptr, *mean_option = nullptr, *std_option = nullptr;
};

void add_model_options(CLI::App* cmd, ModelOptions& o);

// The weights file and the configuration it completes (errors name the file or option).
struct ModelFile {
  SafetensorsFile file;
  nn::VggConfig config;
};
ModelFile read_model_file(const ModelOptions& o);

// --device: the network engine, cpu, cuda or auto (cuda when a GPU is usable);
// `device` starts as kDefaultNetworkDevice (kernels/common/device_choice.h).
CLI::Option* add_device_option(CLI::App* cmd, std::string& device);

// A VGG with 10 classes, PyTorch's default initialisation from seed 1, on
// `backend`: the model of the benchmarks (bench network, train, infer).
std::unique_ptr<nn::Vgg> benchmark_vgg(const std::string& model, double width, nn::Backend& backend);

}  // namespace sxb::app
