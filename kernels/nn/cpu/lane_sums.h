// Sums over fp32 values in a fixed order, vectorisable (internal to the CPU
// nn kernels).
#pragma once

#include <algorithm>

namespace sxb::nn::cpu {

constexpr int kLanes = 8;
// Values per fp32 partial sum before it is added to the double lanes.
constexpr int kLaneBlock = 1024;

// kLanes interleaved partial sums, added in lane order: value i of a run
// goes to lane i % kLanes; each block of kLaneBlock values of a run is summed
// in fp32 lanes first (vectorised), then added to the double lanes. The order
// depends on the data layout only, never on the thread count.
struct LaneSums {
  double lane[kLanes] = {};
  double total() const {
    double t = 0.0;
    for (double v : lane) t += v;
    return t;
  }
};

// s += sum over i < n of term(i), term returning float.
template <class Term>
inline void add_terms(int n, LaneSums& s, Term term) {
  for (int start = 0; start < n; start += kLaneBlock) {
    const int end = std::min(n, start + kLaneBlock);
    float acc[kLanes] = {};
    int i = start;
    for (; i + kLanes <= end; i += kLanes)
      for (int l = 0; l < kLanes; ++l) acc[l] += term(i + l);
    for (int l = 0; i + l < end; ++l) acc[l] += term(i + l);
    for (int l = 0; l < kLanes; ++l) s.lane[l] += acc[l];
  }
}

// s += v[i] (i < n).
inline void add_values(const float* v, int n, LaneSums& s) {
  add_terms(n, s, [v](int i) { return v[i]; });
}

// s += (v[i] - c)^2 (i < n), with c rounded to fp32.
inline void add_squares(const float* v, int n, double c, LaneSums& s) {
  const float cf = static_cast<float>(c);
  add_terms(n, s, [v, cf](int i) { return (v[i] - cf) * (v[i] - cf); });
}

// s += a[i] * (b[i] - c) (i < n), with c rounded to fp32.
inline void add_products(const float* a, const float* b, int n, double c, LaneSums& s) {
  const float cf = static_cast<float>(c);
  add_terms(n, s, [a, b, cf](int i) { return a[i] * (b[i] - cf); });
}

}  // namespace sxb::nn::cpu
