// Sums in double over fp32 values, vectorisable and in a fixed order
// (internal to the CPU nn kernels).
#pragma once

namespace sxb::nn::cpu {

constexpr int kLanes = 8;

// kLanes interleaved partial sums, added in lane order: value i of a run
// goes to lane i % kLanes, so the order depends on the data layout only.
struct LaneSums {
  double lane[kLanes] = {};
  double total() const {
    double t = 0.0;
    for (double v : lane) t += v;
    return t;
  }
};

// s += v[i] (i < n).
inline void add_values(const float* v, int n, LaneSums& s) {
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s.lane[l] += v[i + l];
  for (int l = 0; i + l < n; ++l) s.lane[l] += v[i + l];
}

// s += (v[i] - c)^2 (i < n).
inline void add_squares(const float* v, int n, double c, LaneSums& s) {
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s.lane[l] += (v[i + l] - c) * (v[i + l] - c);
  for (int l = 0; i + l < n; ++l) s.lane[l] += (v[i + l] - c) * (v[i + l] - c);
}

// s += a[i] * (b[i] - c) (i < n).
inline void add_products(const float* a, const float* b, int n, double c, LaneSums& s) {
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s.lane[l] += a[i + l] * (b[i + l] - c);
  for (int l = 0; i + l < n; ++l) s.lane[l] += a[i + l] * (b[i + l] - c);
}

}  // namespace sxb::nn::cpu
