// The converters at a crossbar's edge, as exact functions. Rounding is half
// away from zero (std::round) everywhere.
//
// DAC of b bits with range r_x > 0: unsigned inputs (every input of the range
//   images >= 0) use L = 2^b - 1 levels 0..L, signed ones L = 2^(b-1) - 1
//   levels -L..L; level(x) = clip(round(x L / r_x), lo, L), x_q = level r_x / L.
// ADC of b bits with range r_u > 0: L = 2^(b-1) - 1,
//   ADC(u) = clip(round(u L / r_u), -L, L) r_u / L; a read is clipped when
//   |round(u L / r_u)| > L.
// A range of 0 (every value 0 over the range images) maps everything to 0.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace sxb {

struct DacRange {
  double range = 0.0;    // r_x
  bool is_signed = false;
};

// Largest level L of a DAC of `bits` bits.
inline int dac_top(int bits, bool is_signed) { return is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1; }
inline int adc_top(int bits) { return (1 << (bits - 1)) - 1; }

// The DAC level of x (an integer in [-L, L] or [0, L]).
inline double dac_level(double x, int top, const DacRange& r) {
  if (r.range <= 0.0) return 0.0;
  const double level = std::round(x * top / r.range);
  return std::fmin(std::fmax(level, r.is_signed ? -top : 0.0), static_cast<double>(top));
}

// The ADC of u; `clipped` set when the read saturated.
inline double adc(double u, int top, double range, bool& clipped) {
  if (range <= 0.0) {
    clipped = false;
    return 0.0;
  }
  const double level = std::round(u * top / range);
  clipped = std::fabs(level) > top;
  return std::fmin(std::fmax(level, -static_cast<double>(top)), static_cast<double>(top)) * range / top;
}

// Exact nearest-rank percentile p in (0, 100] of |u| over a stream of
// values, in at most two passes over the same stream: pass 1 counts values
// per bin of the top 16 bits of the float bit pattern (monotone in |u|) and
// keeps the maximum; when p < 100, pass 2 keeps only the values of the bin
// that holds rank ceil(p n / 100), from which the value is selected. Memory
// stays small whatever the stream's length.
class AbsPercentile {
 public:
  explicit AbsPercentile(double percentile);

  bool needs_second_pass() const { return pass_ == 1 && percentile_ < 100.0 && count_ > 0; }
  void start_second_pass();  // after pass 1 over the whole stream
  void add(float u) {
    const float a = std::fabs(u);
    std::uint32_t bits;
    __builtin_memcpy(&bits, &a, sizeof bits);
    if (pass_ == 1) {
      ++histogram_[bits >> 16];
      ++count_;
      if (a > max_) max_ = a;
    } else if ((bits >> 16) == bin_) {
      kept_.push_back(a);
    }
  }
  // An empty collector in the same pass (for another thread's values).
  AbsPercentile empty_like() const;
  void merge(const AbsPercentile& other);  // the same pass, other values
  double value();  // after the last pass; 0 when there was no value
  long long count() const { return count_; }

 private:
  double percentile_;
  int pass_ = 1;
  long long count_ = 0, rank_in_bin_ = 0;
  float max_ = 0.0f;
  std::uint32_t bin_ = 0;
  std::vector<long long> histogram_;
  std::vector<float> kept_;
};

}  // namespace sxb
