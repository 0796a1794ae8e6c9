// Atomic writes (models/io/atomic_file.h): the file appears whole or not at
// all, a failure names the path and the OS error, and no temporary file is
// left behind on any failure path.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "models/io/atomic_file.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {
namespace fs = std::filesystem;

int entries(const fs::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFile, WritesWholeFile) {
  const fs::path dir = test::fresh_dir("atomic-ok");
  write_file_atomic((dir / "a.txt").string(), "hello");
  std::ifstream in(dir / "a.txt");
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "hello");
  EXPECT_EQ(entries(dir), 1);
}

// A FIFO is written in place (the reader gets the bytes, the FIFO stays one);
// only regular files are replaced. An empty path is an error.
TEST(AtomicFile, FifosAreWrittenInPlaceAndEmptyPathsRefused) {
  const fs::path dir = test::fresh_dir("atomic-fifo");
  const fs::path fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_TRUE(written_in_place(fifo.string()));
  EXPECT_TRUE(written_in_place("-"));
  EXPECT_FALSE(written_in_place((dir / "absent").string()));
  EXPECT_FALSE(written_in_place(dir.string()));
  std::string got;
  std::thread reader([&] {
    std::ifstream in(fifo);
    std::getline(in, got);
  });
  write_file_atomic(fifo.string(), "through the pipe\n");
  reader.join();
  EXPECT_EQ(got, "through the pipe");
  EXPECT_EQ(fs::status(fifo).type(), fs::file_type::fifo);
  EXPECT_EQ(entries(dir), 1);  // no temporary file, no replacement
  EXPECT_NE(test::error_of([] { write_file_atomic("", "x"); }).find("empty output path"), std::string::npos);
}

TEST(AtomicFile, FailuresNameThePathAndLeaveNoTemporaryFile) {
  const fs::path dir = test::fresh_dir("atomic-fail");
  fs::create_directories(dir / "sub");
  std::string msg = test::error_of([&] { write_file_atomic((dir / "sub").string(), "x"); });
  EXPECT_NE(msg.find("sub: is a folder"), std::string::npos) << msg;
  msg = test::error_of([&] { write_file_atomic((dir / "absent" / "a.txt").string(), "x"); });
  EXPECT_NE(msg.find("absent/a.txt: cannot open for writing (No such file or directory)"), std::string::npos) << msg;

  // A write that fails half way (the file size limit stands in for a full disk).
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  msg = test::error_of([&] { write_file_atomic((dir / "big.bin").string(), std::string(100000, 'x')); });
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(msg.find("big.bin: write failed (File too large)"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir / "big.bin"));
  EXPECT_EQ(entries(dir), 1) << "only sub/ is left: the temporary file was removed";
}

}  // namespace
}  // namespace sxb
