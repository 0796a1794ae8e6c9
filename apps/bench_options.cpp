#include "apps/bench_options.h"

#include "apps/model_options.h"
#include "apps/number_options.h"
#include "models/vgg.h"

namespace sxb::app {

void add_resident_bench_options(CLI::App* cmd, ResidentBench& o, const std::string& pass) {
  cmd->add_option("--model", o.model, "vgg11 or vgg16")->capture_default_str();
  cmd->add_option("--width", o.width, "Width multiplier (0, 16]")->capture_default_str();  // checked by VggConfig
  cmd->add_option("--batch", o.batch, "Images per " + pass)->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--steps", o.steps, "Timed " + pass + "s")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Untimed " + pass + "s first")->check(CLI::Range(0, 1000))
      ->capture_default_str();
  add_device_option(cmd, o.device);
  add_threads_option(cmd, o.threads, "OpenMP threads (0: all cores)");
  cmd->add_flag("--json", o.json, "Print one JSON object instead of a line");
}

std::vector<float> resident_images(int n) {
  std::vector<float> images(static_cast<std::size_t>(n) * nn::kVggInputChannels * nn::kVggInputSize *
                            nn::kVggInputSize);
  for (std::size_t i = 0; i < images.size(); ++i)
    images[i] = static_cast<float>((rng::splitmix64(i) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  return images;
}

}  // namespace sxb::app
