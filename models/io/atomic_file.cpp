#include "models/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "kernels/common/error.h"

namespace sxb {
namespace {

// Removes the temporary file unless released: every failure path leaves nothing behind.
struct TempFile {
  std::string path;
  int fd = -1;
  bool keep = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!keep) ::unlink(path.c_str());
  }
};

std::string os_error() { return std::strerror(errno); }

void write_all(int fd, const std::string& path, const std::string& content) {
  for (std::size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(path + ": write failed (" + (n < 0 ? os_error() : std::string("no progress")) + ")");
    done += static_cast<std::size_t>(n);
  }
}

// Standard output, a device or a FIFO: opened as it is (no create, no
// truncation, no rename), written, closed; errors are errors.
void write_in_place(const std::string& path, const std::string& content) {
  if (path == "-") {
    // After whatever the program printed through stdio, in order.
    if (std::fflush(stdout) != 0) throw Error("standard output: write failed (" + os_error() + ")");
    write_all(STDOUT_FILENO, "standard output", content);
    return;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open for writing (" + os_error() + ")");
  try {
    write_all(fd, path, content);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw Error(path + ": write failed on close (" + os_error() + ")");
}

}  // namespace

bool written_in_place(const std::string& path) {
  if (path == "-") return true;
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  SXB_REQUIRE(!path.empty(), "empty output path");
  SXB_REQUIRE(!std::filesystem::is_directory(path), path + ": is a folder, cannot write a file there");
  if (written_in_place(path)) return write_in_place(path, content);
  // Unique across threads, processes and the hosts of a shared file system.
  static std::atomic<unsigned> counter{0};
  char host[128] = "";
  ::gethostname(host, sizeof host - 1);
  TempFile tmp{path + ".tmp." + host + "." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1))};
  tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (tmp.fd < 0) {
    tmp.keep = true;  // not created
    throw Error(path + ": cannot open for writing (" + os_error() + ")");
  }
  write_all(tmp.fd, path, content);
  // On disk before the rename, so a crash never leaves an empty file under the final name.
  if (::fsync(tmp.fd) != 0) throw Error(path + ": cannot flush the temporary file to disk (" + os_error() + ")");
  const int closed = ::close(tmp.fd);
  tmp.fd = -1;
  if (closed != 0) throw Error(path + ": write failed on close (" + os_error() + ")");
  std::error_code ec;
  std::filesystem::rename(tmp.path, path, ec);
  if (ec) throw Error(path + ": cannot rename temporary file into place (" + ec.message() + ")");
  tmp.keep = true;  // it is `path` now
}

}  // namespace sxb
