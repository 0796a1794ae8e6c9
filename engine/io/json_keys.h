// Typed reads of one JSON object's keys, for the from_json() of the
// settings structs. Every key read is taken; done() makes any other key an
// Error. Errors name the key by its dotted path ("train.lr"), after the
// document's context when there is one ("sweep.json: point 3 (...)").
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace sxb {

class Keys {
 public:
  // `path`: the object's own key path ("" at the top, "train", "prune").
  // An object is required; null counts as an empty object.
  Keys(const nlohmann::json& j, std::string path, std::string context = "");

  std::string path(const std::string& key) const;   // "train.lr"
  std::string where(const std::string& key) const;  // "<context>: train.lr" (or the path alone)

  // The value of `key` (taken), or nullptr when absent or null.
  const nlohmann::json* get(const std::string& key);
  bool has(const std::string& key) const;  // present and not null (does not take it)

  // Leave `v` as it is when the key is absent or null.
  void number(const std::string& key, double& v);
  void number(const std::string& key, float& v);
  // Integers are read by json_integer and json_unsigned: never truncated or wrapped.
  void integer(const std::string& key, int& v, long long lo, long long hi);
  void integer(const std::string& key, unsigned long long& v);  // a seed: 0 .. 2^53
  void integer(const std::string& key, unsigned long& v);
  void text(const std::string& key, std::string& v);
  void flag(const std::string& key, bool& v);
  // A tile size: N (N x N) or "RxC" (or "N"), each in [1, 1048576].
  void tile(const std::string& key, int& rows, int& cols);

  // Error for the first key not taken: "<where>: unknown key".
  void done() const;

 private:
  const nlohmann::json& j_;
  std::string path_, context_;
  std::set<std::string> taken_;
};

// The same for a value on its own; errors name `where`.
void tile_value(const nlohmann::json& v, int& rows, int& cols, const std::string& where);

// Strict numbers of one JSON value; errors name `where` and show the value.
// Integers above 2^53 are not exact in every JSON reader (a double), so
// unsigned settings (seeds) stop there.
inline constexpr std::uint64_t kMaxJsonInteger = std::uint64_t{1} << 53;
// An integer in [lo, hi]: a JSON integer, or a number without fractional part
// of magnitude <= 2^53 (64.0 is 64); 16.7, true and "16" are Errors.
long long json_integer(const nlohmann::json& v, long long lo, long long hi, const std::string& where);
// An integer in [0, hi], hi <= kMaxJsonInteger: negative values are Errors, never wrapped.
std::uint64_t json_unsigned(const nlohmann::json& v, std::uint64_t hi, const std::string& where);
// A number in [lo, hi] (JSON numbers are finite: 1e999 does not parse).
double json_number(const nlohmann::json& v, double lo, double hi, const std::string& where);
// A finite number in [lo, hi] (defaults: any finite value); the error says the range in words.
double json_real(const nlohmann::json& v, const std::string& where, double lo = -1e308, double hi = 1e308);

}  // namespace sxb
