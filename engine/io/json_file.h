// Reading a JSON input file with one-line errors that name the file.
// Nesting is limited (kMaxJsonDepth) while parsing, so that a hostile file
// cannot overflow the stack of the recursive code that copies, compares or
// writes the value afterwards.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sxb {

// Deeper than any settings file, sweep or layout needs.
inline constexpr int kMaxJsonDepth = 64;

// `what` names the file's role in the "cannot open" error (e.g. "the layout file").
nlohmann::json read_json_file(const std::string& path, const std::string& what);
// The same keeping the order of object keys (sweep grids).
nlohmann::ordered_json read_ordered_json_file(const std::string& path, const std::string& what);

// The path ("layers[2].column_gain.mean") of the first number of `j` that is
// not finite, "" when every number is. JSON has no inf or NaN (they would be
// written as null), so an output is checked with this before it is written.
std::string first_non_finite(const nlohmann::json& j);

// `text` parsed with the depth limit; errors start with `where`.
nlohmann::json parse_json_text(const std::string& text, const std::string& where);
nlohmann::ordered_json parse_ordered_json_text(const std::string& text, const std::string& where);

}  // namespace sxb
