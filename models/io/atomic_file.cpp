#include "models/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "kernels/common/error.h"

namespace sxb {

void write_file_atomic(const std::string& path, const std::string& content) {
  // Unique across threads, processes and the hosts of a shared file system.
  static std::atomic<unsigned> counter{0};
  char host[128] = "";
  ::gethostname(host, sizeof host - 1);
  const std::string tmp = path + ".tmp." + host + "." + std::to_string(::getpid()) + "." +
                          std::to_string(counter.fetch_add(1));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    SXB_REQUIRE(out.good(), path + ": cannot open for writing");
    out << content;
    out.flush();
    SXB_REQUIRE(out.good(), path + ": write failed");
  }
  // On disk before the rename, so a crash never leaves an empty file under the final name.
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot flush the temporary file to disk");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename temporary file into place (" + ec.message() + ")");
  }
}

}  // namespace sxb
