#include "apps/output_paths.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "kernels/common/error.h"

namespace sxb::app {
namespace fs = std::filesystem;
namespace {

void make_folder(const fs::path& dir, const std::string& what) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(what + ": cannot create folder " + dir.string() + " (" + ec.message() + ")");
  SXB_REQUIRE(fs::is_directory(dir), what + ": " + dir.string() + " is not a folder");
}

// Creates and removes a file in `dir`.
void probe(const fs::path& dir, const std::string& what) {
  const fs::path file = (dir.empty() ? fs::path(".") : dir) / (".sparsexbar-probe." + std::to_string(::getpid()));
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error(what + ": cannot write in folder " + (dir.empty() ? "." : dir.string()) + " (" +
                std::strerror(errno) + ")");
  ::close(fd);
  ::unlink(file.c_str());
}

}  // namespace

void check_output_file(const std::string& path, const std::string& flag) {
  const std::string what = flag + " " + path;
  SXB_REQUIRE(!path.empty(), flag + ": empty path");
  SXB_REQUIRE(!fs::is_directory(path), what + ": is a folder, expected a file name");
  const fs::path dir = fs::path(path).parent_path();
  make_folder(dir, what);
  probe(dir, what);
}

void check_output_dir(const std::string& dir, const std::string& flag) {
  const std::string what = flag + " " + dir;
  SXB_REQUIRE(!dir.empty(), flag + ": empty path");
  make_folder(dir, what);
  probe(dir, what);
}

}  // namespace sxb::app
