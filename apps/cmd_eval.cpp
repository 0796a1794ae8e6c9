// `sparsexbar eval`: accuracy and loss of a trained model on the test split.
#include <fmt/format.h>
#include <omp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/commands.h"
#include "engine/atomic_file.h"
#include "engine/evaluate.h"

namespace sxb::app {
namespace {

// "a,b,c" -> three floats.
std::array<float, 3> parse_triple(const std::string& text, const std::string& option) {
  std::array<float, 3> v{};
  std::size_t pos = 0;
  for (int k = 0; k < 3; ++k) {
    try {
      std::size_t used = 0;
      v[k] = std::stof(text.substr(pos), &used);
      pos += used;
    } catch (const std::exception&) {
      throw Error(option + " '" + text + "': expected three comma-separated numbers (R,G,B)");
    }
    if (k < 2) {
      SXB_REQUIRE(pos < text.size() && text[pos] == ',',
                  option + " '" + text + "': expected three comma-separated numbers (R,G,B)");
      ++pos;
    }
  }
  SXB_REQUIRE(pos == text.size(), option + " '" + text + "': expected three comma-separated numbers (R,G,B)");
  return v;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  struct Options {
    std::string model, weights, data, json, predictions, input_mean, input_std, device = "cpu";
    double width = 1.0;
    int classes = 0, threads = 0;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a trained model on the test split (see docs/cli.md)");
  cmd->add_option("--model", opt->model, "vgg11 or vgg16")->required();
  CLI::Option* width = cmd->add_option("--width", opt->width, "Width multiplier (default: the file's)");
  CLI::Option* classes = cmd->add_option("--classes", opt->classes, "Number of classes (default: the file's)");
  cmd->add_option("--weights", opt->weights, "Model weights (safetensors, as written by train)")->required();
  cmd->add_option("--data", opt->data, "cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, folder:DIR or synthetic[:N]")
      ->required();
  cmd->add_option("--json", opt->json, "Write the result as JSON here");
  cmd->add_option("--predictions", opt->predictions, "Write index,label,predicted,logit_0..logit_{K-1} as CSV here");
  CLI::Option* mean = cmd->add_option("--input-mean", opt->input_mean,
                                      "R,G,B mean of pixel/255 (only for files without it, e.g. PyTorch exports)");
  CLI::Option* stdev = cmd->add_option("--input-std", opt->input_std, "R,G,B standard deviation of pixel/255 (idem)");
  cmd->add_option("--threads", opt->threads, "OpenMP threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt->device, "Network engine: cpu, cuda or auto (cuda when a GPU is usable)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  cmd->callback([opt, width, classes, mean, stdev] {
    SXB_REQUIRE(mean->count() == stdev->count(), "--input-mean and --input-std go together");
    if (opt->threads > 0) omp_set_num_threads(opt->threads);
    const SafetensorsFile file = read_safetensors(opt->weights);
    nn::VggRequest request{opt->model, std::nullopt, std::nullopt};
    if (width->count()) request.width = opt->width;
    if (classes->count()) request.classes = opt->classes;
    const bool file_has_norm = file.metadata.count("input_mean") && file.metadata.count("input_std");
    nn::VggConfig config = nn::vgg_config_for_file(file, opt->weights, request, !mean->count());
    if (mean->count()) {
      const auto m = parse_triple(opt->input_mean, "--input-mean"), s = parse_triple(opt->input_std, "--input-std");
      if (file_has_norm) {
        SXB_REQUIRE(m == config.input_mean && s == config.input_std,
                    fmt::format("{}: stores input_mean {} and input_std {}, which --input-mean/--input-std contradict",
                                opt->weights, file.metadata.at("input_mean"), file.metadata.at("input_std")));
      }
      config.input_mean = m;
      config.input_std = s;
      config.check();
    }
    std::unique_ptr<nn::Backend> backend = nn::make_backend(opt->device);
    nn::Vgg model(config, *backend);
    model.load_state_dict(file, opt->weights);
    const Dataset test_set = load_dataset(opt->data, Split::Test);
    const EvalResult r = evaluate(model, test_set, normalization_of(config));

    fmt::print("{} width {} on {} ({} images): accuracy {:.2f}%, loss {:.4f} ({:.1f} s)\n", config.model,
               config.width, test_set.source, r.images, 100.0 * r.accuracy, r.loss, r.seconds);
    if (!opt->json.empty()) {
      const nlohmann::json j = {{"accuracy", r.accuracy},
                                {"loss", r.loss},
                                {"images", r.images},
                                {"correct", r.correct},
                                {"seconds", r.seconds},
                                {"model", config.model},
                                {"width", config.width},
                                {"classes", config.classes},
                                {"weights", opt->weights},
                                {"data", opt->data},
                                {"split", "test"},
                                {"input_mean", config.input_mean},
                                {"input_std", config.input_std},
                                {"backend", backend->name()},
                                {"device", backend->describe()},
                                {"git", SPARSEXBAR_GIT},
                                {"version", SPARSEXBAR_VERSION}};
      write_file_atomic(opt->json, j.dump(2) + "\n");
    }
    if (!opt->predictions.empty()) write_file_atomic(opt->predictions, predictions_csv(r, test_set));
  });
}

}  // namespace sxb::app
