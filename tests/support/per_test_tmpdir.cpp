// Gives every test process its own temporary directory, so that tests ctest
// runs in parallel (ctest -j, one process per test) never share a file, not
// even in SetUpTestSuite: TEST_TMPDIR (which testing::TempDir() and the tests
// read) becomes <TEST_TMPDIR>/<executable>.<gtest filter>/ for the whole
// run, emptied first and removed when every test passed. Linked into every
// test executable (tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace {

namespace fs = std::filesystem;

class PerProcessTmpdir : public testing::EmptyTestEventListener {
 public:
  void OnTestProgramStart(const testing::UnitTest&) override {
    std::error_code ec;
    const std::string exe = fs::read_symlink("/proc/self/exe", ec).filename().string();
    const std::string filter = GTEST_FLAG_GET(filter);
    std::string name = (exe.empty() ? "test" : exe) + "." + (filter == "*" ? "all" : filter);
    for (char& c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
    dir_ = fs::path(testing::TempDir()) / name.substr(0, 200);
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_, ec);
    if (!ec) setenv("TEST_TMPDIR", (dir_.string() + "/").c_str(), 1);
  }

  void OnTestProgramEnd(const testing::UnitTest& unit) override {
    std::error_code ec;
    if (unit.Passed()) fs::remove_all(dir_, ec);
  }

 private:
  fs::path dir_;
};

const bool registered = [] {
  testing::UnitTest::GetInstance()->listeners().Append(new PerProcessTmpdir);
  return true;
}();

}  // namespace
