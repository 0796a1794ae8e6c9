// A tiny VGG11 for the training-workflow tests (tests/workflows): width
// 0.0625 (4..32 channels, fast on a CPU), its initial weights in a file, a
// training configuration on the synthetic set, non-ideal settings with 16 x 16
// tiles, and its parameters as one host vector.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/crossbar/crossbar_config.h"
#include "engine/training/nonideal_finetune.h"
#include "models/io/safetensors.h"
#include "models/vgg.h"

namespace sxb::test {

constexpr double kTinyWidth = 0.0625;

inline void quiet(const std::string&) {}

// A freshly initialised (untrained) tiny vgg11 written to `path`, its mapped
// weights scaled by `weight_factor`.
inline void write_tiny_vgg(const std::string& path, std::uint64_t seed, float weight_factor = 1.0f) {
  auto backend = nn::make_cpu_backend();
  nn::Vgg model(nn::VggConfig{"vgg11", kTinyWidth, 10}, *backend);
  model.init(seed);
  SafetensorsFile f = model.state_dict();
  if (weight_factor != 1.0f)
    for (const std::string& layer : model.weight_layers())
      for (float& w : f.tensors.at(layer + ".weight").data) w *= weight_factor;
  write_safetensors(path, f);
}

// Training of the tiny vgg11 from `init` into `out` on the synthetic set
// (batch 16, lr 0.05, seed 7); `out`, its checkpoint and its non-ideal state
// are removed first.
inline TrainConfig tiny_training(const std::string& init, const std::string& out, int epochs = 1) {
  TrainConfig c;
  c.model = "vgg11";
  c.width = kTinyWidth;
  c.classes = 10;
  c.data = "synthetic";
  c.epochs = epochs;
  c.batch = 16;
  c.lr = 0.05;
  c.seed = 7;
  c.init_weights = init;
  c.out = out;
  std::filesystem::remove(out);
  std::filesystem::remove(checkpoint_path(out));
  std::filesystem::remove(nonideal_state_path(out));
  return c;
}

// The default circuit with tile x tile tiles, solved on the CPU every
// `resolve_every` steps.
inline NonidealSettings tiny_nonideal(int resolve_every, int tile = 16) {
  NonidealSettings s;
  s.crossbar = crossbar_preset("default");
  s.crossbar.tile_rows = s.crossbar.tile_cols = tile;
  s.resolve_every = resolve_every;
  s.solver = Backend::Cpu;
  return s;
}

// `c` stopped after `stop_at` steps (asserted interrupted), then resumed to
// its end; the resumed run's result.
inline TrainResult train_nonideal_interrupted(TrainConfig c, const NonidealSettings& s, const Dataset& train_set,
                                              nn::Backend& b, int stop_at, NonidealStats* stats = nullptr) {
  TrainHooks stopper;
  stopper.log = quiet;
  int steps = 0;
  stopper.after_step = [&](nn::Vgg&, const StepInfo&) { ++steps; };
  stopper.stop_requested = [&] { return steps == stop_at; };
  if (!train_nonideal(c, s, train_set, Dataset{}, b, stopper).interrupted)
    throw std::runtime_error("the run was not interrupted");
  c.resume = true;
  return train_nonideal(c, s, train_set, Dataset{}, b, {nullptr, nullptr, nullptr, quiet}, stats);
}

// Every parameter of `m`, in parameters() order.
inline std::vector<float> parameters_of(nn::Vgg& m) {
  std::vector<float> out;
  for (nn::Parameter* p : m.parameters()) {
    const std::vector<float> v = nn::to_host(m.backend(), p->value);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

}  // namespace sxb::test
