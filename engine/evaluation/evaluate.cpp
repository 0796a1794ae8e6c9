#include "engine/evaluation/evaluate.h"
#include "engine/io/stopwatch.h"

#include <fmt/format.h>

#include <numeric>

namespace sxb {

Normalization normalization_of(const nn::VggConfig& c) { return Normalization{c.input_mean, c.input_std}; }

void check_model_classes(int model_classes, const Dataset& d, const std::string& model_source) {
  SXB_REQUIRE(d.num_classes == 0 || d.num_classes == model_classes,
              fmt::format("{}: the model has {} classes, but the data {} has {}; evaluate it on data of its own classes",
                          model_source, model_classes, d.source, d.num_classes));
}

EvalResult evaluate(nn::Vgg& model, const Dataset& d, const Normalization& norm, int batch) {
  SXB_REQUIRE(batch > 0, "evaluation batch must be positive");
  const int classes = model.config().classes;
  for (std::size_t k = 0; k < d.size(); ++k)
    SXB_REQUIRE(d.labels[k] >= 0 && d.labels[k] < classes,
                fmt::format("{}: image {} has label {}, but the model has {} classes", d.source, k, d.labels[k],
                            classes));
  const Stopwatch watch;
  nn::Backend& backend = model.backend();
  EvalResult r;
  r.images = d.size();
  r.classes = classes;
  r.logits.resize(d.size() * classes);
  r.predicted.resize(d.size());
  std::vector<int> indices(d.size());
  std::iota(indices.begin(), indices.end(), 0);
  std::vector<float> images;
  std::vector<int> labels;
  nn::Tensor x, y;
  double loss_sum = 0.0;
  for (std::size_t first = 0; first < d.size(); first += batch) {
    const int n = static_cast<int>(std::min<std::size_t>(batch, d.size() - first));
    images.resize(static_cast<std::size_t>(n) * kImageBytes);
    labels.resize(static_cast<std::size_t>(n));
    make_batch(d, indices.data() + first, n, norm, nullptr, first, images.data(), labels.data());
    nn::ensure_shape(backend, x, {n, kImageChannels, kImageSize, kImageSize});
    nn::ensure_shape(backend, y, {n}, nn::DType::I32);
    backend.upload(images.data(), x);
    backend.upload(labels.data(), y);
    const nn::Tensor& logits = model.infer(x);
    const nn::LossResult loss = backend.softmax_cross_entropy(logits, y, nullptr);
    loss_sum += loss.loss * n;
    r.correct += static_cast<std::size_t>(loss.correct);
    backend.download(logits, r.logits.data() + first * classes);
  }
  for (std::size_t k = 0; k < d.size(); ++k) {
    const float* z = r.logits.data() + k * classes;
    int best = 0;
    for (int c = 1; c < classes; ++c)
      if (z[c] > z[best]) best = c;
    r.predicted[k] = best;
  }
  r.accuracy = d.size() ? static_cast<double>(r.correct) / d.size() : 0.0;
  r.loss = d.size() ? loss_sum / d.size() : 0.0;
  r.seconds = watch.seconds();
  return r;
}

std::string predictions_csv(const EvalResult& r, const Dataset& d) {
  std::string out = "index,label,predicted";
  for (int c = 0; c < r.classes; ++c) out += fmt::format(",logit_{}", c);
  out += '\n';
  for (std::size_t k = 0; k < r.images; ++k) {
    out += fmt::format("{},{},{}", k, d.labels[k], r.predicted[k]);
    for (int c = 0; c < r.classes; ++c) out += fmt::format(",{}", r.logits[k * r.classes + c]);
    out += '\n';
  }
  return out;
}

}  // namespace sxb
