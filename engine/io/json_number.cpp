#include "engine/io/json_number.h"

#include <fmt/format.h>

#include <cmath>

#include "kernels/common/error.h"

namespace sxb {

long long json_integer(const nlohmann::json& v, long long lo, long long hi, const std::string& where) {
  const std::string bad = fmt::format("{} must be an integer in [{}, {}] (got {})", where, lo, hi, v.dump());
  SXB_REQUIRE(v.is_number_integer(), bad);
  if (v.is_number_unsigned()) {
    const unsigned long long u = v.get<unsigned long long>();
    SXB_REQUIRE(hi >= 0 && u <= static_cast<unsigned long long>(hi) && (lo <= 0 || u >= static_cast<unsigned long long>(lo)),
                bad);
    return static_cast<long long>(u);
  }
  const long long n = v.get<long long>();
  SXB_REQUIRE(n >= lo && n <= hi, bad);
  return n;
}

double json_real(const nlohmann::json& v, const std::string& where, double lo, double hi) {
  SXB_REQUIRE(v.is_number(), fmt::format("{} must be a number (got {})", where, v.dump()));
  const double x = v.get<double>();
  if (std::isfinite(x) && x >= lo && x <= hi) return x;
  const bool any_low = lo <= -1e308, any_high = hi >= 1e308;
  const std::string range = any_low && any_high ? "a finite number"
                            : any_high          ? fmt::format("a finite number >= {}", lo)
                            : any_low           ? fmt::format("a number <= {}", hi)
                                                : fmt::format("a number in [{}, {}]", lo, hi);
  throw Error(fmt::format("{} must be {} (got {})", where, range, v.dump()));
}

}  // namespace sxb
