#include "engine/io/json_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernels/common/error.h"

namespace sxb {
namespace {

std::string file_text(const std::string& path, const std::string& what) {
  SXB_REQUIRE(!std::filesystem::is_directory(path), path + ": is a folder, expected " + what);
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in, path + ": cannot open " + what + " (" + std::strerror(errno) + ")");
  std::stringstream text;
  text << in.rdbuf();
  SXB_REQUIRE(!in.bad(), path + ": cannot read " + what + " (" + std::strerror(errno) + ")");
  return text.str();
}

// nlohmann's parser is iterative; its callback sees the depth of every
// object and array as it opens, before anything deeper is built.
template <class Json>
Json parse_limited(const std::string& text, const std::string& where) {
  const typename Json::parser_callback_t limit = [&where](int depth, nlohmann::detail::parse_event_t event, Json&) {
    if ((event == nlohmann::detail::parse_event_t::object_start ||
         event == nlohmann::detail::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)
      throw Error(fmt::format("{}: nested deeper than {} levels", where, kMaxJsonDepth));
    return true;
  };
  try {
    return Json::parse(text, limit);
  } catch (const nlohmann::json::exception& e) {  // syntax, or a number too large for a double (out_of_range)
    throw Error(where + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& where) {
  return parse_limited<nlohmann::json>(text, where);
}

nlohmann::ordered_json parse_ordered_json_text(const std::string& text, const std::string& where) {
  return parse_limited<nlohmann::ordered_json>(text, where);
}

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  return parse_json_text(file_text(path, what), path);
}

nlohmann::ordered_json read_ordered_json_file(const std::string& path, const std::string& what) {
  return parse_ordered_json_text(file_text(path, what), path);
}

std::string first_non_finite(const nlohmann::json& j) {
  if (j.is_number_float()) return std::isfinite(j.get<double>()) ? "" : "(the value)";
  if (j.is_object()) {
    for (const auto& [key, value] : j.items())
      if (std::string where = first_non_finite(value); !where.empty())
        return where == "(the value)" ? key : key + (where[0] == '[' ? "" : ".") + where;
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i)
      if (std::string where = first_non_finite(j[i]); !where.empty())
        return fmt::format("[{}]", i) + (where == "(the value)" ? "" : (where[0] == '[' ? "" : ".") + where);
  }
  return "";
}

}  // namespace sxb
