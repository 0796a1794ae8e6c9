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

// `text` parsed with the depth limit; errors start with `where`.
nlohmann::json parse_json_text(const std::string& text, const std::string& where);
nlohmann::ordered_json parse_ordered_json_text(const std::string& text, const std::string& where);

}  // namespace sxb
