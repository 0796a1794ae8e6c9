// Reading a JSON input file with one-line errors that name the file.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sxb {

// `what` names the file's role in the "cannot open" error (e.g. "the layout file").
nlohmann::json read_json_file(const std::string& path, const std::string& what);

}  // namespace sxb
