#include "engine/io/json_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernels/common/error.h"

namespace sxb {

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  SXB_REQUIRE(!std::filesystem::is_directory(path), path + ": is a folder, expected " + what);
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in, path + ": cannot open " + what + " (" + std::strerror(errno) + ")");
  std::stringstream text;
  text << in.rdbuf();
  SXB_REQUIRE(!in.bad(), path + ": cannot read " + what + " (" + std::strerror(errno) + ")");
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double (out_of_range)
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace sxb
