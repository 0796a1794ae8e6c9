// Typed reads of one JSON object's keys, for the from_json() of the
// settings structs. Every key read is taken; done() makes any other key an
// Error. Errors name the key by its dotted path ("train.lr"), after the
// document's context when there is one ("sweep.json: point 3 (...)").
#pragma once

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
  void integer(const std::string& key, int& v, long long lo, long long hi);
  void integer(const std::string& key, unsigned long long& v);  // a seed: 0 .. 2^63 - 1
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

}  // namespace sxb
