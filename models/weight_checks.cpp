#include "models/weight_checks.h"

#include <fmt/format.h>

#include <cmath>

#include "kernels/common/error.h"

namespace sxb {

void check_finite_values(const HostTensor& t, const std::string& name, const std::string& source) {
  for (std::size_t k = 0; k < t.data.size(); ++k)
    SXB_REQUIRE(std::isfinite(t.data[k]), fmt::format("{}: tensor '{}' holds {} at flat index {} (of {})", source,
                                                      name, t.data[k], k, t.data.size()));
}

void check_running_variance(const HostTensor& t, const std::string& name, const std::string& source) {
  check_finite_values(t, name, source);
  for (std::size_t k = 0; k < t.data.size(); ++k)
    SXB_REQUIRE(t.data[k] >= 0.0f, fmt::format("{}: tensor '{}' holds the negative variance {} for channel {}",
                                               source, name, t.data[k], k));
}

}  // namespace sxb
