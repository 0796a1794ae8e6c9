// SGD with momentum / Nesterov / weight decay (PyTorch semantics) and an
// optional pruning mask, element-wise (the formula: kernels/nn/sgd_update.h).
#include <cstddef>

#include "kernels/nn/layers.h"
#include "kernels/nn/sgd_update.h"

namespace sxb::nn::cpu {

void sgd_step(std::size_t n, const SgdParams& params, float* param, float* grad, float* momentum_buf,
              const std::uint8_t* mask) {
  const std::ptrdiff_t count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t i = 0; i < count; ++i)
    sgd_update(params, static_cast<std::size_t>(i), param, grad, momentum_buf, mask);
}

}  // namespace sxb::nn::cpu
