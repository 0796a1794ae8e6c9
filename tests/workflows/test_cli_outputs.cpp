// Output paths of `sparsexbar`: "-", character devices and FIFOs are written
// in place (never replaced by a regular file); a failed write, to a file or to
// standard output, is an error; an output that is an input or another output,
// or an empty path, is refused before any work.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/cli_run.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {
namespace fs = std::filesystem;
using test::CliRun;
using test::run_cli;

const std::string kTiny = "--model vgg11 --width 0.0625 --data synthetic:16 --epochs 1 --batch 8";

bool is_char_device(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

// A copy of /dev/null or /dev/full inside `dir` (root only), so a regression
// replaces a test file, not the machine's device; "" when it cannot be made
// or opened (not root, a file system mounted nodev).
std::string device_copy(const fs::path& dir, const std::string& name, unsigned minor) {
  const fs::path p = dir / name;
  if (::mknod(p.c_str(), S_IFCHR | 0666, makedev(1, minor)) != 0) return "";
  const int fd = ::open(p.c_str(), O_WRONLY);
  if (fd < 0) return "";
  ::close(fd);
  return p.string();
}

struct Files {
  fs::path dir;
  std::string weights, tile;
};

Files files(const std::string& name) {
  Files f{test::fresh_dir(name), "", ""};
  f.weights = (f.dir / "w.safetensors").string();
  std::ofstream(f.weights) << "not weights";  // never read: the path checks come first
  f.tile = (f.dir / "tile.json").string();
  fs::copy_file(std::string(SXB_SOURCE_DIR) + "/data/example_tile.json", f.tile);
  return f;
}

TEST(CliOutputs, EmptyPathsAreUsageErrors) {
  const Files f = files("cli-empty");
  for (const std::string& args : {"software-eval --model vgg11 --weights " + f.weights + " --data synthetic:8 --json ''",
                                  "tile --input " + f.tile + " --output ''",
                                  "sweep merge " + f.dir.string() + " --csv ''"}) {
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("empty value"), std::string::npos) << args << "\n" << r.output;
  }
}

TEST(CliOutputs, AnOutputThatIsAnInputIsRefusedBeforeTheWork) {
  const Files f = files("cli-same-input");
  const fs::path link = f.dir / "link.safetensors";
  fs::create_symlink(f.weights, link);
  const std::string tile_before = test::read_text(f.tile);
  const std::string model = "--model vgg11 --weights " + f.weights + " --data synthetic:8";
  struct Case {
    std::string args, needle;
  } cases[] = {
      {"evaluate " + model + " --json " + f.weights, "--json " + f.weights + ": is the input --weights"},
      {"evaluate " + model + " --report " + link.string(), "is the input --weights"},  // the same file by a link
      {"software-eval " + model + " --predictions " + f.weights, "is the input --weights"},
      {"weff --weights " + f.weights + " --out " + f.weights, "--out " + f.weights + ": is the input --weights"},
      {"train " + kTiny + " --init " + f.weights + " --out " + f.weights, "is the input --init"},
      {"prune --method xcs --sparsity 0.5 --data synthetic:8 --weights " + f.weights + " --out " + f.weights,
       "would overwrite the dense model --weights"},
      {"tile --input " + f.tile + " --output " + f.tile, "--output " + f.tile + ": is the input --input"},
  };
  for (const Case& c : cases) {
    const CliRun r = run_cli(c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("epoch"), std::string::npos) << "no work before the check\n" << r.output;
  }
  EXPECT_EQ(test::read_text(f.weights), "not weights");
  EXPECT_EQ(test::read_text(f.tile), tile_before);
  EXPECT_TRUE(fs::is_symlink(link));
}

TEST(CliOutputs, TwoOutputsOnOneFileAreRefused) {
  const Files f = files("cli-same-output");
  const std::string out = (f.dir / "r.json").string();
  struct Case {
    std::string args, needle;
  } cases[] = {
      {"software-eval --model vgg11 --weights " + f.weights + " --data synthetic:8 --json " + out + " --predictions " + out,
       "--predictions " + out + ": is also the output --json"},
      {"evaluate --model vgg11 --weights " + f.weights + " --data synthetic:8 --json " + out + " --report " +
           (f.dir / "." / "r.json").string(),
       "is also the output --json"},
      {"sweep merge " + f.dir.string() + " --csv " + out + " --markdown " + out, "is also the output --csv"},
  };
  for (const Case& c : cases) {
    const CliRun r = run_cli(c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliOutputs, StandardOutputIsWrittenInPlaceAndItsErrorsCount) {
  const Files f = files("cli-stdout");
  CliRun r = run_cli("tile --input " + f.tile + " --output -");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"currents\""), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists("-"));
  // A full standard output: the table never arrived, so the command failed.
  r = run_cli("tile --input " + f.tile, "2>&1 >/dev/full");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("standard output: write failed"), std::string::npos) << r.output;
}

TEST(CliOutputs, DevicesAndFifosAreWrittenInPlace) {
  const Files f = files("cli-devices");
  // A FIFO: the reader gets the JSON, the FIFO stays a FIFO.
  const fs::path fifo = f.dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::string received;
  std::thread reader([&] { received = test::read_text(fifo); });
  CliRun r = run_cli("tile --input " + f.tile + " --output " + fifo.string());
  // Had the tool not opened the FIFO, the reader would wait for ever: a writer of our own ends it.
  if (const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK); fd >= 0) ::close(fd);
  reader.join();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(received.find("\"currents\""), std::string::npos) << received;
  EXPECT_EQ(fs::status(fifo).type(), fs::file_type::fifo);

  const std::string null = device_copy(f.dir, "null", 3), full = device_copy(f.dir, "full", 7);
  if (null.empty() || full.empty()) GTEST_SKIP() << "cannot make device nodes here (not root): FIFO case only";
  r = run_cli("tile --input " + f.tile + " --output " + null);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(is_char_device(null)) << "the device node was replaced";
  // Two outputs on one device are fine.
  r = run_cli("sweep merge " + f.dir.string() + " --csv " + null + " --markdown " + null);
  EXPECT_EQ(r.output.find("is also the output"), std::string::npos) << r.output;
  r = run_cli("tile --input " + f.tile + " --output " + full);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(full + ": write failed (No space left on device)"), std::string::npos) << r.output;
  EXPECT_TRUE(is_char_device(full));
  // train and prune keep files beside --out: a device is refused, nothing is written beside it.
  r = run_cli("train " + kTiny + " --out " + null);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--out must name a file"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(null + ".ckpt.safetensors"));
  EXPECT_TRUE(is_char_device(null));
}

// A prune that fails after it started leaves its summary saying so, not "running".
TEST(CliOutputs, AFailedPruneSaysSoInItsSummary) {
  const Files f = files("cli-prune-failed");
  const fs::path out = f.dir / "p.safetensors";
  const CliRun r = run_cli("prune --method xcs --sparsity 0.5 --tile 16 --data synthetic:8 --weights " + f.weights +
                           " --out " + out.string());
  EXPECT_EQ(r.status, 1) << r.output;
  const std::string summary = test::read_text(f.dir / "p.prune.json");
  EXPECT_NE(summary.find("\"status\": \"failed\""), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"error\": \"" + f.weights), std::string::npos) << summary;
}

}  // namespace
}  // namespace sxb
