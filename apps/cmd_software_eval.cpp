// `sparsexbar software-eval`: accuracy and loss of a trained model on the
// test split, in software (no crossbar; `evaluate` puts it on crossbars).
// `eval` is its old name, kept as an alias that warns.
#include <fmt/format.h>
#include <omp.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/number_options.h"
#include "apps/model_options.h"
#include "apps/output_paths.h"
#include "models/io/atomic_file.h"
#include "engine/evaluation/evaluate.h"
#include "engine/io/version.h"

namespace sxb::app {

namespace {

// `name` with the options of software-eval; `deprecated`: the old name, which warns.
void add_software_eval(CLI::App& app, const std::string& name, const std::string& description, bool deprecated) {
  struct Options {
    ModelOptions model;
    std::string data, json, predictions, device;
    int threads = 0;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(name, description);
  add_model_options(cmd, opt->model);
  cmd->add_option("--data", opt->data, "cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, folder:DIR or synthetic[:N]")
      ->required();
  cmd->add_option("--json", opt->json, "Write the result as JSON here");
  cmd->add_option("--predictions", opt->predictions, "Write index,label,predicted,logit_0..logit_{K-1} as CSV here");
  add_threads_option(cmd, opt->threads, "OpenMP threads (0: all cores)");
  add_device_option(cmd, opt->device);
  cmd->callback([opt, deprecated] {
    if (deprecated) fmt::print(stderr, "sparsexbar: warning: 'eval' is deprecated; use 'software-eval'\n");
    {
      use_threads(opt->threads);
      check_distinct_paths({{"--json", opt->json}, {"--predictions", opt->predictions}},
                           {{"--weights", opt->model.weights}});
      if (!opt->json.empty()) check_output_file(opt->json, "--json");
      if (!opt->predictions.empty()) check_output_file(opt->predictions, "--predictions");
      const ModelFile mf = read_model_file(opt->model);
      const nn::VggConfig& config = mf.config;
      std::unique_ptr<nn::Backend> backend = nn::make_backend(opt->device);
      nn::Vgg model(config, *backend);
      model.load_state_dict(mf.file, opt->model.weights);
      const Dataset test_set = load_dataset(opt->data, Split::Test);
      check_model_classes(config.classes, test_set, opt->model.weights);
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
                                  {"weights", opt->model.weights},
                                  {"data", opt->data},
                                  {"split", "test"},
                                  {"input_mean", config.input_mean},
                                  {"input_std", config.input_std},
                                  {"backend", backend->name()},
                                  {"device", backend->describe()},
                                  {"git", git_revision()},
                                  {"version", version()}};
        write_file_atomic(opt->json, j.dump(2) + "\n");
      }
      if (!opt->predictions.empty()) write_file_atomic(opt->predictions, predictions_csv(r, test_set));
    }
  });
}

}  // namespace

void add_software_eval_command(CLI::App& app) {
  add_software_eval(app, "software-eval",
                    "Accuracy of a trained model on the test split in software, no crossbar (see docs/cli.md)", false);
  add_software_eval(app, "eval", "Deprecated name of software-eval", true);
}

}  // namespace sxb::app
