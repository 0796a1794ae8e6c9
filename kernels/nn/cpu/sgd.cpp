// SGD with momentum / Nesterov / weight decay (PyTorch semantics) and an
// optional pruning mask, element-wise.
#include <cstddef>

#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

void sgd_step(std::size_t n, const SgdParams& params, float* param, float* grad, float* momentum_buf,
              const std::uint8_t* mask) {
  const float lr = params.lr, momentum = params.momentum, wd = params.weight_decay;
  const bool use_buffer = momentum != 0.0f, nesterov = params.nesterov;
  const std::ptrdiff_t count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t i = 0; i < count; ++i) {
    if (mask && mask[i] == 0) {
      param[i] = 0.0f;
      grad[i] = 0.0f;
      if (use_buffer) momentum_buf[i] = 0.0f;
      continue;
    }
    const float d = grad[i] + wd * param[i];
    if (!use_buffer) {
      param[i] -= lr * d;
      continue;
    }
    const float buf = momentum * momentum_buf[i] + d;
    momentum_buf[i] = buf;
    param[i] -= lr * (nesterov ? d + momentum * buf : buf);
  }
}

}  // namespace sxb::nn::cpu
