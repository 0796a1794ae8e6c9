// Read-out variants of one set of solved tiles: the W_eff of every requested
// calibration evaluated, and, with batch-norm re-estimation, each again after
// the model's running statistics were re-estimated on that W_eff
// (engine/evaluation/bn_reestimation.h) and then put back.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "engine/converters/converter_network.h"
#include "engine/crossbar/calibration.h"
#include "engine/crossbar/scheduler.h"
#include "engine/evaluation/bn_reestimation.h"
#include "engine/evaluation/effective_model.h"

namespace sxb {

struct ReadoutVariant {
  Calibration calibration = Calibration::None;
  std::size_t bn_images = 0;  // 0: the model's own batch-norm statistics
  EvalResult result;
  std::optional<BnReestimation> bn;  // what the re-estimation changed
  std::vector<LayerConverters> converters;  // the tile-level forward's ranges and ADC counts; empty without
};

// The tile-level forward (engine/converters/): the layout, the configuration
// with its converter keys and the training split that sets the ranges. Each
// calibration's ranges are set once (with the model's own batch-norm
// statistics) and kept for its re-estimated variant.
struct TileLevelReadout {
  const NetworkLayout* layout = nullptr;
  CrossbarConfig config;
  const Dataset* range_train = nullptr;
};

// Variants in order: every calibration of `layers` (LayerEffective::calibrations())
// as it is, then, when bn_images > 0, every calibration with re-estimation over
// the first bn_images images of `bn_train`. `first`, when given, is the
// result of the first calibration without re-estimation, already evaluated.
// The model's statistics and weight hooks are as before on return. With
// `tiles`, every variant runs the tile-level forward (`layers` with pair weights).
std::vector<ReadoutVariant> evaluate_readout_variants(nn::Vgg& model, const Dataset& test, const Normalization& norm,
                                                      const std::vector<LayerEffective>& layers,
                                                      std::size_t bn_images, const Dataset* bn_train, SparsePath path,
                                                      const EvalResult* first = nullptr,
                                                      const TileLevelReadout* tiles = nullptr);

}  // namespace sxb
