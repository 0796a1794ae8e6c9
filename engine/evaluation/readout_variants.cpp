#include "engine/evaluation/readout_variants.h"

#include "kernels/common/error.h"

namespace sxb {

std::vector<ReadoutVariant> evaluate_readout_variants(nn::Vgg& model, const Dataset& test, const Normalization& norm,
                                                      const std::vector<LayerEffective>& layers,
                                                      std::size_t bn_images, const Dataset* bn_train, SparsePath path,
                                                      const EvalResult* first) {
  SXB_REQUIRE(!layers.empty(), "read-out variants: no mapped layer");
  SXB_REQUIRE(bn_images == 0 || (bn_train && bn_train->size() > 0),
              "evaluation.bn_recalibrate needs the training split of the data set");
  const std::vector<Calibration> calibrations = layers.front().calibrations();
  std::vector<ReadoutVariant> out;
  for (std::size_t k = 0; k < calibrations.size(); ++k) {
    ReadoutVariant v;
    v.calibration = calibrations[k];
    v.result = k == 0 && first ? *first
                               : evaluate_with_weights(model, test, norm, select_calibration(layers, v.calibration), path);
    out.push_back(std::move(v));
  }
  if (bn_images == 0) return out;
  for (Calibration c : calibrations) {
    ReadoutVariant v;
    v.calibration = c;
    with_effective_weights(model, select_calibration(layers, c), path, nullptr, [&] {
      BnReestimation bn = reestimate_batchnorm(model, *bn_train, norm, bn_images);
      try {
        v.result = evaluate(model, test, norm);
      } catch (...) {
        restore_batchnorm(model, bn.before);
        throw;
      }
      restore_batchnorm(model, bn.before);
      v.bn_images = bn.images;
      v.bn = std::move(bn);
    });
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace sxb
