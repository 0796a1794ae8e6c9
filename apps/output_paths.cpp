#include "apps/output_paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "kernels/common/error.h"
#include "models/io/atomic_file.h"

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

// The file a path names, for comparing paths: the canonical form of its
// existing part and the rest as written.
fs::path identity(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? fs::path(path).lexically_normal() : p;
}

bool same_file(const std::string& a, const std::string& b) {
  if (a == "-" || b == "-") return a == b;
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec) && !ec;
  return identity(a) == identity(b);
}

bool is_char_device(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

}  // namespace

void check_distinct_paths(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto& [flag, path] = outputs[i];
    if (path.empty()) continue;
    for (const auto& [in_flag, in_path] : inputs)
      SXB_REQUIRE(in_path.empty() || !same_file(path, in_path),
                  flag + " " + path + ": is the input " + in_flag + "; choose another output path");
    for (std::size_t j = 0; j < i; ++j) {
      const auto& [other_flag, other] = outputs[j];
      SXB_REQUIRE(other.empty() || !same_file(path, other) || is_char_device(path),
                  flag + " " + path + ": is also the output " + other_flag + "; give each output its own path");
    }
  }
}

void no_empty_values(CLI::App& app) {
  for (CLI::Option* o : app.get_options()) {
    if (o->get_type_size() == 0) continue;  // a flag
    const std::string type = o->get_type_name();
    if (type.rfind("TEXT", 0) != 0 && type.rfind("FILE", 0) != 0) continue;
    o->check(CLI::Validator([](std::string& s) { return s.empty() ? std::string("empty value") : std::string(); }, ""));
  }
  for (CLI::App* sub : app.get_subcommands({})) no_empty_values(*sub);
}

namespace {

// "-", a device or a FIFO: written in place; only its access is checked (a
// FIFO is not opened here: that would wait for a reader).
void check_in_place(const std::string& path, const std::string& what) {
  if (path == "-") return;
  if (::access(path.c_str(), W_OK) != 0) throw Error(what + ": cannot write (" + std::strerror(errno) + ")");
}

}  // namespace

void check_output_file(const std::string& path, const std::string& flag) {
  const std::string what = flag + " " + path;
  SXB_REQUIRE(!path.empty(), flag + ": empty path");
  SXB_REQUIRE(!fs::is_directory(path), what + ": is a folder, expected a file name");
  if (written_in_place(path)) return check_in_place(path, what);
  const fs::path dir = fs::path(path).parent_path();
  make_folder(dir, what);
  probe(dir, what);
}

std::string usable_cache_dir(const std::string& dir, bool given) {
  try {
    check_output_dir(dir, given ? "--cache-dir" : "the cache folder");
    return dir;
  } catch (const Error& e) {
    std::fprintf(stderr,
                 "warning: %s; going on without the W_eff cache (choose another folder with --cache-dir or "
                 "SPARSEXBAR_CACHE, or pass --no-cache)\n",
                 e.what());
    return "";
  }
}

void check_output_dir(const std::string& dir, const std::string& flag) {
  const std::string what = flag + " " + dir;
  SXB_REQUIRE(!dir.empty(), flag + ": empty path");
  make_folder(dir, what);
  probe(dir, what);
}

}  // namespace sxb::app
