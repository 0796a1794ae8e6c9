#include "engine/io/json_keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/common/error.h"

namespace sxb {
namespace {

const nlohmann::json& empty_object() {
  static const nlohmann::json e = nlohmann::json::object();
  return e;
}

}  // namespace

void tile_value(const nlohmann::json& v, int& rows, int& cols, const std::string& where) {
  constexpr long long hi = 1 << 20;
  if (v.is_number_integer()) {
    SXB_REQUIRE(v.get<long long>() >= 1 && v.get<long long>() <= hi,
                fmt::format("{} must be in [1, {}] (got {})", where, hi, v.dump()));
    rows = cols = static_cast<int>(v.get<long long>());
    return;
  }
  const std::string bad = fmt::format("{} must be N or \"RxC\" with N, R, C in [1, {}] (got {})", where, hi, v.dump());
  SXB_REQUIRE(v.is_string(), bad);
  const std::string text = v.get<std::string>();
  const std::size_t x = text.find_first_of("xX");
  const auto part = [&](const std::string& t) {
    SXB_REQUIRE(!t.empty() && t.size() <= 7 && t.find_first_not_of("0123456789") == std::string::npos, bad);
    const long long n = std::stoll(t);
    SXB_REQUIRE(n >= 1 && n <= hi, bad);
    return static_cast<int>(n);
  };
  rows = part(text.substr(0, x));
  cols = x == std::string::npos ? rows : part(text.substr(x + 1));
}

long long json_integer(const nlohmann::json& v, long long lo, long long hi, const std::string& where) {
  const auto bad = [&] { return fmt::format("{} must be an integer in [{}, {}] (got {})", where, lo, hi, v.dump()); };
  if (v.is_number_unsigned()) {
    SXB_REQUIRE(hi >= 0 && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi) &&
                    (lo <= 0 || v.get<std::uint64_t>() >= static_cast<std::uint64_t>(lo)),
                bad());
    return static_cast<long long>(v.get<std::uint64_t>());
  }
  if (v.is_number_integer()) {
    SXB_REQUIRE(v.get<long long>() >= lo && v.get<long long>() <= hi, bad());
    return v.get<long long>();
  }
  SXB_REQUIRE(v.is_number_float(), bad());
  const double d = v.get<double>();
  constexpr double exact = static_cast<double>(kMaxJsonInteger);
  SXB_REQUIRE(d == std::trunc(d) && std::fabs(d) <= exact && d >= static_cast<double>(lo) &&
                  d <= static_cast<double>(hi),
              bad());
  return static_cast<long long>(d);
}

std::uint64_t json_unsigned(const nlohmann::json& v, std::uint64_t hi, const std::string& where) {
  hi = std::min(hi, kMaxJsonInteger);
  return static_cast<std::uint64_t>(json_integer(v, 0, static_cast<long long>(hi), where));
}

double json_number(const nlohmann::json& v, double lo, double hi, const std::string& where) {
  SXB_REQUIRE(v.is_number() && v.get<double>() >= lo && v.get<double>() <= hi,
              fmt::format("{} must be a number in [{}, {}] (got {})", where, lo, hi, v.dump()));
  return v.get<double>();
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

Keys::Keys(const nlohmann::json& j, std::string path, std::string context)
    : j_(j.is_null() ? empty_object() : j), path_(std::move(path)), context_(std::move(context)) {
  const std::string what = path_.empty() ? (context_.empty() ? std::string("the settings") : context_)
                                         : (context_.empty() ? path_ : context_ + ": " + path_);
  SXB_REQUIRE(j_.is_object(), fmt::format("{}: expected a JSON object (got {})", what, j.dump()));
}

std::string Keys::path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

std::string Keys::where(const std::string& key) const {
  return context_.empty() ? path(key) : context_ + ": " + path(key);
}

const nlohmann::json* Keys::get(const std::string& key) {
  taken_.insert(key);
  const auto it = j_.find(key);
  return it == j_.end() || it->is_null() ? nullptr : &*it;
}

bool Keys::has(const std::string& key) const {
  const auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

void Keys::number(const std::string& key, double& v) {
  if (const nlohmann::json* x = get(key)) {
    SXB_REQUIRE(x->is_number(), fmt::format("{} must be a number (got {})", where(key), x->dump()));
    v = x->get<double>();
  }
}

void Keys::number(const std::string& key, float& v) {
  double d = v;
  number(key, d);
  v = static_cast<float>(d);
}

void Keys::integer(const std::string& key, int& v, long long lo, long long hi) {
  if (const nlohmann::json* x = get(key)) v = static_cast<int>(json_integer(*x, lo, hi, where(key)));
}

void Keys::integer(const std::string& key, unsigned long long& v) {
  if (const nlohmann::json* x = get(key)) v = json_unsigned(*x, kMaxJsonInteger, where(key));
}

void Keys::integer(const std::string& key, unsigned long& v) {
  unsigned long long w = v;
  integer(key, w);
  v = static_cast<unsigned long>(w);
}

void Keys::text(const std::string& key, std::string& v) {
  if (const nlohmann::json* x = get(key)) {
    SXB_REQUIRE(x->is_string(), fmt::format("{} must be a string (got {})", where(key), x->dump()));
    v = x->get<std::string>();
  }
}

void Keys::flag(const std::string& key, bool& v) {
  if (const nlohmann::json* x = get(key)) {
    SXB_REQUIRE(x->is_boolean(), fmt::format("{} must be true or false (got {})", where(key), x->dump()));
    v = x->get<bool>();
  }
}

void Keys::tile(const std::string& key, int& rows, int& cols) {
  if (const nlohmann::json* x = get(key)) tile_value(*x, rows, cols, where(key));
}

void Keys::done() const {
  for (const auto& [key, value] : j_.items())
    SXB_REQUIRE(taken_.count(key), fmt::format("{}: unknown key", where(key)));
}

}  // namespace sxb
