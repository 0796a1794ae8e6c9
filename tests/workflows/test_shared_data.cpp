// The real data sets in ../shared/data (ctest label `data`); each test skips
// with a message naming the missing path when the data is absent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/data/dataset.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {
namespace fs = std::filesystem;

const fs::path kShared = fs::path(SXB_SOURCE_DIR) / ".." / "shared" / "data";

TEST(SharedData, Cifar100TestSet) {
  const fs::path dir = kShared / "cifar-100-binary";
  if (!fs::exists(dir / "test.bin")) GTEST_SKIP() << "shared data absent: " << dir;
  const Dataset d = load_cifar100_dir(dir.string(), Split::Test);
  ASSERT_EQ(d.size(), 10000u);
  EXPECT_EQ(d.class_names.size(), 100u);
  std::vector<int> count(100, 0);
  for (int l : d.labels) ++count[l];
  for (int k = 0; k < 100; ++k) EXPECT_EQ(count[k], 100);
  double mean_red = 0.0;  // published CIFAR-100 red mean is about 0.507
  for (std::size_t k = 0; k < d.size(); ++k)
    for (int i = 0; i < 1024; ++i) mean_red += d.image(k)[i];
  EXPECT_NEAR(mean_red / (d.size() * 1024.0 * 255.0), 0.507, 0.01);
}

TEST(SharedData, Cifar10JpegFolders) {
  const fs::path tarball = kShared / "cifar10-jpeg.tar.gz";
  if (!fs::exists(tarball)) GTEST_SKIP() << "shared data absent: " << tarball;
  const fs::path dir = test::fresh_dir("cifar10-jpeg-unpacked");
  const std::string cmd = "tar xzf '" + tarball.string() + "' -C '" + dir.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const Dataset d = load_image_folder((dir / "cifar10-jpeg").string(), Split::Test);
  ASSERT_EQ(d.size(), 10000u);
  EXPECT_EQ(d.class_names.front(), "airplane");
  EXPECT_EQ(d.class_names.back(), "truck");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sxb
