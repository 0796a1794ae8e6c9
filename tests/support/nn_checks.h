// Helpers of the network-layer tests: finite-difference gradient checks,
// error measures and thread-count scoping.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

namespace sxb::test_support {


inline double weighted_sum(const std::vector<float>& y, const std::vector<float>& r) {
  double sum = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) sum += static_cast<double>(y[i]) * r[i];
  return sum;
}

// max |analytic - numeric| / max |numeric| over every element of `v`, where
// numeric is the central difference of `objective` (perturbing v in place;
// the quotient uses the step actually taken after rounding to float).
inline double gradient_error(std::vector<float>& v, const std::vector<float>& analytic, double h,
                      const std::function<double()>& objective) {
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float old = v[i];
    const float up = static_cast<float>(old + h), down = static_cast<float>(old - h);
    v[i] = up;
    const double f_up = objective();
    v[i] = down;
    const double f_down = objective();
    v[i] = old;
    const double numeric = (f_up - f_down) / (static_cast<double>(up) - down);
    diff = std::max(diff, std::abs(analytic[i] - numeric));
    scale = std::max(scale, std::abs(numeric));
  }
  return scale > 0.0 ? diff / scale : diff;
}

inline double max_relative_error(const std::vector<float>& a, const std::vector<double>& b) {
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0.0 ? diff / scale : diff;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Runs f with the given OpenMP thread count, restoring the previous one.
template <class F>
void with_threads(int threads, F&& f) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  f();
  omp_set_num_threads(before);
}

constexpr double kStep = 1e-2;     // finite-difference step (fp32 forward passes)
constexpr double kGradTol = 1e-2;  // relative tolerance of the gradient checks

}  // namespace sxb::test_support
