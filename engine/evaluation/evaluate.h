// Evaluation of a classifier over a data set: accuracy, mean cross-entropy
// and the logits of every image, in eval mode (batch-norm running statistics,
// no dropout). The result does not depend on the thread count.
#pragma once

#include <string>
#include <vector>

#include "engine/data/batches.h"
#include "engine/data/dataset.h"
#include "models/vgg.h"

namespace sxb {

// Batch size of evaluation: fixed, so that every caller (the trainer's
// per-epoch test, `sparsexbar eval`) computes bit-identical logits.
inline constexpr int kEvalBatch = 256;

struct EvalResult {
  std::size_t images = 0, correct = 0;
  int classes = 0;
  double accuracy = 0.0;  // correct / images
  double loss = 0.0;      // mean cross-entropy
  double seconds = 0.0;
  std::vector<float> logits;  // [images, classes]
  std::vector<int> predicted;  // arg-max logit (first on ties)
};

// Every label must be < the model's classes (an Error otherwise).
EvalResult evaluate(nn::Vgg& model, const Dataset& d, const Normalization& norm, int batch = kEvalBatch);

// The model's input normalisation as stored in its configuration.
Normalization normalization_of(const nn::VggConfig& c);

// A model is evaluated on data of its own classes: a 10-class model on 3-class
// data would print an accuracy that means nothing. `model_source` names the
// weights in the error; data without a class count (0) is not checked.
void check_model_classes(int model_classes, const Dataset& d, const std::string& model_source);

// CSV, one row per image: index,label,predicted,logit_0..logit_{K-1}.
std::string predictions_csv(const EvalResult& r, const Dataset& d);

}  // namespace sxb
