// The tile-level forward of a whole network for one read-out calibration:
// every mapped layer on its tile pairs with its DAC and ADC ranges, run in a
// model's forward through the product hook (models/modules.h).
//
// Ranges are set layer by layer in network order over `range_images` images
// of the training split, picked as batch-norm re-estimation picks them (image
// floor(k size / N) for k < N, file order; N = min(range_images, size)), with
// the model's batch-norm statistics as they are: layer l's input comes from
// the forward with every earlier layer already on its converters. r_x =
// max |x| over those inputs (signed when one is < 0); r_u per slice = the
// adc_range_percentile-th percentile (nearest rank) of |u| over every range
// image, pixel, tile pair, used column and pulse, with DAC-quantised inputs
// and an ideal ADC.
//
// The forward runs on the model's backend when it has a tile product of its
// own (CUDA: kernels/nn/cuda/tile_product.cu), else on the host
// (tile_layer_forward); the ranges are always collected on the host.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/converters/tile_forward.h"
#include "engine/data/batches.h"
#include "engine/data/dataset.h"
#include "models/vgg.h"

namespace sxb {

// What a layer's converters are and did.
struct LayerConverters {
  std::string layer;
  int slices = 1;
  DacRange dac;              // range 0 without a DAC
  std::vector<double> adc;   // r_u per slice; empty without an ADC
  AdcCounts counts;          // since the last reset_counts()

  double clipped_share() const {
    return counts.reads ? static_cast<double>(counts.clipped) / static_cast<double>(counts.reads) : 0.0;
  }
};
// {"layer", "slices", "dac_range", "dac_signed", "adc_range": [...], "adc_reads",
//  "adc_clipped", "adc_clipped_share"}
nlohmann::json to_json(const LayerConverters& c);

class ConverterNetwork {
 public:
  // `layers`: one calibration (select_calibration) with pair weights, in
  // `layout` order.
  ConverterNetwork(const std::vector<LayerEffective>& layers, const NetworkLayout& layout,
                   const CrossbarConfig& config);

  // Sets every layer's ranges as above (the model's hooks are as before on return).
  // `mode`: the network mode whose activations the ranges are taken from (Eval
  // for inference; Train for a training whose forward runs through the
  // converters, batch statistics in the range batches; the running statistics
  // are restored afterwards).
  void set_ranges(nn::Vgg& model, const Dataset& train, const Normalization& norm, nn::Mode mode = nn::Mode::Eval);
  // Runs `run` with the product hook in place (cleared on return, also on an exception).
  void run_with(nn::Vgg& model, const std::function<void()>& run);
  // Sets the product hook until the caller clears it (model.set_product_hook(nullptr));
  // set_ranges clears it. For a training whose forward runs through the converters.
  void attach(nn::Vgg& model);
  // Every tile pair of layer l: its weights at construction plus delta (the
  // layer matrix, K x N) / sum_k f_k, so that the layer's ideal product moves by
  // delta (weights changed since the solve, as non-ideality-aware fine-tuning
  // tracks them between solves). The ranges stay.
  void shift_weights(std::size_t l, const std::vector<float>& delta);
  std::size_t layers() const { return layers_.size(); }
  void reset_counts();
  std::vector<LayerConverters> summary() const;
  const TileLayer& layer(std::size_t l) const { return layers_[l]; }
  const LayerRanges& ranges(std::size_t l) const { return ranges_[l]; }

 private:
  bool product(nn::Backend& b, const nn::LayerProduct& call);

  ConverterSettings settings_;
  std::vector<TileLayer> layers_;
  std::vector<LayerRanges> ranges_;
  std::vector<bool> ready_;
  std::vector<AdcCounts> counts_;
  std::vector<float> x_, y_, bias_;  // host copies of the current call, kept between calls
  // The layers on a backend with a tile product of its own (CUDA), prepared on first use.
  const nn::Backend* device_backend_ = nullptr;
  bool backend_has_product_ = false;
  std::vector<std::unique_ptr<nn::TileProductHandle>> device_;
  std::vector<bool> prepared_;
  std::vector<std::vector<std::vector<float>>> solved_;  // pair weights at construction, once shifted
};

}  // namespace sxb
