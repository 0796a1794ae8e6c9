#include "engine/evaluation/readout_variants.h"

#include <memory>

#include "kernels/common/error.h"

namespace sxb {

std::vector<ReadoutVariant> evaluate_readout_variants(nn::Vgg& model, const Dataset& test, const Normalization& norm,
                                                      const std::vector<LayerEffective>& layers,
                                                      std::size_t bn_images, const Dataset* bn_train, SparsePath path,
                                                      const EvalResult* first, const TileLevelReadout* tiles) {
  SXB_REQUIRE(!layers.empty(), "read-out variants: no mapped layer");
  SXB_REQUIRE(bn_images == 0 || (bn_train && bn_train->size() > 0),
              "evaluation.bn_recalibrate needs the training split of the data set");
  SXB_REQUIRE(!tiles || (tiles->layout && tiles->range_train),
              "crossbar.range_images: the converters' ranges need the training split of the data set");
  const std::vector<Calibration> calibrations = layers.front().calibrations();
  // The tile-level networks, one per calibration, ranges set on first use.
  std::vector<std::unique_ptr<ConverterNetwork>> networks(calibrations.size());
  const auto network = [&](std::size_t k) -> ConverterNetwork& {
    if (!networks[k]) {
      networks[k] = std::make_unique<ConverterNetwork>(select_calibration(layers, calibrations[k]), *tiles->layout,
                                                       tiles->config);
      networks[k]->set_ranges(model, *tiles->range_train, norm);
    }
    return *networks[k];
  };
  // Runs `run` with calibration k's weights in the forward.
  const auto with_readout = [&](std::size_t k, const std::function<void()>& run) {
    const std::vector<LayerEffective> selected = select_calibration(layers, calibrations[k]);
    if (!tiles) return with_effective_weights(model, selected, path, nullptr, run);
    // The weight hook serves the straight-through gradient; the product hook computes.
    with_effective_weights(model, selected, SparsePath::Dense, nullptr, [&] { network(k).run_with(model, run); });
  };
  std::vector<ReadoutVariant> out;
  for (std::size_t k = 0; k < calibrations.size(); ++k) {
    ReadoutVariant v;
    v.calibration = calibrations[k];
    if (k == 0 && first) {
      v.result = *first;
    } else if (tiles) {
      network(k).reset_counts();
      with_readout(k, [&] { v.result = evaluate(model, test, norm); });
      v.converters = network(k).summary();
    } else {
      v.result = evaluate_with_weights(model, test, norm, select_calibration(layers, v.calibration), path);
    }
    out.push_back(std::move(v));
  }
  if (bn_images == 0) return out;
  for (std::size_t k = 0; k < calibrations.size(); ++k) {
    ReadoutVariant v;
    v.calibration = calibrations[k];
    if (tiles) network(k);  // ranges with the model's own statistics
    with_readout(k, [&] {
      BnReestimation bn = reestimate_batchnorm(model, *bn_train, norm, bn_images);
      try {
        if (tiles) network(k).reset_counts();
        v.result = evaluate(model, test, norm);
      } catch (...) {
        restore_batchnorm(model, bn.before);
        throw;
      }
      restore_batchnorm(model, bn.before);
      v.bn_images = bn.images;
      v.bn = std::move(bn);
    });
    if (tiles) v.converters = network(k).summary();
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace sxb
