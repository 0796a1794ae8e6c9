// Strict numbers from JSON values: an integer field takes only a JSON integer
// in range (16.7, 2^32 + 16 or -1 for a count are errors, never coerced), a
// real field only a finite number. Errors are one line naming `where` and the
// value as written.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sxb {

// A JSON integer in [lo, hi].
long long json_integer(const nlohmann::json& v, long long lo, long long hi, const std::string& where);

// A finite JSON number in [lo, hi] (defaults: any finite value).
double json_real(const nlohmann::json& v, const std::string& where, double lo = -1e308, double hi = 1e308);

}  // namespace sxb
