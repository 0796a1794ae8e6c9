// Non-ideality-aware fine-tuning: training whose forward runs every mapped
// layer with its effective weight on the crossbar, W_eff(W), so that the
// weights learn to do the job through the exact circuit.
//
// Straight-through: the forward uses W_eff, the gradient of the loss with
// respect to W_eff is applied to W (dL/dW = dL/dW_eff). W_eff is solved by the
// scheduler (engine/crossbar/scheduler.h) from the current weights at the
// start, after every `resolve_every` steps, at the end of every epoch and at
// the end; between solves the last solved difference D = W_eff_last - W_last
// is added to the current weights (W_eff ~ W + D), so the forward follows
// them. Mapping scales follow the weights (max |W| per solve) or stay s_ref
// with WCT; masks and the WCT clamp act on W as in ordinary training.
//
// Converter keys (dac_bits, adc_bits, weight_bits): the forward is the
// tile-level forward (engine/converters/converter_network.h) through the
// product hook; each solve keeps the tile pairs and sets the ranges anew,
// and between solves the pairs follow the weights (ConverterNetwork::
// shift_weights); the gradient stays the straight-through one through W + D.
// A resumed run solves the pairs again at the resume point (bit-identical
// when it stopped at an epoch end).
//
// Devices: the configuration's seed every solve (the network learns the chip
// it will run on), or with `variation_resample` a new draw per epoch (epoch e
// > 0: seed counter_hash(seed, resample, e)); the final solve always uses the
// configuration's seed.
//
// Files: next to the checkpoint, <out>.nonideal.ckpt.safetensors holds D of
// every layer, the solve count and these settings, written at every epoch end
// and when a stop is requested, so a resumed run is bit-identical. The tuned
// model carries "nonideal_crossbar" (the crossbar configuration, JSON) and
// "nonideal_finetune" (these settings) in __metadata__; its test_accuracy is
// the software one, nonideal_test_accuracy the crossbar's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/training/train.h"

namespace sxb {

struct NonidealSettings {
  CrossbarConfig crossbar;  // circuit, devices, tile size, calibration, seed
  int resolve_every = 25;   // steps between solves (see docs/performance.md)
  bool variation_resample = false;
  Backend solver = Backend::Auto;
  // Packed tiles of a pruned model (tile size = the crossbar's); empty: dense
  // tiles. Masks are the caller's (TrainHooks::on_model).
  std::optional<NetworkLayout> layout;
  // Hold every weight of a mapped layer that is 0 at the start at 0 (a C/F
  // model evaluated on dense tiles).
  bool mask_zeros = false;

  // Error naming "<path>.<key>".
  void check(const std::string& path = "nonideal") const;
  // crossbar, resolve_every, variation_resample, layout (method), mask_zeros.
  nlohmann::json to_json() const;
};

struct NonidealStats {
  int solves = 0;              // solves by this run (a resumed run counts on)
  double solve_seconds = 0.0;  // map, solve and assemble, this run
  double train_seconds = 0.0;  // the whole training, this run
  double nonideal_test_accuracy = 0.0, software_test_accuracy = 0.0;  // final model
};

// "<out minus .safetensors>.nonideal.ckpt.safetensors".
std::string nonideal_state_path(const std::string& out);

// Masks every weight of a mapped layer that is exactly 0 (merged with an
// existing mask). Returns the number of masked weights.
long long mask_zero_weights(nn::Vgg& model);

// train() with the effective-weight forward. `hooks` run too (on_model before
// the first solve: set masks there). Returns train()'s result; the model's
// weight hook is cleared.
TrainResult train_nonideal(const TrainConfig& config, const NonidealSettings& settings, const Dataset& train_set,
                           const Dataset& test_set, nn::Backend& backend, const TrainHooks& hooks = {},
                           NonidealStats* stats = nullptr);

}  // namespace sxb
