#include "engine/io/json_file.h"

#include <fstream>
#include <sstream>

#include "kernels/common/error.h"

namespace sxb {

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in, path + ": cannot open " + what);
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace sxb
