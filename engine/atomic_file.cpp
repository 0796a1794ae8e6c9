#include "engine/atomic_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "kernels/error.h"

namespace sxb {

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    SXB_REQUIRE(out.good(), path + ": cannot open for writing");
    out << content;
    out.flush();
    SXB_REQUIRE(out.good(), path + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename temporary file into place (" + ec.message() + ")");
  }
}

}  // namespace sxb
