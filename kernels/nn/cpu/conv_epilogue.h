// The eval path's per-channel epilogue (internal to the CPU nn kernels): what
// ConvEpilogue (kernels/nn/layers.h) applies to one output value, and the
// 2x2 max of max_pool2x2_forward.
#pragma once

#include <cmath>
#include <cstddef>

#include "kernels/nn/layers.h"

namespace sxb::nn::cpu {

// ConvEpilogue for one output channel.
struct ChannelEpilogue {
  float bias = 0.0f, scale = 1.0f, shift = 0.0f;
  bool affine = false, relu = false;
  ChannelEpilogue(const ConvEpilogue& e, int k)
      : bias(e.bias ? e.bias[k] : 0.0f), scale(e.scale ? e.scale[k] : 1.0f), shift(e.scale ? e.shift[k] : 0.0f),
        affine(e.scale != nullptr), relu(e.relu) {}
  // The same operations, in the same order, as the separate layers.
  float operator()(float v) const {
    v = v + bias;
    if (affine) v = v * scale + shift;
    if (relu) v = v > 0.0f ? v : 0.0f;
    return v;
  }
};

// Max of a 2x2 window in row-major order: strictly greater or NaN replaces.
inline float window_max(float a, float b, float c, float d) {
  float best = a;
  if (b > best || std::isnan(b)) best = b;
  if (c > best || std::isnan(c)) best = c;
  if (d > best || std::isnan(d)) best = d;
  return best;
}

// One output plane of channel k: `from` holds its Ho x Wo product values
// (row-major); `to` receives them with the epilogue applied ([Ho/2, Wo/2]
// when e.pool).
void finish_plane(const ConvEpilogue& e, int k, int Ho, int Wo, const float* from, float* to);

// Winograd F(2,3) eval forward (conv2d_winograd.cpp), for the shapes that
// winograd_applies() accepts.
bool winograd_applies(const Conv2dShape& s);
void conv2d_forward_winograd(const Conv2dShape& s, const float* x, const float* weight, const ConvEpilogue& e,
                             float* y);

// Winograd F(2,3) backward (conv2d_winograd_backward.cpp), for the shapes
// that winograd_backward_applies() accepts (winograd_applies() and at least
// kWinogradMinChannels output channels): dweight [K, C, 3, 3] and
// dx [N, C, H, W] of conv2d_backward.
bool winograd_backward_applies(const Conv2dShape& s);
void conv2d_weight_grad_winograd(const Conv2dShape& s, const float* x, const float* dy, float* dweight);
void conv2d_input_grad_winograd(const Conv2dShape& s, const float* weight, const float* dy, float* dx);

}  // namespace sxb::nn::cpu
