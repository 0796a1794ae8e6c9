#include "engine/evaluation/bn_reestimation.h"
#include "engine/io/stopwatch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/common/error.h"

namespace sxb {

namespace {

// Per-channel sums of (x - shift) and (x - shift)^2 over images x pixels, in
// double, image by image in the order the images are added. The shift (the
// channel mean of the first image) keeps the variance free of cancellation.
class ChannelMoments {
 public:
  explicit ChannelMoments(int channels) : shift_(channels), sum_(channels, 0.0), squares_(channels, 0.0) {}

  // x: [n, channels, pixels] on the host, the next n images.
  void add(const float* x, int n, int pixels) {
    const int channels = static_cast<int>(sum_.size());
    const std::size_t stride = static_cast<std::size_t>(channels) * pixels;
    if (count_ == 0) {
      for (int c = 0; c < channels; ++c) {
        const float* p = x + static_cast<std::size_t>(c) * pixels;
        shift_[c] = std::accumulate(p, p + pixels, 0.0) / pixels;
      }
    }
#pragma omp parallel for schedule(static)
    for (int c = 0; c < channels; ++c) {
      for (int k = 0; k < n; ++k) {
        const float* p = x + k * stride + static_cast<std::size_t>(c) * pixels;
        double s = 0.0, q = 0.0;
        for (int i = 0; i < pixels; ++i) {
          const double d = static_cast<double>(p[i]) - shift_[c];
          s += d;
          q += d * d;
        }
        sum_[c] += s;
        squares_[c] += q;
      }
    }
    count_ += static_cast<double>(n) * pixels;
  }

  // The mean and the biased variance of every channel.
  void result(std::vector<float>& mean, std::vector<float>& var) const {
    mean.resize(sum_.size());
    var.resize(sum_.size());
    for (std::size_t c = 0; c < sum_.size(); ++c) {
      const double m = sum_[c] / count_;
      mean[c] = static_cast<float>(shift_[c] + m);
      var[c] = static_cast<float>(std::max(0.0, squares_[c] / count_ - m * m));
    }
  }

 private:
  std::vector<double> shift_, sum_, squares_;
  double count_ = 0.0;
};

double mean_of(const std::vector<float>& v, bool absolute) {
  double s = 0.0;
  for (float x : v) s += absolute ? std::fabs(x) : x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

BatchNormState save_batchnorm(nn::Vgg& model) {
  nn::Backend& b = model.backend();
  BatchNormState s;
  for (const std::string& layer : model.batch_norm_layers()) {
    s.layers.push_back(layer);
    s.mean.push_back(nn::to_host(b, model.buffer(layer + ".running_mean").value));
    s.var.push_back(nn::to_host(b, model.buffer(layer + ".running_var").value));
    s.batches_tracked.push_back(model.buffer(layer + ".num_batches_tracked").count);
  }
  return s;
}

void restore_batchnorm(nn::Vgg& model, const BatchNormState& state) {
  SXB_REQUIRE(state.layers == model.batch_norm_layers(),
              "saved batch-norm statistics belong to another model (different batch-norm layers)");
  nn::Backend& b = model.backend();
  for (std::size_t l = 0; l < state.layers.size(); ++l) {
    nn::Buffer& mean = model.buffer(state.layers[l] + ".running_mean");
    nn::Buffer& var = model.buffer(state.layers[l] + ".running_var");
    SXB_REQUIRE(state.mean[l].size() == mean.value.numel() && state.var[l].size() == var.value.numel(),
                "saved batch-norm statistics of " + state.layers[l] + " have the wrong number of channels");
  }
  for (std::size_t l = 0; l < state.layers.size(); ++l) {
    b.upload(state.mean[l].data(), model.buffer(state.layers[l] + ".running_mean").value);
    b.upload(state.var[l].data(), model.buffer(state.layers[l] + ".running_var").value);
    model.buffer(state.layers[l] + ".num_batches_tracked").count = state.batches_tracked[l];
  }
}

namespace {

// The mean and biased variance of the input of batch-norm layer `layer`
// (`channels` channels) over `images` images of `train` spread evenly
// through it: image floor(k * size / images) for k < images, in file order.
void input_moments(nn::Vgg& model, const std::string& layer, int channels, const Dataset& train,
                   const Normalization& norm, std::size_t images, int batch, std::vector<float>& mean,
                   std::vector<float>& var) {
  nn::Backend& backend = model.backend();
  std::vector<int> indices(images);
  for (std::size_t k = 0; k < images; ++k) indices[k] = static_cast<int>(k * train.size() / images);
  std::vector<float> host_images, activations;
  std::vector<int> labels;
  nn::Tensor x;
  ChannelMoments moments(channels);
  for (std::size_t first = 0; first < images; first += batch) {
    const int n = static_cast<int>(std::min<std::size_t>(batch, images - first));
    host_images.resize(static_cast<std::size_t>(n) * kImageBytes);
    labels.resize(static_cast<std::size_t>(n));
    make_batch(train, indices.data() + first, n, norm, nullptr, first, host_images.data(), labels.data());
    nn::ensure_shape(backend, x, {n, kImageChannels, kImageSize, kImageSize});
    backend.upload(host_images.data(), x);
    const nn::Tensor& input = model.forward_to(layer, x, nn::ForwardContext{nn::Mode::Eval});
    SXB_REQUIRE(input.rank() == 4 && input.dim(1) == channels,
                fmt::format("{}: input {} does not have {} channels", layer, input.shape_string(), channels));
    activations.resize(input.numel());
    backend.download(input, activations.data());
    moments.add(activations.data(), n, input.dim(2) * input.dim(3));
  }
  moments.result(mean, var);
}

}  // namespace

BnReestimation reestimate_batchnorm(nn::Vgg& model, const Dataset& train, const Normalization& norm,
                                    std::size_t images, int batch) {
  SXB_REQUIRE(images > 0, "batch-norm re-estimation needs at least one image");
  SXB_REQUIRE(batch > 0, "batch-norm re-estimation: the batch size must be positive");
  SXB_REQUIRE(train.size() > 0, "batch-norm re-estimation: the training split " + train.source + " is empty");
  const Stopwatch watch;
  nn::Backend& backend = model.backend();
  BnReestimation r;
  r.images = std::min(images, train.size());
  r.before = save_batchnorm(model);
  std::vector<float> mean, var;
  try {
    for (std::size_t l = 0; l < r.before.layers.size(); ++l) {
      const std::string& layer = r.before.layers[l];
      const int channels = static_cast<int>(r.before.mean[l].size());
      input_moments(model, layer, channels, train, norm, r.images, batch, mean, var);
      backend.upload(mean.data(), model.buffer(layer + ".running_mean").value);
      backend.upload(var.data(), model.buffer(layer + ".running_var").value);
      r.layers.push_back({layer, channels, mean_of(r.before.mean[l], true), mean_of(mean, true),
                          mean_of(r.before.var[l], false), mean_of(var, false)});
    }
  } catch (...) {
    restore_batchnorm(model, r.before);  // never leave a half re-estimated model
    throw;
  }
  r.seconds = watch.seconds();
  return r;
}

nlohmann::json to_json(const BnReestimation& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const BnLayerChange& c : r.layers)
    layers.push_back({{"layer", c.layer},
                      {"channels", c.channels},
                      {"abs_mean_before", c.abs_mean_before},
                      {"abs_mean_after", c.abs_mean_after},
                      {"var_before", c.var_before},
                      {"var_after", c.var_after}});
  return {{"images", r.images}, {"seconds", r.seconds}, {"layers", layers}};
}

}  // namespace sxb
