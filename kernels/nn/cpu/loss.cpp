// Softmax cross-entropy with log-sum-exp in double; serial over the batch
// (N x classes is small), so the mean loss has one fixed summation order.
#include <cmath>
#include <cstddef>
#include <vector>

#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

LossResult softmax_cross_entropy(int batch, int classes, const float* logits, const int* labels,
                                 float* dlogits) {
  LossResult result;
  std::vector<double> e(static_cast<std::size_t>(classes));
  double total = 0.0;
  for (int n = 0; n < batch; ++n) {
    const float* z = logits + static_cast<std::size_t>(n) * classes;
    int best = 0;  // first index of the largest logit
    for (int k = 1; k < classes; ++k)
      if (z[k] > z[best]) best = k;
    const double z_max = z[best];
    double sum = 0.0;
    for (int k = 0; k < classes; ++k) sum += (e[k] = std::exp(static_cast<double>(z[k]) - z_max));
    const int label = labels[n];
    total += z_max + std::log(sum) - z[label];  // log-sum-exp minus the true logit
    if (best == label) ++result.correct;
    if (dlogits) {
      float* d = dlogits + static_cast<std::size_t>(n) * classes;
      for (int k = 0; k < classes; ++k) d[k] = static_cast<float>((e[k] / sum - (k == label ? 1.0 : 0.0)) / batch);
    }
  }
  result.loss = batch > 0 ? total / batch : 0.0;
  return result;
}

}  // namespace sxb::nn::cpu
