#include "apps/model_options.h"

#include <fmt/format.h>

#include "kernels/common/error.h"

namespace sxb::app {
namespace {

// "a,b,c" -> three floats.
std::array<float, 3> parse_triple(const std::string& text, const std::string& option) {
  const std::string message = option + " '" + text + "': expected three comma-separated numbers (R,G,B)";
  std::array<float, 3> v{};
  std::size_t pos = 0;
  for (int k = 0; k < 3; ++k) {
    try {
      std::size_t used = 0;
      v[k] = std::stof(text.substr(pos), &used);
      pos += used;
    } catch (const std::exception&) {
      throw Error(message);
    }
    if (k < 2) {
      SXB_REQUIRE(pos < text.size() && text[pos] == ',', message);
      ++pos;
    }
  }
  SXB_REQUIRE(pos == text.size(), message);
  return v;
}

}  // namespace

void add_model_options(CLI::App* cmd, ModelOptions& o) {
  cmd->add_option("--model", o.model, "vgg11 or vgg16")->required();
  o.width_option = cmd->add_option("--width", o.width, "Width multiplier (default: the file's)");
  o.classes_option = cmd->add_option("--classes", o.classes, "Number of classes (default: the file's)");
  cmd->add_option("--weights", o.weights, "Model weights (safetensors, as written by train)")->check(CLI::ExistingFile)->required();
  o.mean_option = cmd->add_option("--input-mean", o.input_mean,
                                  "R,G,B mean of pixel/255 (only for files without it, e.g. PyTorch exports)");
  o.std_option = cmd->add_option("--input-std", o.input_std, "R,G,B standard deviation of pixel/255 (idem)");
}

ModelFile read_model_file(const ModelOptions& o) {
  SXB_REQUIRE(o.mean_option->count() == o.std_option->count(), "--input-mean and --input-std go together");
  ModelFile m{read_safetensors(o.weights), {}};
  nn::VggRequest request{o.model, std::nullopt, std::nullopt};
  if (o.width_option->count()) request.width = o.width;
  if (o.classes_option->count()) request.classes = o.classes;
  const bool file_has_norm = m.file.metadata.count("input_mean") && m.file.metadata.count("input_std");
  m.config = nn::vgg_config_for_file(m.file, o.weights, request, !o.mean_option->count());
  if (o.mean_option->count()) {
    const auto mean = parse_triple(o.input_mean, "--input-mean"), sd = parse_triple(o.input_std, "--input-std");
    if (file_has_norm)
      SXB_REQUIRE(mean == m.config.input_mean && sd == m.config.input_std,
                  fmt::format("{}: stores input_mean {} and input_std {}, which --input-mean/--input-std contradict",
                              o.weights, m.file.metadata.at("input_mean"), m.file.metadata.at("input_std")));
    m.config.input_mean = mean;
    m.config.input_std = sd;
    m.config.check();
  }
  return m;
}

CLI::Option* add_device_option(CLI::App* cmd, std::string& device) {
  device = to_string(kDefaultNetworkDevice);
  return cmd->add_option("--device", device, "Network engine: cpu, cuda or auto (cuda when a GPU is usable)")
      ->check(CLI::IsMember({to_string(Device::Cpu), to_string(Device::Cuda), to_string(Device::Auto)}))
      ->capture_default_str();
}

std::unique_ptr<nn::Vgg> benchmark_vgg(const std::string& model, double width, nn::Backend& backend) {
  nn::VggConfig config;
  config.model = model;
  config.width = width;
  config.check();
  auto net = std::make_unique<nn::Vgg>(config, backend);
  net->init(1);
  return net;
}

}  // namespace sxb::app
