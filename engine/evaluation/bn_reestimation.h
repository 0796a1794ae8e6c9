// Batch-norm re-estimation on the non-ideal crossbar. With W_eff in place
// (the model's weight hooks set), the running mean and variance of every
// batch-norm layer are replaced by the mean and the biased variance (over
// images x pixels) of that layer's input in the eval-mode forward of N
// images of the training split spread evenly through it (image
// floor(k * size / N) for k < N, in file order: image folders are sorted by
// class, so the first N would be one class; all images when N >= size), no
// augmentation, normalised as in evaluation, layer by layer in network
// order: layer L's statistics are taken with layers < L already re-estimated.
//
// Cost and memory: one eval-mode forward up to each batch-norm layer over the
// N images (VGG11: about 3.7 full forwards), holding one batch at a time, so
// memory does not grow with N.
//
// Determinism: per channel, pixel sums in double are taken image by image in
// file order and added in that order (channels in parallel), so the result
// is bit-identical for any thread count. It does not depend on the internal
// batch size beyond the float rounding of the layers' forward (the conv
// kernels' GEMM blocking follows the batch size): statistics agree to ~1e-6
// relative, and bit-identically wherever the forward is batch-independent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/data/batches.h"
#include "engine/data/dataset.h"
#include "engine/evaluation/evaluate.h"
#include "models/vgg.h"

namespace sxb {

// A host copy of every batch-norm layer's running statistics and count.
struct BatchNormState {
  std::vector<std::string> layers;            // "features.1", ...
  std::vector<std::vector<float>> mean, var;  // [layer][channel]
  std::vector<std::int64_t> batches_tracked;  // num_batches_tracked
};

BatchNormState save_batchnorm(nn::Vgg& model);
// Puts `state` back bit-identically; a state of another architecture is an Error.
void restore_batchnorm(nn::Vgg& model, const BatchNormState& state);

struct BnLayerChange {
  std::string layer;
  int channels = 0;
  // Over channels: mean of |running_mean| and mean of running_var.
  double abs_mean_before = 0.0, abs_mean_after = 0.0;
  double var_before = 0.0, var_after = 0.0;
};

struct BnReestimation {
  std::size_t images = 0;  // images used: min(N, training split)
  std::vector<BnLayerChange> layers;
  BatchNormState before;  // for restore_batchnorm
  double seconds = 0.0;
};

// Replaces the running statistics of every batch-norm layer of `model` in
// place, as defined above, over min(images, train.size()) images of `train`
// (images >= 1), `batch` images per forward. num_batches_tracked is
// left as it was. The weight hooks in place are used; they are not changed.
BnReestimation reestimate_batchnorm(nn::Vgg& model, const Dataset& train, const Normalization& norm,
                                    std::size_t images, int batch = kEvalBatch);

// {"images", "seconds", "layers": [{"layer", "channels", "abs_mean_before",
// "abs_mean_after", "var_before", "var_after"}]}
nlohmann::json to_json(const BnReestimation& r);

}  // namespace sxb
