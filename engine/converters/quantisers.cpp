#include "engine/converters/quantisers.h"

#include <algorithm>
#include <cmath>

namespace sxb {

AbsPercentile::AbsPercentile(double percentile) : percentile_(percentile), histogram_(1u << 16, 0) {}

void AbsPercentile::start_second_pass() {
  const long long rank = std::max<long long>(1, static_cast<long long>(std::ceil(percentile_ * count_ / 100.0)));
  long long below = 0;
  for (std::uint32_t b = 0; b < histogram_.size(); ++b) {
    if (below + histogram_[b] >= rank) {
      bin_ = b;
      rank_in_bin_ = rank - below;
      break;
    }
    below += histogram_[b];
  }
  pass_ = 2;
}

AbsPercentile AbsPercentile::empty_like() const {
  AbsPercentile e(percentile_);
  e.pass_ = pass_;
  e.bin_ = bin_;
  if (pass_ == 2) e.histogram_.clear();
  return e;
}

void AbsPercentile::merge(const AbsPercentile& other) {
  if (pass_ == 1) {
    for (std::size_t b = 0; b < histogram_.size(); ++b) histogram_[b] += other.histogram_[b];
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
  } else {
    kept_.insert(kept_.end(), other.kept_.begin(), other.kept_.end());
  }
}

double AbsPercentile::value() {
  if (count_ == 0) return 0.0;
  if (pass_ == 1) return max_;  // p = 100
  const auto nth = kept_.begin() + (rank_in_bin_ - 1);
  std::nth_element(kept_.begin(), nth, kept_.end());
  return *nth;
}

}  // namespace sxb
