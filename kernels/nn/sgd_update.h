// One parameter's SGD update (PyTorch semantics: weight decay added to the
// gradient, momentum buffer, Nesterov), with the pruning mask: the formula
// of sgd_step (layers.h), shared by the CPU loop and the CUDA kernel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common/host_device.h"
#include "kernels/nn/layers.h"

namespace sxb::nn {

// Element i; momentum_buf may be null when p.momentum is 0, mask may be null.
SXB_HOST_DEVICE inline void sgd_update(const SgdParams& p, std::size_t i, float* param, float* grad,
                                       float* momentum_buf, const std::uint8_t* mask) {
  const bool use_buffer = p.momentum != 0.0f;
  if (mask && mask[i] == 0) {
    param[i] = 0.0f;
    grad[i] = 0.0f;
    if (use_buffer) momentum_buf[i] = 0.0f;
    return;
  }
  const float d = grad[i] + p.weight_decay * param[i];
  if (!use_buffer) {
    param[i] -= p.lr * d;
    return;
  }
  const float buf = p.momentum * momentum_buf[i] + d;
  momentum_buf[i] = buf;
  param[i] -= p.lr * (p.nesterov ? d + p.momentum * buf : buf);
}

}  // namespace sxb::nn
